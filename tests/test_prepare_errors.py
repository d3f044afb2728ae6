"""Preparation failures become rows: every file (every channel in split mode) exactly once.

These run the real preparation stage (PyAV decoding, Silero VAD, log-mel) on real files, without
the model: a failure there must never cost a row, whatever the exception.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pyarrow as pa

from models.common.audio import SAMPLE_RATE
from pipelines.assemble import Assembler, split_window
from pipelines.config import DecodeConfig, TranscribeConfig
from pipelines.decode import decode_audio
from pipelines.prepare import prepare_windows
from tests.realspeech import utterance_files


def prepared(paths: list[Path], config: TranscribeConfig) -> list[dict]:
    batch = pa.Table.from_pylist([{"path": str(p), "size": p.stat().st_size} for p in paths])
    return [row for table in prepare_windows(batch, config=config, n_mels=80) for row in table.to_pylist()]


def rows_of(windows: list[dict]) -> list[dict]:
    """What the assembler makes of the windows when the model hears nothing (pieces without segments)."""
    assembler = Assembler("m", "r", "f")
    return [
        row
        for window in windows
        for piece in split_window(window["placements"], [], None, None, 0.0)
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
    assert any(w["features"] is not None and w["placements"][0]["channel"] == 0 for w in windows)
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
    placement = {
        "path": "a.wav", "channel": None, "window_index": 0, "n_windows": 1, "last_window": True,
        "window_offset_s": 0.0, "source_start_s": 0.0, "length_s": 2.0, "size_bytes": 1,
        "file_duration_s": 2.0, "sample_rate": SAMPLE_RATE, "channels": 1, "error": None, "prepare_s": 0.0,
    }  # fmt: skip
    segment = {"start": 0.0, "end": 1.0, "text": " hi", "avg_logprob": -0.1, "no_speech_prob": 0.0,
               "compression_ratio": 1.0, "temperature": 0.0, "flagged": False}  # fmt: skip
    (piece,) = split_window([placement], [segment], "en", 1.0, 0.0)
    streamed = dict(placement, n_windows=-1)
    (streamed_piece,) = split_window([dict(streamed, path="b.wav")], [segment], "en", 1.0, 0.0)
    assembler = Assembler("m", "r", "f")
    first = [*assembler.add(piece), *assembler.add(streamed_piece)]
    again = [*assembler.add(piece), *assembler.add(streamed_piece)]
    assert [r["path"] for r in first] == ["a.wav", "b.wav"] and again == [] and assembler.incomplete == []
