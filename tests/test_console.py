"""A normal `voxray transcribe` prints voxray's summary and none of Ray's internals; --verbose shows them.

Real processes, stderr captured as a user's terminal log would be (not a TTY: no progress bar).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# ray#53727: the core worker's note on actor constructor arguments in the object store, which Ray
# Data's actor pool causes in every run (pipelines/batch/console.py keeps it off a quiet console).
ACTOR_CONSTRUCTOR_NOTE = "ray-project/ray/issues/53727"
# The raylet's warning that the disk under Ray's temp dir is over 95% full (file_system_monitor.cc,
# every 10 s while it is). It is about the machine, not the run, and a user needs it (object
# spilling would fail), so it stays on the console; CI's machine had 10 GB free of 252 GB.
DISK_FULL_WARNING = "file_system_monitor.cc"


def _transcribe(dest: Path, *flags: str) -> subprocess.CompletedProcess:
    clips = [str(REPO / "samples" / "welcome.wav"), str(REPO / "samples" / "weather.mp3")]
    env = dict(os.environ, RAY_ADDRESS="local", PYTHONPATH=str(REPO))
    # Ray's console is what this checks: without RAY_ADDRESS two clips would run in-process.
    cmd = [sys.executable, "-m", "jobs.cli", "transcribe", *clips, "--output", str(dest), "--engine", "ray", *flags]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=True)


@pytest.mark.slow
def test_a_normal_run_shows_no_ray_internals_and_verbose_does(tmp_path: Path) -> None:
    quiet = _transcribe(tmp_path / "quiet")
    assert "files: 2  rows: 2  ok: 2" in quiet.stdout
    noise = [line for line in quiet.stderr.splitlines() if line.strip() and DISK_FULL_WARNING not in line]
    assert noise == []
    loud = _transcribe(tmp_path / "loud", "--verbose")
    assert "Starting execution of Dataset" in loud.stderr
    assert ACTOR_CONSTRUCTOR_NOTE in loud.stderr  # shown when asked for: the filter is explicit
    assert "files: 2  rows: 2  ok: 2" in loud.stdout


def test_the_filter_drops_only_the_constructor_note_and_passes_the_rest_in_order() -> None:
    # A real process writing to fd 2 as Ray's C++ core and Python do; no Ray needed.
    code = (
        "import os, sys\n"
        "from pipelines.batch.console import ACTOR_CONSTRUCTOR_NOTE, without_actor_constructor_note\n"
        "with without_actor_constructor_note(True):\n"
        "    os.write(2, b'before\\n[core_worker.cc] Actor ' + ACTOR_CONSTRUCTOR_NOTE + b'. See\\n')\n"
        "    print('from python', file=sys.stderr)\n"
        "    os.write(2, b'bar 1\\rbar 2\\r')\n"
        "    os.write(2, b'no newline')\n"
        "print('after', file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60, check=True)
    assert out.stderr == b"before\nfrom python\nbar 1\rbar 2\rno newlineafter\n"


@pytest.mark.slow
def test_without_worker_logs_what_workers_print_stays_off_the_console_unless_verbose() -> None:
    """`voxray improve` starts Ray this way: Ray Train's actors printed over 300 lines a run."""
    script = (
        "import sys, ray; from pipelines.batch.run import ensure_ray; "
        "ensure_ray(verbose=sys.argv[1] == 'verbose', worker_logs=False); "
        "ray.get(ray.remote(lambda: print('printed-by-a-worker', flush=True)).remote()); print('driver-done')"
    )
    env = dict(os.environ, RAY_ADDRESS="local", PYTHONPATH=str(REPO))
    for mode, shown in (("quiet", False), ("verbose", True)):
        cmd = [sys.executable, "-c", script, mode]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "driver-done" in done.stdout, done.stderr[-2000:]
        assert ("printed-by-a-worker" in done.stdout + done.stderr) is shown, (mode, done.stdout, done.stderr)
