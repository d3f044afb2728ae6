"""`voxray export` names: one unique file per input, never outside --out, local and s3:// inputs mixed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.cli import main
from models.common.schema import TRANSCRIPT_SCHEMA


def _row(path: str, text: str, channel: int | None = None) -> dict:
    segment = {
        **{"start": 0.0, "end": 1.5, "text": f" {text}", "avg_logprob": -0.2, "no_speech_prob": 0.01},
        **{"compression_ratio": 1.1, "temperature": 0.0, "flagged": False, "channel": channel, "words": None},
    }
    return {
        "path": path,
        "channel": channel,
        "status": "ok",
        "text": text,
        "segments": [segment],
        "transcribed_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    }


def _export(tmp_path: Path, rows: list[dict]) -> tuple[Path, dict[str, str]]:
    dest = tmp_path / "transcripts"
    dest.mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=TRANSCRIPT_SCHEMA), dest / "part-0.parquet")
    out = tmp_path / "deep" / "out"
    assert main(["export", str(dest), "--format", "txt", "--out", str(out)]) == 0
    files = {str(p.relative_to(out)): p.read_text(encoding="utf-8").strip() for p in out.rglob("*") if p.is_file()}
    return out, files


def test_same_stem_in_one_folder_gets_two_files(tmp_path: Path) -> None:
    _, files = _export(
        tmp_path,
        [_row("/audio/a.wav", "from the wav"), _row("/audio/a.mp3", "from the mp3"), _row("/audio/b.flac", "bee")],
    )
    assert files == {"a.wav.txt": "from the wav", "a.mp3.txt": "from the mp3", "b.txt": "bee"}


def test_channel_files_do_not_clash_with_another_input(tmp_path: Path) -> None:
    rows = [_row("/calls/a.wav", "agent", 0), _row("/calls/a.wav", "customer", 1), _row("/calls/a.ch0.mp3", "other")]
    _, files = _export(tmp_path, rows)
    assert len(files) == 4  # two channels, their conversation, and the other recording
    assert sorted(files.values()).count("other") == 1 and "agent" in files["a.wav.ch0.txt"]


def test_s3_keys_with_dot_dot_stay_inside_out(tmp_path: Path) -> None:
    rows = [_row("s3://bucket/x/../../../escape.wav", "climbing"), _row("s3://bucket/x/y.wav", "plain")]
    out, files = _export(tmp_path, rows)
    assert not list(tmp_path.glob("*.txt")) and not list((tmp_path / "deep").glob("*.txt"))
    assert sorted(files.values()) == ["climbing", "plain"]
    assert all((out / name).resolve().is_relative_to(out.resolve()) for name in files)


def test_local_and_s3_inputs_in_one_dataset(tmp_path: Path) -> None:
    rows = [_row("/data/calls/a.wav", "local one"), _row("s3://bucket/calls/a.wav", "remote one")]
    _, files = _export(tmp_path, rows)
    assert files == {"local/data/calls/a.txt": "local one", "s3/bucket/calls/a.txt": "remote one"}
