"""Context rules: a cue ("social security number", "PIN", "expires", "my name is") makes the value
after it redactable, however partial or garbled Whisper wrote it.

Patterns and checksums need the whole value; a transcript often has only part of it: tiny.en
wrote the SSN 219099999, read digit by digit, as "My social security number is 2909, I need ...".
After a cue, the value within a few words is redacted whatever its length: for numbers, digits,
digit words, "oh", homophones ("for", "to") and letters Whisper writes for digits ("i", "l")
next to them, separated by commas, hyphens, dots or slashes, also across a sentence or segment
boundary (the caller analyses a recording's text as one string). How far a value reaches
depends on its kind (pipelines/redaction/values.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:st|nd|rd|th)?|[^\sA-Za-z\d]")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def word(self) -> bool:
        return self.text[0].isalnum()

    @property
    def sentence_end(self) -> bool:
        return self.text in ".?!"


def tokens(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


# A value's extent: given the tokens and the index right after the cue, (first, last) or None.
ValueFinder = Callable[[list[Token], int], "tuple[int, int] | None"]


@dataclass(frozen=True)
class Cue:
    type: str
    pattern: re.Pattern[str]
    value: ValueFinder


@dataclass(frozen=True)
class ContextHit:
    type: str
    start: int  # character offsets in the analysed text
    end: int


def cue(kind: str, value: ValueFinder, *phrases: str) -> Cue:
    """A cue of type `kind`: any of `phrases` (words separated by spaces, commas, dots or hyphens)."""
    words = "|".join(p.replace(" ", r"[\s,.-]*") for p in phrases)
    return Cue(kind, re.compile(rf"\b(?:{words})\b", re.IGNORECASE), value)


def find_after_cues(text: str, cues: tuple[Cue, ...]) -> list[ContextHit]:
    """The value after each cue in `text` (spans in `text`), one per cue occurrence."""
    toks = tokens(text)
    starts = [t.start for t in toks]
    hits: list[ContextHit] = []
    for c in cues:
        for m in c.pattern.finditer(text):
            first = _bisect(starts, m.end())
            span = c.value(toks, first)
            if span is not None:
                hits.append(ContextHit(c.type, toks[span[0]].start, toks[span[1]].end))
    return hits


def _bisect(starts: list[int], at: int) -> int:
    import bisect

    return bisect.bisect_left(starts, at)
