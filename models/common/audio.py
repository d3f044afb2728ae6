"""Whisper's audio constants and window geometry, shared by every layer, without importing torch.

The inference actors need these too; keeping them apart from the torchaudio feature code spares
each actor process the torch import (about 1.7 s and 470 MB on a 2-core machine).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000  # Whisper's input rate
N_FFT = 400  # 25 ms window at 16 kHz
HOP_LENGTH = 160  # 10 ms hop: 100 frames per second
CHUNK_LENGTH_S = 30
N_SAMPLES = CHUNK_LENGTH_S * SAMPLE_RATE  # 480000 samples in a 30-second window
N_FRAMES = N_SAMPLES // HOP_LENGTH  # 3000 frames in a 30-second window
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 100 mel frames per second
N_AUDIO_CTX = N_FRAMES // 2  # 1500 encoder positions per window (the encoder's convolution has stride 2)
TIME_PRECISION_S = CHUNK_LENGTH_S / N_AUDIO_CTX  # 0.02 s per timestamp token

# Whisper's multilingual vocabularies have 51865 tokens or more (large-v3: 51866); English-only ones 51864.
MULTILINGUAL_VOCAB_SIZE = 51865


def is_multilingual(vocab_size: int) -> bool:
    return vocab_size >= MULTILINGUAL_VOCAB_SIZE


def pad_or_trim(features: np.ndarray, length: int = N_FRAMES) -> np.ndarray:
    if features.shape[-1] >= length:
        return np.ascontiguousarray(features[..., :length], dtype=np.float32)
    out = np.zeros((*features.shape[:-1], length), dtype=np.float32)
    out[..., : features.shape[-1]] = features
    return out
