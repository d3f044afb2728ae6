"""GPU (or CPU) stage: an actor pool running the model over batches of windows."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pyarrow as pa

from models.backend import Backend, take_times
from models.common.audio import FRAMES_PER_SECOND, N_FRAMES, pad_or_trim
from models.common.config import ModelConfig, StorageConfig
from models.common.profile import StageTimes
from models.languages import check_language
from models.registry import ModelNotFoundError
from models.resolved import ResolvedModel
from pipelines.assemble import PIECE_SCHEMA, best_placement, split_window
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
        self.idle_since = time.perf_counter()

    def __call__(self, batch: pa.Table) -> pa.Table:
        started = time.perf_counter()
        self.times.add("actor:waiting for input", started - self.idle_since)
        cpu = time.process_time()
        pieces = self._transcribe(batch)
        self.times.merge(take_times(self.backend))
        self.idle_since = time.perf_counter()
        self.times.add("actor:busy", self.idle_since - started, time.process_time() - cpu)
        if pieces:
            pieces[0]["profile"] = self.times.drain()
        return pa.Table.from_pylist(pieces, schema=PIECE_SCHEMA)

    def _transcribe(self, batch: pa.Table) -> list[dict[str, Any]]:
        rows = batch.to_pylist()
        for row in rows:
            if row.get("profile"):
                self.times.merge(StageTimes.from_json(row["profile"]))
        with_audio = [r for r in rows if r["features"] is not None or r.get("audio") is not None]
        started = time.perf_counter()
        results = []
        features = None
        if with_audio and self.backend.needs_audio:
            results = self.backend.transcribe_audio([np.frombuffer(r["audio"], dtype=np.float32) for r in with_audio])
        elif with_audio:
            features = np.stack(
                [np.frombuffer(r["features"], dtype=np.float32).reshape(r["n_mels"], N_FRAMES) for r in with_audio]
            )
            durations = [r["duration_s"] for r in with_audio]
            # A packed window failing Whisper's guards at t=0 is not decoded again at five more
            # temperatures as a whole: its clips are decoded on their own (`_alone`), each with
            # its own fallback only where it needs one (docs/performance.md).
            modes = [is_long_form(r["placements"]) for r in with_audio] if self.text_only_long_form else None
            packed = [is_packed(r["placements"]) for r in with_audio]
            results = self.backend.transcribe_windows(features, durations, text_only=modes, single_pass=packed)
        per_window = (time.perf_counter() - started) / max(1, len(with_audio))
        by_row = dict(zip((id(r) for r in with_audio), results, strict=True))
        pieces: list[dict[str, Any]] = []
        redo: list[tuple[int, dict[str, Any]]] = []  # (window of `features`, packed clip) to decode alone
        for row in rows:
            result = by_row.get(id(row))
            placements = row["placements"]
            if result is not None and features is not None:
                alone = list(placements) if result.failed else unsafe_clips(placements, result.segments)
                if alone:
                    result = dataclasses.replace(result, segments=_kept(placements, result.segments, alone))
                    redo.extend((with_audio.index(row), p) for p in alone)
                    placements = [p for p in placements if p not in alone]
            pieces.extend(
                split_window(
                    placements,
                    result.segments if result else [],
                    result.language if result else None,
                    result.language_probability if result else None,
                    per_window if result else 0.0,
                )
            )
        if redo:
            pieces.extend(self._alone(features, redo))
        return pieces

    def _alone(self, features: np.ndarray, redo: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Decode packed clips each on its own (one batch), from their frames of the packed windows' features."""
        started = time.perf_counter()
        placements = [p for _, p in redo]
        windows = np.stack(
            [
                pad_or_trim(
                    features[
                        k,
                        :,
                        round(p["window_offset_s"] * FRAMES_PER_SECOND) : round(
                            (p["window_offset_s"] + p["length_s"]) * FRAMES_PER_SECOND
                        ),
                    ]
                )
                for k, p in redo
            ]
        )
        results = self.backend.transcribe_windows(windows, [p["length_s"] for p in placements])
        self.times.add("actor:packed clips decoded alone", time.perf_counter() - started, 0.0, len(placements))
        per_window = (time.perf_counter() - started) / len(placements)
        return [
            piece
            for p, r in zip(placements, results, strict=True)
            for piece in split_window(
                [dict(p, window_offset_s=0.0)], r.segments, r.language, r.language_probability, per_window
            )
        ]


def is_long_form(placements: list[dict[str, Any]]) -> bool:
    """A window of one recording that has several (streamed recordings count theirs as -1).

    Short clips and packed windows are decoded with timestamps, which split packed clips apart.
    """
    return len({(p["path"], p["channel"]) for p in placements}) == 1 and placements[0]["n_windows"] != 1


def is_packed(placements: list[dict[str, Any]]) -> bool:
    """A window holding stretches of more than one (file, channel): packed short clips."""
    return len({(p["path"], p["channel"]) for p in placements}) > 1


# Whisper's timestamps in a packed window are loose by a few tenths of a second; a segment must
# reach this far into two clips before it counts as holding words of both.
STRADDLE_S = 0.3
# A packed clip's placement runs from its first to its last speech (VAD, with Silero's padding), so
# its own segments cover it from end to end. Uncovered stretches longer than these, at its edges
# or between its segments, are words Whisper skipped or gave to a neighbour: measured on packed
# windows against the same clips alone (docs/performance.md, scripts/packing_safety.py).
EDGE_S = 1.0
INNER_GAP_S = 1.5


def _overlap(p: dict[str, Any], segment: dict[str, Any]) -> float:
    start, end = p["window_offset_s"], p["window_offset_s"] + p["length_s"]
    return min(end, segment["end"]) - max(start, segment["start"])


def unsafe_clips(placements: list[dict[str, Any]], segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Clips of a packed window whose words the window's segments cannot be trusted to attribute.

    Packing puts several clips (a second of silence apart) in one 30-second window, and Whisper's
    segments are split back to the clips by time. That is safe while every segment lies within one
    clip and each clip's segments cover it. Those clips are decoded again on their own:
    - a segment reaching well into two clips (Whisper ran one clip's sentence into the next);
    - a segment lying in no clip (in a gap or after the last): its words may be either neighbour's;
    - a clip its own segments leave uncovered for long (no segment at all, a lost last or first
      segment, a skipped middle): its words were dropped or went into a neighbour's segment.
    """
    if not is_packed(placements):
        return []
    if not segments:
        return list(placements)  # VAD heard speech in every clip: nothing decoded means words lost
    ordered = sorted(placements, key=lambda p: p["window_offset_s"])
    owned: dict[int, list[dict[str, Any]]] = {id(p): [] for p in placements}
    unsafe: set[int] = set()
    for s in segments:
        owner = best_placement(placements, s["start"], s["end"])
        owned[id(owner)].append(s)
        crossing = [q for q in placements if _overlap(q, s) > STRADDLE_S]
        if len(crossing) > 1:
            unsafe.update(id(q) for q in crossing)
        if not any(_overlap(q, s) > 0 for q in placements):
            unsafe.update(id(q) for q in _neighbours(ordered, (s["start"] + s["end"]) / 2))
    unsafe.update(id(p) for p in placements if not _covered(p, owned[id(p)]))
    return [p for p in placements if id(p) in unsafe]


def _neighbours(ordered: list[dict[str, Any]], t: float) -> list[dict[str, Any]]:
    """The clips just before and just after window time `t` (which lies in no clip)."""
    before = [p for p in ordered if p["window_offset_s"] + p["length_s"] <= t]
    after = [p for p in ordered if p["window_offset_s"] >= t]
    return before[-1:] + after[:1]


def _covered(p: dict[str, Any], segments: list[dict[str, Any]]) -> bool:
    start, end = p["window_offset_s"], p["window_offset_s"] + p["length_s"]
    spans = sorted((max(s["start"], start), min(s["end"], end)) for s in segments)
    if not spans or spans[0][0] - start > EDGE_S:
        return False
    reached = spans[0][1]
    for lo, hi in spans[1:]:
        if lo - reached > INNER_GAP_S:
            return False
        reached = max(reached, hi)
    return end - reached <= EDGE_S


def _kept(placements: list[dict[str, Any]], segments: list[dict[str, Any]], alone: list[dict[str, Any]]) -> list:
    """The packed window's segments that stay: those of the clips not decoded again on their own.

    A segment belongs to the clip it overlaps most (as in assembly). One that reached far into a
    clip decoded alone made both clips unsafe; a loose edge reaching a little way into one does not
    cost its own clip the segment.
    """
    redo = {id(p) for p in alone}
    return [s for s in segments if id(best_placement(placements, s["start"], s["end"])) not in redo]
