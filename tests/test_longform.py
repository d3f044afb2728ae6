"""Long recordings, stereo calls, word timestamps, packing and export, on real audio through Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.cli import main
from models.common.config import ModelConfig
from pipelines.batch.run import iter_transcripts
from pipelines.config import ChunkingConfig, DecodeConfig, TranscribeConfig
from pipelines.listing import SourceFile
from pipelines.quality.wer import corpus_wer as wer
from tests.fixtures_ray import ray_local  # noqa: F401

pytestmark = pytest.mark.slow


def transcribe(paths: list[str], config: TranscribeConfig) -> list[dict]:
    return list(iter_transcripts([SourceFile(p) for p in paths], config, "test"))


def test_long_recording_segments_are_in_order_and_on_time(ray_local, long_dir: Path):  # noqa: F811
    truth = json.loads((long_dir / "segments.json").read_text())["segments"]
    # meeting.wav is longer than one decoding block, so it takes the streaming VAD path.
    (row,) = transcribe([str(long_dir / "meeting.wav")], TranscribeConfig(model=ModelConfig(word_timestamps=True)))
    segments = row["segments"]
    assert row["status"] == "ok" and segments
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    assert wer([" ".join(t["text"] for t in truth)], [row["text"]]) < 0.2
    for sentence in truth:
        # The target: segment boundaries within 0.5 s of the true speech boundaries.
        best = max(segments, key=lambda s: min(s["end"], sentence["end_s"]) - max(s["start"], sentence["start_s"]))
        assert abs(best["start"] - sentence["start_s"]) <= 0.5, (best, sentence)
        assert abs(best["end"] - sentence["end_s"]) <= 0.5, (best, sentence)
    for segment in segments:
        words = segment["words"]
        assert words, segment
        assert all(0.0 <= w["probability"] <= 1.0 for w in words)
        assert all(a["start"] <= b["start"] for a, b in zip(words, words[1:], strict=False))
        assert segment["start"] - 0.05 <= words[0]["start"] and words[-1]["end"] <= segment["end"] + 0.05


# None: the default, which decodes long recordings as text only, as faster-whisper's batched pipeline does.
@pytest.mark.parametrize("without_timestamps", [None, True])
def test_without_timestamps_gives_one_segment_per_vad_window(ray_local, long_dir: Path, without_timestamps):  # noqa: F811
    truth = json.loads((long_dir / "segments.json").read_text())["segments"]
    config = TranscribeConfig(model=ModelConfig(without_timestamps=without_timestamps))
    (row,) = transcribe([str(long_dir / "meeting.wav")], config)
    segments = row["segments"]
    assert row["status"] == "ok" and segments
    # One segment per window: windows hold at most 30 s of speech (the pauses VAD removed come on
    # top in the recording's time), and they follow each other without overlapping.
    speech_s = sum(t["end_s"] - t["start_s"] for t in truth)
    assert speech_s / 30.0 <= len(segments) < len(truth)
    assert all(a["end"] <= b["start"] + 0.05 for a, b in zip(segments, segments[1:], strict=False))
    assert abs(segments[0]["start"] - truth[0]["start_s"]) <= 0.5
    assert abs(segments[-1]["end"] - truth[-1]["end_s"]) <= 0.5
    assert wer([" ".join(t["text"] for t in truth)], [row["text"]]) < 0.2


def test_sentence_timestamps_on_a_long_recording(ray_local, long_dir: Path, tmp_path: Path):  # noqa: F811
    truth = json.loads((long_dir / "segments.json").read_text())["segments"]
    dest = tmp_path / "out"
    assert main(["transcribe", str(long_dir / "meeting.wav"), "--output", str(dest), "--sentence-timestamps"]) == 0
    import pyarrow.dataset as pads

    (row,) = pads.dataset(str(dest), format="parquet").to_table().to_pylist()
    # Whisper's sentence timestamps: about a segment per sentence, each within 0.5 s of its sentence.
    assert len(row["segments"]) >= len(truth) - 1
    for sentence in truth:
        overlap = lambda s, t=sentence: min(s["end"], t["end_s"]) - max(s["start"], t["start_s"])  # noqa: E731
        best = max(row["segments"], key=overlap)
        assert abs(best["start"] - sentence["start_s"]) <= 0.5 and abs(best["end"] - sentence["end_s"]) <= 0.5


def test_split_channels_label_each_party(ray_local, long_dir: Path, tmp_path: Path):  # noqa: F811
    call = json.loads((long_dir / "stereo_call.json").read_text())
    dest = tmp_path / "out"
    assert main(["transcribe", str(long_dir / "stereo_call.wav"), "--output", str(dest), "--channels", "split"]) == 0
    assert main(["export", str(dest), "--format", "srt", "--out", str(tmp_path / "srt")]) == 0
    import pyarrow.dataset as pads

    rows = sorted(pads.dataset(str(dest), format="parquet").to_table().to_pylist(), key=lambda r: r["channel"])
    assert [r["channel"] for r in rows] == [0, 1] and all(r["channels"] == 2 for r in rows)
    for row in rows:
        turns = [t for t in call["turns"] if t["channel"] == row["channel"]]
        assert all(s["channel"] == row["channel"] for s in row["segments"])
        # Each channel holds only its own party's words: low WER against that party's turns alone.
        assert wer([" ".join(t["text"] for t in turns)], [row["text"]]) < 0.35, row["text"]
    conversation = (tmp_path / "srt" / "stereo_call.conversation.srt").read_text()
    labels = [line.split("]")[0] + "]" for line in conversation.splitlines() if line.startswith("[ch")]
    first_speakers = [f"[ch{t['channel']}]" for t in sorted(call["turns"], key=lambda t: t["start_s"])]
    assert labels[:2] == first_speakers[:2]
    assert (tmp_path / "srt" / "stereo_call.ch0.srt").exists() and (tmp_path / "srt" / "stereo_call.ch1.srt").exists()


def test_packing_short_clips_costs_at_most_one_wer_point(ray_local, speech_manifest, speech_default_rows):  # noqa: F811
    paths = [c["path"] for c in speech_manifest]
    refs = [c["text"] for c in speech_manifest]
    plain = {r["path"]: r for r in transcribe(paths, TranscribeConfig(chunking=ChunkingConfig(pack_short_clips=False)))}
    packed = speech_default_rows  # TranscribeConfig(): packed by default (conftest.py, shared)
    assert wer(refs, [packed[p]["text"] for p in paths]) <= wer(refs, [plain[p]["text"] for p in paths]) + 0.01
    for path in paths:
        # Segments split back by timestamps land inside their own clip.
        assert packed[path]["segments"]
        assert all(0 <= s["start"] <= s["end"] <= packed[path]["duration_s"] + 0.05 for s in packed[path]["segments"])


def test_export_formats(ray_local, speech_manifest, tmp_path: Path):  # noqa: F811
    dest = tmp_path / "out"
    clip = speech_manifest[0]["path"]
    assert main(["transcribe", clip, "--output", str(dest)]) == 0
    for fmt in ("srt", "vtt", "txt", "jsonl"):
        assert main(["export", str(dest), "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    stem = Path(clip).stem
    assert (tmp_path / "srt" / f"{stem}.srt").read_text().startswith("1\n00:00:")
    assert (tmp_path / "vtt" / f"{stem}.vtt").read_text().startswith("WEBVTT")
    assert (tmp_path / "txt" / f"{stem}.txt").read_text().strip()
    (line,) = (tmp_path / "jsonl" / "transcripts.jsonl").read_text().splitlines()
    assert json.loads(line)["path"] == clip


def test_mono_file_in_split_mode_is_one_row_per_channel(ray_local, speech_manifest):  # noqa: F811
    import soundfile

    stereo = next(c for c in speech_manifest if c["path"].endswith(".wav") and soundfile.info(c["path"]).channels == 2)
    rows = transcribe([stereo["path"]], TranscribeConfig(decode=DecodeConfig(channels="split")))
    assert sorted(r["channel"] for r in rows) == [0, 1]
    assert rows[0]["text"] and rows[0]["text"] == rows[1]["text"]  # the same speech on both channels
