"""CI runs the S3 tests for real: `.ci/run` checks the S3 server first and fails loudly when it cannot start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ci_run_checks_the_s3_server_before_the_suite() -> None:
    steps = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert 'export CI="${CI:-true}"' in steps
    preflight = steps.index(".venv/bin/python -m tests.s3server")
    assert preflight < steps.index("make test")


def test_preflight_fails_loudly_when_the_server_cannot_start(tmp_path: Path) -> None:
    broken = tmp_path / "weed"
    broken.write_text("#!/bin/sh\necho 'weed: cannot start' >&2\nexit 3\n")
    broken.chmod(0o755)
    env = {**os.environ, "VOXRAY_WEED": str(broken)}
    run = subprocess.run(
        [sys.executable, "-m", "tests.s3server"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1
    assert "S3 server FAILED" in run.stderr and "weed: cannot start" in run.stderr


def test_preflight_passes_with_the_real_server() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.s3server"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "S3 server OK" in run.stdout
