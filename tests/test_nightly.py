"""`voxray nightly` into its Delta table, with a real local Ray cluster, the bundled model, real
SIGKILLs and two real concurrent processes, on a local folder and a real S3 server (SeaweedFS).

Few short clips and one-input commit units keep each run to seconds on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyarrow.fs as pafs
import pytest
import ray
from deltalake import DeltaTable

from jobs.cli import main
from models.common.config import StorageConfig
from pipelines.config import ComputeConfig, TranscribeConfig
from pipelines.listing import SourceFile
from pipelines.quality.wer import corpus_wer
from pipelines.store.incremental import FAILED, OK, QUARANTINED, InputKey, plan_todo
from pipelines.store.nightly import NightlyConfig, run_nightly, runs_from_history
from pipelines.store.reader import read_committed
from pipelines.store.state import InputState
from pipelines.store.table import FILE_PREFIX, TranscriptTable
from tests.faults import PHASES, command
from tests.fixtures_ray import ray_local  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def upload(s3, bucket: str, key: str, body: bytes) -> None:
    s3.client().put_object(Bucket=bucket, Key=key, Body=body)


def committed_paths(dest: str) -> list[str]:
    """Every row's path; a path twice would be a duplicate (one row per input in mix mode)."""
    return sorted(read_committed(dest, StorageConfig())["path"].to_pylist())


def wer(reference: str, hypothesis: str) -> float:
    return corpus_wer([reference], [hypothesis])


def s3_storage(s3) -> StorageConfig:
    """The server's endpoint and keys in the config itself: they travel to Ray workers with it,
    whatever environment the (shared, maybe earlier-started) Ray instance's workers have."""
    return StorageConfig(s3_endpoint=s3.endpoint_url, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
                         s3_region=s3.region)  # fmt: skip


@pytest.fixture(params=["local", "s3"])
def archive(request, tmp_path, speech_manifest):
    """A NightlyConfig for 3 clips (a local folder, or a bucket on the S3 server) and their paths."""
    clips = speech_manifest[:3]
    if request.param == "local":
        src = tmp_path / "archive"
        src.mkdir()
        for clip in clips:
            (src / Path(clip["path"]).name).write_bytes(Path(clip["path"]).read_bytes())
        config = NightlyConfig(sources=(str(src),), output=str(tmp_path / "out"))
        return config, sorted(str(src / Path(c["path"]).name) for c in clips)
    s3 = request.getfixturevalue("s3_env")
    bucket = s3.make_bucket(f"nightly-{abs(hash(request.node.name)) % 10**8}")
    for clip in clips:
        upload(s3, bucket, f"archive/{Path(clip['path']).name}", Path(clip["path"]).read_bytes())
    source = f"s3://{bucket}/archive"
    config = NightlyConfig(sources=(source,), output=f"s3://{bucket}/out",
                           transcribe=TranscribeConfig(storage=s3_storage(s3)))  # fmt: skip
    return config, sorted(f"{source}/{Path(c['path']).name}" for c in clips)


def spawn(config: NightlyConfig, log: Path, pause: tuple[str, Path] | None = None, **env: str) -> subprocess.Popen:
    """`voxray nightly --config` in a new process, one input per commit and per model call; with
    `pause` = (phase, marker), the process pauses at that phase (tests/faults.py)."""
    compute = replace(config.transcribe.compute, batch_size=1, files_per_task=1)
    fast = replace(config, commit_every=1, transcribe=replace(config.transcribe, compute=compute))
    path = log.with_suffix(".yaml")
    path.write_text(fast.to_yaml())
    args = ["--config", str(path)]
    cmd = command(*pause, args) if pause else [sys.executable, "-m", "jobs.cli", "nightly", *args]
    return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip


# --- the to-do list, without Ray ------------------------------------------------------------------


def test_todo_is_listed_minus_committed_with_retries_and_config_changes():
    key = InputKey(model="tiny.en", fingerprint="fp1")
    listed = [SourceFile(p, size=1, mtime=1.0, etag=f"e-{p}") for p in "abcdefg"]

    def state(path: str, status: str = OK, attempts: int = 0, version: str | None = None, fp: str = "fp1"):
        return InputState(version=version or f"e-{path}", model="tiny.en", fingerprint=fp, status=status,
                          attempts=attempts)  # fmt: skip

    states = {
        "a": state("a"),
        "b": state("b", version="old"),
        "c": state("c", FAILED, 1),
        "d": state("d", QUARANTINED, 2),
        "e": state("e", fp="fp0"),
        "f": state("f", QUARANTINED, 2, version="old"),
    }
    todo = plan_todo(listed, states, key, max_attempts=2)
    assert [f.path for f in todo.files] == ["b", "c", "f", "g"]
    assert todo.reasons == {"up_to_date": 2, "modified": 2, "retry": 1, "quarantined": 1, "new": 1}
    again = plan_todo(listed, states, key, max_attempts=2, retranscribe_on_config_change=True)
    assert [f.path for f in again.files] == ["b", "c", "e", "f", "g"]


def test_nightly_config_round_trips_through_yaml_and_refuses_bad_values():
    config = NightlyConfig(
        sources=("s3://a/b",), output="s3://c/d", commit_every=7, price_per_node_hour=1.5,
        vacuum_retention_hours=48.0, transcribe=TranscribeConfig(compute=ComputeConfig(batch_size=3)),
    )  # fmt: skip
    assert NightlyConfig.from_yaml_text(config.to_yaml()) == config
    assert NightlyConfig.from_yaml_text((REPO / "nightly.example.yaml").read_text()).commit_every > 0
    with pytest.raises(ValueError, match="commit_every"):
        NightlyConfig(commit_every=0)


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
    config = NightlyConfig(sources=(source,), output=dest, commit_every=2, max_attempts=2, price_per_node_hour=2.0,
                           transcribe=TranscribeConfig(storage=s3_storage(s3)))  # fmt: skip
    key = {Path(c["path"]).name: f"{source}/{Path(c['path']).name}" for c in clips}

    first = run_nightly(config)
    assert (first.todo, first.ok, first.failed) == (3, 3, 0)
    assert first.commits == 2  # 3 inputs, 2 per commit
    assert first.audio_s == pytest.approx(sum(c["duration_s"] for c in clips[:3]), rel=0.05)
    assert first.cost_per_audio_hour is not None and first.cost_per_audio_hour > 0
    assert committed_paths(dest) == sorted(key[Path(c["path"]).name] for c in clips[:3])
    version = DeltaTable(dest, storage_options=TranscriptTable(dest).options).version()

    second = run_nightly(config)
    assert (second.todo, second.commits, second.reasons) == (0, 0, {"up_to_date": 3})
    assert DeltaTable(dest, storage_options=TranscriptTable(dest).options).version() == version + 2  # start, end

    # New clip 4; clip 1's key now holds clip 5's audio; a poison file of random bytes.
    modified = Path(clips[0]["path"]).name
    upload(s3, bucket, f"archive/{Path(clips[3]['path']).name}", Path(clips[3]["path"]).read_bytes())
    upload(s3, bucket, f"archive/{modified}", Path(clips[4]["path"]).read_bytes())
    upload(s3, bucket, "archive/poison.wav", os.urandom(20_000))
    third = run_nightly(config)
    assert third.reasons == {"new": 2, "modified": 1, "up_to_date": 2}
    assert (third.ok, third.failed, third.quarantined) == (2, 1, 0)
    rows = {r["path"]: r for r in read_committed(dest).to_pylist()}
    assert committed_paths(dest) == sorted([*(key[Path(c["path"]).name] for c in clips[:4]), f"{source}/poison.wav"])
    assert rows[f"{source}/poison.wav"]["status"] == "error" and rows[f"{source}/poison.wav"]["attempts"] == 1
    new_text = rows[key[modified]]["text"]
    # The modified object's transcript is of the new audio (tiny.en is rough on espeak: compare, not match).
    assert wer(clips[4]["text"], new_text) < wer(clips[0]["text"], new_text)

    fourth = run_nightly(config)
    assert fourth.reasons == {"retry": 1, "up_to_date": 4}
    assert (fourth.todo, fourth.quarantined) == (1, 1)
    [dead] = read_committed(dest, table="deadletter").to_pylist()
    assert dead["path"] == f"{source}/poison.wav" and dead["attempts"] == 2 and dead["error"]
    assert len(committed_paths(dest)) == 5  # the dead letter replaced the error row: still one row

    fifth = run_nightly(config)
    assert (fifth.todo, fifth.reasons) == (0, {"quarantined": 1, "up_to_date": 4})

    capsys.readouterr()
    assert main(["read", dest, "--columns", "path,status,text"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["path"] for r in lines) == sorted(rows)
    assert Counter(r["status"] for r in lines) == {"ok": 4, "error": 1}
    assert main(["status", dest]) == 0
    out = capsys.readouterr().out
    assert "dead letters (1):" in out and f"{source}/poison.wav" in out
    assert main(["status", dest, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["inputs"] == {"ok": 4, "quarantined": 1}
    runs = [r.run_id for r in (first, second, third, fourth, fifth)]
    assert [r["run_id"] for r in status["runs"]] == runs
    assert [r["status"] for r in status["runs"]] == ["finished"] * 5
    assert status["runs"][0]["ok"] == 3 and status["runs"][2]["failed"] == 1


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
@pytest.mark.parametrize("phase", PHASES)
def test_sigkill_at_each_phase_then_rerun_gives_every_input_exactly_once(archive, phase, tmp_path):
    config, paths = archive
    dest = config.output
    marker = tmp_path / "paused"
    log = tmp_path / "killed.log"
    # The run pauses at `phase` (its on_phase hook: tests/faults.py) and is killed there for real.
    gcs = ray.get_runtime_context().gcs_address
    proc = spawn(replace(config, compact_min_files=2), log, (phase, marker), RAY_ADDRESS=gcs)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and not marker.exists():
            time.sleep(0.1)
        assert marker.exists(), f"never reached {phase}:\n{log.read_text()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()

    table = TranscriptTable(dest)
    before = committed_paths(dest)  # readers see whole commits only, each input at most once
    assert len(before) == len(set(before))
    expected_before = {"transcribing": 0, "written": 0, "committed": 1, "compacting": len(paths)}[phase]
    assert len(before) == expected_before
    [killed] = runs_from_history(table.history())
    assert killed["status"] == "running"  # it never got to say it finished
    if phase == "written":  # the unit's file is in DEST, invisible: no commit names it
        live = {Path(u).name for u in DeltaTable(table.uri, storage_options=table.options).file_uris()}
        infos = table.fs.get_file_info(pafs.FileSelector(table.root, recursive=True))
        written = {Path(i.path).name for i in infos if i.is_file and Path(i.path).name.startswith(FILE_PREFIX)}
        assert written and not live & written

    config = replace(config, commit_every=2, compact_min_files=2)
    rerun = run_nightly(config)
    # Committed work is not redone: the rerun's to-do list is exactly what the killed run had not committed.
    assert rerun.reasons == {k: v for k, v in {"new": len(paths) - len(before), "up_to_date": len(before)}.items() if v}
    assert committed_paths(dest) == paths
    made_by = dict(zip(*read_committed(dest, columns=["path", "run_id"]).to_pydict().values(), strict=True))
    assert {p for p, run in made_by.items() if run == rerun.run_id} == set(paths) - set(before)
    assert run_nightly(replace(config)).todo == 0
    if phase == "written":  # the killed run's uncommitted file is ours: VACUUM takes it, nothing else
        done = table.vacuum(0)
        assert done["orphans"] and committed_paths(dest) == paths


@pytest.mark.slow
def test_two_nightly_processes_on_one_dest_never_duplicate_a_row(archive, tmp_path):
    config, paths = archive
    dest = config.output
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    # Both drivers join one Ray instance with 4 logical CPUs, each job one 1-CPU model actor, so two
    # actor pools and their preparation tasks fit (2 real cores; starting two Ray instances at once
    # on a loaded machine timed out). The shared ray_local instance is stopped for this and
    # restarted by its next user (tests/fixtures_ray.py).
    ray.shutdown()
    ray.init(address="local", num_cpus=4, include_dashboard=False, logging_level="warning", configure_logging=False)
    one_actor = replace(config.transcribe.compute, num_actors=1, threads_per_actor=1)
    config = replace(config, transcribe=replace(config.transcribe, compute=one_actor))
    try:
        procs = [spawn(config, log, RAY_ADDRESS=ray.get_runtime_context().gcs_address) for log in logs]
        try:
            codes = [p.wait(timeout=400) for p in procs]
        finally:
            for p in procs:
                p.kill()
    finally:
        ray.shutdown()
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    assert committed_paths(dest) == paths  # exactly once, whoever won each input
    runs = runs_from_history(TranscriptTable(dest).history())
    print("two writers:", [{k: r[k] for k in ("todo", "committed_inputs", "skipped", "conflicts")} for r in runs])
    assert [r["status"] for r in runs] == ["finished", "finished"]
    # Every input was committed by exactly one of them; the other dropped it (skipped) or never had it.
    assert sum(r["committed_inputs"] for r in runs) == len(paths)
    assert sum(r["committed_inputs"] + r["skipped"] for r in runs) == 2 * len(paths) - sum(
        r["reasons"].get("up_to_date", 0) for r in runs
    )


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_transcribe_format_delta_is_read_by_ray_data(tmp_path, speech_manifest, capsys):
    clips = speech_manifest[:2]
    dest = str(tmp_path / "table")
    sources = [c["path"] for c in clips]
    assert main(["transcribe", *sources, "--output", dest, "--format", "delta"]) == 0
    assert main(["transcribe", sources[0], "--output", dest, "--format", "delta"]) == 0  # replaces, not adds
    assert main(["transcribe", sources[0], "--output", dest, "--format", "delta", "--append"]) == 2
    capsys.readouterr()
    rows = ray.data.read_delta(dest).select_columns(["path", "status", "text"]).take_all()
    assert sorted(r["path"] for r in rows) == sorted(sources)
    assert all(r["status"] == "ok" and r["text"] for r in rows)
    assert DeltaTable(dest).history(1)[0]["operation"] == "WRITE"
