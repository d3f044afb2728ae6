"""The committed fixtures are what their manifests say, and the S3 test server round-trips objects."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import av
import numpy as np
import pyarrow.fs as pafs
import pytest
import s3fs
import soundfile as sf

from tests.s3server import MAX_VOLUMES

DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLES_DIR = DATA_DIR.parent.parent / "samples"
SAMPLE_RATE = 16_000


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def decode(path: Path, *, mono: bool = True) -> np.ndarray:
    """(channels, n) float32 at 16 kHz, decoded by PyAV (FFmpeg) as the pipeline does."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        layout = "mono" if mono else stream.codec_context.layout.name
        resampler = av.AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE)
        channels = 1 if mono else stream.codec_context.channels
        chunks = [
            out.to_ndarray().reshape(-1, channels).T
            for frame in [*container.decode(audio=0), None]
            for out in resampler.resample(frame)
        ]
    return np.concatenate(chunks, axis=1).astype(np.float32) / 32768.0


def decodes_nothing(path: Path) -> bool:
    try:
        with av.open(str(path)) as container:
            return not container.streams.audio or sum(f.samples for f in container.decode(audio=0)) == 0
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError, OSError):
        return True


def source_info(path: Path) -> tuple[int, int]:
    """(sample rate, channels) as stored in the file."""
    with av.open(str(path)) as container:
        codec = container.streams.audio[0].codec_context
        return codec.sample_rate, codec.channels


# --- speech ---------------------------------------------------------------------------------------


def test_speech_folder_holds_exactly_the_manifest(speech_dir: Path, speech_manifest: list[dict]) -> None:
    listed = {Path(c["path"]).name for c in speech_manifest}
    assert len(speech_manifest) == 24 == len(listed)
    assert {p.name for p in speech_dir.iterdir()} == listed | {"manifest.jsonl"}


def test_speech_texts_are_distinct_plain_sentences(speech_manifest: list[dict]) -> None:
    texts = [c["text"] for c in speech_manifest]
    assert len(set(texts)) == len(texts)
    for text in texts:
        assert not re.search(r"\d", text), text
        assert re.fullmatch(r"[A-Z][A-Za-z ,']+[.?]", text), text


def test_speech_durations_match_decoded_audio(speech_manifest: list[dict]) -> None:
    for clip in speech_manifest:
        audio = decode(Path(clip["path"]))
        assert 2.0 <= clip["duration_s"] <= 8.0, clip
        assert audio.shape[1] / SAMPLE_RATE == pytest.approx(clip["duration_s"], abs=0.1), clip["path"]
        assert np.abs(audio).max() > 0.1, f"{clip['path']} is (nearly) silent"


def test_soundfile_agrees_on_the_formats_it_reads(speech_manifest: list[dict]) -> None:
    for clip in speech_manifest:
        if Path(clip["path"]).suffix in {".wav", ".flac"}:
            info = sf.info(clip["path"])
            assert info.frames / info.samplerate == pytest.approx(clip["duration_s"], abs=0.1), clip["path"]


def test_speech_covers_formats_rates_and_layouts(speech_manifest: list[dict]) -> None:
    paths = [Path(c["path"]) for c in speech_manifest]
    info = {p.name: source_info(p) for p in paths}
    assert {p.suffix for p in paths} == {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".webm"}
    assert {rate for rate, _ in info.values()} >= {8_000, 16_000, 22_050, 44_100}
    assert sum(p.suffix == ".wav" and info[p.name] == (16_000, 1) for p in paths) >= 12
    assert any(p.name.isascii() is False and " " in p.name for p in paths)
    stereo = [p for p in paths if info[p.name][1] == 2]
    assert len(stereo) == 1
    left, right = decode(stereo[0], mono=False)
    np.testing.assert_array_equal(left, right)
    mulaw = [p for p in paths if p.suffix == ".wav" and sf.info(p).subtype == "ULAW"]
    assert [source_info(p)[0] for p in mulaw] == [8_000]


# --- bad inputs -----------------------------------------------------------------------------------


def test_bad_inputs_are_really_bad(bad_dir: Path) -> None:
    manifest = read_jsonl(bad_dir / "manifest.jsonl")
    assert {p.name for p in bad_dir.iterdir()} == {b["path"] for b in manifest} | {"manifest.jsonl"}
    for bad in manifest:
        assert bad["expect"] in {"error", "ok"} and bad["why"]
        assert decodes_nothing(bad_dir / bad["path"]) == (bad["expect"] == "error"), bad
    assert (bad_dir / "empty.wav").stat().st_size == 0
    assert (bad_dir / "huge_header.wav").stat().st_size < 1024


def test_silence_is_three_seconds_of_digital_zero(bad_dir: Path) -> None:
    audio = decode(bad_dir / "silence.wav")
    assert audio.shape[1] == 3 * SAMPLE_RATE and not audio.any()


# --- long recordings ------------------------------------------------------------------------------


def _check_timeline(audio: np.ndarray, spans: list[dict], channel: int) -> None:
    """Speech starts at start_s and ends at end_s; between spans there is only a faint floor."""
    x = np.abs(audio[channel])
    for span in spans:
        start, end = round(span["start_s"] * SAMPLE_RATE), round(span["end_s"] * SAMPLE_RATE)
        assert x[start : start + 160].max() > 0.005, span  # loud within 10 ms of start_s
        assert x[end - 160 : end].max() > 0.005, span  # and within 10 ms before end_s
    quiet = np.ones(x.shape[0], dtype=bool)
    for span in spans:
        quiet[max(0, round(span["start_s"] * SAMPLE_RATE) - 80) : round(span["end_s"] * SAMPLE_RATE) + 80] = False
    assert x[quiet].max() < 0.003  # the floor is about -72 dBFS; speech peaks near -6 dBFS


def test_meeting_segments_are_exact(long_dir: Path) -> None:
    meta = json.loads((long_dir / "segments.json").read_text())
    audio = decode(long_dir / "meeting.wav")
    assert source_info(long_dir / "meeting.wav") == (16_000, 1)
    assert audio.shape[1] / SAMPLE_RATE == pytest.approx(meta["duration_s"], abs=0.1)
    assert 80 <= meta["duration_s"] <= 100
    segments = meta["segments"]
    assert 8 <= len(segments) <= 10 and len({s["text"] for s in segments}) == len(segments)
    for before, after in zip(segments, segments[1:], strict=False):
        assert 1.0 - 1e-6 <= after["start_s"] - before["end_s"] <= 4.0 + 1e-6
    _check_timeline(audio, segments, 0)


def test_stereo_call_turns_are_exact(long_dir: Path) -> None:
    meta = json.loads((long_dir / "stereo_call.json").read_text())
    audio = decode(long_dir / "stereo_call.wav", mono=False)
    assert source_info(long_dir / "stereo_call.wav") == (16_000, 2)
    assert audio.shape[1] / SAMPLE_RATE == pytest.approx(meta["duration_s"], abs=0.1)
    assert 35 <= meta["duration_s"] <= 45
    turns = meta["turns"]
    assert [t["channel"] for t in turns] == [0, 1] * (len(turns) // 2)
    assert all(a["end_s"] < b["start_s"] for a, b in zip(turns, turns[1:], strict=False))
    for channel in (0, 1):
        _check_timeline(audio, [t for t in turns if t["channel"] == channel], channel)


# --- demo samples and size --------------------------------------------------------------------


def test_samples_are_mixed_formats_plus_one_broken_file() -> None:
    manifest = read_jsonl(SAMPLES_DIR / "manifest.jsonl")
    assert sorted(Path(s["path"]).suffix for s in manifest) == [".flac", ".m4a", ".mp3", ".ogg", ".wav"]
    for sample in manifest:
        audio = decode(SAMPLES_DIR / sample["path"])
        assert audio.shape[1] / SAMPLE_RATE == pytest.approx(sample["duration_s"], abs=0.1)
    assert decodes_nothing(SAMPLES_DIR / "broken.mp3")
    assert {p.name for p in SAMPLES_DIR.iterdir()} == {s["path"] for s in manifest} | {"manifest.jsonl", "broken.mp3"}


# The repository's audio budget. It was 4 MB for the first wave's fixtures; the second wave added
# test audio for capabilities that need their own (about 8.5 MB in all on 2026-11-25): languages
# 2.3 MB, real speech from packages 1.2 MB, PII and vocabulary speech 1.1 MB, speaker turns 0.7 MB.
# A new fixture set should fit the remaining room or replace, not add.
AUDIO_BUDGET_BYTES = 10_000_000


def test_committed_audio_stays_small() -> None:
    total = sum(p.stat().st_size for d in (DATA_DIR, SAMPLES_DIR) for p in d.rglob("*") if p.is_file())
    assert total < AUDIO_BUDGET_BYTES, f"{total / 1e6:.1f} MB of fixtures: keep the repository light"


# --- S3 -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_s3_round_trip_boto3_pyarrow_s3fs(s3_server, speech_manifest: list[dict]) -> None:
    started = time.monotonic()
    bucket = s3_server.make_bucket("fixtures-round-trip")
    clip = next(Path(c["path"]) for c in speech_manifest if not c["path"].isascii())  # spaces, accents
    key = f"in/{clip.name}"
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=clip.read_bytes())

    fs = pafs.S3FileSystem(**s3_server.pyarrow_kwargs())
    with fs.open_input_stream(f"{bucket}/{key}") as stream:
        assert stream.read() == clip.read_bytes()
    infos = fs.get_file_info(pafs.FileSelector(f"{bucket}/in"))
    assert [i.base_name for i in infos] == [clip.name]

    assert s3fs.S3FileSystem(**s3_server.s3fs_kwargs()).cat(f"{bucket}/{key}") == clip.read_bytes()

    with pytest.raises(Exception, match="SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied"):
        s3_server.client(aws_secret_access_key="wrong-secret").list_buckets()
    assert time.monotonic() - started < 5, "the round trip itself should be fast"


def test_s3_server_volume_slots_do_not_depend_on_free_disk(s3_server) -> None:
    # CI once ran out of volumes mid-suite on a machine with little free disk: weed's "-volume.max=0"
    # sizes the slots from free disk / volume size, each bucket takes 7, and later PUTs got 500s.
    # The slots are now a fixed count; reproduced first on a 1.5 GB tmpfs (4 buckets, then 500s).
    url = f"http://127.0.0.1:{s3_server.ports['master']}/dir/status"
    with urllib.request.urlopen(url, timeout=10) as reply:
        topology = json.load(reply)["Topology"]
    assert topology["Max"] == MAX_VOLUMES
