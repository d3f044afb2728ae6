"""Speaker turns -> a `speaker` on every segment and word, and a row's `speakers` list.

A word takes the speaker who talks longest within its span (the nearest turn if none does); a
segment takes the speaker of most of its words' time (of its own span when it has no words).
Labels are SPEAKER_1, SPEAKER_2, ... in order of first appearance in the transcript.
"""

from __future__ import annotations

import bisect
from typing import Any

from pipelines.speakers.cluster import Turn

LABEL = "SPEAKER_{}"


class _Timeline:
    def __init__(self, turns: list[Turn]) -> None:
        self.turns = sorted(turns, key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]

    def speaker(self, start: float, end: float) -> tuple[int, float]:
        """(speaker, seconds of the span they cover); nearest turn's speaker with 0.0 when none covers it."""
        i = max(0, bisect.bisect_right(self.starts, start) - 1)
        covered: dict[int, float] = {}
        j = i
        while j < len(self.turns) and self.turns[j].start < end:
            t = self.turns[j]
            overlap = min(end, t.end) - max(start, t.start)
            if overlap > 0:
                covered[t.speaker] = covered.get(t.speaker, 0.0) + overlap
            j += 1
        if covered:
            best = max(covered, key=lambda k: covered[k])
            return best, covered[best]
        middle = (start + end) / 2
        k = bisect.bisect_right(self.starts, middle)
        near = self.turns[max(0, k - 1) : k + 1]
        nearest = min(near, key=lambda t: min(abs(middle - t.start), abs(middle - t.end)))
        return nearest.speaker, 0.0


def label_segments(segments: list[dict[str, Any]], turns: list[Turn]) -> tuple[list[dict[str, Any]], list[str]]:
    """Segments (recording time, in order) with `speaker` set on them and their words; the speakers list."""
    if not turns:
        return [dict(s, speaker=None) for s in segments], []
    timeline = _Timeline(turns)
    names: dict[int, str] = {}

    def name(cluster: int) -> str:
        return names.setdefault(cluster, LABEL.format(len(names) + 1))

    out = []
    for segment in segments:
        words = segment.get("words") or []
        word_speakers = [timeline.speaker(w["start"], w["end"])[0] for w in words]
        if words:
            weight: dict[int, float] = {}
            for w, k in zip(words, word_speakers, strict=True):
                weight[k] = weight.get(k, 0.0) + max(w["end"] - w["start"], 1e-3)
            cluster = max(weight, key=lambda k: weight[k])
        else:
            cluster = timeline.speaker(segment["start"], segment["end"])[0]
        # Named in order of appearance: a segment's words first, in time order.
        labelled_words = [dict(w, speaker=name(k)) for w, k in zip(words, word_speakers, strict=True)]
        out.append(dict(segment, speaker=name(cluster), words=labelled_words or segment.get("words")))
    return out, list(names.values())
