"""`voxray improve` reading a nightly Delta table: real `voxray nightly`, real Ray, the bundled
tiny.en as the production model and the packaged Whisper base as the teacher.

The table's rows name the audio and carry the production transcripts; improve must take both from
the table (through pipelines/store/reader.py) and run no production pass of its own.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs.cli import main
from models.common.config import StorageConfig
from pipelines.improve.archive import open_archive
from pipelines.store.nightly import NightlyConfig, run_nightly
from pipelines.store.table import TranscriptTable
from tests.fixtures_ray import ray_local  # noqa: F401

DATA = Path(__file__).parent / "data"
# What the production model "said" on one clip, written into the table: the teacher hears English
# about a fox, so the agreement filter can only remove this clip if it reads the table's text.
GERMAN = "ich möchte bitte meinen Vertrag heute kündigen"


@pytest.mark.slow
def test_improve_takes_audio_and_production_transcripts_from_a_nightly_table(ray_local, tmp_path: Path) -> None:  # noqa: F811
    archive = tmp_path / "archive"
    archive.mkdir()
    clips = ["01_quick_brown_fox.wav", "02_close_the_window.wav", "03_fresh_bread.wav"]
    for name in clips:
        shutil.copy(DATA / "speech" / name, archive / name)
    shutil.copy(DATA / "bad" / "not_audio.wav", archive / "not_audio.wav")
    table = str(tmp_path / "table")
    record = run_nightly(NightlyConfig(sources=(str(archive),), output=table))
    assert (record.ok, record.failed) == (3, 1)
    fox = str((archive / clips[0]).resolve())
    delta = DeltaTable(table, storage_options=TranscriptTable(table).options)
    delta.update(new_values={"text": GERMAN}, predicate=f"path = '{fox}'")

    opened = open_archive((table,), StorageConfig())
    assert opened.plain == () and opened.tables == (table,) and opened.table_errors == 1
    assert opened.table_audio == sorted(str((archive / n).resolve()) for n in clips)
    assert opened.production[fox]["text"] == GERMAN

    summary, work = tmp_path / "summary.json", tmp_path / "work"
    argv = ["improve", table, "--registry", str(tmp_path / "reg"), "--work", str(work)]
    # More kept clips than 3 are needed to train: the loop stops after the filters.
    assert main([*argv, "--summary", str(summary), "--min-kept", "100"]) == 0
    result = json.loads(summary.read_text())
    report = result["report"]
    assert not (work / "production").exists()  # no production pass: the table's text was used
    assert report["tables"] == [table] and report["production_from_tables"] == 3
    assert result["clips_seen"] == 4 and result["promoted"] is False
    assert report["removed"]["error_in_table"] == 1  # not_audio.wav: skipped, never sent to the teacher
    assert report["removed"]["teacher_production_disagree"] == 1  # the fox, against the table's German
    # Of the two others, tiny.en garbles the fresh bread clip ("She mopped fresh bread and done her
    # own honey", average log-probability -0.86 decoded alone or as a packed clip): the confidence
    # filter (-0.7) takes it. Before per-clip decoding, a packed clip was judged by its window's.
    assert report["removed"]["low_avg_logprob"] == 1, report["removed"]
    assert report["removed"]["no_speech"] == 0, report["removed"]  # a packed clip's own is not used
    assert result["clips_kept"] == 1


@pytest.mark.slow
def test_a_nightly_table_on_s3_is_read_as_an_archive(ray_local, s3_env, tmp_path: Path) -> None:  # noqa: F811
    """The same reading on the real S3 server (SeaweedFS): audio by s3:// path, the table's text."""
    bucket = s3_env.make_bucket("improve-table")
    clips = ["04_late_train.wav", "05_thank_you.wav"]
    for name in clips:
        s3_env.client().put_object(Bucket=bucket, Key=f"archive/{name}", Body=(DATA / "speech" / name).read_bytes())
    storage = StorageConfig(s3_endpoint=s3_env.endpoint_url, s3_access_key=s3_env.access_key,
                            s3_secret_key=s3_env.secret_key, s3_region=s3_env.region)  # fmt: skip
    table = f"s3://{bucket}/nightly"
    config = NightlyConfig(sources=(f"s3://{bucket}/archive",), output=table)
    record = run_nightly(replace(config, transcribe=replace(config.transcribe, storage=storage)))
    assert (record.ok, record.failed) == (2, 0)
    opened = open_archive((table, str(DATA / "speech" / "01_quick_brown_fox.wav")), storage)
    assert opened.tables == (table,) and opened.plain == (str(DATA / "speech" / "01_quick_brown_fox.wav"),)
    assert opened.table_audio == [f"s3://{bucket}/archive/{name}" for name in clips]
    assert "train" in opened.production[f"s3://{bucket}/archive/04_late_train.wav"]["text"].lower()
    # The teacher's input: the plain SOURCE, then the table's files as a manifest under the work folder.
    sources = opened.teacher_sources(tmp_path / "work")
    assert sources[0] == opened.plain[0] and Path(sources[1]).parent == tmp_path / "work"
    assert [json.loads(line)["path"] for line in Path(sources[1]).read_text().splitlines()] == opened.table_audio
