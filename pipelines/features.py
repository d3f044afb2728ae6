"""Feature stage: Whisper's log-mel spectrogram computed with torchaudio.

Matches faster-whisper's FeatureExtractor (and so the features CTranslate2 Whisper models were
checked against): STFT of the clip plus 160 zero samples, the last frame dropped, per-window
dynamic-range clamp to 8 (log10) below the maximum, scaled to about [-1, 1], and zero padding
(in feature space) up to one 30-second window.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from pipelines.decode import SAMPLE_RATE

N_FFT = 400  # 25 ms window at 16 kHz
HOP_LENGTH = 160  # 10 ms hop: 100 frames per second
CHUNK_LENGTH_S = 30
N_SAMPLES = CHUNK_LENGTH_S * SAMPLE_RATE  # 480000 samples in a 30-second window
N_FRAMES = N_SAMPLES // HOP_LENGTH  # 3000 frames in a 30-second window
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH


class LogMel:
    """Callable: mono 16 kHz float32 audio of at most 30 s -> (n_mels, 3000) float32 features."""

    def __init__(self, n_mels: int = 80) -> None:
        self.n_mels = n_mels
        self._mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            n_mels=n_mels,
            power=2.0,
            norm="slaney",
            mel_scale="slaney",
            center=True,
            pad_mode="reflect",
        )

    @torch.inference_mode()
    def __call__(self, audio: np.ndarray) -> np.ndarray:
        if audio.shape[-1] > N_SAMPLES:
            raise ValueError(f"a window holds at most {N_SAMPLES} samples, got {audio.shape[-1]}")
        padded = torch.nn.functional.pad(
            torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), (0, 160)
        )
        mel = self._mel(padded)[..., :-1]
        log_spec = torch.clamp(mel, min=1e-10).log10()
        log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
        log_spec = (log_spec + 4.0) / 4.0
        # faster-whisper drops the final frame of every chunk before padding; so do we.
        return pad_or_trim(log_spec[..., :-1].numpy())


def pad_or_trim(features: np.ndarray, length: int = N_FRAMES) -> np.ndarray:
    if features.shape[-1] >= length:
        return np.ascontiguousarray(features[..., :length], dtype=np.float32)
    out = np.zeros((*features.shape[:-1], length), dtype=np.float32)
    out[..., : features.shape[-1]] = features
    return out
