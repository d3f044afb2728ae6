"""`voxray transcribe --profile`: stage times travel with the data from every task and actor to the driver."""

from __future__ import annotations

import shutil
from pathlib import Path

from jobs.cli import main
from models.common.profile import StageTimes
from tests.fixtures_ray import ray_local  # noqa: F401


def test_stage_times_round_trip_merge_and_drain() -> None:
    a = StageTimes()
    a.add("prepare:decode", 1.5, 1.0)
    a.add("prepare:decode", 0.5, 0.25)
    b = StageTimes.from_json(a.to_json())
    assert (b.wall, b.cpu, b.calls) == ({"prepare:decode": 2.0}, {"prepare:decode": 1.25}, {"prepare:decode": 2})
    b.merge(a)
    assert b.wall["prepare:decode"] == 4.0 and b.calls["prepare:decode"] == 4
    assert a.drain() is not None and a.drain() is None  # each time is reported once
    with a.stage("model:encode"):
        sum(range(10_000))
    assert a.wall["model:encode"] > 0 and a.calls["model:encode"] == 1


def test_transcribe_profile_reports_every_process_kind(ray_local, tmp_path: Path, speech_manifest, capsys) -> None:  # noqa: F811
    clips = [c for c in speech_manifest if c["path"].endswith((".wav", ".flac"))][:3]
    src = tmp_path / "in"
    src.mkdir()
    for i, clip in enumerate(clips):
        shutil.copyfile(clip["path"], src / f"{i}{Path(clip['path']).suffix}")
    assert main(["transcribe", str(src), "--output", str(tmp_path / "out"), "--profile"]) == 0
    table = {
        line[:34].strip(): line[34:].split()
        for line in capsys.readouterr().out.splitlines()
        if line.startswith(("driver:", "prepare:", "actor:", "model:"))
    }
    # Each file is decoded once, in a preparation task; the model ran in an actor; the driver assembled.
    assert int(table["prepare:decode"][2]) == len(clips)
    assert int(table["prepare:features"][2]) >= 1  # one per window; short clips share windows when packed
    for stage in ("actor:model load", "actor:busy"):
        assert float(table[stage][0]) > 0, stage
    # Whole windows are encoded as "model:encode"; a short clip, by default, over its own frames only
    # as "model:encode clips" (models/whisper_ct2_clips.py).
    encoded = [stage for stage in table if stage.startswith("model:encode")]
    assert encoded and all(float(table[stage][0]) > 0 for stage in encoded), table
    # Windows decode as "model:decode", packed clips each as their own sequence as "model:decode clips".
    decoded = [stage for stage in table if stage.startswith("model:decode") and stage.endswith("t=0.0")]
    assert decoded and all(float(table[stage][0]) > 0 for stage in decoded), table
    assert "driver:ray start" in table  # about zero here: the test's Ray is already up
    assert int(table["driver:assembly"][2]) >= len(clips)
