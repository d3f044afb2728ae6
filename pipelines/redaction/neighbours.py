"""The rest of a long number: digit groups said just before or after a redacted one.

A value the model garbled in the middle ("... be below 9, 0 or 6955289488107 or 7, 58", an IBAN
whose cue was misheard) is found by its long part; the short groups beside it are the same value
(dev2 split of the spoken-PII corpus). Only numbers of the kinds listed are widened: a date or
an address next to a time of day is not one value.
"""

from __future__ import annotations

import re

from pipelines.redaction.spoken import is_amount, runs
from pipelines.redaction.values import digit_string

WIDENED = frozenset(
    ("SSN", "CREDIT_DEBIT_NUMBER", "BANK_ACCOUNT_NUMBER", "BANK_ROUTING", "PHONE", "IBAN", "IP", "DIGITS")
)
# A value this long is an identifier (shorter ones are codes, quantities, times).
MIN_VALUE_DIGITS = 5
# A group beside it: at least this many digits, at most this many words away.
MIN_GROUP_DIGITS = 2
MAX_WORDS_BETWEEN = 2
_WORD = re.compile(r"[A-Za-z]+")


# The town after an address ("[ADDRESS] in Whitby") and the surname after a first name: a
# capitalised word (not "I", a month or a day) right after the span, with "in" or "near" before
# a town.
_CALENDAR = (
    "I|January|February|March|April|May|June|July|August|September|October|November|December"
    "|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
)
_TOWN_AFTER = re.compile(rf",?\s+(?:in|near)\s+(?!(?:{_CALENDAR})\b)[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?")
_SURNAME_AFTER = re.compile(rf"\s+(?!(?:{_CALENDAR})\b)[A-Z][a-z'-]+")
_NOT_NAMES = frozenset((*_CALENDAR.split("|"), "I'm", "I'll", "I'd", "I've"))
_MONTHS = "|".join(_CALENDAR.split("|")[1:13])
_MONTH_BEFORE = re.compile(rf"\b(?:{_MONTHS})\b[\s,]*$")
# Values that hold no date: a month before them is no part of them.
_NOT_DATES = frozenset(("NAME", "ADDRESS", "EMAIL", "IP"))


# An e-mail address's first name before it, joined by a misheard "dot" ("Shoot it over to
# Stanislaw not to show free at mailhouse.com", fresh8; "Harini not a pirate of a male.com",
# fresh5): the local part the address finders read starts after the garble, the name stays.
MAX_LOCAL_WORDS = 4
_DOT_HEARD = frozenset(("dot", "not", "got", "dat", "dart"))
_LOCAL_WORD = re.compile(r"[A-Za-z'-]+")
_SENTENCE_END = re.compile(r"[.?!]\s")


def widen(text: str, kind: str, start: int, end: int) -> tuple[int, int]:
    """The span of a `kind` value at text[start:end], widened over the digit groups beside it,
    an address over its town, a name over a capitalised word after it, an e-mail address over
    a first name glued on by a misheard "dot" and a number over the month just before it."""
    if kind not in _NOT_DATES:
        start = _month_before(text, start)
    if kind == "EMAIL":
        return _first_name(text, start), end
    after = {"ADDRESS": _TOWN_AFTER, "NAME": _SURNAME_AFTER}.get(kind)
    if after is not None:
        more = after.match(text, end)
        return start, more.end() if more else end
    if kind not in WIDENED or len(digit_string(text[start:end])) < MIN_VALUE_DIGITS:
        return start, end
    groups = [r for r in runs(text) if len(r.digits) >= MIN_GROUP_DIGITS]
    grown = True
    while grown:
        grown = False
        for r in groups:
            if r.start < start and r.end <= start and _close(text, r.start, r.end, text[r.end : start]):
                start, grown = r.start, True
            elif r.end > end and r.start >= end and _close(text, r.start, r.end, text[end : r.start]):
                end, grown = r.end, True
    return start, end


def _month_before(text: str, start: int) -> int:
    """Where a redacted number begins once the month said right before it joins it: what is
    redacted there is a date's day or year, and the month left beside it is part of the date
    ("The date of voices July [PIN] heard ...", a date of birth whose cue and year were garbled,
    fresh9). Months only as tiny.en writes them, capitalised: "may" is a verb."""
    month = _MONTH_BEFORE.search(text, 0, start)
    return month.start() if month else start


def _close(text: str, start: int, end: int, between: str) -> bool:
    """A group a few words away, or one that looks like an amount with nothing but punctuation
    between: tiny.en writes the groups of a value read out as dollars ("IBAN, $[...], $2483,
    $64.51, $46.69", fresh2), and money is not said glued to an account number."""
    words = len(_WORD.findall(between))
    if is_amount(text, start, end):
        return words == 0
    return words <= MAX_WORDS_BETWEEN


def _first_name(text: str, start: int) -> int:
    """Where the e-mail address at `start` begins once a capitalised word a few words before it
    is joined to it by a "dot" heard as a word ("Stanislaw not to show ...")."""
    sentence = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    words = list(_LOCAL_WORD.finditer(text, sentence, start))[-MAX_LOCAL_WORDS:]
    dots = [i for i, w in enumerate(words) if w.group().lower() in _DOT_HEARD]
    if not dots:
        return start
    names = [w for w in words[: dots[0]] if w.group()[0].isupper() and w.group() not in _NOT_NAMES]
    return names[-1].start() if names else start
