"""Preparation failures become rows: every file (every channel in split mode) exactly once.

These run the real preparation stage (PyAV decoding, Silero VAD, log-mel) on real files, without
the model: a failure there must never cost a row, whatever the exception.
"""

from __future__ import annotations

import struct
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from models.common.audio import SAMPLE_RATE
from pipelines.batch.assemble import Assembler, split_window
from pipelines.batch.prepare import prepare_windows
from pipelines.batch.records import FileMeta, Placement, Window, windows_of
from pipelines.config import DecodeConfig, TranscribeConfig
from pipelines.decode import decode_audio
from tests.realspeech import utterance_files


def prepared(paths: list[Path], config: TranscribeConfig) -> list[Window]:
    batch = pa.Table.from_pylist([{"path": str(p), "size": p.stat().st_size} for p in paths])
    return [window for table in prepare_windows(batch, config=config, n_mels=80) for window in windows_of(table)[0]]


def rows_of(windows: list[Window]) -> list[dict]:
    """What the assembler makes of the windows when the model hears nothing (pieces without segments)."""
    assembler = Assembler("m", "r", "f")
    return [
        row
        for window in windows
        for piece in split_window(window.placements, [], None, None, 0.0)
        for row in assembler.add(piece)
    ]


def write_wav(path: Path, channels: np.ndarray) -> None:
    pcm = (np.clip(channels.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels.shape[0])
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())


def test_split_channels_all_get_a_row_when_decoding_fails_part_way(tmp_path: Path):
    # Channel 0 speaks in the first minute; channel 1 is silent until the end. Decoding stops at
    # 130 s (the duration limit), after channel 0 produced windows and before channel 1 did.
    speech = np.concatenate([decode_audio(str(p)).samples[0] for p in utterance_files()[:8]])[: 55 * SAMPLE_RATE]
    stereo = np.zeros((2, 150 * SAMPLE_RATE), dtype=np.float32)
    stereo[0, : speech.shape[0]] = speech
    stereo[1, 140 * SAMPLE_RATE : 140 * SAMPLE_RATE + speech.shape[0] // 6] = speech[: speech.shape[0] // 6]
    write_wav(tmp_path / "call.wav", stereo)
    config = TranscribeConfig(decode=DecodeConfig(channels="split", max_duration_s=130.0))
    windows = prepared([tmp_path / "call.wav"], config)
    assert any(w.features is not None and w.placements[0].file.channel == 0 for w in windows)
    rows = rows_of(windows)
    assert sorted(r["channel"] for r in rows) == [0, 1]
    assert all(r["status"] == "error" and "longer than the limit" in r["error"] for r in rows)


def test_a_file_whose_channels_are_unknown_gets_one_error_row(tmp_path: Path):
    (tmp_path / "junk.wav").write_bytes(b"RIFF" + bytes(200))
    rows = rows_of(prepared([tmp_path / "junk.wav"], TranscribeConfig(decode=DecodeConfig(channels="split"))))
    assert [(r["channel"], r["status"]) for r in rows] == [(None, "error")]


def test_any_exception_preparing_one_file_is_that_files_error_row(tmp_path: Path):
    # A WAV whose format tag no decoder knows: PyAV opens it with no codec context, and reading
    # its sample rate raises AttributeError (not an I/O or decode error).
    pcm = (np.sin(np.arange(SAMPLE_RATE) / 5) * 8000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 0x1234, 1, SAMPLE_RATE, 2 * SAMPLE_RATE, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    (tmp_path / "odd.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    good = utterance_files()[0]
    rows = {r["path"]: r for r in rows_of(prepared([tmp_path / "odd.wav", good], TranscribeConfig()))}
    assert rows[str(tmp_path / "odd.wav")]["status"] == "error"
    assert "AttributeError" in rows[str(tmp_path / "odd.wav")]["error"]
    assert rows[str(good)]["status"] == "ok"


def test_a_late_duplicate_piece_does_not_reopen_a_finished_file():
    # A retried task sends a finished file's windows again: no second row, no "lost windows" row.
    placement = Placement(FileMeta("a.wav", None, 1, 2.0, SAMPLE_RATE, 1), 0, 1, True, 0.0, 0.0, 2.0)
    segment = {"start": 0.0, "end": 1.0, "text": " hi", "avg_logprob": -0.1, "no_speech_prob": 0.0,
               "compression_ratio": 1.0, "temperature": 0.0, "flagged": False}  # fmt: skip
    (piece,) = split_window([placement], [segment], "en", 1.0, 0.0)
    streamed = replace(placement, n_windows=-1, file=replace(placement.file, path="b.wav"))
    (streamed_piece,) = split_window([streamed], [segment], "en", 1.0, 0.0)
    assembler = Assembler("m", "r", "f")
    first = [*assembler.add(piece), *assembler.add(streamed_piece)]
    again = [*assembler.add(piece), *assembler.add(streamed_piece)]
    assert [r["path"] for r in first] == ["a.wav", "b.wav"] and again == [] and assembler.incomplete == []


def test_featureless_inputs_travel_together_and_every_file_appears_once(tmp_path: Path, bad_dir: Path):
    # Unreadable, empty and silent inputs have no audio for the model: they share featureless rows
    # (one per task, not one per file), and still give exactly one row each.
    rng = np.random.default_rng(0)
    junk = [tmp_path / f"junk{i:03d}.wav" for i in range(60)]
    for path in junk:
        path.write_bytes(rng.bytes(200))
    bad = sorted(p for p in bad_dir.iterdir() if p.suffix != ".jsonl")
    good = utterance_files()[:2]
    inputs = [*junk[:30], good[0], *bad, *junk[30:], good[1]]
    windows = prepared(inputs, TranscribeConfig())
    featureless = [w for w in windows if w.features is None]
    assert len(featureless) == 1
    for window in windows:  # the model stage makes one piece per (file, channel) of a row
        keys = [p.key for p in window.placements]
        assert len(keys) == len(set(keys))
    rows = rows_of(windows)
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in inputs)
    by_path = {r["path"]: r for r in rows}
    assert all(by_path[str(p)]["status"] == "error" and by_path[str(p)]["error"] for p in junk)
    assert {by_path[str(p)]["status"] for p in good} == {"ok"}


def test_a_featureless_row_holds_each_file_once_and_no_more_than_its_limit(tmp_path: Path, monkeypatch):
    import pipelines.batch.rows as rows

    monkeypatch.setattr(rows, "MAX_EMPTY_PLACEMENTS", 7)
    junk = [tmp_path / f"junk{i:02d}.wav" for i in range(20)]
    for path in junk:
        path.write_bytes(b"not audio at all " * 10)
    windows = prepared(junk, TranscribeConfig())
    assert [len(w.placements) for w in windows] == [7, 7, 6]
    assert sorted(r["path"] for r in rows_of(windows)) == sorted(str(p) for p in junk)


def test_small_files_decode_the_same_from_memory_as_streamed(tmp_path: Path, monkeypatch):
    # Files listed as small are read whole; a stale listed size (the file grew) or a large file
    # streams. The windows must not depend on which way the bytes came.

    clip = utterance_files()[0]
    size = clip.stat().st_size

    def features(listed: int | None) -> list[bytes]:
        batch = pa.Table.from_pylist([{"path": str(clip), "size": listed}])
        windows = [w for t in prepare_windows(batch, config=TranscribeConfig(), n_mels=80) for w in windows_of(t)[0]]
        assert all(p.file.error is None for w in windows for p in w.placements)
        return [w.features for w in windows]

    whole = features(size)
    assert whole and all(whole)
    assert features(None) == whole  # size unknown: streamed
    assert features(100) == whole  # listed smaller than it is: still read to the end
    import pipelines.batch.read as read

    monkeypatch.setattr(read, "WHOLE_READ_BYTES", size // 2)
    assert features(size // 4) == whole  # grew past the in-memory limit after listing: streamed


def test_a_file_deleted_after_listing_gets_an_error_row(tmp_path: Path):
    batch = pa.Table.from_pylist([{"path": str(tmp_path / "gone.wav"), "size": 200}])
    windows = [w for t in prepare_windows(batch, config=TranscribeConfig(), n_mels=80) for w in windows_of(t)[0]]
    rows = rows_of(windows)
    assert [(r["status"], "object not found" in r["error"]) for r in rows] == [("error", True)]
