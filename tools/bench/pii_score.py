"""Scoring of redaction on the spoken-PII corpus: did the model write a value, and does it survive?

A number survives when any four consecutive digits of it (all of it when shorter) can be read in
the text, with digit words ("two", "forty-five") read as digits and everything else ignored: a
conservative test (stray digits can only add leaks). A word (a name, a street, a city, a month)
survives when it is a word of the text.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from tools.bench.pii_corpus import Utterance

_UNITS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())}  # noqa: SIM905
_UNITS["oh"] = "0"
_TENS = {w: str(i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}  # noqa: SIM905
_TEENS = {
    w: str(i + 10)
    for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())  # noqa: SIM905
}
_TOKEN = re.compile(r"\d+|[a-z]+")
# Consecutive digits of a value that count as a leak (a shorter value: all of it).
LEAK_DIGITS = 4


def digit_stream(text: str) -> str:
    """Every digit the text says, in order ("forty-five 3" -> "453")."""
    out: list[str] = []
    toks = _TOKEN.findall(text.lower())
    for i, t in enumerate(toks):
        if t.isdigit():
            out.append(t)
        elif t in _UNITS:
            out.append(_UNITS[t])
        elif t in _TEENS:
            out.append(_TEENS[t])
        elif t in _TENS:
            unit = i + 1 < len(toks) and toks[i + 1] in _UNITS and toks[i + 1] not in ("zero", "oh")
            out.append(_TENS[t] if unit else _TENS[t] + "0")
    return "".join(out)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def survives(u: Utterance, text: str) -> bool:
    """Whether any part of the utterance's value can be read in `text`."""
    stream, words = digit_stream(text), _words(text)
    for value in u.digits:
        size = min(LEAK_DIGITS, len(value))
        if any(value[i : i + size] in stream for i in range(len(value) - size + 1)):
            return True
    return any(w in words for w in u.words)


def kept_numbers(u: Utterance, raw: str, redacted: str) -> tuple[int, int]:
    """(1, 1) when an ordinary sentence keeps every number the model wrote (as digits or words),
    (0, 1) when redaction took any; (0, 0) when the model wrote no number."""
    before = digit_stream(raw)
    if not before:
        return 0, 0
    return int(digit_stream(redacted) == before), 1


@dataclass
class Tally:
    """Counts per type: utterances, values written by the model, and leaks."""

    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    written: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    text_leaks: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    audio_leaks: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    kept: int = 0
    ordinary: int = 0

    def add(self, u: Utterance, raw: str, redacted: str, again: str | None) -> None:
        if u.type == "ORDINARY":
            kept, written = kept_numbers(u, raw, redacted)
            self.kept += kept
            self.ordinary += written
            return
        self.total[u.type] += 1
        if survives(u, raw):
            self.written[u.type] += 1
            self.text_leaks[u.type] += survives(u, redacted)
        if again is not None:
            self.audio_leaks[u.type] += survives(u, again)

    def recall(self, kind: str) -> float:
        """Of the values the model wrote, the share redacted (nothing of them left)."""
        written = self.written[kind]
        return 1.0 - self.text_leaks[kind] / written if written else float("nan")
