"""CPU stage part: speaker embeddings over sliding windows of VAD speech, per stretch of a window.

Runs where the audio already is, inside the preparation tasks (and the online transcriber), so
the driver never sees audio: each stretch of a model window gets its speaker windows, a list of
(start, end, embedding) in the recording's time, which its placement (pipelines/batch/records.py)
carries with the window's transcript piece to assembly, where one recording's windows are
clustered (see cluster.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from models.common.audio import SAMPLE_RATE
from pipelines.speakers.settings import DiarizeConfig
from pipelines.windows import Stretch

SPEAKER_WINDOW_TYPE = pa.struct(
    [
        ("start", pa.float64()),  # seconds in the recording
        ("end", pa.float64()),
        ("embedding", pa.binary()),  # float32, L2-normalised
    ]
)


class VadSettings(Protocol):
    """The speech detector's settings diarization shares with the ASR (pipelines.windows.ChunkingConfig)."""

    @property
    def vad_threshold(self) -> float: ...
    @property
    def vad_min_silence_ms(self) -> int: ...


# Shorter stretches of speech carry too little voice for an embedding (a breath, a click).
MIN_SPEECH_S = 0.4


@functools.cache
def load_encoder(backend: str, model: str | None, threads: int = 1) -> Any:
    """One encoder per worker process, whatever the number of tasks it runs."""
    if backend == "pyannote":
        from models.speaker_pyannote import DEFAULT_MODEL, PyannoteEncoder

        return PyannoteEncoder(model or DEFAULT_MODEL, threads=threads)
    from models.speaker_resemblyzer import ResemblyzerEncoder

    return ResemblyzerEncoder(threads=threads)


def check_backend(cfg: DiarizeConfig) -> None:
    """Refuse at start (ValueError) a speaker backend that cannot load here, before any file is read."""
    import importlib.util

    if not cfg.enabled:
        return
    if cfg.backend == "pyannote":
        if importlib.util.find_spec("pyannote") is None or importlib.util.find_spec("pyannote.audio") is None:
            raise ValueError("--speaker-backend pyannote needs pyannote.audio: pip install pyannote.audio")
        return
    from models.speaker_resemblyzer import weights_path

    try:
        weights_path()
    except RuntimeError as exc:
        raise ValueError(f"--diarize: {exc}") from None


def sliding_windows(start: int, end: int, cfg: DiarizeConfig) -> list[tuple[int, int]]:
    """Windows of `window_s` every `step_s` over [start, end); the last one ends at `end`."""
    size, step = int(cfg.window_s * SAMPLE_RATE), int(cfg.step_s * SAMPLE_RATE)
    if end - start < MIN_SPEECH_S * SAMPLE_RATE:
        return []
    if end - start <= size:
        return [(start, end)]
    starts = list(range(start, end - size + 1, step))
    if starts[-1] + size < end:
        starts.append(end - size)
    return [(s, s + size) for s in starts]


class SpeakerEmbedder:
    """Speaker windows for the stretches of one model window, from that window's audio."""

    def __init__(self, cfg: DiarizeConfig, chunking: VadSettings, threads: int = 1) -> None:
        self.cfg, self.chunking = cfg, chunking
        self.encoder = load_encoder(cfg.backend, cfg.model, threads)

    def speech(self, piece: np.ndarray) -> list[tuple[int, int]]:
        """Speech stretches (samples) with diarization's own padding, tighter than the ASR's."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        options = VadOptions(
            threshold=self.chunking.vad_threshold,
            min_silence_duration_ms=self.chunking.vad_min_silence_ms,
            speech_pad_ms=int(round(self.cfg.speech_pad_s * 1000)),
        )
        return [(s["start"], s["end"]) for s in get_speech_timestamps(piece, options)]

    def __call__(self, audio: np.ndarray | None, stretches: Sequence[Stretch]) -> list[list[dict[str, Any]]]:
        """Each stretch's speaker windows (start, end, embedding) in its recording's time."""
        out: list[list[dict[str, Any]]] = [[] for _ in stretches]
        clips: list[np.ndarray] = []
        owners: list[tuple[int, float, float]] = []
        for k, stretch in enumerate(stretches):
            if audio is None or not stretch.length:
                continue
            piece = audio[stretch.window_offset : stretch.window_offset + stretch.length]
            start_s = stretch.source_start / SAMPLE_RATE
            # VAD again inside the stretch: a clip's stretch runs from its first to its last
            # speech, silences included, and an embedding of silence would be a speaker of its own.
            for s, e in self.speech(piece):
                for a, b in sliding_windows(s, e, self.cfg):
                    clips.append(piece[a:b])
                    owners.append((k, start_s + a / SAMPLE_RATE, start_s + b / SAMPLE_RATE))
        if not clips:
            return out
        embeddings = self.encoder.embed(clips)
        for (k, start, end), vector in zip(owners, embeddings, strict=True):
            out[k].append(
                {"start": round(start, 3), "end": round(end, 3), "embedding": vector.astype(np.float32).tobytes()}
            )
        return out
