"""An S3 outage during a real run: SeaweedFS SIGKILLed mid-run and started again seconds later.

    with SeaweedS3() as s3:
        archive = upload_copies(s3, clips, copies=3)
        result = run_with_outage(s3, ["transcribe", archive, "--output", dest], kill_after_s=12, down_s=3)

`voxray` runs in a subprocess (its exit code is part of what is checked), pointed at the server by
`--s3-endpoint` and the AWS_* variables. The server keeps its data and ports across the restart, so
what was written before the outage is still there after it. Used by tests/test_faults.py (short) and
scripts/outage_check.py (bigger runs, numbers for docs/faults.md).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from pyarrow.fs import FileSelector, S3FileSystem

from models.common.config import StorageConfig
from pipelines.store.state import with_store_columns
from pipelines.store.table import TranscriptTable
from tests.s3server import SeaweedS3

REPO = Path(__file__).resolve().parents[1]


@dataclass
class OutageRun:
    code: int
    output: str
    wall_s: float
    killed_at_s: float | None  # seconds into the run; None: it finished before the kill
    back_at_s: float | None  # when the restarted server took writes again

    @property
    def retried(self) -> int:
        """Retries voxray logged (each one a transient storage error ridden out)."""
        return self.output.count("transient storage error")


def upload_copies(s3: SeaweedS3, clips: list[Path], bucket: str, copies: int) -> str:
    """`copies` copies of every clip under s3://bucket/archive/cN/; returns the prefix."""
    client = s3.client()
    s3.make_bucket(bucket)
    for copy in range(copies):
        for clip in clips:
            client.upload_file(str(clip), bucket, f"archive/c{copy}/{clip.name}")
    return f"s3://{bucket}/archive"


def voxray_env(s3: SeaweedS3) -> dict[str, str]:
    return {**os.environ, **s3.env(), "PYTHONPATH": str(REPO), "RAY_ADDRESS": "local", "PYTHONUNBUFFERED": "1"}


def run_with_outage(
    s3: SeaweedS3, args: list[str], *, kill_after_s: float | None, down_s: float, timeout_s: float = 600
) -> OutageRun:
    """`voxray ARGS`; SIGKILL the server `kill_after_s` into the run and restart it `down_s` later."""
    cmd = [sys.executable, "-m", "jobs.cli", *args, "--s3-endpoint", s3.endpoint_url]
    with tempfile.TemporaryFile() as log:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=REPO, env=voxray_env(s3), stdout=log, stderr=subprocess.STDOUT)
        killed_at = back_at = None
        try:
            if kill_after_s is not None:
                try:
                    proc.wait(timeout=kill_after_s)
                except subprocess.TimeoutExpired:
                    s3.kill()
                    killed_at = time.monotonic() - started
                    time.sleep(down_s)
                    s3.restart()
                    back_at = time.monotonic() - started
            proc.wait(timeout=timeout_s)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if not s3.running:
                s3.restart()
        log.seek(0)
        output = log.read().decode(errors="replace")
    return OutageRun(proc.returncode, output, time.monotonic() - started, killed_at, back_at)


def parquet_rows(
    s3: SeaweedS3, prefix: str, columns: tuple[str, ...] | None = ("path", "status", "error")
) -> list[dict]:
    """Every row of every Parquet file under `prefix` (each file must read whole: none may be torn)."""
    fs = S3FileSystem(**s3.pyarrow_kwargs())
    root = prefix.removeprefix("s3://")
    infos = fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True))
    rows: list[dict] = []
    for info in infos:
        if info.is_file:
            assert info.path.endswith(".parquet"), f"a file that is not a finished part: {info.path}"
            rows.extend(pq.read_table(info.path, filesystem=fs, columns=list(columns) if columns else None).to_pylist())
    return rows


def count_paths(rows: list[dict]) -> tuple[int, int, Counter[str]]:
    """(distinct paths, paths with more than one row, statuses)."""
    per_path = Counter(r["path"] for r in rows)
    return len(per_path), sum(1 for n in per_path.values() if n > 1), Counter(r["status"] for r in rows)


def build_table(s3: SeaweedS3, dest: str, commits: int = 40, rows: int = 50) -> None:
    """A voxray Delta table of `commits` files over up to 10 partitions, without a model."""
    storage = StorageConfig(s3_endpoint=s3.endpoint_url, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key)
    table = TranscriptTable(dest, storage)
    table.open(create=True)
    states = table.input_states()
    for unit in range(commits):
        when = dt.datetime(2026, 11, 1 + unit % 10, tzinfo=dt.timezone.utc)
        made = [
            {"path": f"s3://a/{unit}-{i}.wav", "status": "ok", "text": "hello " * 50, "segments": [],
             "duration_s": 1.0, "transcribed_at": when, "model": "tiny.en", "config_fingerprint": "fp"}
            for i in range(rows)
        ]  # fmt: skip
        built = with_store_columns(made, version="v1", attempts=0, quarantined=False)
        table.commit_unit("build", unit + 1, lambda _, built=built: built, states)
