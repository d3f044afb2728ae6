"""Spoken forms of numbers and e-mail addresses, rewritten so that PII recognizers can see them.

Whisper writes a number read digit by digit in many ways: "4-1-1-1-1", "two, one, two, five",
"415, 555, 013 to" (the last "two" heard as "to"), and an e-mail address as "jsmith at example
dot com" (or, from tiny.en, "MarieLatGmail.com"). Presidio's recognizers look for "4111111111111111", "212-555-0199" and
"jsmith@example.com". `normalize` rewrites the text and keeps, for every character of the
result, the span of the original text it came from, so a hit maps back to what Whisper wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.redaction.numerals import HUNDRED_AND_REST, QUANTITY_NOUNS, Rewritten, rewrite

DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
# Words Whisper writes for a digit it heard; counted as digits only next to other digits.
HOMOPHONES = {
    "for": "4", "fore": "4", "to": "2", "too": "2", "ate": "8", "won": "1", "free": "3", "tree": "3",
    "nearly": "0",  # tiny.en's "zero" (measured on the dev split of the spoken-PII corpus)
}  # fmt: skip
# Two-digit number words: callers read long numbers in pairs ("seventy-two twenty" is 7220).
TEENS = {
    w: str(i + 10)
    for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())  # noqa: SIM905
}
TENS = {w: str(i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}  # noqa: SIM905
_UNIT = "|".join(w for w in DIGIT_WORDS if w not in ("zero", "oh", "o"))
# A piece of a spoken number: digits, a tens word with its unit ("forty-four"), or any word
# (a digit word, a teen, a tens word, a homophone, or something else).
PIECE = re.compile(rf"\d+|\b(?:{'|'.join(TENS)})[\s-]+(?:{_UNIT})\b|[A-Za-z]+", re.IGNORECASE)
# What may separate the pieces of one number as Whisper writes it; apostrophes and quotes too
# ("The little number on the Mac in 6'0'0'", fresh8: a CVV read digit by digit).
_GLUE = re.compile(r"[\s,\-.'\u2019\"]*")
# A run needs this many digits to be rewritten (shorter numbers are quantities, times, ...).
MIN_RUN_DIGITS = 5
# Four digits read out in two or more groups ("seven nine eight eight", "54, 33", "twenty-three
# fifty-nine") are a code, not a quantity: quantities are said as one number ("two thousand").
READ_OUT_DIGITS = 4
# Three or more digits read one by one ("one six zero", "4-8-4") are a code too, whatever their
# cue: nobody says a quantity digit by digit (found on the dev2 split, its cues misheard).
MIN_DIGIT_BY_DIGIT = 3
# ... except a year in pairs ("nineteen ninety-five") and a clock time ("at ten thirty").
_YEAR_PAIRS = re.compile(r"(?:19|20)\d\d")
_CLOCK_AFTER = re.compile(r"\s*(?:o'clock|a\.?m\b|p\.?m\b)", re.IGNORECASE)
# Amounts are not identifiers: "$12,500", "25,000", "12500 dollars".
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# A decimal as Whisper writes a price ("for 49.99"): digits read one by one never get a bare point.
_DECIMAL = re.compile(r"(?:[A-Za-z]+\s+)?\d+\.\d{1,2}")
# How Whisper writes a price after a currency sign: "$27.37", "$1,250", "$40"; "$2.9946" and
# "$49177" are digits read in groups that it took for money (dev4 split).
_PRICE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d{2})?|\d{1,4}(?:\.\d{1,2})?")
CURRENCY_AFTER = re.compile(r"\s*(?:dollars?|bucks|pounds?|euros?|cents?|percent|%)", re.IGNORECASE)
# "jsmith at example dot com"; tiny.en also glues the "at" on ("MarieLatGmail.com").
_EMAIL = re.compile(
    r"\b(?P<local>[A-Za-z0-9][\w.+-]*?(?:\s+dot\s+[\w+-]+)*)(?:\s+at\s+|at)"
    # A top-level domain is letters: "my chicken at 73.09 59.952" is a number, not an address.
    r"(?P<domain>[A-Za-z0-9-]+(?:(?:\s+dot\s+|\.)[A-Za-z0-9-]+)*(?:\s+dot\s+|\.)[A-Za-z][A-Za-z-]*\b)",
    re.IGNORECASE,
)
_DOT = re.compile(r"\s+dot\s+", re.IGNORECASE)


def normalize(text: str) -> Rewritten:
    return rewrite(text, _rewrites(text))


def _rewrites(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, replacement) in text order."""
    found = [(m.start(), m.end(), _email(m)) for m in _EMAIL.finditer(text)]
    taken = [(s, e) for s, e, _ in found]
    for start, end, digits in _digit_runs(text):
        if not any(s < end and start < e for s, e in taken):
            # A run glued to a letter ("d55, 0, 2") gets a space, so recognizers see a word boundary.
            space = " " if start > 0 and text[start - 1].isalnum() else ""
            found.append((start, end, space + _format_digits(digits)))
    return sorted(found)


def _email(match: re.Match[str]) -> str:
    local = _DOT.sub(".", match["local"]).replace(" ", "")
    domain = _DOT.sub(".", match["domain"]).replace(" ", "")
    return f"{local}@{domain}".lower()


@dataclass(frozen=True)
class Run:
    """Digits said in a row: where, which, and in how many spoken groups ("54, 33": 2)."""

    start: int
    end: int
    digits: str
    groups: int


def runs(text: str) -> list[Run]:
    """Runs of digit pieces separated only by glue; homophones count inside a run and at its ends
    ("zero-one-zero, three-free", "013 to", "for 1-1-1") but never next to a two-digit word ("ten
    to twelve" is a range, not 10212)."""
    found: list[Run] = []
    pieces = [(m.start(), m.end(), digits_of(m.group())) for m in PIECE.finditer(text)]
    i = 0
    while i < len(pieces):
        if pieces[i][2] is None:
            i += 1
            continue
        k, j = i, i
        while j + 1 < len(pieces) and _joins(text, pieces[j], pieces[j + 1]):
            j += 1
        if k > 0 and _homophone(text, pieces[k - 1]) and _joins(text, pieces[k - 1], pieces[k]):
            k -= 1
        i, last = j + 1, _before_quantity(text, pieces, k, j)
        if last is not None:
            digits = "".join(digits_of(text[s:e]) or HOMOPHONES[text[s:e].lower()] for s, e, _ in pieces[k : last + 1])
            found.append(Run(pieces[k][0], pieces[last][1], digits, last + 1 - k))
    return found


_NEXT_WORD = re.compile(r"\s+([A-Za-z]+)")


def _before_quantity(text: str, pieces: list[tuple[int, int, str | None]], k: int, j: int) -> int | None:
    """The run's last piece; None when the run is one number (and homophones) before a unit or a
    count ("for 34 years", "for 1994 minutes"): a quantity. Digits read out in groups before a
    count stay a run ("5 6 7 3 three times")."""
    after = _NEXT_WORD.match(text, pieces[j][1])
    numbers = [p for p in pieces[k : j + 1] if p[2] is not None]
    if after is not None and after.group(1).lower() in QUANTITY_NOUNS and len(numbers) == 1:
        return None
    return j


# A game's score is two numbers joined by "to" ("The final score was 2002 to 14", fresh5; "they
# beat us 45 to 12"): in a sentence with one of these words "to" (and "won") is no digit.
_GAME = re.compile(
    r"\b(?:scores?|scored|won|wins?|winning|beat|beaten|lost|lose|losing|drew|draw|match|game|games|"
    r"goals?|points|final|half-?time|innings|leads?|leading|led)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.?!]*(?:[.?!]|$)")


def _score_word(text: str, piece: tuple[int, int, str | None]) -> bool:
    """ "to" or "won" in a sentence about a game."""
    if text[piece[0] : piece[1]].lower() not in ("to", "won"):
        return False
    start = max(text.rfind(c, 0, piece[0]) for c in ".?!") + 1
    sentence = _SENTENCE.match(text, start)
    return sentence is not None and _GAME.search(sentence.group()) is not None


def _joins(text: str, left: tuple[int, int, str | None], right: tuple[int, int, str | None]) -> bool:
    if not _is_glue(text[left[1] : right[0]]) or (right[2] is None and not _homophone(text, right)):
        return False
    if _score_word(text, left) or _score_word(text, right):
        return False
    pair = (left, right)
    return not any(_homophone(text, a) and _wordy(text, b) for a, b in (pair, pair[::-1]))


def _digit_runs(text: str) -> list[tuple[int, int, str]]:
    """Long runs (MIN_RUN_DIGITS), amounts left alone."""
    return [
        (r.start, r.end, r.digits)
        for r in runs(text)
        if len(r.digits) >= MIN_RUN_DIGITS and not is_amount(text, r.start, r.end) and not _year_between(text, r)
    ]


def _year_between(text: str, r: Run) -> bool:
    """A year between two prepositions read as digits ("I came to 2000 for the form", dev5)."""
    said = [d for d in (digits_of(p) for p in PIECE.findall(text[r.start : r.end])) if d]
    return len(said) == 1 and _YEAR_PAIRS.fullmatch(said[0]) is not None


def read_out(text: str) -> list[Run]:
    """Short codes read out in groups (READ_OUT_DIGITS) or digit by digit (MIN_DIGIT_BY_DIGIT),
    not amounts, years or clock times."""
    return [
        r
        for r in runs(text)
        if (
            (len(r.digits) == READ_OUT_DIGITS and r.groups >= 2)
            or (MIN_DIGIT_BY_DIGIT <= len(r.digits) < MIN_RUN_DIGITS and r.groups == len(r.digits))
            or _leading_zero(text, r)
        )
        and not is_amount(text, r.start, r.end)
        and not _homophone_end(text, r)
        and not _year_in_pairs(text, r)
        and not _clock(text, r)
        and HUNDRED_AND_REST.fullmatch(text[r.start : r.end].strip(" ,")) is None
    ]


def _leading_zero(text: str, r: Run) -> bool:
    """A short number written with a leading zero ("are 074"): no quantity is said that way."""
    return r.groups == 1 and MIN_DIGIT_BY_DIGIT <= len(r.digits) < MIN_RUN_DIGITS and text[r.start] == "0"


def _year_in_pairs(text: str, r: Run) -> bool:
    """A year said in two pairs ("nineteen ninety-five", "19 95"); "1.934" is no year."""
    pieces = PIECE.findall(text[r.start : r.end])
    return r.groups == 2 and _YEAR_PAIRS.fullmatch(r.digits) is not None and len(digits_of(pieces[0]) or "") == 2


def _homophone_end(text: str, r: Run) -> bool:
    """A short run that ends in "to" or "for" is a number and a preposition ("flight 214 to")."""
    words = PIECE.findall(text[r.start : r.end])
    return words[0].lower() in HOMOPHONES or words[-1].lower() in HOMOPHONES


def _clock(text: str, r: Run) -> bool:
    return _CLOCK_AFTER.match(text, r.end) is not None or text[: r.start].rstrip().lower().endswith(" at")


def is_amount(text: str, start: int, end: int) -> bool:
    """A price, a count written with thousands separators, or a percentage."""
    return bool(
        _THOUSANDS.fullmatch(text[start:end].strip(" .,")) is not None
        or _DECIMAL.fullmatch(text[start:end].strip(" ,")) is not None
        or (text[:start].rstrip().endswith(("$", "£", "€")) and _priced(text[start:end].strip(" ,")))
        or CURRENCY_AFTER.match(text, end) is not None
    )


def _priced(span: str) -> bool:
    """The span's digits are all in one price ("1,250 for": its "for" is a word)."""
    m = _PRICE.match(span)
    return m is not None and not any(c.isdigit() for c in span[m.end() :])


def digits_of(piece: str) -> str | None:
    if piece.isdigit():
        return piece
    words = re.split(r"[\s-]+", piece.lower())
    if words[0] in TENS:
        return TENS[words[0]] + (DIGIT_WORDS[words[1]] if len(words) > 1 else "0")
    return DIGIT_WORDS.get(words[0]) or TEENS.get(words[0])


def _wordy(text: str, piece: tuple[int, int, str | None]) -> bool:
    """A two-digit number word ("twelve", "forty-four")."""
    return piece[2] is not None and len(piece[2]) == 2 and not text[piece[0] : piece[1]].isdigit()


def _homophone(text: str, piece: tuple[int, int, str | None]) -> bool:
    return piece[2] is None and text[piece[0] : piece[1]].lower() in HOMOPHONES


def _is_glue(between: str) -> bool:
    return _GLUE.fullmatch(between) is not None


def _format_digits(digits: str) -> str:
    """Digits laid out the way recognizers expect numbers of that length."""
    if len(digits) == 9:  # a US social security number
        return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
    if len(digits) == 10:  # a North American phone number
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits
