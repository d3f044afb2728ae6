"""Where redaction runs (pipelines/redaction/stream.py): Ray actors on a cluster, in-process otherwise.

Faults are real: the redaction actor's process is SIGKILLed, and an actor is killed for good.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import ray

from models.common.config import StorageConfig
from pipelines.redaction.entities import PII
from pipelines.redaction.settings import RedactConfig
from pipelines.redaction.spoken import normalize
from pipelines.redaction.stream import FILES_PER_TASK, Redactor, _on_actors
from tests.fixtures_ray import ray_local  # noqa: F401
from tests.test_redaction import CASES, DATA, NUMBER_TYPES

REPO = Path(__file__).resolve().parent.parent
# Values as tiny.en wrote them for the fixtures (test_redaction.py), one per recording.
SAID = [
    " My social security number is 2909, I need very fun this week.",
    " My card number is 4 1 1 1, 1 1 1 1, 1 1 1 1, 1 1 1 1.",
    " You can reach me on 415 555 0199 after lunch.",
]


def _rows(count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        text = SAID[i % len(SAID)]
        segments = [{"start": 0.0, "end": 4.0, "text": text, "words": None}]
        rows.append({"path": f"/calls/{i}.wav", "channel": None, "channels": 1, "status": "ok", "error": None,
                     "text": text.strip(), "segments": segments, "speakers": None})  # fmt: skip
    return rows


def _no_value_left(row: dict[str, Any]) -> bool:
    return not re.search(r"\d{3}", json.dumps({k: row[k] for k in ("text", "segments")}))


@pytest.mark.slow
def test_a_local_engine_job_is_redacted_in_its_own_process(tmp_path: Path) -> None:
    """A handful of local files runs without Ray (pipelines/batch/local.py), and so does their redaction."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [sys.executable, "-m", "jobs.cli", "transcribe", str(DATA / "pii"), "--engine", "local", "--redact", "pii",
           "--redact-audio", str(tmp_path / "audio"), "--output", str(tmp_path / "out"), "--profile"]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "driver:until first results" in done.stdout and "driver:ray start" not in done.stdout  # no Ray
    rows = pq.read_table(tmp_path / "out").to_pylist()
    assert sorted(Path(r["path"]).name for r in rows) == sorted(Path(c["path"]).name for c in CASES)
    for row in rows:
        assert row["status"] == "ok", row["error"]
        flat = normalize(row["text"]).text.replace("-", "")
        assert not re.search(r"\d{4}|@", flat), row["text"]
        assert {r["type"] for r in row["redactions"]} & {*NUMBER_TYPES, "EMAIL"}, row["text"]
        assert Path(row["redacted_audio"]).parent == tmp_path / "audio" and Path(row["redacted_audio"]).exists()


@pytest.mark.slow
def test_a_killed_redactor_costs_no_row_and_a_lost_one_withholds_its_rows(ray_local) -> None:  # noqa: F811
    redact, storage = RedactConfig(entities=PII), StorageConfig()
    actor = Redactor.remote(redact, storage)
    pid = ray.get(actor.__ray_call__.remote(lambda self: os.getpid()))  # after __init__ loaded the analyzer
    rows = _rows(3 * FILES_PER_TASK)

    def groups() -> Iterator[list[dict[str, Any]]]:
        for i, row in enumerate(rows):
            if i == FILES_PER_TASK:  # the first call has been submitted: kill its process under it
                os.kill(pid, signal.SIGKILL)
            yield [row]

    out = list(_on_actors(groups(), [actor]))
    assert sorted(r["path"] for r in out) == sorted(r["path"] for r in rows)  # each row exactly once
    assert all(r["status"] == "ok" and _no_value_left(r) for r in out), out
    assert ray.get(actor.__ray_call__.remote(lambda self: os.getpid())) != pid  # Ray restarted it

    ray.kill(actor, no_restart=True)  # lost for good: its calls fail once retries cannot help
    out = list(_on_actors(iter([[row] for row in rows[:3]]), [actor]))
    assert [r["path"] for r in out] == [r["path"] for r in rows[:3]]
    for row in out:
        assert row["status"] == "error" and "redaction failed" in row["error"] and "rerun" in row["error"]
        assert row["text"] == "" and row["segments"] == [] and _no_value_left(row)
