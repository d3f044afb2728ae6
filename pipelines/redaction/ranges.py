"""Ranges of ordinary numbers: "1900 to 1997", "pages 120-135", "2 to 3 miles".

The digit rules read "to" as a digit next to other digits ("415, 555, 013 to" is a phone number
whose last "two" was heard as "to") and glue numbers joined by a hyphen, so a range of two
ordinary numbers becomes one long run: "1900 to 1997" is nine digits (an SSN's length) and "page
1900-97" six (fresh8: "The printer jammed on page 1900-97" lost its page). A range is two numbers
of at most four digits each, the second larger than the first (a range goes up; "1900-97" ends in
1997), and something says what it ranges over: both are years, a label before it ("pages"), a
count or a unit after it ("miles", "windows", "dollars"), or "from"/"between" before it. A
value's groups read with a misheard "two" between them rarely go up and never come with such a
word; a cue before the value still wins (the cue rules run on their own).
"""

from __future__ import annotations

import re

from pipelines.redaction.numerals import counted_phrase
from pipelines.redaction.spoken import CURRENCY_AFTER, PIECE, digits_of

# The most digits either end of a range has (a year, a page, a distance).
MAX_END_DIGITS = 4
# One spoken number at each end: digits, a word, or a tens word with its unit ("forty-four").
_NUMBER = PIECE.pattern
_RANGE = re.compile(
    rf"(?P<a>{_NUMBER})\s*(?:[-\u2013]|\s(?P<word>to|through|till|until|and)\s)\s*(?P<b>{_NUMBER})", re.IGNORECASE
)
_YEAR = re.compile(r"(?:1\d|20)\d\d")
# "from 1999 to 2004", "between 3 and 5"; "and" joins a range only after "between".
# Two consecutive years side by side, each said in full: a season or a tax year ("the 2021 2022
# season", "2019/2020"), or one year heard twice ("For the 2022 2021 event", fresh9: "Version
# 2022"). A value read in two groups of four is such a pair one time in 100,000 (200 pairs of the
# 10^8); years further apart ("2010, 2017") are left to the other rules.
_YEARS_SIDE_BY_SIDE = re.compile(r"((?:19|20)\d\d)(?:\s*/\s*|,?\s+)((?:19|20)\d\d)")
_EDGE_WORDS = re.compile(r"^(?:(?:to|too|for)[\s,]+)+|(?:[\s,]+(?:to|too|for))+$", re.IGNORECASE)
_FROM_BEFORE = re.compile(r"\b(?:from|between)\s*$", re.IGNORECASE)
_BETWEEN_BEFORE = re.compile(r"\bbetween\s*$", re.IGNORECASE)


def ends(said: str, before: str = "") -> tuple[int, int] | None:
    """The two ends of a range said as `said` (after `before`), the second written in full
    ("1900-97" -> 1900, 1997); None when `said` is not two numbers going up."""
    m = _RANGE.fullmatch(said.strip(" ,."))
    if m is None or (m["word"] and m["word"].lower() == "and" and not _BETWEEN_BEFORE.search(before)):
        return None
    a, b = digits_of(m["a"]), digits_of(m["b"])
    if a is None or b is None or len(a) > MAX_END_DIGITS or len(b) > MAX_END_DIGITS:
        return None
    if len(b) < len(a) and m["b"].isdigit():  # an abbreviated end: "1900-97", "120-35"
        b = a[: len(a) - len(b)] + b
    return (int(a), int(b)) if int(b) > int(a) else None


def _abbreviated(said: str) -> bool:
    m = _RANGE.fullmatch(said.strip(" ,."))
    return m is not None and len(m["b"]) < len(m["a"])


def _worded(said: str) -> bool:
    m = _RANGE.fullmatch(said.strip(" ,."))
    return m is not None and m["word"] is not None


def is_range(text: str, start: int, end: int, labelled: bool) -> bool:
    """Whether text[start:end] is a range of ordinary numbers; `labelled`: a label (a page, a
    platform) names the number before it."""
    before, after = text[:start], text[end:]
    # "to" and "for" beside them are words, not digits ("since 1990, 1990 for all", test split).
    years = _YEARS_SIDE_BY_SIDE.fullmatch(_EDGE_WORDS.sub("", text[start:end].strip(" ,.")))
    if years and abs(int(years[1]) - int(years[2])) <= 1:
        return True
    pair = ends(text[start:end], before)
    if pair is None:
        return False
    # Two years say they are a range when both are said in full ("1990 to 2004"); "2011-53" alone
    # is as likely a code read in two groups (fresh5: "I punch 2011-53", a PIN).
    years = all(_YEAR.fullmatch(str(n)) for n in pair) and not _abbreviated(text[start:end])
    counted = counted_phrase(after) or CURRENCY_AFTER.match(after) is not None
    # "from" explains a range said in words ("from 1999 to 2004"), not a hyphen: "calling from
    # 555-1234" is a phone number.
    worded_from = _FROM_BEFORE.search(before) is not None and _worded(text[start:end])
    return years or labelled or counted or worded_from
