"""Features: torchaudio log-mel equals faster-whisper's FeatureExtractor; path/bytes/array agree."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from faster_whisper.feature_extractor import FeatureExtractor

from models.common.audio import N_FRAMES, pad_or_trim
from models.features import LogMel
from pipelines.decode import SAMPLE_RATE, decode_audio

# The two follow the same rounding steps with different FFT and BLAS code: a few float32 ulps
# (values lie in about [-1.5, 1.5]). A plain float32 STFT is off by 2e-5, which flips int8 tokens.
TOLERANCE = 2e-6


def chirp(seconds: float, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t)
    return (tone + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.05, 2.3, 17.0, 30.0])
def test_logmel_matches_faster_whisper(seconds: float) -> None:
    audio = chirp(seconds, seed=1)
    expected = pad_or_trim(FeatureExtractor(feature_size=80)(audio)[..., :-1])
    got = LogMel(80)(audio)
    assert got.shape == (80, N_FRAMES)
    assert np.abs(got - expected).max() < TOLERANCE


def test_logmel_128_bins_matches_large_v3_extractor() -> None:
    audio = chirp(4.0, seed=2)
    expected = pad_or_trim(FeatureExtractor(feature_size=128)(audio)[..., :-1])
    assert np.abs(LogMel(128)(audio) - expected).max() < TOLERANCE


def test_window_longer_than_30s_is_refused() -> None:
    with pytest.raises(ValueError):
        LogMel()(np.zeros(30 * SAMPLE_RATE + 1, dtype=np.float32))


def test_path_bytes_and_array_give_identical_features(tmp_path) -> None:
    audio = chirp(3.0, seed=3)
    path = tmp_path / "clip.flac"
    sf.write(path, audio, SAMPLE_RATE)
    from_path = decode_audio(str(path)).samples[0]
    from_bytes = decode_audio(io.BytesIO(path.read_bytes())).samples[0]
    logmel = LogMel()
    np.testing.assert_array_equal(logmel(from_path), logmel(from_bytes))
    # FLAC is lossless but decoding goes through 16-bit samples: one quantisation step of error.
    assert np.abs(from_path - audio).max() <= 1 / 32768 + 1e-7
    assert np.abs(logmel(from_path) - logmel(audio)).max() < 0.02
