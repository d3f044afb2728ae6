"""Named pause points, so a test can SIGKILL a real run at a known phase.

With VOXRAY_PAUSE_AT=<phase> a run that reaches that phase writes its PID to the file named by
VOXRAY_PAUSE_MARKER and sleeps until it is killed. Phases: transcribing (rows are flowing, the
unit is not written), written (a unit's data files are written, its commit is not), committed
(the commit is in the log, the run has not taken note of it), compacting (OPTIMIZE is next).
Unset (always, outside tests), a pause point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "VOXRAY_PAUSE_AT"
MARKER_ENV = "VOXRAY_PAUSE_MARKER"
PHASES = ("transcribing", "written", "committed", "compacting")


def pause_point(phase: str) -> None:
    if os.environ.get(PAUSE_ENV) != phase:
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    while True:
        time.sleep(3600)
