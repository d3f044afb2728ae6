"""Decoding: every container and codec the fixtures hold, byte-identical to faster-whisper's decoder."""

from __future__ import annotations

import gc
import io
import json
from pathlib import Path

import numpy as np
import pytest
from faster_whisper.audio import decode_audio as faster_whisper_decode

from pipelines.decode import SAMPLE_RATE, AudioStream, DecodeError, decode_audio


def test_every_fixture_format_decodes_like_faster_whisper(speech_manifest):
    for clip in speech_manifest:
        ours = decode_audio(clip["path"]).samples[0]
        theirs = faster_whisper_decode(clip["path"])
        assert ours.shape == theirs.shape and np.array_equal(ours, theirs), clip["path"]


def test_path_and_file_object_decode_the_same(speech_manifest):
    for clip in speech_manifest[:6]:
        data = Path(clip["path"]).read_bytes()
        assert np.array_equal(decode_audio(clip["path"]).samples, decode_audio(io.BytesIO(data)).samples)


def test_blocks_cover_the_recording_exactly(long_dir):
    whole = decode_audio(str(long_dir / "meeting.wav")).samples
    with AudioStream(str(long_dir / "meeting.wav")) as stream:
        blocks = list(stream.blocks(7 * SAMPLE_RATE))
    assert all(b.shape[-1] == 7 * SAMPLE_RATE for b in blocks[:-1])
    assert np.array_equal(np.concatenate(blocks, axis=-1), whole)


def test_split_channels_keep_each_channel(long_dir):
    split = decode_audio(str(long_dir / "stereo_call.wav"), split_channels=True)
    assert split.samples.shape[0] == 2 and split.source_channels == 2
    mixed = decode_audio(str(long_dir / "stereo_call.wav")).samples[0]
    # The mix is the channels' average (up to 16-bit rounding).
    assert np.abs(mixed - split.samples.mean(axis=0)).max() < 2 / 32768


def test_bad_inputs_raise_decode_errors_with_messages(bad_dir):
    for bad in [json.loads(line) for line in (bad_dir / "manifest.jsonl").read_text().splitlines() if line]:
        path = bad_dir / bad["path"]
        if bad["expect"] == "ok" or path.stat().st_size == 0:
            continue  # empty files are refused by size before decoding (see pipelines/batch/read.py)
        with pytest.raises(DecodeError) as info:
            decode_audio(io.BytesIO(path.read_bytes()))
        assert len(str(info.value)) > 10


def test_duration_limit(long_dir):
    with pytest.raises(DecodeError, match="longer than the limit"):
        decode_audio(str(long_dir / "meeting.wav"), max_duration_s=10)


def test_uploaded_bytes_cannot_make_ffmpeg_open_other_files(tmp_path, speech_manifest, monkeypatch):
    # An ffconcat list names a file next to the server's working directory; FFmpeg would read it.
    (tmp_path / "secret.wav").write_bytes(Path(speech_manifest[0]["path"]).read_bytes())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DecodeError):
        decode_audio(io.BytesIO(b"ffconcat version 1.0\nfile secret.wav\n"))


def test_closed_streams_leave_no_garbage_cycles(speech_manifest, bad_dir):
    # AudioStream.close() no longer runs gc.collect() (about 100 ms per file in a worker that has
    # imported torch): that is only safe while PyAV frees its containers and resamplers by
    # reference counting. Opened, decoded, failed and closed streams must leave no cycle behind.
    inputs = [clip["path"] for clip in speech_manifest[:6]] + sorted(str(p) for p in bad_dir.iterdir())
    gc.collect()
    gc.disable()
    try:
        for path in inputs:
            for source in (path, io.BytesIO(Path(path).read_bytes())):
                try:
                    with AudioStream(source) as stream:
                        list(stream.blocks(7 * SAMPLE_RATE))
                except DecodeError:
                    pass
        assert gc.collect() == 0
    finally:
        gc.enable()
