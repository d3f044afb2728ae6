"""Which teacher transcripts become training labels, and how many clips each criterion removed.

Criteria run in a fixed order and a clip is counted under the first one it fails, so the counts
add up to the clips removed. The thresholds are Whisper's own failure guards (its decoder treats
a window with avg_logprob below -1, or a compression ratio above 2.4, as failed, and one with
no_speech_prob above 0.6 as silence), not values fitted to a domain; `max_disagreement` compares
the teacher with the production model: on a clip where they share almost no word, at least one of
them is not hearing English speech (noise, music, another language), and the teacher's glossary
cannot explain a gap that wide.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from models.common.schema import STATUS_OK
from pipelines.quality import wer

# Reasons, in the order they are checked.
TABLE_ERROR = "error_in_table"  # a nightly table's row for the file has status error: never sent to the teacher
UNREADABLE = "unreadable"  # undecodable, empty, missing: the pipeline's error rows
NO_PRODUCTION = "no_production_transcript"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
NO_TEXT = "too_few_words"
FLAGGED = "flagged"
NO_SPEECH = "no_speech"
LOW_LOGPROB = "low_avg_logprob"
REPETITIVE = "high_compression_ratio"
DISAGREE = "teacher_production_disagree"
REASONS = (
    TABLE_ERROR,
    UNREADABLE,
    NO_PRODUCTION,
    TOO_SHORT,
    TOO_LONG,
    NO_TEXT,
    FLAGGED,
    NO_SPEECH,
    LOW_LOGPROB,
    REPETITIVE,
    DISAGREE,
)


@dataclass(frozen=True)
class FilterConfig:
    """Keep criteria for pseudo-labels (recorded in every registry version's report)."""

    min_duration_s: float = 0.5
    max_duration_s: float = 30.0  # one Whisper window: fine-tuning trains on whole clips
    min_words: int = 2
    drop_flagged: bool = True
    max_no_speech_prob: float = 0.6
    min_avg_logprob: float = -0.7
    max_compression_ratio: float = 2.4
    max_disagreement: float = 0.8  # WER of the production transcript against the teacher's

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Labelled:
    path: str
    text: str
    duration_s: float


@dataclass(frozen=True)
class Selection:
    kept: tuple[Labelled, ...]
    seen: int
    removed: dict[str, int] = field(default_factory=dict)


def select(teacher: Iterable[dict[str, Any]], production: dict[str, dict[str, Any]], cfg: FilterConfig) -> Selection:
    """Teacher rows (one per clip) -> the clips kept as labels, with counts per removal reason.

    `production`: the production model's rows by path (same clips, no glossary).
    """
    kept: list[Labelled] = []
    removed = dict.fromkeys(REASONS, 0)
    seen = 0
    for row in teacher:
        seen += 1
        reason = rejection(row, production.get(row["path"]), cfg)
        if reason is None:
            kept.append(Labelled(row["path"], row["text"].strip(), float(row["duration_s"])))
        else:
            removed[reason] += 1
    return Selection(kept=tuple(sorted(kept, key=lambda k: k.path)), seen=seen, removed=removed)


def with_skipped(selection: Selection, reason: str, count: int) -> Selection:
    """`selection` with `count` more clips seen and removed for `reason` (skipped before any pass)."""
    removed = {**selection.removed, reason: selection.removed.get(reason, 0) + count}
    return Selection(kept=selection.kept, seen=selection.seen + count, removed=removed)


def rejection(row: dict[str, Any], production: dict[str, Any] | None, cfg: FilterConfig) -> str | None:
    """The first criterion the clip fails, or None when its teacher transcript is kept."""
    if row["status"] != STATUS_OK or not row.get("duration_s"):
        return UNREADABLE
    if production is None or production["status"] != STATUS_OK:
        return NO_PRODUCTION
    text = (row["text"] or "").strip()
    segments = row["segments"] or []
    checks = (
        (TOO_SHORT, row["duration_s"] < cfg.min_duration_s),
        (TOO_LONG, row["duration_s"] > cfg.max_duration_s),
        (NO_TEXT, len(text.split()) < cfg.min_words or not segments),
    )
    for reason, failed in checks:
        if failed:
            return reason
    checks = (
        (FLAGGED, cfg.drop_flagged and any(s["flagged"] for s in segments)),
        (NO_SPEECH, max(s["no_speech_prob"] for s in segments) > cfg.max_no_speech_prob),
        (LOW_LOGPROB, mean_logprob(segments) < cfg.min_avg_logprob),
        (REPETITIVE, compression_ratio(text) > cfg.max_compression_ratio),
        (DISAGREE, disagreement(text, production["text"] or "") > cfg.max_disagreement),
    )
    return next((reason for reason, failed in checks if failed), None)


def mean_logprob(segments: list[dict[str, Any]]) -> float:
    """Duration-weighted mean of the segments' avg_logprob."""
    weights = [max(1e-3, s["end"] - s["start"]) for s in segments]
    return sum(w * s["avg_logprob"] for w, s in zip(weights, segments, strict=True)) / sum(weights)


def compression_ratio(text: str) -> float:
    """Whisper's repetition measure: UTF-8 length over zlib-compressed length."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def disagreement(teacher_text: str, production_text: str) -> float:
    """WER of the production transcript against the teacher's (normalised; 1.0 when the teacher is empty)."""
    if not wer.normalize(teacher_text, "en").strip():
        return 1.0
    return wer.corpus_wer([teacher_text], [production_text], "en")
