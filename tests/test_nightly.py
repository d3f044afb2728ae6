"""`voxray nightly` against a real S3 server (SeaweedFS), a real local Ray cluster and the bundled model.

Few short clips and small commit units keep each Ray run to seconds on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import jiwer
import pytest
import ray
from whisper_normalizer.english import EnglishTextNormalizer

from jobs.cli import main
from models.common.config import StorageConfig
from pipelines.config import ComputeConfig, TranscribeConfig
from pipelines.listing import SourceFile
from pipelines.store.commit import COMMITS_DIR, CommitStore, read_committed
from pipelines.store.incremental import FAILED, OK, QUARANTINED, InputKey, plan_todo
from pipelines.store.nightly import NightlyConfig, run_nightly
from tests.fixtures_ray import ray_local  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
normalize = EnglishTextNormalizer()


@pytest.fixture(scope="module")
def s3_env(s3_server):
    """Point every S3 client in this process (and its subprocesses) at the test server."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in s3_server.env().items():
            mp.setenv(key, value)
        yield s3_server


def upload(s3, bucket: str, key: str, body: bytes) -> None:
    s3.client().put_object(Bucket=bucket, Key=key, Body=body)


def committed_paths(dest: str) -> list[str]:
    return sorted(read_committed(dest, StorageConfig())["path"].to_pylist())


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(normalize(reference), normalize(hypothesis))


# --- the to-do list, without Ray ------------------------------------------------------------------


def test_todo_is_listed_minus_committed_with_retries_and_config_changes():
    key = InputKey(version="", model="tiny.en", fingerprint="fp1")
    listed = [SourceFile(p, size=1, mtime=1.0, etag=f"e-{p}") for p in "abcdefg"]

    def entry(path: str, status: str = OK, attempts: int = 0, version: str | None = None, fp: str = "fp1") -> dict:
        version = version or f"e-{path}"
        return {"path": path, "version": version, "status": status, "attempts": attempts, "model": "tiny.en",
                "fingerprint": fp}  # fmt: skip

    inputs = {
        "a": entry("a"),
        "b": entry("b", version="old"),
        "c": entry("c", FAILED, 1),
        "d": entry("d", QUARANTINED, 2),
        "e": entry("e", fp="fp0"),
        "f": entry("f", QUARANTINED, 2, version="old"),
    }
    todo = plan_todo(listed, inputs, key, max_attempts=2)
    assert [f.path for f in todo.files] == ["b", "c", "f", "g"]
    assert todo.reasons == {"up_to_date": 2, "modified": 2, "retry": 1, "quarantined": 1, "new": 1}
    again = plan_todo(listed, inputs, key, max_attempts=2, retranscribe_on_config_change=True)
    assert [f.path for f in again.files] == ["b", "c", "e", "f", "g"]


def test_nightly_config_round_trips_through_yaml():
    config = NightlyConfig(
        sources=("s3://a/b",), output="s3://c/d", commit_every=7, price_per_node_hour=1.5,
        transcribe=TranscribeConfig(compute=ComputeConfig(batch_size=3)),
    )  # fmt: skip
    assert NightlyConfig.from_yaml_text(config.to_yaml()) == config
    assert NightlyConfig.from_yaml_text((REPO / "nightly.example.yaml").read_text()).commit_every > 0


# --- real runs --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_incremental_runs_modified_files_poison_and_dead_letters(s3_env, speech_manifest, capsys):
    s3 = s3_env
    bucket = s3.make_bucket("nightly-incremental")
    clips = speech_manifest[:5]
    for clip in clips[:3]:
        upload(s3, bucket, f"archive/{Path(clip['path']).name}", Path(clip["path"]).read_bytes())
    source, dest = f"s3://{bucket}/archive", f"s3://{bucket}/out"
    config = NightlyConfig(sources=(source,), output=dest, commit_every=2, max_attempts=2, price_per_node_hour=2.0)
    key = {Path(c["path"]).name: f"{source}/{Path(c['path']).name}" for c in clips}

    first = run_nightly(config)
    assert (first.todo, first.ok, first.failed) == (3, 3, 0)
    assert first.commits == 2  # 3 inputs, 2 per commit
    assert first.audio_s == pytest.approx(sum(c["duration_s"] for c in clips[:3]), rel=0.05)
    assert first.cost_per_audio_hour is not None and first.cost_per_audio_hour > 0
    assert committed_paths(dest) == sorted(key[Path(c["path"]).name] for c in clips[:3])

    second = run_nightly(config)
    assert (second.todo, second.commits, second.reasons) == (0, 0, {"up_to_date": 3})
    assert len(CommitStore(dest, StorageConfig()).record_names()) == 2

    # New clip 4; clip 1's key now holds clip 5's audio; a poison file of random bytes.
    modified = Path(clips[0]["path"]).name
    upload(s3, bucket, f"archive/{Path(clips[3]['path']).name}", Path(clips[3]["path"]).read_bytes())
    upload(s3, bucket, f"archive/{modified}", Path(clips[4]["path"]).read_bytes())
    upload(s3, bucket, "archive/poison.wav", os.urandom(20_000))
    third = run_nightly(config)
    assert third.reasons == {"new": 2, "modified": 1, "up_to_date": 2}
    assert (third.ok, third.failed, third.quarantined) == (2, 1, 0)
    rows = {r["path"]: r for r in read_committed(dest, StorageConfig()).to_pylist()}
    assert sorted(rows) == sorted(key[Path(c["path"]).name] for c in clips[:4])  # each exactly once
    new_text = rows[key[modified]]["text"]
    # The modified object's transcript is of the new audio (tiny.en is rough on espeak: compare, not match).
    assert wer(clips[4]["text"], new_text) < wer(clips[0]["text"], new_text)

    fourth = run_nightly(config)
    assert fourth.reasons == {"retry": 1, "up_to_date": 4}
    assert (fourth.todo, fourth.quarantined) == (1, 1)
    [dead] = read_committed(dest, StorageConfig(), table="deadletter").to_pylist()
    assert dead["path"] == f"{source}/poison.wav" and dead["attempts"] == 2 and dead["error"]

    fifth = run_nightly(config)
    assert (fifth.todo, fifth.reasons) == (0, {"quarantined": 1, "up_to_date": 4})

    capsys.readouterr()
    assert main(["read", dest, "--columns", "path,status,text"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["path"] for r in lines) == sorted(rows)
    assert all(r["status"] == "ok" and r["text"] for r in lines)
    assert main(["status", dest]) == 0
    out = capsys.readouterr().out
    assert "dead letters (1):" in out and f"{source}/poison.wav" in out
    assert sum(first.run_id in line or fifth.run_id in line for line in out.splitlines()) == 2
    assert main(["status", dest, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["inputs"] == {"ok": 4, "quarantined": 1}
    assert [r["run_id"] for r in status["runs"]] == [r.run_id for r in (first, second, third, fourth, fifth)]


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_sigkill_mid_run_then_rerun_gives_every_input_exactly_once(s3_env, speech_manifest, tmp_path):
    s3 = s3_env
    bucket = s3.make_bucket("nightly-killed")
    clips = speech_manifest[:8]
    for clip in clips:
        upload(s3, bucket, f"archive/{Path(clip['path']).name}", Path(clip["path"]).read_bytes())
    source, dest = f"s3://{bucket}/archive", f"s3://{bucket}/out"
    # One file per task and one window per model call: files complete one by one (about a second
    # apart here), so the driver is killed with most of the 8 inputs still uncommitted.
    args = [source, "--output", dest, "--commit-every", "1", "--batch-size", "1", "--files-per-task", "1"]
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    log = (tmp_path / "killed.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "nightly", *args], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    client = s3.client()
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            listed = client.list_objects_v2(Bucket=bucket, Prefix=f"out/{COMMITS_DIR}/")
            if listed.get("KeyCount", 0) >= 1:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be killed:\n" + (tmp_path / "killed.log").read_text()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        log.close()

    store = CommitStore(dest, StorageConfig())
    before = store.refresh()
    killed_run = {r["run_id"] for r in store.records()}
    assert len(killed_run) == 1 and 1 <= len(before.inputs) < len(clips)
    assert len(committed_paths(dest)) == len(before.inputs)  # readers see only whole commits

    config = NightlyConfig(sources=(source,), output=dest, commit_every=2)
    rerun = run_nightly(config)
    # Committed work is not redone: the rerun's to-do list is exactly what the killed run had not committed.
    assert rerun.reasons == {"new": len(clips) - len(before.inputs), "up_to_date": len(before.inputs)}
    redone = {i["path"] for r in store.records() if r["run_id"] == rerun.run_id for i in r["inputs"]}
    assert redone.isdisjoint(before.inputs)
    assert committed_paths(dest) == sorted(f"{source}/{Path(c['path']).name}" for c in clips)
    runs = {r["run_id"]: r for r in store.runs()}
    assert runs[killed_run.pop()]["status"] == "running"  # killed: never finished
    assert runs[rerun.run_id]["status"] == "finished"
    assert run_nightly(replace(config)).todo == 0
