"""Diarization quality: DER (pyannote.metrics), speaker-count error and a cpWER-style WER.

- DER: pyannote.metrics' DiarizationErrorRate with a 0.25 s collar around reference boundaries
  and overlapping speech excluded (the usual NIST/DIHARD-style setting); hypothesis turns from
  the diarizer itself.
- DER with overlap scored (`skip_overlap=False`) and JER (DIHARD's Jaccard error rate, where a
  speaker who says little weighs as much as one who says much), same collar.
- Speaker-count error: |hypothesis speakers - reference speakers|.
- cpWER (concatenated minimum-permutation WER, CHiME-6): each speaker's words are concatenated
  in time order on both sides, hypothesis speakers are matched one-to-one to reference speakers
  so that the total word errors are least (Hungarian assignment; unmatched speakers against
  empty text), and the errors are summed over all reference words. Words given to the wrong
  person count as errors twice (deleted from one, inserted into another). It is set beside the
  plain WER of the same words with speakers ignored: the gap is what attribution costs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.quality.wer import ErrorCounts, normalize, total, word_errors
from pipelines.speakers.cluster import Turn

COLLAR_S = 0.25


def load_reference(path: Path) -> dict[str, Any]:
    """A fixture's JSON (scripts/make_diarization_fixtures.py): `turns` with speaker, start_s, end_s, text."""
    return json.loads(Path(path).read_text())


def _annotations(reference_turns: list[dict[str, Any]], hypothesis: list[Turn]) -> tuple[Any, Any]:
    from pyannote.core import Annotation, Segment

    ref, hyp = Annotation(), Annotation()
    for i, t in enumerate(reference_turns):
        ref[Segment(t["start_s"], t["end_s"]), i] = t["speaker"]
    for i, t in enumerate(hypothesis):
        hyp[Segment(t.start, t.end), i] = f"hyp{t.speaker}"
    return ref, hyp


def der(reference_turns: list[dict[str, Any]], hypothesis: list[Turn], skip_overlap: bool = True) -> float:
    """DER, collar 0.25 s; with `skip_overlap=False` speech of two people at once is scored too
    (voxray gives each moment one speaker, so the second voice there is always missed)."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = _annotations(reference_turns, hypothesis)
    return float(DiarizationErrorRate(collar=COLLAR_S, skip_overlap=skip_overlap)(ref, hyp))


def jer(reference_turns: list[dict[str, Any]], hypothesis: list[Turn]) -> float:
    """Jaccard error rate (DIHARD II): every reference speaker weighs the same, however long they speak."""
    from pyannote.metrics.diarization import JaccardErrorRate

    ref, hyp = _annotations(reference_turns, hypothesis)
    return float(JaccardErrorRate(collar=COLLAR_S)(ref, hyp))


def _by_speaker(items: list[tuple[float, str, str]]) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for _, speaker, text in sorted(items, key=lambda x: x[0]):
        out.setdefault(speaker, []).append(text)
    return {k: " ".join(v) for k, v in out.items()}


def cp_word_errors(reference: dict[str, str], hypothesis: dict[str, str]) -> ErrorCounts:
    """Minimum-permutation word errors between per-speaker texts (already joined, not normalized)."""
    from scipy.optimize import linear_sum_assignment

    refs = [normalize(t) for t in reference.values()]
    hyps = [normalize(t) for t in hypothesis.values()]
    n = max(len(refs), len(hyps))
    refs += [""] * (n - len(refs))
    hyps += [""] * (n - len(hyps))
    counts = [[word_errors(r, h) for h in hyps] for r in refs]
    cost = np.array([[c.errors for c in row] for row in counts])
    rows, cols = linear_sum_assignment(cost)
    return total(counts[r][c] for r, c in zip(rows, cols, strict=True))


@dataclass(frozen=True)
class SpeakerScore:
    name: str
    reference_speakers: int
    hypothesis_speakers: int
    der: float | None
    cpwer: float | None = None
    wer: float | None = None

    @property
    def count_error(self) -> int:
        return abs(self.hypothesis_speakers - self.reference_speakers)


def transcript_words(row: dict[str, Any]) -> list[tuple[float, str, str]]:
    """(start, speaker, text) for a transcript row's words (its segments where it has no words)."""
    out = []
    for s in row.get("segments") or []:
        words = s.get("words") or []
        if words:
            out += [(w["start"], w["speaker"] or "?", w["word"]) for w in words]
        else:
            out.append((s["start"], s.get("speaker") or "?", s["text"]))
    return out


def score_transcript(reference: dict[str, Any], row: dict[str, Any]) -> tuple[float, float]:
    """(cpWER, plain WER) of one diarized transcript row against a fixture's turns."""
    ref_items = [(t["start_s"], t["speaker"], t["text"]) for t in reference["turns"]]
    hyp_items = transcript_words(row)
    cp = cp_word_errors(_by_speaker(ref_items), _by_speaker(hyp_items))

    # Stable sorts by start time only: words that share a start (snapped to a span's edge) keep
    # their order; sorting whole tuples would reorder them by speaker and text.
    def in_time_order(items: list[tuple[float, str, str]]) -> str:
        return normalize(" ".join(t for _, _, t in sorted(items, key=lambda x: x[0])))

    plain = word_errors(in_time_order(ref_items), in_time_order(hyp_items))
    return cp.rate, plain.rate
