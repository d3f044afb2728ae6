"""GPU (or CPU) stage: an actor pool running the model over batches of windows."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from models.backend import Backend, ClipSpan, take_times
from models.common.audio import N_FRAMES
from models.common.config import ModelConfig, StorageConfig
from models.common.profile import StageTimes
from models.languages import check_language
from models.registry import ModelNotFoundError
from models.resolved import ResolvedModel
from pipelines.batch.assemble import split_window
from pipelines.batch.packing import (
    decode_alone,
    holds_one_whole_clip,
    incomplete_clip,
    is_packed,
    kept,
    unsafe_clips,
)
from pipelines.batch.records import Piece, Placement, Window, pieces_table, windows_of
from pipelines.config import TranscribeConfig


def check_model_language(model: ResolvedModel, language: str | None, storage: StorageConfig) -> None:
    """UnsupportedLanguageError unless the resolved model knows `language` (None: detection).

    Called where a run starts or a request arrives: Whisper's decoder would otherwise fail on an
    unknown language token inside an actor, or an English-only model would silently answer in English.
    """
    if language is None:
        return
    folder = model.local_folder(storage)
    if folder is not None:
        check_language(folder, language, model.spec)


def load_backend(model: ResolvedModel, config: ModelConfig, storage: StorageConfig, threads: int) -> Backend:
    """The model, loaded from what the driver resolved (its name is not resolved again here)."""
    folder = model.local_folder(storage)
    if model.backend == "torch":
        from models.whisper_torch import TorchBackend

        return TorchBackend(folder if folder is not None else model.name, config, threads=threads)
    from models.whisper_ct2 import CT2Whisper

    if folder is None:
        raise ModelNotFoundError(f"model {model.spec!r} has no files for the ct2 backend")
    return CT2Whisper(folder, config, threads=threads)


class TranscribeWindows:
    """Ray Data callable class: `__init__` loads the model once per actor, `__call__` runs a batch."""

    def __init__(self, config: TranscribeConfig, model: ResolvedModel, threads: int) -> None:
        self.times = StageTimes()
        with self.times.stage("actor:model load"):
            self.backend = load_backend(model, config.model, config.storage, threads)
        self.text_only_long_form = config.text_only_long_form
        self.compression_ratio_threshold = config.model.compression_ratio_threshold
        # "own": a clip gets an encoder pass over its own frames, packed or alone in its window.
        self.own_passes = config.model.clip_input.splice == "own"
        self.idle_since = time.perf_counter()

    def __call__(self, batch: pa.Table) -> pa.Table:
        started = time.perf_counter()
        self.times.add("actor:waiting for input", started - self.idle_since)
        cpu = time.process_time()
        pieces = self._transcribe(batch)
        self.times.merge(take_times(self.backend))
        self.idle_since = time.perf_counter()
        self.times.add("actor:busy", self.idle_since - started, time.process_time() - cpu)
        return pieces_table(pieces, profile=self.times.drain() if pieces else None)

    def _transcribe(self, batch: pa.Table) -> list[Piece]:
        windows, profiles = windows_of(batch)
        for profile in profiles:
            self.times.merge(StageTimes.from_json(profile))
        by_clip = [w.has_audio and self._decodes_by_clip(w) for w in windows]
        pieces = self._decode_by_clip([w for w, clipwise in zip(windows, by_clip, strict=True) if clipwise])
        windows = [w for w, clipwise in zip(windows, by_clip, strict=True) if not clipwise]
        with_audio = [w for w in windows if w.has_audio]
        started = time.perf_counter()
        results, features = self._decode(with_audio)
        per_window = (time.perf_counter() - started) / max(1, len(with_audio))
        decoded = iter(enumerate(results))
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

    def _decodes_by_clip(self, window: Window) -> bool:
        if not self.backend.decodes_clips or self.backend.needs_audio:
            return False
        return is_packed(window.placements) or (self.own_passes and holds_one_whole_clip(window.placements))

    def _decode_by_clip(self, windows: list[Window]) -> list[Piece]:
        """Packed windows: one encoder pass each, then every clip decoded as its own sequence.

        A clip's words then come from its own span only (models.whisper_ct2_clips), so the
        safety net that repairs whole-window decoding (packing.unsafe_clips) is not needed; a clip
        whose own sequence lost words is decoded alone (packing.incomplete_clip).
        """
        if not windows:
            return []
        started = time.perf_counter()
        clips = [(k, p) for k, w in enumerate(windows) for p in w.placements]
        spans = [ClipSpan(k, p.window_offset_s, p.end_s) for k, p in clips]
        features = np.stack([w.mels(N_FRAMES) for w in windows])
        results = self.backend.transcribe_clips(features, spans)
        per_clip = (time.perf_counter() - started) / len(clips)
        # A clip whose decoding stopped short or lost words (packing.incomplete_clip) is decoded alone.
        guard = self.compression_ratio_threshold
        alone = [r.failed or incomplete_clip(p, r.segments, guard) for (_, p), r in zip(clips, results, strict=True)]
        pieces = [
            piece
            for (_, p), r, redo in zip(clips, results, alone, strict=True)
            if not redo
            for piece in split_window([p], r.segments, r.language, r.language_probability, per_clip)
        ]
        redo = [clip for clip, again in zip(clips, alone, strict=True) if again]
        return pieces + (decode_alone(self.backend, features, redo, self.times) if redo else [])

    def _decode(self, windows: list[Window]) -> tuple[list[Any], np.ndarray | None]:
        """The backend's results for windows with audio, and their features (None: a model reading audio)."""
        if not windows:
            return [], None
        if self.backend.needs_audio:
            return self.backend.transcribe_audio([np.frombuffer(w.audio, dtype=np.float32) for w in windows]), None
        features = np.stack([w.mels(N_FRAMES) for w in windows])
        # A packed window failing Whisper's guards at t=0 is not decoded again at five more
        # temperatures as a whole: its clips are decoded on their own (packing.decode_alone), each
        # with its own fallback only where it needs one (docs/performance.md).
        modes = [is_long_form(w.placements) for w in windows] if self.text_only_long_form else None
        packed = [is_packed(w.placements) for w in windows]
        durations = [w.duration_s for w in windows]
        return self.backend.transcribe_windows(features, durations, text_only=modes, single_pass=packed), features


def is_long_form(placements: Sequence[Placement]) -> bool:
    """A window of one recording that has several (streamed recordings count theirs as -1).

    Short clips and packed windows are decoded with timestamps, which split packed clips apart.
    """
    return len({p.key for p in placements}) == 1 and placements[0].n_windows != 1
