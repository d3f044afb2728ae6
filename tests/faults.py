"""Pause a real `voxray nightly` at a named phase, so that a test can SIGKILL it there.

`python -m tests.faults PHASE MARKER nightly ARGS...` parses `voxray nightly ARGS...` as the CLI
does and runs it with a hook (run_nightly's `on_phase`) that, when the run reaches PHASE (one of
pipelines/store/table.PHASES), writes the process's PID to the file MARKER and sleeps until it is
killed. The product only calls the hook it is given; nothing here is in its import path.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.store.table import PHASES

__all__ = ["PHASES", "PauseAt", "command", "main"]


@dataclass(frozen=True)
class PauseAt:
    """An `on_phase` hook: at `phase`, write the PID to `marker` and wait to be killed."""

    phase: str
    marker: Path

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"unknown phase {self.phase!r}; one of {PHASES}")

    def __call__(self, phase: str) -> None:
        if phase != self.phase:
            return
        self.marker.write_text(str(os.getpid()))
        while True:
            time.sleep(3600)


def command(phase: str, marker: Path, nightly_args: list[str]) -> list[str]:
    """The command line of a nightly run that pauses at `phase`."""
    return [sys.executable, "-m", "tests.faults", phase, str(marker), "nightly", *nightly_args]


def main(argv: list[str]) -> int:
    from jobs.cli import build_parser
    from jobs.nightly import nightly_config_from_args
    from pipelines.store.nightly import run_nightly

    phase, marker, *cli = argv
    config = nightly_config_from_args(build_parser().parse_args(cli))
    run_nightly(config, on_phase=PauseAt(phase, Path(marker)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
