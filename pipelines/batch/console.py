"""What a run prints: voxray's own summary, not Ray's internals (unless asked with --verbose).

A normal run printed three of Ray's lines that say nothing to a user of voxray: the token
authentication notice of `ray.init`, Ray Data's execution plan and progress log lines, and a
`UserWarning` that an actor pool got fewer input blocks than actors (a small job). Ray Data's
own log file (`/tmp/ray/session_*/logs/ray-data/`) keeps everything; only the console is quieter.

The fourth is the core worker's ray#53727 line (ACTOR_CONSTRUCTOR_NOTE): Ray Data hands every
pool actor its DataContext and transformer as ObjectRefs and asks for restarts, so Ray's C++ core
prints, once per process, that a restart would fail if those objects were lost. No public setting
avoids it without giving up restarts (docs/elastic.md). It is written by C++ straight to fd 2, so
the only way to keep it off the console is a filter on fd 2 while the pool starts, and only then.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator

# Raised by Ray Data when a job has fewer blocks than the pool has actors: harmless for small jobs.
_FEW_INPUTS = "The minimum number of concurrent actors"
# The one line the fd-2 filter drops (Ray 2.60's core_worker.cc, ray-project/ray#53727).
ACTOR_CONSTRUCTOR_NOTE = b"has constructor arguments in the object store and max_restarts > 0"
# How long closing the filter waits for lines still in the pipe to reach the console.
_DRAIN_S = 2.0


def ray_log_level(verbose: bool) -> str:
    """The `logging_level` for `ray.init`: warnings (token authentication, ...) only when verbose."""
    return "warning" if verbose else "error"


def quiet_ray_console(verbose: bool) -> None:
    """Ray Data's console handler to errors only, and its small-job warning off, unless verbose."""
    if verbose:
        return
    import ray.data  # noqa: F401 (configures the "ray.data" logger and its handlers at import)

    for handler in logging.getLogger("ray.data").handlers:
        if handler.name == "console":
            handler.setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=_FEW_INPUTS, category=UserWarning)


def console_is_quiet() -> bool:
    """Whether quiet_ray_console quieted this process (a run started without --verbose)."""
    handlers = logging.getLogger("ray.data").handlers
    return any(handler.name == "console" and handler.level >= logging.ERROR for handler in handlers)


@contextlib.contextmanager
def without_actor_constructor_note(enabled: bool) -> Iterator[None]:
    """fd 2 through a pipe that drops ACTOR_CONSTRUCTOR_NOTE lines and passes every other byte on.

    Used only while a quiet run's actor pool is created, after Ray has started (processes started
    meanwhile would inherit the pipe). Lines pass as they come, so nothing else is held back.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    console = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    # The thread owns `console` and closes it once the pipe is drained.
    thread = threading.Thread(target=_forward, args=(read_end, console), name="voxray-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(console, 2)  # the pipe's last write end closes: the thread drains it and ends
        thread.join(_DRAIN_S)


def _forward(read_end: int, console: int) -> None:
    """Copy the pipe to the console line by line, without ACTOR_CONSTRUCTOR_NOTE lines."""
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe, os.fdopen(console, "wb") as out:
        while chunk := pipe.read(65536):
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            kept = b"".join(line + b"\n" for line in lines if ACTOR_CONSTRUCTOR_NOTE not in line)
            # A progress bar redraws with "\r" and no newline: pass it on at once.
            cut = pending.rfind(b"\r") + 1
            kept, pending = kept + pending[:cut], pending[cut:]
            out.write(kept)
            out.flush()
        if ACTOR_CONSTRUCTOR_NOTE not in pending:
            out.write(pending)
