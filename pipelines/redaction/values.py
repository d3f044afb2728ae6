"""How far a spoken value reaches after its cue, by kind: numbers, dates, codes, names,
addresses and e-mail addresses, in the forms Whisper writes them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.redaction.context import Token
from pipelines.redaction.digits import PLACE_LABELS, priced
from pipelines.redaction.numerals import HUNDRED_AND_REST, MAX_MODIFIERS, QUANTITY_NOUNS, counted_phrase, spelled
from pipelines.redaction.ordinary import introduced_at
from pipelines.redaction.spoken import PIECE, digits_of, runs


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that are a digit (or a number) in speech; enough to start a value after a cue.
NUMBER_WORDS = _words(
    "zero oh o one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "double triple"
)
# Words and letters Whisper writes for a digit it heard; part of a value only next to a number.
WEAK_DIGITS = frozenset("for fore four to too two ate won tree free sex nein i l s b z g".split())  # noqa: SIM905
MONTHS = _words(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
ORDINALS = _words(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth"
)
# Separators inside one spoken value ("04/29", "2, 1, 9", "4-1-1", "nine. Nine", "10 dot 0").
_GLUE = frozenset([",", "-", ".", "/", ":", ";", "slash", "dash", "dot", "point", "and"])
_DATE_GLUE = _GLUE | {"of", "the"}
# Words between a cue and its value ("my card number is, um, 4 5 ..."); what they may be.
MAX_WORDS_BEFORE_VALUE = 8
LEAD_WORDS = _words(
    "is was it's its my the a number code name address at on to be would that um uh so it this okay ok yes yeah sure"
)
# Words after a number that make it an amount.
CURRENCY = _words("dollar dollars buck bucks pound pounds euro euros cent cents percent")
# Top-level domains that end a spoken e-mail address.
STREET_WORDS = _words(
    "street st avenue ave road rd lane ln drive dr boulevard blvd court ct way place pl terrace circle "
    "parkway highway square crescent close"
)
# A value may go on after a few ordinary words when the next number is that long ("the routing
# is 0 0 3. The rest is 1 4 7, 2 5 8"): a second group of a value split by the speaker.
MAX_GAP_WORDS = 4
# A number this long said right after a cue is the value even before a count ("pin 5673 times").
CODE_DIGITS = 4
MIN_DIGITS_AFTER_GAP = 3
MAX_NAME_WORDS = 4
MAX_ADDRESS_WORDS = 12


def weak(t: Token) -> bool:
    """A word Whisper writes for a digit; a capital "I" is the pronoun, a lower-case "i" a one."""
    return t.lower in WEAK_DIGITS and t.text != "I"


@dataclass(frozen=True)
class Shape:
    """What a number-like value is made of."""

    strong: frozenset[str]  # words that are part of it anywhere (besides digits)
    glue: frozenset[str]  # separators that do not end it
    max_filler: int = 1  # ordinary words tolerated inside it ("2 1 9 uh 0 9")
    letters: bool = False  # short capitalised letter groups belong to it (IBAN, postcode)

    def is_strong(self, t: Token) -> bool:
        return (
            t.text[0].isdigit()
            or t.lower in self.strong
            or (self.letters and t.text.isalpha() and t.text.isupper() and len(t.text) <= 4)
        )


NUMBER = Shape(NUMBER_WORDS, _GLUE)
DATE = Shape(NUMBER_WORDS | MONTHS | ORDINALS, _DATE_GLUE)
CODE = Shape(NUMBER_WORDS, _GLUE, max_filler=1, letters=True)


def number(shape: Shape = NUMBER, min_digits: int = 1):
    """A number-like value of `shape` with at least `min_digits` digits (digit words count)."""

    def find(toks: list[Token], first: int) -> tuple[int, int] | None:
        i = _first_strong(toks, first, shape)
        if i is None:
            return None
        start = i
        # Weak tokens right before the first number belong to it ("for 1 1 1" is "4 1 1 1").
        while start - 1 >= first and weak(toks[start - 1]):
            start -= 1
        direct = _direct(toks, first, start)
        end = _before_quantity(toks, start, _number_end(toks, i, shape), shape, direct)
        # "We've had the account since 1997": a point in time, not the account; "on floor 998":
        # a place's number (the noun before it governs it, not the cue).
        if end is None or (start > 0 and toks[start - 1].lower in PLACE_LABELS | {"since"}):
            return None
        # "Take the number 2004 to the centre": the cue word is part of words that introduce an
        # ordinary number (pipelines/redaction/ordinary.py); a cue before such words still
        # reaches the number ("my PIN, press 4 5 2 1").
        if _introduced(toks, first, start, end):
            return None
        # A price a few words after the cue ("my account was charged, then I paid $45.07"), and
        # dollars too few for any value wherever they are ("my account for $18 on it", fresh3).
        if _dollars(toks, start, end) or (not direct and _price(toks, start, end)):
            return None
        if len(digit_string(" ".join(t.text for t in toks[start : end + 1]))) < min_digits:
            return None
        # An amount after the cue is no card, account or PIN ("my card was charged forty dollars");
        # a "$" is not enough: tiny.en writes digits read in pairs as "$27.37" (dev split).
        if end + 1 < len(toks) and toks[end + 1].lower in CURRENCY:
            return None
        return start, end

    return find


def _introduced(toks: list[Token], first: int, start: int, end: int) -> bool:
    """The words that introduce the number as an ordinary one hold the cue (they start before
    the token after it, `first`)."""
    at = introduced_at(_rebuilt(toks), toks[start].start, toks[end].end)
    return at is not None and first < len(toks) and at < toks[first].start


def _before_quantity(toks: list[Token], start: int, end: int, shape: Shape, direct: bool) -> int | None:
    """None when the value is one number before a unit or a count ("my card for 34 years");
    else its end. Digits read out before a count stay the value, the count with them ("my pin
    5 6 7 3 three times"), and so does a long number right after its cue ("the pin 5673 times":
    privacy before a count word). A cue with other words between it and the number does not
    reach a count ("my social worker visits every 2020 days", fresh2)."""
    numbers = [t for t in toks[start : end + 1] if shape.is_strong(t)]
    after = toks[end + 1].text if end + 1 < len(toks) else ""
    if not counted_after(toks, end) or not _one_number(toks, start, end, numbers):
        return end
    # Right after its cue a long number before "times" stays the value ("the pin 5673 times"):
    # a frequency is no measure. A measure governs its number wherever the cue is ("my phone is
    # 2019 years old", fresh3), and so does a plural noun further away ("my social club has 300
    # members").
    if direct and after.lower() == "times" and len(digit_string(numbers[0].text)) >= CODE_DIGITS:
        return end
    if direct and after.lower() not in QUANTITY_NOUNS:
        return end
    return None


def counted_after(toks: list[Token], j: int) -> bool:
    """Whether the number at token `j` is (part of) one number that counts the word after it:
    "945 windows", "five hundred and thirty-one windows", "2014 people"; a unit or any plural
    noun governs the number before it, whatever cue came earlier; so does any noun the parse makes
    it count ("2020 direct debit", a garbled "19 hundred and ninety-shaven buttons")."""
    if toks[j].counts:
        return True
    k = j + 1
    while k < len(toks) and (NUMBER.is_strong(toks[k]) or _joined(toks, k)):
        k += 1
    return k < len(toks) and counted_phrase(" " + " ".join(t.text for t in toks[k : k + MAX_MODIFIERS + 1]))


def _joined(toks: list[Token], k: int) -> bool:
    """An "and" or a hyphen inside one number ("five hundred and thirty-one")."""
    return toks[k].lower in ("and", "-") and k + 1 < len(toks) and NUMBER.is_strong(toks[k + 1])


def _price(toks: list[Token], start: int, end: int) -> bool:
    """The value is one decimal number the digit policy calls a price."""
    text = _rebuilt(toks)
    found = [r for r in runs(text) if r.start < toks[end].end and r.end > toks[start].start]
    return len(found) == 1 and priced(text, found[0])


def _dollars(toks: list[Token], start: int, end: int) -> bool:
    """One or two digits after a currency sign: an amount, shorter than any value."""
    said = toks[start].text
    marked = start > 0 and toks[start - 1].text in ("$", "£", "€")
    return start == end and marked and said.isdigit() and len(said) < MIN_DIGITS_AFTER_GAP


def _rebuilt(toks: list[Token]) -> str:
    """The tokens at their offsets (what lay between them, spaces)."""
    chars = [" "] * (toks[-1].end if toks else 0)
    for t in toks:
        chars[t.start : t.end] = t.text
    return "".join(chars)


# A number with thousands separators is one number ("had 2,025 customers", dev6), and so is a
# decimal ("declined 7.5 times").
_WHOLE_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?")


def _one_number(toks: list[Token], start: int, end: int, numbers: list[Token]) -> bool:
    """One number, in digits or in words ("189", "a hundred and eighty-nine", "400 6")."""
    if len(numbers) == 1:
        return True
    said = spelled(_rebuilt(toks[: end + 1])[toks[start].start :]).text.strip(" ,")
    return len(_WHOLE_NUMBER.findall(said)) == 1 or HUNDRED_AND_REST.fullmatch(said) is not None


def _direct(toks: list[Token], first: int, start: int) -> bool:
    """Nothing but lead words ("is", "my", "the", "um") and punctuation between a cue and its value."""
    return all(not t.word or t.lower in LEAD_WORDS or weak(t) for t in toks[first:start])


_SOUNDALIKES = {"for": "4", "to": "2", "too": "2", "ate": "8", "won": "1", "free": "3"}


def digit_string(text: str) -> str:
    """The digits a piece of transcript says, number words included ("4-1 two forty-four" -> "41244")."""
    return "".join(digits_of(t) or _SOUNDALIKES.get(t.lower(), "") for t in PIECE.findall(text))


def _first_strong(toks: list[Token], first: int, shape: Shape, max_words: int = 0) -> int | None:
    max_words = max_words or MAX_WORDS_BEFORE_VALUE
    words = 0
    for i in range(first, len(toks)):
        t = toks[i]
        if shape.is_strong(t):
            return i
        if t.text in "?!":
            return None
        if t.word:
            words += 1
            if words > max_words:
                return None
    return None


def _number_end(toks: list[Token], i: int, shape: Shape) -> int:
    last, filler = i, 0
    j = i + 1
    while j < len(toks):
        t = toks[j]
        # A question mark inside digits is Whisper's ("2910? 7444"); elsewhere it ends the value.
        if t.text in "?!" and not (j + 1 < len(toks) and shape.is_strong(toks[j + 1])):
            break
        if shape.is_strong(t) or (weak(t) and _next_to(toks, j, shape)):
            last, filler = j, 0
        elif t.lower not in shape.glue and t.word:
            filler += 1
            if filler > shape.max_filler:
                nxt = _next_group(toks, j, shape)
                if nxt is None:
                    break
                last, filler, j = nxt, 0, nxt
        j += 1
    return last


def _next_group(toks: list[Token], j: int, shape: Shape) -> int | None:
    """The first token of a long enough number within a few words after `j`, if any."""
    nxt = _first_strong(toks, j, shape, MAX_GAP_WORDS)
    if nxt is None:
        return None
    end = _number_end_plain(toks, nxt, shape)
    text = " ".join(t.text for t in toks[nxt : end + 1])
    return nxt if len(digit_string(text)) >= MIN_DIGITS_AFTER_GAP else None


def _number_end_plain(toks: list[Token], i: int, shape: Shape) -> int:
    """The end of a number without gaps (how long the group after a gap is)."""
    last = i
    for j in range(i + 1, len(toks)):
        t = toks[j]
        if shape.is_strong(t) or weak(t):
            last = j
        elif t.lower not in shape.glue:
            break
    return last


def _next_to(toks: list[Token], j: int, shape: Shape) -> bool:
    """A weak token counts when a number is its neighbour, separators aside."""
    for step in (-1, 1):
        k = j + step
        while 0 <= k < len(toks) and toks[k].lower in shape.glue:
            k += step
        if 0 <= k < len(toks) and shape.is_strong(toks[k]):
            return True
    return False


def skip_lead(toks: list[Token], first: int) -> int | None:
    """The first token after the cue that is not a lead word or punctuation."""
    for i in range(first, min(len(toks), first + MAX_WORDS_BEFORE_VALUE)):
        if toks[i].word and toks[i].lower not in LEAD_WORDS:
            return i
    return None


def name(lowercase: bool):
    """Up to four capitalised words ("Sarah Johnson", "Mary-Ann O'Neil"); two lower-case words too
    when the cue says a name follows ("my name is sarah johnson"), not after "I'm" ("I'm calling")."""

    def find(toks: list[Token], first: int) -> tuple[int, int] | None:
        i = skip_lead(toks, first)
        if i is None:
            return None
        capital = toks[i].text[0].isupper() and toks[i].text != "I"
        if not capital and not lowercase:
            return None
        limit = MAX_NAME_WORDS if capital else 2
        last, count = i, 0
        for j in range(i, len(toks)):
            t = toks[j]
            if t.text in "-'":
                continue
            if not t.text.isalpha() or (capital and not t.text[0].isupper()) or count >= limit:
                break
            last, count = j, count + 1
        # A lower-case name opens with no number ("My name is on one hundred and six of the
        # accounts", fresh5): a count of something after all.
        if not capital and (toks[i].lower in NUMBER_WORDS or toks[i].text[0].isdigit()):
            return None
        return i, last

    return find


def address(toks: list[Token], first: int) -> tuple[int, int] | None:
    """A street address: up to the end of the sentence, at most twelve words; past the end of a
    sentence that held only a house number (Whisper's full stop: "five hundred and forty. Maple
    Street in ...")."""
    i = skip_lead(toks, first)
    # An address opens with its house number or a name ("my address label printed 41 copies":
    # the cue word describes another noun, dev6).
    if i is None or not (NUMBER.is_strong(toks[i]) or weak(toks[i]) or toks[i].text[0].isupper()):
        return None
    last, count, named = i, 0, False
    for j in range(i, len(toks)):
        t = toks[j]
        if t.text in "?!" or (t.text == "." and count >= 2 and named and not _abbrev(toks[j - 1])):
            break
        if t.word:
            last, count = j, count + 1
            named = named or not (NUMBER.is_strong(t) or t.lower in _GLUE)
            if count >= MAX_ADDRESS_WORDS:
                break
    return i, last


def house(toks: list[Token], first: int) -> tuple[int, int] | None:
    """An address that starts with its house number, not a count ("to 3 people")."""
    i = skip_lead(toks, first)
    if i is None or not toks[i].text[0].isdigit():
        return None
    # Only a unit makes it a count ("to 3 people"): a street garbled into a plural ("to 34 rows
    # will have" for "to 34 Rosewood Avenue", dev4) is still the address.
    if i + 1 < len(toks) and toks[i + 1].lower in QUANTITY_NOUNS:
        return None
    return address(toks, i)


def _abbrev(t: Token) -> bool:
    return t.lower in STREET_WORDS and len(t.text) <= 4


_any_date = number(DATE, min_digits=0)


def date(toks: list[Token], first: int) -> tuple[int, int] | None:
    """A date after its cue: digits, or a month's name alone ("expiration date October": the
    year the model did not write is in the audio beside it)."""
    span = _any_date(toks, first)
    if span is None:
        return None
    value = toks[span[0] : span[1] + 1]
    # "born and I told him about 2014 people", "born in a room with 945 windows": a count.
    if counted_after(toks, span[1]):
        return None
    if digit_string(" ".join(t.text for t in value)) or any(t.lower in MONTHS and len(t.text) > 3 for t in value):
        return span
    return None
