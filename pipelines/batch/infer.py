"""GPU (or CPU) stage: an actor pool running the model over batches of windows."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from models.common.audio import N_FRAMES
from models.common.profile import StageTimes
from models.languages import check_language
from models.registry import n_mels_of, resolve_model
from pipelines.batch.assemble import split_window
from pipelines.batch.packing import decode_alone, is_packed, kept, unsafe_clips
from pipelines.batch.records import Piece, Placement, Window, pieces_table, windows_of
from pipelines.config import TranscribeConfig


def model_input(config: TranscribeConfig) -> tuple[int, bool]:
    """(mel bins, needs_audio): what the preparation stage must produce for this model."""
    if config.model.backend == "torch":
        from models.whisper_torch import model_info

        return model_info(config.model.model, config.storage)
    return n_mels_of(resolve_model(config.model.model, config.storage)), False


def model_folder(config: TranscribeConfig) -> Path | None:
    """The configured model's local folder (None: a hub id that the torch backend downloads itself)."""
    if config.model.backend == "torch":
        from models.whisper_torch import resolve_torch_model

        source = Path(resolve_torch_model(config.model.model, config.storage))
        return source if source.is_dir() else None
    return resolve_model(config.model.model, config.storage)


def check_model_language(config: TranscribeConfig, language: str | None) -> None:
    """UnsupportedLanguageError unless the configured model knows `language` (None: detection).

    Called where a run starts or a request arrives: Whisper's decoder would otherwise fail on an
    unknown language token inside an actor, or an English-only model would silently answer in English.
    """
    if language is None:
        return
    folder = model_folder(config)
    if folder is not None:
        check_language(folder, language, config.model.model)


def load_backend(config: TranscribeConfig, threads: int) -> Any:
    if config.model.backend == "torch":
        from models.whisper_torch import TorchBackend, resolve_torch_model

        return TorchBackend(resolve_torch_model(config.model.model, config.storage), config.model, threads=threads)
    model_dir = resolve_model(config.model.model, config.storage)
    from models.whisper_ct2 import CT2Whisper

    return CT2Whisper(model_dir, config.model, threads=threads)


class TranscribeWindows:
    """Ray Data callable class: `__init__` loads the model once per actor, `__call__` runs a batch."""

    def __init__(self, config: TranscribeConfig, threads: int) -> None:
        self.times = StageTimes()
        with self.times.stage("actor:model load"):
            self.backend = load_backend(config, threads)
        self.text_only_long_form = config.text_only_long_form
        # CTranslate2 decodes a packed window at t=0 only (`single_pass`); see `_transcribe`.
        self.ct2 = config.model.backend == "ct2"
        self.idle_since = time.perf_counter()

    def __call__(self, batch: pa.Table) -> pa.Table:
        started = time.perf_counter()
        self.times.add("actor:waiting for input", started - self.idle_since)
        cpu = time.process_time()
        pieces = self._transcribe(batch)
        self.times.merge(getattr(self.backend, "times", StageTimes()))
        if hasattr(self.backend, "times"):
            self.backend.times = StageTimes()
        self.idle_since = time.perf_counter()
        self.times.add("actor:busy", self.idle_since - started, time.process_time() - cpu)
        return pieces_table(pieces, profile=self.times.drain() if pieces else None)

    def _transcribe(self, batch: pa.Table) -> list[Piece]:
        windows, profiles = windows_of(batch)
        for profile in profiles:
            self.times.merge(StageTimes.from_json(profile))
        with_audio = [w for w in windows if w.has_audio]
        started = time.perf_counter()
        results, features = self._decode(with_audio)
        per_window = (time.perf_counter() - started) / max(1, len(with_audio))
        decoded = iter(enumerate(results))
        pieces: list[Piece] = []
        redo: list[tuple[int, Placement]] = []  # (window of `features`, packed clip) to decode alone
        for window in windows:
            if not window.has_audio:
                pieces += split_window(window.placements, [], None, None, 0.0)
                continue
            k, result = next(decoded)
            placements = window.placements
            if features is not None:
                alone = list(placements) if result.failed else unsafe_clips(placements, result.segments)
                if alone:
                    result = dataclasses.replace(result, segments=kept(placements, result.segments, alone))
                    redo.extend((k, p) for p in alone)
                    placements = tuple(p for p in placements if p not in alone)
            pieces += split_window(
                placements, result.segments, result.language, result.language_probability, per_window
            )
        if redo:
            pieces += decode_alone(self.backend, features, redo, self.times)
        return pieces

    def _decode(self, windows: list[Window]) -> tuple[list[Any], np.ndarray | None]:
        """The backend's results for windows with audio, and their features (None: a model reading audio)."""
        if not windows:
            return [], None
        if getattr(self.backend, "needs_audio", False):
            return self.backend.transcribe_audio([np.frombuffer(w.audio, dtype=np.float32) for w in windows]), None
        features = np.stack([w.mels(N_FRAMES) for w in windows])
        durations = [w.duration_s for w in windows]
        if not self.ct2:
            return self.backend.transcribe_windows(features, durations), features
        # A packed window failing Whisper's guards at t=0 is not decoded again at five more
        # temperatures as a whole: its clips are decoded on their own (packing.decode_alone), each
        # with its own fallback only where it needs one (docs/performance.md).
        modes = [is_long_form(w.placements) for w in windows] if self.text_only_long_form else None
        packed = [is_packed(w.placements) for w in windows]
        return self.backend.transcribe_windows(features, durations, modes, packed), features


def is_long_form(placements: Sequence[Placement]) -> bool:
    """A window of one recording that has several (streamed recordings count theirs as -1).

    Short clips and packed windows are decoded with timestamps, which split packed clips apart.
    """
    return len({p.key for p in placements}) == 1 and placements[0].n_windows != 1
