"""Context rules: a cue ("social security number", "PIN", "expires") makes the value after it
redactable, however partial or garbled Whisper wrote it.

Patterns and checksums need the whole value; a transcript often has only part of it: tiny.en
wrote the SSN 219099999, read digit by digit, as "My social security number is 2909, I need ...".
After a cue, the first run of number-like tokens within a few words is redacted whatever its
length: digits, digit words, "oh", homophones ("for", "to") and letters Whisper writes for digits
("i", "l", "o") next to them, separated by commas, hyphens, dots or slashes, also across a
sentence or segment boundary (the caller analyses a recording's text as one string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that are a digit (or a number) in speech; enough to start a value after a cue.
NUMBER_WORDS = frozenset(
    [
        "zero",
        "oh",
        "o",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
        "hundred",
        "thousand",
        "double",
        "triple",
    ]
)
# Words and letters Whisper writes for a digit it heard; part of a value only next to a number.
WEAK_DIGITS = frozenset(
    [
        "for",
        "fore",
        "four",
        "to",
        "too",
        "two",
        "ate",
        "won",
        "tree",
        "free",
        "sex",
        "nein",
        "i",
        "l",
        "s",
        "b",
        "z",
        "g",
    ]
)
# Separators inside one spoken value ("04/29", "2, 1, 9", "4-1-1", "nine. Nine").
_GLUE_WORDS = frozenset(["slash", "dash", "and"])
# Words that may sit between a cue and its value ("my card number is, um, 4 5 ...").
MAX_WORDS_BEFORE_VALUE = 8
# Ordinary words tolerated inside one value before it is considered over ("2 1 9 uh 0 9").
MAX_FILLER_IN_VALUE = 1
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:st|nd|rd|th)?|[^\sA-Za-z\d]")


@dataclass(frozen=True)
class Cue:
    type: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class ContextHit:
    type: str
    start: int  # character offsets in the analysed text
    end: int


def cue(kind: str, *phrases: str) -> Cue:
    words = "|".join(p.replace(" ", r"[\s,.-]+") for p in phrases)
    return Cue(kind, re.compile(rf"\b(?:{words})\b", re.IGNORECASE))


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def strong(self) -> bool:
        return self.text[0].isdigit() or self.lower in NUMBER_WORDS

    @property
    def weak(self) -> bool:
        return self.lower in WEAK_DIGITS

    @property
    def glue(self) -> bool:
        return (not self.text[0].isalnum() and self.text in ",-./:;") or self.lower in _GLUE_WORDS

    @property
    def stop(self) -> bool:
        # A question or an exclamation ends the speaker's value; a full stop may be Whisper's.
        return self.text in "?!"


def tokens(text: str) -> list[_Token]:
    return [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def find_after_cues(text: str, cues: tuple[Cue, ...]) -> list[ContextHit]:
    """The value after each cue in `text` (spans in `text`), one per cue occurrence."""
    toks = tokens(text)
    hits: list[ContextHit] = []
    for c in cues:
        for m in c.pattern.finditer(text):
            first = next((i for i, t in enumerate(toks) if t.start >= m.end()), len(toks))
            span = value_after(toks, first)
            if span is not None:
                hits.append(ContextHit(c.type, toks[span[0]].start, toks[span[1]].end))
    return hits


def value_after(toks: list[_Token], first: int) -> tuple[int, int] | None:
    """Token indexes (first, last) of the number-like value starting within a few words of `first`."""
    words = 0
    i = first
    while i < len(toks) and not toks[i].strong:
        if toks[i].stop:
            return None
        if toks[i].text[0].isalpha():
            words += 1
            if words > MAX_WORDS_BEFORE_VALUE:
                return None
        i += 1
    if i >= len(toks):
        return None
    start = i
    # Weak tokens right before the first number belong to it ("for 1 1 1" is "4 1 1 1").
    while start - 1 >= first and toks[start - 1].weak:
        start -= 1
    return start, _value_end(toks, i)


def _value_end(toks: list[_Token], i: int) -> int:
    """The last token of the value whose first number is toks[i]."""
    last = i
    filler = 0
    j = i + 1
    while j < len(toks) and not toks[j].stop:
        t = toks[j]
        if t.strong or (t.weak and _next_to_number(toks, j)):
            last, filler = j, 0
        elif not t.glue:
            filler += 1
            if filler > MAX_FILLER_IN_VALUE:
                break
        j += 1
    return last


def _next_to_number(toks: list[_Token], j: int) -> bool:
    """A weak token counts when a number is its neighbour, separators aside."""
    for step in (-1, 1):
        k = j + step
        while 0 <= k < len(toks) and toks[k].glue:
            k += step
        if 0 <= k < len(toks) and toks[k].strong:
            return True
    return False
