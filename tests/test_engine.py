"""The small-job engine (pipelines/batch/local.py): the Ray path's rows without starting Ray.

Both engines run on the same real files with the bundled model; the rows they write must be the
same bytes but for what differs between any two runs (run id, processing time, timestamp).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jobs.cli import main
from pipelines.batch import local
from pipelines.batch.run import run_transcription
from pipelines.config import ComputeConfig, OptionError, TranscribeConfig
from pipelines.listing import SourceFile
from tests.fixtures_ray import ray_local  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
# What differs between any two runs of the same job, whichever engine runs it.
PER_RUN = {"run_id", "processing_s", "transcribed_at"}
# The six samples (five formats and a broken mp3) and two more unreadable inputs: eight files.
FILES = sorted(str(p) for p in (REPO / "samples").iterdir() if p.suffix != ".jsonl")
FILES += [str(DATA / "bad" / "not_audio.wav"), str(DATA / "bad" / "silence.wav")]


def _config(engine: str, **compute: object) -> TranscribeConfig:
    return TranscribeConfig(compute=ComputeConfig(engine=engine, **compute))


def _written(dest: Path) -> tuple[object, list[dict]]:
    table = pq.read_table(dest)
    rows = sorted(table.to_pylist(), key=lambda r: r["path"])
    return table.schema, [{k: v for k, v in r.items() if k not in PER_RUN} for r in rows]


@pytest.mark.slow
def test_local_engine_writes_the_ray_paths_rows(ray_local, tmp_path: Path) -> None:  # noqa: F811
    # Three preparation tasks (3, 3 and 2 files), each packing its clips: both engines must form
    # the same groups, or packed clips would get other words.
    ray_summary = run_transcription(FILES, str(tmp_path / "ray"), _config("ray", files_per_task=3))
    local_summary = run_transcription(FILES, str(tmp_path / "local"), _config("local", files_per_task=3))
    ray_schema, ray_rows = _written(tmp_path / "ray")
    local_schema, local_rows = _written(tmp_path / "local")
    assert local_schema == ray_schema
    assert len(ray_rows) == len(FILES)
    assert sum(r["status"] == "ok" for r in ray_rows) == 6  # silence.wav: ok, empty text
    assert local_rows == ray_rows
    assert (local_summary.ok, local_summary.failed) == (ray_summary.ok, ray_summary.failed) == (6, 2)


def _files(n: int, prefix: str = "/audio") -> list[SourceFile]:
    return [SourceFile(f"{prefix}/{i}.wav", 1000) for i in range(n)]


@pytest.fixture
def no_ray_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A process where nothing asks for Ray: no RAY_ADDRESS, no `ray start` cluster, Ray not running.

    Ray may be running in this test session (other modules start it), so "not running" is patched.
    """
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(local, "RAY_CURRENT_CLUSTER", str(tmp_path / "none"))
    monkeypatch.setattr(ray, "is_initialized", lambda: False)


def test_auto_runs_jobs_up_to_the_crossover_in_process(no_ray_asked: None) -> None:
    assert local.choose_engine(_files(1), _config("auto")) == "local"
    assert local.choose_engine(_files(local.LOCAL_MAX_FILES), _config("auto")) == "local"
    assert local.choose_engine(_files(local.LOCAL_MAX_FILES + 1), _config("auto")) == "ray"
    # Ray's fixed cost is repaid by a job of long recordings sooner than by one of short clips.
    big = [SourceFile(f"/audio/{i}.wav", local.LOCAL_MAX_BYTES // 4 + 1) for i in range(4)]
    assert local.choose_engine(big, _config("auto")) == "ray"
    assert local.choose_engine(big[:3], _config("auto")) == "local"
    # Sizes a listing could not give count as nothing (such a job is small in files anyway).
    assert local.choose_engine([SourceFile("/audio/a.wav", None)], _config("auto")) == "local"


def test_auto_uses_ray_for_remote_or_ray_configured_jobs_and_to_join_a_cluster(
    no_ray_asked: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert local.choose_engine(_files(2, "s3://bucket/audio"), _config("auto")) == "ray"
    assert local.choose_engine(_files(2), _config("auto", num_actors=2)) == "ray"
    assert local.choose_engine(_files(2), _config("ray")) == "ray"
    cluster = tmp_path / "ray_current_cluster"
    cluster.write_text("127.0.0.1:6379")
    monkeypatch.setattr(local, "RAY_CURRENT_CLUSTER", str(cluster))
    assert local.choose_engine(_files(2), _config("auto")) == "ray"
    monkeypatch.setenv("RAY_ADDRESS", "local")
    monkeypatch.setattr(local, "RAY_CURRENT_CLUSTER", str(tmp_path / "none"))
    assert local.choose_engine(_files(2), _config("auto")) == "ray"


def test_local_takes_any_number_of_files_and_is_refused_with_ray_options(
    no_ray_asked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local.choose_engine(_files(local.LOCAL_MAX_FILES * 3), _config("local")) == "local"
    with pytest.raises(OptionError, match="--num-actors"):
        local.choose_engine(_files(2), _config("local", num_actors=2))
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    with pytest.raises(OptionError, match="RAY_ADDRESS"):
        local.choose_engine(_files(2), _config("local"))


def test_both_engines_prepare_the_same_groups() -> None:
    groups = local.task_tables(_files(20), 8)
    assert [g.num_rows for g in groups] == [8, 8, 4]
    assert [p for g in groups for p in g.column("path").to_pylist()] == [f.path for f in _files(20)]


def test_the_cli_refuses_local_with_ray_options_before_touching_dest(tmp_path: Path, capsys) -> None:
    dest = tmp_path / "out"
    code = main(["transcribe", FILES[0], "--output", str(dest), "--engine", "local", "--num-actors", "2"])
    assert code == 2
    assert "--num-actors" in capsys.readouterr().err
    assert not dest.exists()


def test_engine_round_trips_through_yaml() -> None:
    config = replace(TranscribeConfig(), compute=ComputeConfig(engine="local"))
    assert TranscribeConfig.from_yaml_text(config.to_yaml()) == config


@pytest.mark.slow
def test_make_demo_job_runs_without_ray_and_quietly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "jobs.cli", "transcribe", str(REPO / "samples"), "-o", str(tmp_path / "out")]
    # A cluster some `ray start` recorded on this machine would be joined by the default (Ray's
    # own rule); then the engine is named, so that the test never joins another's cluster.
    engine = ["--engine", "local"] if Path(local.RAY_CURRENT_CLUSTER).exists() else []
    done = subprocess.run([*cmd, *engine, "--profile"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "files: 6  rows: 6  ok: 5  failed: 1" in done.stdout
    assert "driver:ray start" not in done.stdout
    assert done.stderr == ""
