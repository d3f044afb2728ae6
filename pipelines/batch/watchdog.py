"""Progress watchdog: a run that stops making progress ends with an error naming what it waited for.

Ray keeps a job alive while anything might still happen: an actor of a lost node stays "restarting"
until a node with room for it joins, and a task waits for resources no node has. For a batch job
that is a hang (issue 27: 0 rows at idle CPU for 14 minutes). The watchdog pulls the pipeline's
output on a thread of its own and, when nothing arrives for `timeout_s`, raises StalledError with
the cluster's state: a scheduler sees a non-zero exit, and `nightly` commits what had finished.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
# The exit status of a run the watchdog ended (2 is for wrong options, 3 for --fail-on-error).
STALLED_EXIT = 4
# How often a blocked producer looks whether the consumer has gone away.
_POLL_S = 1.0


class StalledError(RuntimeError):
    """No progress for the configured time; the message says what the run was waiting for."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


def watched(
    items: Callable[[], Iterator[T]],
    timeout_s: float | None,
    diagnose: Callable[[], str],
    on_stall: Callable[[], None] = lambda: None,
    activity: Callable[[], int] = lambda: 0,
) -> Iterator[T]:
    """What `items()` yields, or StalledError when nothing comes for `timeout_s` (None: no limit).

    On a stall, `diagnose()` says what the pipeline waited for, then `on_stall()` stops it.
    `activity()` counts work done upstream (tasks finished): while it grows, a slow first result
    (a loaded machine, a long recording in preparation) is not a stall.

    `items` is called on the producer thread, so that an iterator bound to a thread (Ray Data's)
    is made and used in one. Time the consumer spends on an item does not count as a stall.
    """
    if timeout_s is None:
        yield from items()
        return
    out: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, out, stop), name="voxray-watchdog", daemon=True)
    thread.start()
    try:
        seen = activity()
        while True:
            try:
                item = out.get(timeout=timeout_s)
            except queue.Empty:
                if activity() != seen:
                    seen = activity()
                    continue
                message = f"no progress for {timeout_s:.0f} s; {diagnose()}"
                on_stall()
                raise StalledError(message) from None
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()


def _produce(items: Callable[[], Iterator[Any]], out: queue.Queue[Any], stop: threading.Event) -> None:
    try:
        for item in items():
            if not put_until_stopped(out, item, stop):
                return
    except BaseException as exc:  # handed to the consumer, which raises it
        put_until_stopped(out, _Failed(exc), stop)
        return
    put_until_stopped(out, _DONE, stop)


def put_until_stopped(box: queue.Queue[Any], item: Any, stop: threading.Event, poll_s: float = _POLL_S) -> bool:
    """Put `item`, waiting for room; False (not put) once `stop` is set (the consumer is gone)."""
    while not stop.is_set():
        try:
            box.put(item, timeout=poll_s)
            return True
        except queue.Full:
            continue
    return False
