"""Files built to hurt (issue 25, item 5): refused with an error row (batch) or a 400 (serve), bounded.

Headers that declare absurd things are refused when the file is opened, before one sample is
decoded; a tiny compressed file that decodes to hours of silence is refused after at most
RATIO_CHECK_AFTER_S of decoded audio, whatever it declares.
"""

from __future__ import annotations

import io
import resource
import wave
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pytest

from models.common.audio import SAMPLE_RATE
from pipelines.batch.prepare import prepare_windows
from pipelines.config import TranscribeConfig
from pipelines.decode import MAX_STREAMS, RATIO_CHECK_AFTER_S, AudioStream, DecodeError

BOMB = Path(__file__).parent / "data" / "hostile" / "silence10h.flac"  # 72 KB, declares 10 h (make.sh)


def wav_bytes(rate: int, channels: int, frames: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(frames * channels, "<i2").tobytes())
    return out.getvalue()


def many_streams(count: int) -> bytes:
    """A Matroska file with `count` audio streams of a few samples each."""
    out = io.BytesIO()
    with av.open(out, "w", format="matroska") as container:
        streams = [container.add_stream("pcm_s16le", rate=8000, layout="mono") for _ in range(count)]
        for stream in streams:
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 160), "<i2"), format="s16", layout="mono")
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                container.mux(packet)
    return out.getvalue()


HEADER_BOMBS = {
    # 120 KB declaring 2 Hz: 8.3 hours (under the 24 h limit) that decoded for minutes before.
    "wav_2hz": (lambda: wav_bytes(2, 1, 60_000), "sample rate 2 Hz"),
    "wav_5mhz": (lambda: wav_bytes(5_000_000, 1, 1000), "sample rate 5000000 Hz"),
    "wav_65_channels": (lambda: wav_bytes(16_000, 65, 4), "65 channels"),
    "mkv_200_streams": (lambda: many_streams(200), f"200 streams (more than {MAX_STREAMS})"),
}


@pytest.mark.parametrize("name", sorted(HEADER_BOMBS))
def test_absurd_headers_are_refused_before_any_decoding(name: str) -> None:
    make, expected = HEADER_BOMBS[name]
    data = make()
    with pytest.raises(DecodeError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        AudioStream(io.BytesIO(data))


@pytest.mark.parametrize("channels", [9, 32, 1000])
def test_channel_counts_ffmpeg_cannot_mix_are_a_decode_error(channels: int) -> None:
    # 1000 does not fit FFmpeg's WAV reader (it reports 0 channels); 9 and 32 have no standard layout.
    with pytest.raises(DecodeError), AudioStream(io.BytesIO(wav_bytes(16_000, channels, 4))) as stream:
        list(stream.blocks(SAMPLE_RATE))


def test_a_tiny_flac_declaring_ten_hours_stops_after_the_ratio_check() -> None:
    assert BOMB.stat().st_size < 100_000
    stream = AudioStream(io.BytesIO(BOMB.read_bytes()))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DecodeError, match="decompression bomb"):
        for _ in stream.blocks(30 * SAMPLE_RATE):
            pass
    # Stopped right after the check, far from the 10 h it declares; blocks were dropped as they came.
    assert RATIO_CHECK_AFTER_S * SAMPLE_RATE <= stream.samples_read <= (RATIO_CHECK_AFTER_S + 10) * SAMPLE_RATE
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mb < 200, f"peak RSS grew by {grown_mb:.0f} MB"


def test_every_hostile_file_gets_one_error_row_in_batch(tmp_path: Path) -> None:
    paths = []
    for name, (make, _) in sorted(HEADER_BOMBS.items()):
        path = tmp_path / f"{name}.{'mkv' if name.startswith('mkv') else 'wav'}"
        path.write_bytes(make())
        paths.append(path)
    paths.append(BOMB)
    batch = pa.Table.from_pylist([{"path": str(p), "size": p.stat().st_size} for p in paths])
    rows = [r for t in prepare_windows(batch, config=TranscribeConfig(), n_mels=80) for r in t.to_pylist()]
    errors = {}
    for row in rows:
        for placement in row["placements"]:
            errors.setdefault(placement["path"], placement["error"])
    assert sorted(errors) == sorted(str(p) for p in paths)
    assert all(errors.values()), errors
    assert "decompression bomb" in errors[str(BOMB)]


def test_serve_answers_400_for_hostile_uploads() -> None:
    from pipelines.online.transcriber import RequestError, _decode

    for name, (make, _) in sorted(HEADER_BOMBS.items()):
        with pytest.raises(RequestError) as refused:
            _decode(make(), max_duration_s=600.0)
        assert refused.value.status == 400, name
    with pytest.raises(RequestError) as long:
        _decode(BOMB.read_bytes(), max_duration_s=600.0)
    assert long.value.status == 400


@pytest.mark.parametrize(
    "path",
    ["/data/../../etc/passwd", "s3://b/../../x.wav", "s3://b/a/..", "rel/../../../../root/.ssh/id_rsa", "/"],
)
def test_written_names_never_leave_dest(path: str) -> None:
    """Redacted copies and exports are named from input paths: no input can name a place outside DEST."""
    from pipelines.export.names import output_names
    from pipelines.redaction.audio import copy_name

    name = copy_name(path)
    assert "/" not in name and name.endswith(".flac")  # one file directly in the audio folder
    for stem in output_names({path: [""], "/other/x.wav": [""]}).values():
        assert not stem.startswith("/") and ".." not in stem.split("/")


def test_manifest_paths_resolve_as_documented(tmp_path: Path) -> None:
    """Relative manifest paths are relative to the manifest (`..` included, normalised); absolute ones stay."""
    from models.common.config import StorageConfig
    from pipelines.listing import manifest_rows

    (tmp_path / "audio").mkdir()
    manifest = tmp_path / "audio" / "manifest.jsonl"
    manifest.write_text('{"path": "../outside.wav"}\n{"path": "/abs/x.wav"}\n{"path": "in.wav"}\n')
    paths = manifest_rows(str(manifest), StorageConfig(), required=("path",))["path"]
    assert paths == [str(tmp_path / "outside.wav"), "/abs/x.wav", str(tmp_path / "audio" / "in.wav")]
