"""What a run prints: voxray's own summary, not Ray's internals (unless asked with --verbose).

A normal run printed three of Ray's lines that say nothing to a user of voxray: the token
authentication notice of `ray.init`, Ray Data's execution plan and progress log lines, and a
`UserWarning` that an actor pool got fewer input blocks than actors (a small job). Ray Data's
own log file (`/tmp/ray/session_*/logs/ray-data/`) keeps everything; only the console is quieter.
"""

from __future__ import annotations

import logging
import warnings

# Raised by Ray Data when a job has fewer blocks than the pool has actors: harmless for small jobs.
_FEW_INPUTS = "The minimum number of concurrent actors"


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
