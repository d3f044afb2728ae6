"""Packing short clips into shared 30-second windows, and its repair: all of packing in one place.

Every window costs one full encoder pass whatever it holds (Whisper needs whole 30 s windows), so
a task's short clips go several to a window, a second of silence apart (`pack_windows`). A backend
that `decodes_clips` (CTranslate2) encodes the window once and decodes each clip as its own
sequence (models/whisper_ct2_clips.py); a clip whose decoding stopped short of its end, or whose
segments lost words (`incomplete_clip`), is decoded alone (`decode_alone`). Other backends decode
the window whole, Whisper's segments are split back to the clips by time (assemble.split_window),
and where that cannot be trusted the clips are decoded again on their own (`unsafe_clips`,
`decode_alone`). Packing is on where segments have timestamps to split by (`packs_short_clips`),
and off by default where a multilingual model detects the language (`without_cross_language_packing`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from models.backend import Backend
from models.common.audio import FRAMES_PER_SECOND, N_SAMPLES, SAMPLE_RATE, pad_or_trim
from models.common.profile import StageTimes
from models.resolved import ResolvedModel
from pipelines.batch.assemble import best_placement, split_window
from pipelines.batch.read import error_message
from pipelines.batch.records import Piece, Placement
from pipelines.config import TranscribeConfig
from pipelines.windows import ChunkingConfig, Stretch, plan_unit


def packs_short_clips(config: TranscribeConfig) -> bool:
    """Whether a task's short clips share windows: as configured, else where timestamps split them.

    Not by default with own encoder passes (`model.clip_input.splice: own`): a clip alone in its
    window then costs an encoder pass as long as the clip, so sharing a window saves nothing and
    would put its neighbours' frames next to its own (docs/performance.md).
    """
    if config.chunking.pack_short_clips is not None:
        return config.chunking.pack_short_clips
    if config.model.clip_input.splice == "own":
        return False
    return config.model.backend == "ct2" and not config.model.without_timestamps


def without_cross_language_packing(config: TranscribeConfig, model: ResolvedModel) -> TranscribeConfig:
    """No default packing when a multilingual model detects the language.

    A window is decoded in one language, so packed clips of different languages would all come
    out in the first one's (measured: Spanish and Mandarin clips transcribed as French). An
    explicit `--pack` or a given `--language` keeps packing.
    """
    if config.chunking.pack_short_clips is not None or config.model.language or config.model.backend != "ct2":
        return config
    if not model.multilingual:
        return config
    return replace(config, chunking=replace(config.chunking, pack_short_clips=False))


def pack_windows(
    windows: list[list[Stretch]],
    cfg: ChunkingConfig,
    *,
    fill: int = N_SAMPLES,
    max_clips: int | None = None,
    longest_first: bool = True,
) -> list[list[Stretch]]:
    """Merge single-stretch windows of short clips into shared windows: first fit, longest first.

    Every window costs one full encoder pass whatever it holds, so the fewer the better. Taking
    the clips longest first (first-fit decreasing) leaves the short ones to fill the gaps; in
    input order, a long clip arriving late opened a window of its own next to half-empty ones.
    The keywords (samples of a window to fill, clips a window, order) are for measuring other
    layouts (scripts/packing_layouts.py); the pipeline uses their defaults.
    """
    gap = int(cfg.pack_gap_s * SAMPLE_RATE)
    limit = int(cfg.pack_max_clip_s * SAMPLE_RATE)
    most = max_clips or len(windows)
    alone = [w for w in windows if len(w) != 1 or w[0].length > limit]
    clips = [w[0] for w in windows if len(w) == 1 and w[0].length <= limit]
    if longest_first:
        clips.sort(key=lambda c: -c.length)
    packed: list[list[Stretch]] = []
    filled: list[int] = []
    for clip in clips:
        k = next(
            (k for k, used in enumerate(filled) if used + gap + clip.length <= fill and len(packed[k]) < most), None
        )
        if k is None:
            packed.append([Stretch(clip.unit, 0, clip.source_start, clip.length)])
            filled.append(clip.length)
        else:
            packed[k].append(Stretch(clip.unit, filled[k] + gap, clip.source_start, clip.length))
            filled[k] += gap + clip.length
    return alone + packed


def plan_clips(
    clips: Sequence[np.ndarray], config: TranscribeConfig, times: StageTimes
) -> tuple[list[list[Stretch]], list[tuple[float, str | None]]]:
    """The windows of a task's clips (stretch units index `clips`), packed where packing is on.

    Also each clip's planning time and error: a clip VAD failed on gets no window, and its error
    row through clips.clip_windows.
    """
    windows: list[list[Stretch]] = []
    outcomes: list[tuple[float, str | None]] = []
    for i, audio in enumerate(clips):
        started = time.perf_counter()
        error = None
        try:
            with times.stage("prepare:vad+windows"):
                windows.extend(plan_unit(audio, i, config.chunking))
        except Exception as exc:  # this clip's error row (it gets no window)
            error = error_message(exc)
        outcomes.append((time.perf_counter() - started, error))
    if packs_short_clips(config):
        with times.stage("prepare:vad+windows"):
            windows = pack_windows(windows, config.chunking)
    return windows, outcomes


def holds_one_whole_clip(placements: Sequence[Placement]) -> bool:
    """A window holding one input's only stretch: with own encoder passes, decoded as a clip."""
    return len(placements) == 1 and placements[0].n_windows == 1


def is_packed(placements: Sequence[Placement]) -> bool:
    """A window holding stretches of more than one (file, channel): packed short clips."""
    return len({p.key for p in placements}) > 1


# Whisper's timestamps in a packed window are loose by a few tenths of a second; a segment must
# reach this far into two clips before it counts as holding words of both.
STRADDLE_S = 0.3
# A packed clip's placement runs from its first to its last speech (VAD, with Silero's padding), so
# its own segments cover it from end to end. Uncovered stretches longer than these, at its edges
# or between its segments, are words Whisper skipped or gave to a neighbour: measured on packed
# windows against the same clips alone (docs/performance.md, scripts/packing_safety.py).
EDGE_S = 1.0
INNER_GAP_S = 1.5


def unsafe_clips(placements: Sequence[Placement], segments: Sequence[dict[str, Any]]) -> list[Placement]:
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
    ordered = sorted(placements, key=lambda p: p.window_offset_s)
    owned: dict[int, list[dict[str, Any]]] = {id(p): [] for p in placements}
    unsafe: set[int] = set()
    for s in segments:
        owner = best_placement(placements, s["start"], s["end"])
        owned[id(owner)].append(s)
        crossing = [q for q in placements if q.overlap(s["start"], s["end"]) > STRADDLE_S]
        if len(crossing) > 1:
            unsafe.update(id(q) for q in crossing)
        if not any(q.overlap(s["start"], s["end"]) > 0 for q in placements):
            unsafe.update(id(q) for q in _neighbours(ordered, (s["start"] + s["end"]) / 2))
    unsafe.update(id(p) for p in placements if not _covered(p, owned[id(p)]))
    return [p for p in placements if id(p) in unsafe]


def _neighbours(ordered: list[Placement], t: float) -> list[Placement]:
    """The clips just before and just after window time `t` (which lies in no clip)."""
    before = [p for p in ordered if p.end_s <= t]
    after = [p for p in ordered if p.window_offset_s >= t]
    return before[-1:] + after[:1]


def _covered(p: Placement, segments: list[dict[str, Any]]) -> bool:
    start, end = p.window_offset_s, p.end_s
    spans = sorted((max(s["start"], start), min(s["end"], end)) for s in segments)
    if not spans or spans[0][0] - start > EDGE_S:
        return False
    reached = spans[0][1]
    for lo, hi in spans[1:]:
        if lo - reached > INNER_GAP_S:
            return False
        reached = max(reached, hi)
    return end - reached <= EDGE_S


# A packed clip decoded as its own sequence (models/whisper_ct2_clips.py) that writes fewer words
# than this per second of its VAD span has lost some. On the dev clip sets every clip under 0.6
# had (0.29-0.59 words a second, 2-5 words each), and the slowest clean clip wrote 0.84 (real
# speech with pauses; 1.16 on espeak-ng calls); any value from 0.6 to 0.84 flagged the same clips.
# A false alarm costs one clip decoded alone, a miss costs words: the upper half of that plateau
# (docs/performance.md, "Words a packed clip loses").
MIN_WORDS_PER_S = 0.75


def incomplete_clip(p: Placement, segments: Sequence[dict[str, Any]], max_compression: float) -> bool:
    """Whether a packed clip's own decoding lost words, so that it must be decoded alone.

    Its placement runs from its first to its last speech, so its segments cover it from end to
    end and carry the words spoken there. Whisper sometimes ends a packed clip's sequence early or
    loops on a phrase (measured: "hi" for a 7 s call whose 21 words it found alone): the segments
    then leave the clip uncovered at an edge or inside (`_covered`, as for whole windows), hold far
    fewer words than its speech (MIN_WORDS_PER_S), or one segment repeats itself past Whisper's
    compression-ratio guard, which judges the clip's text as a whole (`max_compression`).
    """
    words = sum(len(s["text"].split()) for s in segments)
    return (
        not _covered(p, list(segments))
        or words < MIN_WORDS_PER_S * p.length_s
        or any(s["compression_ratio"] > max_compression for s in segments)
    )


def kept(
    placements: Sequence[Placement], segments: Sequence[dict[str, Any]], alone: Sequence[Placement]
) -> list[dict[str, Any]]:
    """The packed window's segments that stay: those of the clips not decoded again on their own.

    A segment belongs to the clip it overlaps most (as in assembly). One that reached far into a
    clip decoded alone made both clips unsafe; a loose edge reaching a little way into one does not
    cost its own clip the segment.
    """
    redo = {id(p) for p in alone}
    return [s for s in segments if id(best_placement(placements, s["start"], s["end"])) not in redo]


def decode_alone(
    backend: Backend, features: np.ndarray, redo: list[tuple[int, Placement]], times: StageTimes
) -> list[Piece]:
    """Decode packed clips each on its own (one batch), from their frames of the packed windows' features."""
    started = time.perf_counter()
    placements = [p for _, p in redo]
    frames = [
        features[k, :, round(p.window_offset_s * FRAMES_PER_SECOND) : round(p.end_s * FRAMES_PER_SECOND)]
        for k, p in redo
    ]
    results = backend.transcribe_windows(np.stack([pad_or_trim(f) for f in frames]), [p.length_s for p in placements])
    times.add("actor:packed clips decoded alone", time.perf_counter() - started, 0.0, len(placements))
    per_window = (time.perf_counter() - started) / len(placements)
    return [
        piece
        for p, r in zip(placements, results, strict=True)
        for piece in split_window(
            [replace(p, window_offset_s=0.0)], r.segments, r.language, r.language_probability, per_window
        )
    ]
