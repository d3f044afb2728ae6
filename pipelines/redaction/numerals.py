"""Numbers as Whisper writes them in words, and the words that make a number a quantity.

tiny.en writes an IP address read as numbers as "one hundred and forty one dot one hundred and
forty five ..." or "two hundred and three not one hundred ..." ("dot" misheard), and a card's
expiry as "zero seven slash thirty one": the rules that recognise those shapes by their digits
(pipelines/redaction/cues.py) read the text with every spelled number rewritten as digits.
`spelled` does that rewrite and keeps the map back to the original characters.

A number said right before a unit or a count ("for 34 years", "for 1994 minutes") is a quantity:
never the end of a spoken identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = "zero oh one two three four five six seven eight nine".split()  # noqa: SIM905
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()  # noqa: SIM905
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()  # noqa: SIM905
_VALUE = {w: max(0, i - 1) for i, w in enumerate(_UNITS)} | {w: 10 + i for i, w in enumerate(_TEENS)}
_VALUE |= {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_DIGIT = "|".join(_UNITS[2:])  # one ... nine
_BELOW_100 = rf"(?:(?:{'|'.join(_TENS)})(?:[\s-]+(?:{_DIGIT}))?|{'|'.join(_TEENS)}|{'|'.join(_UNITS)})"
# "one hundred and forty-one", "two hundred three", "seventy six", "twelve", "seven", the mixed
# form tiny.en writes for an octet ("1 hundred and 20", fresh7), and the
# hyphenated forms tiny.en writes ("1-hundred and thirty", "a hundred-and-five"; a hundred whose
# digit it misheard, "pre-hundred and eighty-nine", is still a hundred and some).
_NUMBER = re.compile(
    rf"\b(?:(?:(?P<h>{_DIGIT}|[1-9])[\s-]+)?hundred(?:[\s-]+and)?(?:[\s-]+(?:(?P<rest>{_BELOW_100})|(?P<rest_d>\d\d?)))?"
    rf"|(?P<small>{_BELOW_100}))\b",
    re.IGNORECASE,
)

# How tiny.en writes "four hundred and six" and "nineteen hundred ninety": "400 6", "19 hundred
# 90": a round hundred and its rest, one number (no code is read out that way).
HUNDRED_AND_REST = re.compile(r"[1-9]00\s+(?:and\s+)?[1-9]\d?|[1-9]\d?\s+hundred\s+(?:and\s+)?[1-9]\d?", re.IGNORECASE)

# Units and counted things: a number right before one of these is a quantity.
_QUANTITIES = (
    "year years month months week weeks day days hour hours minute minutes second seconds times "
    "people persons kids children items boxes pieces pounds kilos kilograms miles kilometers "
    "dollars bucks euros cents percent km kms kg kgs mph lb lbs ft cm mm ml mg gb mb tb"
)
QUANTITY_NOUNS = frozenset(_QUANTITIES.split())
# Words ending in "s" that are no plural noun: a number before a plural noun is a count
# ("300 members", "one hundred and twenty apples").
NOT_PLURAL = frozenset("is was has does this its plus thanks yes us as always perhaps less unless ours yours".split())  # noqa: SIM905


def counted(word: str) -> bool:
    """Whether a number said right before `word` counts something."""
    word = word.lower()
    plural = len(word) > 2 and word.isalpha() and word.endswith("s") and word not in NOT_PLURAL
    return word in QUANTITY_NOUNS or plural


# A number counts the head of its noun phrase, which may come after a few words that describe
# it ("250 parking spaces", "40 unread messages"); function words end the phrase, and so do the
# words of a time adverbial ("4567 last week").
MAX_MODIFIERS = 2
_FUNCTION = (
    "a an the and or but to of in on at for from with by per is was are were be been am it i me my your "
    "his her our their its this that these those then so as if not no than last next every each"
)
FUNCTION_WORDS = frozenset(_FUNCTION.split())
_PHRASE_TOKEN = re.compile(r"[A-Za-z'-]+|\S")


# A part of a counted whole: "106 of the accounts", "three of my cards", "two of them".
_PARTITIVE = re.compile(
    r"\s+of\s+(?:(?P<whole>them|us|those)\b|(?:the|my|our|your|his|her|their|these)\s)", re.IGNORECASE
)


def counted_phrase(after: str) -> bool:
    """Whether a number said right before `after` counts the head of the noun phrase it opens:
    "34 years", "300 members", "250 parking spaces", "106 of the accounts" (a part of a counted
    whole); not "626 thanks", "4567 last week", "1234 of the card"."""
    part = _PARTITIVE.match(after)
    if part is not None:
        if part["whole"]:
            return True
        after = after[part.end() - 1 :]
    words = _PHRASE_TOKEN.findall(after, 0, 80)[: MAX_MODIFIERS + 1]
    for i, word in enumerate(words):
        if not word.isalpha() or not word.islower():
            return False
        if counted(word):
            return True
        if i == MAX_MODIFIERS or word in FUNCTION_WORDS:
            return False
    return False


@dataclass(frozen=True)
class Rewritten:
    text: str
    # spans[i]: the (start, end) in the original text that character i of `text` came from.
    spans: list[tuple[int, int]]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.spans[start][0], self.spans[end - 1][1]


def rewrite(text: str, edits: list[tuple[int, int, str]]) -> Rewritten:
    """`text` with each (start, end, replacement) applied (sorted, non-overlapping), mapped back."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for start, end, replacement in edits:
        for i in range(pos, start):
            out.append(text[i])
            spans.append((i, i + 1))
        for ch in replacement:
            out.append(ch)
            spans.append((start, end))
        pos = end
    for i in range(pos, len(text)):
        out.append(text[i])
        spans.append((i, i + 1))
    return Rewritten("".join(out), spans)


def _below_100(words: str) -> int:
    parts = re.split(r"[\s-]+", words.lower())
    return sum(_VALUE[p] for p in parts)


def _digits(m: re.Match[str]) -> str:
    if m["small"] is not None:
        value = m["small"].lower()
        # A digit word keeps its own digit ("zero seven" is "0 7", not 7).
        return str(_VALUE[value]) if value in _VALUE else str(_below_100(value))
    hundreds = 1 if m["h"] is None else int(m["h"]) if m["h"].isdigit() else _VALUE[m["h"].lower()]
    rest = _below_100(m["rest"]) if m["rest"] else int(m["rest_d"]) if m["rest_d"] else 0
    return str(hundreds * 100 + rest)


# A round number and the rest, as Whisper writes "five hundred and nineteen" or "two thousand and
# fifteen" ("500 and 19", "2,000 and 15"): one number, as English says it.
ROUND_AND = re.compile(
    rf"\b(?P<round>[1-9]\d?\s*,\s*000|[1-9]000|[1-9]00)\s+and\s+(?P<rest>\d{{1,2}}|{_BELOW_100})\b", re.IGNORECASE
)


def spelled(text: str) -> Rewritten:
    """`text` with numbers in words written as digits ("one hundred and five dot seventy six" ->
    "105 dot 76", "2,000 and 15" -> "2015")."""
    edits = [(m.start(), m.end(), _round_and(m)) for m in ROUND_AND.finditer(text)]
    taken = [(s, e) for s, e, _ in edits]
    for m in _NUMBER.finditer(text):
        inside = any(s <= m.start() < e for s, e in taken)
        if not inside and not _year_in_hundreds(text, m):
            edits.append((m.start(), m.end(), _digits(m)))
    return rewrite(text, sorted(edits))


def _round_and(m: re.Match[str]) -> str:
    rest = m["rest"]
    return str(int(re.sub(r"\D", "", m["round"])) + (int(rest) if rest.isdigit() else _below_100(rest)))


_NUMBER_BEFORE = re.compile(rf"(?:\d|\b(?:{'|'.join(_UNITS + _TEENS + _TENS)}))[\s-]+$", re.IGNORECASE)


def _year_in_hundreds(text: str, m: re.Match[str]) -> bool:
    """A bare "hundred" after a number ("nineteen hundred and ninety-two", "19 hundred"): a year
    said in hundreds, left to the rules for years, not a hundred of its own."""
    return m["small"] is None and m["h"] is None and _NUMBER_BEFORE.search(text, 0, m.start()) is not None
