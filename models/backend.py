"""What the pipeline asks of a speech model backend (CTranslate2 Whisper, transformers Whisper or CTC).

Both backends (models.whisper_ct2.CT2Whisper, models.whisper_torch.TorchBackend) implement
`Backend`, so callers read its attributes instead of probing for them. Decoding options (language,
word timestamps, prompt ...) travel with each call as a `ModelConfig`: one loaded model serves
requests that ask for different ones at once (online serving), and nothing is switched on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from models.common.audio import SAMPLE_RATE
from models.common.config import ModelConfig
from models.common.profile import StageTimes


@dataclass
class WindowResult:
    """What the model heard in one window: segments with window-relative times."""

    segments: list[dict[str, Any]] = field(default_factory=list)
    language: str = "en"
    language_probability: float = 1.0
    # Decoded at the first temperature only (`single_pass`) and it failed Whisper's guards: the
    # caller decodes the window's parts some other way (packed clips: each on its own).
    failed: bool = False


@dataclass(frozen=True)
class ClipSpan:
    """A packed clip: the window (row of the batch) holding it and its span there, in seconds."""

    window: int
    start_s: float
    end_s: float


class Backend(Protocol):
    """A loaded model: 30-second windows in, one `WindowResult` per window out (window times)."""

    config: ModelConfig  # the decoding options it was loaded with: used when a call passes none
    n_mels: int  # mel bins of its features (0 for a model that reads audio)
    needs_audio: bool  # reads 16 kHz audio (`transcribe_audio`), not log-mel features (CTC models)
    multilingual: bool
    on_gpu: bool
    # Decodes packed clips each as its own sequence from their window's encoder pass
    # (`transcribe_clips`); otherwise a packed window is decoded whole and repaired
    # (pipelines/batch/packing.py).
    decodes_clips: bool
    times: StageTimes  # where its time went since the caller last took them (`take_times`)

    def transcribe_windows(
        self,
        features: np.ndarray,
        durations: list[float],
        decoding: ModelConfig | None = None,
        text_only: list[bool] | None = None,
        single_pass: list[bool] | None = None,
    ) -> list[WindowResult]:
        """features: (batch, n_mels, 3000) float32; durations: seconds of real audio per window.

        decoding: options for this call (None: `config`). text_only: per window, text tokens only
        (no timestamps, no seeking; None: as `decoding` says). single_pass: per window, the first
        temperature only; a window failing Whisper's guards there comes back `failed`.
        """
        ...

    def transcribe_clips(
        self, features: np.ndarray, spans: list[ClipSpan], decoding: ModelConfig | None = None
    ) -> list[WindowResult]:
        """Packed windows' features and their clips (models.whisper_ct2_clips): one result
        per clip, in window times, `failed` where decoding stopped before the clip's end. Only
        where `decodes_clips`."""
        ...

    def transcribe_audio(self, audios: list[np.ndarray], decoding: ModelConfig | None = None) -> list[WindowResult]:
        """audios: mono 16 kHz float32 arrays, each one window (at most 30 s)."""
        ...


def take_times(backend: Backend) -> StageTimes:
    """The backend's stage times so far; it starts again from zero (each time is reported once)."""
    # Drained in place: parts of a backend may hold the same StageTimes (models.whisper_ct2_decode).
    return StageTimes.from_json(backend.times.drain())


def features_of(audios: list[np.ndarray], n_mels: int) -> tuple[np.ndarray, list[float]]:
    """Log-mel windows and their durations, for a backend that reads features and is given audio."""
    from models.features import LogMel

    logmel = LogMel(n_mels)
    features = np.stack([logmel(a) for a in audios]) if audios else np.zeros((0, n_mels, 3000), np.float32)
    return features, [len(a) / SAMPLE_RATE for a in audios]
