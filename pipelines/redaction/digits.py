"""The digit policy: which numbers are redacted when no cue was heard before them.

Cue rules (pipelines/redaction/cues.py) need the cue; over five rounds of new phrasings most of
what leaked was a value whose cue tiny.en misheard ("See me in 626" for "CVV is 62 6", "There's
no identification number 9913", "She beat four hundred and twenty seven in the world learning").
So the policy turns the default around for numbers of three or more digits:

- `cues`: the rounds before: such a number is redacted only after a cue, or when it is long
  (5+ digits) or read out digit by digit (pipelines/redaction/spoken.py).
- `ordinary` (the default): every number of 3+ digits, numbers in words included, is redacted
  unless its context says it is ordinary talk: an amount, a quantity ("34 years"), a year, a clock
  time, or a number a noun labels ("flight 214", "room 305").
- `strict`: every run of 3+ digits, whatever its context (a demanding bank's choice: it costs the
  ordinary numbers the `ordinary` policy keeps).
"""

from __future__ import annotations

import re
from typing import Literal

from pipelines.redaction.context import ContextHit
from pipelines.redaction.numerals import QUANTITY_NOUNS, ROUND_AND, counted_phrase, spelled
from pipelines.redaction.ordinary import introducer
from pipelines.redaction.ranges import is_range
from pipelines.redaction.spoken import CURRENCY_AFTER, HOMOPHONES, PIECE, Run, digits_of, is_amount, runs

DigitPolicy = Literal["cues", "ordinary", "strict"]
DIGIT_POLICIES: tuple[str, ...] = ("cues", "ordinary", "strict")
DIGITS_ENTITY = "DIGITS"
# A CVV has three digits: the shortest value a number on its own can be.
MIN_POLICY_DIGITS = 3
_HUNDRED = re.compile(r"\bhundred\b", re.IGNORECASE)
# Said as numbers, meant as words.
_IDIOM = re.compile(r"\btwenty[\s-]+four[\s-]+seven\b|\b24\s*/\s*7\b", re.IGNORECASE)
_STRICT_RUN = re.compile(r"\d(?:[\s,.\-/:]*\d)*")
# A year in ordinary talk ("in 2003", "since 1997"); a birth year after its cue is the cue rules'.
_YEAR = re.compile(r"(?:19|20)\d\d")
# Nouns that label a number as no secret: a flight, a room, a bus, a page, a version.
# Places and documents label a number even right after a cue ("my social security office is on
# floor 998", dev6): the noun governs the number, not the cue.
_PLACE_LABEL_WORDS = (
    "flight flights room rooms gate bus route platform page pages chapter floor level seat terminal exit "
    "highway interstate episode"
)
PLACE_LABELS = frozenset(_PLACE_LABEL_WORDS.split())
_LABELS = PLACE_LABELS | frozenset(["version", "channel", "track", "line", "model", "error", "status", "aisle"])
# A label heard as the word that sounds the same ("I'll 821 for the printer ink", fresh8: "Aisle
# 821"): no contraction or noun of these is followed by a number in ordinary speech.
HEARD_LABELS = {"i'll": "aisle", "isle": "aisle", "gait": "gate", "root": "route"}
_HEARD_BEFORE = re.compile(r"([A-Za-z']+)\W*$")
_LABEL_BEFORE = re.compile(r"([A-Za-z]+)(?:\s+(?:numbers?|code))?(?:\s+(?:is|was|will\s+be))?\W*$", re.IGNORECASE)
_NAMED_BEFORE = re.compile(r"\b([A-Za-z]+)(?:\s+numbers?)?[\s,]*$", re.IGNORECASE)
# A label, its "number", a short phrase of where and its verb ("my room number at the hotel was
# 168", fresh5).
_LABEL_PHRASE_BEFORE = re.compile(
    r"([A-Za-z]+)\s+numbers?\s+(?:at|in|on|for|of)\s+(?:the\s+|my\s+|our\s+|this\s+)?[A-Za-z]+\s+(?:is|was)\W*$",
    re.IGNORECASE,
)
_NUMBER_BEFORE = re.compile(r"\bnumbers?\s+(?:is|was)?\W*\$?\s*$", re.IGNORECASE)
# A number before a plural noun is a count ("one hundred and twenty apples"), and a list that
# ends in a unit is a list of quantities ("5, 10 and 12 dollars").
_LIST_END = re.compile(
    rf"\s*,?\s+(?:and|or)\s+\d+\s+(?:{'|'.join(sorted(QUANTITY_NOUNS))}|dollars?|euros?|pounds?)\b", re.IGNORECASE
)
# Up to MAX_PLACE_WORDS words of the number's sentence, the last a capitalised one (not "I", a
# month or a day).
MAX_PLACE_WORDS = 6
_CALENDAR = "I|January|February|March|April|May|June|July|August|September|October|November|December"
_CALENDAR += "|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_PLACE_AFTER = re.compile(
    rf"(?:[\s,'-]+[A-Za-z'-]+){{0,{MAX_PLACE_WORDS - 1}}}?[\s,'-]+(?!(?:{_CALENDAR})\b)[A-Z][a-z]+\b"
)
# A point in time: "since 1997", "... in the morning".
_SINCE_BEFORE = re.compile(r"\bsince\s*$", re.IGNORECASE)
_DAYTIME_AFTER = re.compile(r"\s*(?:in\s+the\s+(?:morning|afternoon|evening)|tonight|at\s+night)\b", re.IGNORECASE)
# A clock time: "6:45", "10 30 pm", "at 10 30", "... o'clock".
# ("'clock": the run took the "o" of "fifty six o'clock" for a zero.)
_CLOCK_AFTER = re.compile(r"\s*(?:o'clock|'clock|a\.?m\b|p\.?m\b)", re.IGNORECASE)
_AT_BEFORE = re.compile(r"\b(?:at|by|until|till|from|around)\s*$", re.IGNORECASE)
_HH_MM = re.compile(r"(?:[01]?\d|2[0-3])[0-5]\d")
# A price needs a word of paying before it or "each" after it; "10.39" alone is digits read in
# groups that Whisper wrote with a point (dev5 split).
_PRICE_BEFORE = re.compile(r"\b(?:for|at|paid|pay|cost|costs|costing|price|priced|charged|about)\s*$", re.IGNORECASE)
_EACH_AFTER = re.compile(r"\s*each\b", re.IGNORECASE)
_DECIMAL = re.compile(r"\d+\.\d{1,2}")
# A round number on its own ("100", "500", "3000"): how people say amounts and limits ("down
# to 100"); a value read out is round one time in a hundred, and a cue still reaches it (the cue
# rules). Not next to other numbers: a round part of a chain is a part of a value ("not 16, not
# 200, not 156", an IP, fresh4).
_ROUND = re.compile(r"[1-9]0{2,3}")
_WORD = re.compile(r"[\w']+|[.?!]")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def find_numbers(text: str, policy: DigitPolicy) -> list[ContextHit]:
    """Numbers of 3+ digits that `policy` redacts without a cue (spans in `text`)."""
    if policy == "cues":
        return []
    if policy == "strict":
        digits = spelled(text)
        spans = [(m.start(), m.end()) for m in _STRICT_RUN.finditer(digits.text) if _count(m.group()) >= 3]
        return [_with_place(text, *digits.original_span(s, e)) for s, e in spans]
    # Number words are read by spoken.runs ("ten to twelve" stays a range, "nineteen ninety-five"
    # a year in pairs); only numbers with "hundred", which it cannot read, from the spelled text.
    compounds = [(m.start(), m.end()) for m in ROUND_AND.finditer(text)]
    found = [(r.start, r.end) for r in runs(text) if not _inside(r, compounds) and _redacted(text, r)]
    digits = spelled(text)
    for r in runs(digits.text):
        start, end = digits.original_span(r.start, r.end)
        said = text[start:end]
        if (_HUNDRED.search(said) or ROUND_AND.search(said)) and _redacted(digits.text, r):
            found.append((start, end))
    return [_with_place(text, s, e) for s, e in found if not _IDIOM.search(text[s:e])]


def _inside(r: Run, spans: list[tuple[int, int]]) -> bool:
    """The run overlaps a round number and its rest ("500 and 19"), read from the spelled text."""
    return any(r.start < e and s < r.end for s, e in spans)


def _with_place(text: str, start: int, end: int) -> ContextHit:
    """The number, or, when a capitalised word follows it in its sentence, an address up to that
    word: a house number whose street and town the model garbled ("We moved 117, find will
    around the Ashford last month", test split; spaCy saw no place in "the Ashford")."""
    place = _PLACE_AFTER.match(text, end)
    if place is None:
        return ContextHit(DIGITS_ENTITY, start, end)
    return ContextHit("ADDRESS", start, place.end())


def _redacted(text: str, r: Run) -> bool:
    """A run of 3+ digits, judged without the homophones at its ends ("I came to 2000 for" is a
    year between two prepositions, though spoken.runs reads them as digits next to it)."""
    core = _core(text, r)
    return len(core.digits) >= MIN_POLICY_DIGITS and not ordinary(text, core)


_EDGE = rf"\b(?:{'|'.join(HOMOPHONES)})\b"
_LEADING = re.compile(rf"^(?:{_EDGE}[\s,\-.]+)+", re.IGNORECASE)
_TRAILING = re.compile(rf"(?:[\s,\-.]+{_EDGE})+$", re.IGNORECASE)


def _core(text: str, r: Run) -> Run:
    said = text[r.start : r.end]
    lead = _LEADING.match(said)
    trail = _TRAILING.search(said)
    start = r.start + (lead.end() if lead else 0)
    end = r.start + (trail.start() if trail else len(said))
    if start >= end:
        return Run(r.start, r.start, "", 0)
    trimmed = len(re.findall(r"[A-Za-z]+", (lead.group() if lead else "") + (trail.group() if trail else "")))
    core = text[start:end]
    digits = "".join(digits_of(p) or "" for p in PIECE.findall(core))
    return Run(start, end, digits, max(1, r.groups - trimmed))


def ordinary(text: str, r: Run) -> bool:
    """Whether the run is a number of ordinary talk: labelled, an amount, a year or a clock time.
    (A quantity, one number before a unit or a count, is never a run: spoken.runs.)"""
    said = text[r.start : r.end].strip(" ,.")
    before, after = text[: r.start], text[r.end :]
    # "Press 260", "take the number 2004", "she turned 40", "built in 415" (pipelines/redaction/ordinary.py).
    if introducer(before, after, r.digits) is not None:
        return True
    if labelled(before):
        return True
    # Any other number called a "number" is an identifier ("the item number is $25.46", dev3).
    if _NUMBER_BEFORE.search(before):
        return False
    if is_range(text, r.start, r.end, labelled=False):  # "1900 to 1997", "2 to 3 miles"
        return True
    if _DECIMAL.fullmatch(said):
        return priced(text, r)
    if r.groups <= 2 and _YEAR.fullmatch(r.digits):  # "2003", "nineteen ninety-five"
        return True
    if r.groups == 1 and _ROUND.fullmatch(r.digits) and not _near_numbers(before, after):
        return True
    if counted_phrase(after) or _LIST_END.match(after):
        return True
    if (r.groups <= 2 and _clock(before, after, said, r)) or _SINCE_BEFORE.search(before):
        return True
    return is_amount(text, r.start, r.end)


def labelled(before: str) -> bool:
    """Whether a label ("flight", "room", "page") names the number said right after `before`."""
    labels = (_LABEL_BEFORE.search(before), _LABEL_PHRASE_BEFORE.search(before))
    if any(label is not None and label.group(1).lower() in _LABELS for label in labels):
        return True
    heard = _HEARD_BEFORE.search(before)
    return heard is not None and heard.group(1).lower().replace("\u2019", "'") in HEARD_LABELS


def named(before: str) -> bool:
    """Whether a label is the word right before the number (its "number" aside): "room twelve oh
    five", "gate 14 22". Not across a verb: "the next route is 043" was a CVV's "the one on the
    back" misheard (fresh9)."""
    label = _NAMED_BEFORE.search(before)
    return label is not None and label.group(1).lower() in _LABELS


def ranged(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a range of ordinary numbers (pipelines/redaction/ranges.py)."""
    return is_range(text, start, end, labelled(text[:start]))


def said_number(text: str, start: int, end: int) -> Run:
    """The number said at text[start:end], the homophones at its ends ("to 1500 for") aside: its
    digits and in how many spoken groups."""
    core = _core(text, Run(start, end, "", 1))
    # "8,000" is one group: its comma separates thousands, not groups read out.
    said = _THOUSANDS_COMMA.sub("", text[core.start : core.end])
    groups = sum(digits_of(p) is not None for p in PIECE.findall(said))
    return Run(core.start, core.end, core.digits, groups)


def _near_numbers(before: str, after: str) -> bool:
    """Another number (digits or number words) within two words of this one, in its sentence."""
    left, right = _WORD.findall(before)[-2:], _WORD.findall(after)[:2]
    while any(w in ".?!" for w in left):
        left = left[1:]
    right = right[: next((i for i, w in enumerate(right) if w in ".?!"), len(right))]
    return any(any(c.isdigit() for c in w) or digits_of(w) is not None for w in (*left, *right))


def priced(text: str, r: Run) -> bool:
    """A decimal number with a currency or a word of paying ("I paid $45.07", "99.50 each")."""
    said = text[r.start : r.end].strip(" ,.")
    before, after = text[: r.start], text[r.end :]
    if not _DECIMAL.fullmatch(said):
        return False
    currency = before.rstrip().endswith(("$", "£", "€")) or CURRENCY_AFTER.match(after)
    return bool(currency or _PRICE_BEFORE.search(before) or _EACH_AFTER.match(after))


def _clock(before: str, after: str, said: str, r: Run) -> bool:
    if _CLOCK_AFTER.match(after) or _DAYTIME_AFTER.match(after):
        return True
    shaped = ":" in said or r.groups == 2
    return shaped and _HH_MM.fullmatch(r.digits) is not None and _AT_BEFORE.search(before) is not None


def _count(span: str) -> int:
    return sum(c.isdigit() for c in span)
