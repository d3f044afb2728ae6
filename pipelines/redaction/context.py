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
from difflib import SequenceMatcher
from functools import lru_cache

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:st|nd|rd|th)?|[^\sA-Za-z\d]")
# A long cue word that Whisper misheard by a letter or two ("exploration" for "expiration",
# dev2 split) still cues its value. Shorter words are too close to ordinary ones ("card": "car").
FUZZY_MIN_LETTERS = 7
FUZZY_RATIO = 0.85


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    # The parse makes this number the count of a noun after it (pipelines/redaction/syntax.py).
    counts: bool = False

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def word(self) -> bool:
        return self.text[0].isalnum()

    @property
    def sentence_end(self) -> bool:
        return self.text in ".?!"


def tokens(text: str, counting: tuple[tuple[int, int], ...] = ()) -> list[Token]:
    """The words, numbers and marks of `text`; those inside a `counting` span count a noun."""
    return [
        Token(m.group(), m.start(), m.end(), any(s < m.end() and m.start() < e for s, e in counting))
        for m in _TOKEN.finditer(text)
    ]


# A value's extent: given the tokens and the index right after the cue, (first, last) or None.
ValueFinder = Callable[[list[Token], int], "tuple[int, int] | None"]


@dataclass(frozen=True)
class Cue:
    type: str
    pattern: re.Pattern[str]
    value: ValueFinder
    # The cue's single long words, also matched when misheard (FUZZY_RATIO).
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContextHit:
    type: str
    start: int  # character offsets in the analysed text
    end: int


def cue(kind: str, value: ValueFinder, *phrases: str) -> Cue:
    """A cue of type `kind`: any of `phrases` (words separated by spaces, commas, dots or hyphens)."""
    words = "|".join(p.replace(" ", r"[\s,.-]*") for p in phrases)
    long_words = tuple(p for p in phrases if p.isalpha() and len(p) >= FUZZY_MIN_LETTERS)
    return Cue(kind, re.compile(rf"\b(?:{words})\b", re.IGNORECASE), value, long_words)


def find_after_cues(text: str, cues: tuple[Cue, ...], counting: tuple[tuple[int, int], ...] = ()) -> list[ContextHit]:
    """The value after each cue in `text` (spans in `text`), one per cue occurrence; numbers in
    `counting` spans count the noun after them, as a plural or a unit right after them does."""
    toks = tokens(text, counting)
    starts = [t.start for t in toks]
    hits: list[ContextHit] = []
    for c in cues:
        ends = [m.end() for m in c.pattern.finditer(text)]
        ends += [t.end for t in toks if len(t.text) >= FUZZY_MIN_LETTERS and any(near(t.lower, w) for w in c.words)]
        for end in sorted(set(ends)):
            first = _bisect(starts, end)
            span = c.value(toks, first)
            if span is not None:
                hits.append(ContextHit(c.type, toks[span[0]].start, toks[span[1]].end))
    return hits


def _bisect(starts: list[int], at: int) -> int:
    import bisect

    return bisect.bisect_left(starts, at)


@lru_cache(maxsize=8192)
def near(word: str, cue_word: str) -> bool:
    """`word` is `cue_word` misheard (or is it): similar enough, letter for letter."""
    if word == cue_word:
        return True
    m = SequenceMatcher(None, word, cue_word, autojunk=False)
    return m.real_quick_ratio() >= FUZZY_RATIO and m.quick_ratio() >= FUZZY_RATIO and m.ratio() >= FUZZY_RATIO
