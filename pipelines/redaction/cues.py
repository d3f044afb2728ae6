"""The cue words that introduce each kind of spoken value (see pipelines/redaction/context.py).

Tuned on the dev split of the spoken-PII corpus (scripts/make_pii_corpus.py) only.
"""

from __future__ import annotations

import datetime
import re

from pipelines.redaction.context import ContextHit, Cue, Token, cue, tokens
from pipelines.redaction.emails import TLDS, email, email_with_domain
from pipelines.redaction.numerals import counted_phrase, spelled
from pipelines.redaction.values import (
    CODE,
    DATE,
    MONTHS,
    NUMBER,
    STREET_WORDS,
    address,
    date,
    digit_string,
    house,
    name,
    number,
)

# Cue phrases the cue windows (pipelines/redaction/window.py) share. A birthday that names an
# event ("my birthday cake has 19.92", "my birthday party had 925 guests", fresh7 and fresh4) is
# no date of birth: a noun after it makes "birthday" a modifier, and what follows is the event's.
_BIRTHDAY_EVENTS = "cake|cakes|party|parties|present|presents|gift|gifts|card|cards|dinner|candles|celebration|meal"
BIRTH_CUES = ("born", rf"birth\w*(?!\s+(?:{_BIRTHDAY_EVENTS})\b)", "dob", "d o b")
EXPIRY_CUES = (
    "expires",
    "expire",
    "expired",
    "expiry",
    "expiration",
    "expiring",
    "valid thru",
    "good thru",
    # How callers say it (dev5, fresh2): "It runs out August 2030", "Valid until", "good until".
    "runs out",
    "valid until",
    "good until",
)
EMAIL_CUES = ("email", "e-mail", "e mail", "send it to", "mail me at", "email address")
SENT_TO = r"(?:send|mail|forward|copy)\w*(?:\s+[\w']+){0,3}?\s+to"

# "name on the account is", "name of the account holder was": the phrase of where is short.
_WITH_PLACE = r"\s+(?:on|of|for|under)\s+(?:the\s+|my\s+|this\s+|our\s+)?[a-z']+(?:\s+[a-z']+)?\s+(?:is|was)"
_NAME_WITH_PLACE = rf"name{_WITH_PLACE}"
# The same for an address ("the address on file is $5.00 and ...", fresh7: the house number
# written as dollars; the cue's "address is" needs the words together).
_ADDRESS_WITH_PLACE = rf"(?<!ip\s)(?<!mail\s)address{_WITH_PLACE}"

CUES: tuple[Cue, ...] = (
    cue("SSN", number(), "social", "social security", "security number", "ssn", "s s n", "social insurance"),
    cue(
        "CREDIT_DEBIT_NUMBER",
        number(),
        "card",
        "card number",
        "credit card",
        "debit card",
        "visa",
        "mastercard",
        "master card",
        "amex",
        "american express",
        "long number",
    ),
    cue(
        "CREDIT_DEBIT_CVV",
        number(),
        "security code",
        "cvv",
        "c v v",
        "cvc",
        "c v c",
        "verification code",
        "verification number",
        "digit code",
        "digits code",
        "code on the back",
        "cv",
        "c v",
    ),
    # The card's few digits named by their count or their place ("the three numbers on the back").
    cue("CREDIT_DEBIT_CVV", number(min_digits=3), r"(?:three|four|3|4)[\s-]+digits?", "on the back", "signature strip"),
    cue("CREDIT_DEBIT_EXPIRY", date, *EXPIRY_CUES),
    cue("PIN", number(), "pin", "pin number", "pin code", "p i n", "passcode", "pass code", "bin", "vin"),
    cue("BANK_ACCOUNT_NUMBER", number(), "account", "account number", "acct", "checking", "savings"),
    cue("BANK_ROUTING", number(), "routing", "routing number", "sort code", "aba", "transit number"),
    cue(
        "PHONE",
        number(),
        "phone",
        "phone number",
        "mobile",
        "cell",
        "telephone",
        "call me on",
        "call me at",
        "reach me on",
        "reach me at",
        "text me",
        "contact number",
        "callback number",
        "call back number",
    ),
    cue("DATE_OF_BIRTH", date, *BIRTH_CUES),
    # Any other "number" followed by five or more digits: typed by its length (presidio.py).
    cue("DIGITS", number(min_digits=5), "number", "numbers", "no"),
    # Any other "code" and a number within a few words ("the code on the Mac is 234": "back"
    # misheard, dev3 split): a CVV or a PIN by its length; an error code is no secret.
    cue("DIGITS", number(), r"(?<!error\s)(?<!status\s)(?<!zip\s)(?<!post\s)code"),
    cue("IBAN", number(CODE), "iban", "i ban", "international bank account"),
    cue("IP", number(), "ip", "i p", "ip address"),
    cue("NAME", name(lowercase=True), "my name is", "name is", "name's", "surname", "last name", "first name"),
    # A name with a phrase of where, and its verb ("the name on the card is ...", "name of the
    # account holder was ..."), as a label's number has one (digits.py).
    cue("NAME", name(lowercase=False), _NAME_WITH_PLACE),
    cue("NAME", name(lowercase=False), "this is", "i am", "i'm", "speaking with", "talking to", "mister", "miss"),
    cue(
        "ADDRESS",
        address,
        "i live at",
        "i live on",
        "live at",
        r"(?<!ip\s)(?<!mail\s)address is",
        _ADDRESS_WITH_PLACE,
        "my address",
        "reside at",
        "located at",
        "ship it to",
        "deliver it to",
        "mailing address",
        "zip code",
        "postcode",
        "post code",
    ),
    # "send the new card to 34 ...", "mail it to 512 ...": a house number after a verb of sending.
    cue("ADDRESS", house, r"(?:send|ship|mail|post|deliver|forward)\w*(?:\s+[\w']+){0,4}?\s+to(?=\s+\d)"),
    cue("EMAIL", email, *EMAIL_CUES),
    # "Please send a copy to ...", "forward the bill to ...": an address that ends in a domain.
    cue("EMAIL", email_with_domain, SENT_TO),
)

# A domain said without a cue ("... to my toutlook.com"): the domain and the words just before it.
# Dotted words before it are the address, its "at" lost ("priya.lindqvist.gmail.com").
_DOMAIN = re.compile(rf"\b[\w-]+(?:\.[\w-]+)*(?:\s*\.\s*|\s+dot\s+)(?:{'|'.join(TLDS)})\b", re.IGNORECASE)
_BEFORE_DOMAIN = re.compile(r"(?:[\w'-]+\s+){0,3}$")
_NOT_ADDRESS = re.compile(r"\b(?:from|on|visit|website|site|at|is|was)\s", re.IGNORECASE)


# A name said before "at" and the domain ("Jessica Taylor at hotmail.com": the "dot" lost).
_NAME_AT = re.compile(r"(?:\b[A-Z][\w'-]*[.,]?\s+){1,2}at\s+$")


def find_domains(text: str) -> list[ContextHit]:
    hits = []
    for m in _DOMAIN.finditer(text):
        before = _BEFORE_DOMAIN.search(text[: m.start()])
        named = _NAME_AT.search(text[: m.start()])
        start = m.start()
        if named is not None:
            start = named.start()
        elif before is not None and not _NOT_ADDRESS.search(before.group()):
            start = before.start()
        hits.append(ContextHit("EMAIL", start, m.end()))
    return hits


# A calendar date with a day and a year said without a cue ("June 27th, 1960"): in a call, a
# birth date far more often than not; a month and a year alone ("May 2020") stay.
_FULL_DATE_DIGITS = 5
_date_value = number(DATE)


def find_dates(text: str) -> list[ContextHit]:
    toks = tokens(text)
    hits = []
    for i, t in enumerate(toks):
        if t.lower in MONTHS and len(t.text) > 3:
            span = _date_value(toks, i)
            if span and len(digit_string(text[toks[span[0]].start : toks[span[1]].end])) >= _FULL_DATE_DIGITS:
                hits.append(ContextHit("DATE_OF_BIRTH", toks[span[0]].start, toks[span[1]].end))
    return hits


# A house number, up to three words and a street word ("42 elm street"), said without a cue.
_MAX_STREET_NAME_WORDS = 3
_NO_STREET = frozenset(("of", "it", "them", "him", "me", "us"))


def find_streets(text: str) -> list[ContextHit]:
    toks = tokens(text)
    hits = []
    for i, t in enumerate(toks):
        if t.lower not in STREET_WORDS or len(t.text) < 4:
            continue
        start, words = None, 0
        for back in range(i - 1, -1, -1):
            if NUMBER.is_strong(toks[back]):
                start = back
            # Thousands separators too: "175,000 street" is one house number (fresh3).
            elif start is not None and toks[back].lower not in ("and", "-", ","):
                break
            elif toks[back].word:
                words += 1
                if words > _MAX_STREET_NAME_WORDS:
                    break
        if start is None:
            # A named street without its number ("... Riverside Circle in Easton", the house
            # number garbled, dev3 split): the capitalised words before the street word.
            start = _named(toks, i)
        # "four of close, seven of hearts" (real speech, playing cards): a number of things;
        # "on the 90, bring it close" (fresh7): a pronoun makes the street word a verb's adverb
        # (a garbled street keeps its articles: "You're a road in Whitby", fresh6).
        if start is not None and not any(t.lower in _NO_STREET for t in toks[start:i]):
            end = address(toks, i)
            hits.append(ContextHit("ADDRESS", toks[start].start, toks[end[1] if end else i].end))
    return hits


def _named(toks: list[Token], i: int) -> int | None:
    """The first of up to three capitalised words right before toks[i], not a sentence's first."""
    start = None
    for back in range(i - 1, max(-1, i - 1 - _MAX_STREET_NAME_WORDS), -1):
        t = toks[back]
        if not (t.text.isalpha() and t.text[0].isupper() and t.text != "I"):
            break
        if back == 0 or toks[back - 1].sentence_end:
            break
        start = back
    return start


# A house number and two or more capitalised words ("I leave at 179 Bruce Treatin Brookfield":
# the cue and the street word misheard, dev3 split): an address whatever came before it.
_HOUSE = re.compile(r"\b\d{1,5}(?:\s+(?!I\b)[A-Z][a-z]+){2,4}")


def find_houses(text: str) -> list[ContextHit]:
    return [ContextHit("ADDRESS", m.start(), m.end()) for m in _HOUSE.finditer(text)]


# Numbers joined by one repeated word ("213, not 166, not 157": "dot" misheard in an IP address,
# dev3 split): an address of a machine. A range said twice ("2 or 3 or 4") has one-digit parts.
_CHAIN = re.compile(r"\b\d{2,3}(?:,?\s+(?P<sep>[a-z]{2,4})\s+\d{2,3})(?:,?\s+(?P=sep)\s+\d{2,3})+\b")


def find_chains(text: str) -> list[ContextHit]:
    """Also when the numbers are spelled ("one hundred five not one hundred fifty three not ...")."""
    digits = spelled(text)
    chains = [(m.start(), m.end()) for m in _CHAIN.finditer(digits.text) if m["sep"] not in ("and", "or", "to")]
    return [ContextHit("IP", *digits.original_span(s, e)) for s, e in (*chains, *_dotted(digits.text))]


# "dot" as tiny.en mishears it in an address of a machine ("not", "got", "point", "dart",
# "dirt": a consonant or a vowel off), with a word of its own between it and the octet at most
# ("dirt were 191", fresh4). Three in a chain are needed, so "I've got 3" alone is no octet.
_DOT_WORDS = "dot|dots|not|got|point|dart|dirt"
_DOTTED = re.compile(rf"\b(?:{_DOT_WORDS})\s+(?:[a-z]+\s+)?(?P<octet>\d{{1,3}}(?:-\d{{1,3}})*)\b", re.IGNORECASE)
# How many "dot N" an address of a machine needs in one sentence (it has three), and how many
# words may stand between two of them: a garbled octet ("not 1-1-1 reason 45, not ...", fresh5).
MIN_DOTS = 3
MAX_DOT_GAP_WORDS = 3
_GAP_WORD = re.compile(r"[\w'-]+")
_OCTET_BEFORE = re.compile(r"\b\d{1,3}(?:-\d{1,3})*[\s,]*$")


def _dotted(text: str) -> list[tuple[int, int]]:
    """Three or more "dot N" (or "not N", "point N") a few words apart in one sentence: the
    octets of an address of a machine whatever words the model made between them, from the
    number before the first "dot" (when there is one) to the last octet. A chain whose last
    number counts a noun is a list of quantities ("not 5, not 10, not 15 minutes")."""
    out: list[tuple[int, int]] = []
    chain: list[re.Match[str]] = []
    for m in [*_DOTTED.finditer(text), None]:
        if m is not None and chain and _joined(text[chain[-1].end() : m.start()]):
            chain.append(m)
            continue
        if len(chain) >= MIN_DOTS and not counted_phrase(text[chain[-1].end() :]):
            before = _OCTET_BEFORE.search(text, max(0, chain[0].start() - 12), chain[0].start())
            out.append((before.start() if before else chain[0].start(), chain[-1].end()))
        chain = [m] if m is not None else []
    return out


def _joined(between: str) -> bool:
    """Two "dot N" in one sentence, at most MAX_DOT_GAP_WORDS words apart."""
    return not re.search(r"[.?!]\s", between) and len(_GAP_WORD.findall(between)) <= MAX_DOT_GAP_WORDS


# A month number, "slash" and a year ("zero seven slash thirty one", "12/27"): how a card's expiry
# is read out; a date in ordinary talk is said with the month's name. The year must be one a card
# can carry (a few years back to many ahead), so "since 9/11" stays.
_SLASH_DATE = re.compile(r"\b(?:0\s*[1-9]|1[0-2]|[1-9])\s*(?:/|\bslash\b)\s*(?P<year>(?:20)?\d\d)\b", re.IGNORECASE)
CARD_YEARS_BACK, CARD_YEARS_AHEAD = 5, 15


# A month's name and a year to come ("October 2033", "March twenty thirty"): a card's expiry
# whatever the cue became ("The car runs until October 2033", fresh2); ordinary talk dates the
# past. Capitalised, as Whisper writes a month ("you may 2030" is no month).
_MONTH_YEAR = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?,?\s+(?:of\s+)?(?P<year>20\s?\d\d)\b"
)


def find_expiry(text: str, today: datetime.date | None = None) -> list[ContextHit]:
    year = (today or datetime.date.today()).year
    digits = spelled(text)
    slash = [
        m
        for m in _SLASH_DATE.finditer(digits.text)
        if year - CARD_YEARS_BACK <= _full_year(m["year"], year) <= year + CARD_YEARS_AHEAD
    ]
    ahead = [
        m
        for m in _MONTH_YEAR.finditer(digits.text)
        if year <= int(m["year"].replace(" ", "")) <= year + CARD_YEARS_AHEAD
    ]
    return [ContextHit("CREDIT_DEBIT_EXPIRY", *digits.original_span(m.start(), m.end())) for m in (*slash, *ahead)]


# What a caller reads off the card's face when asked for its expiry, cue-free ("The month and
# year on the front, match 2027", fresh9; "... on the front, it's time to come on down to 29",
# fresh3: "March" and "October 2029" misheard): a year a card can carry, alone (no digits beside
# it: a card number's groups are no year), within a few words of the phrase in its sentence.
_CARD_FACE = re.compile(r"\b(?:on\s+the\s+front|month\s+and\s+year)\b", re.IGNORECASE)
_LONE_YEAR = re.compile(r"(?<![\d,.-])(?<![\d][\s,.-])\b(?P<year>20\d\d|\d\d)\b(?![\s,.-]*\d)")
MAX_FACE_WORDS = 8
# A year after these is a point in time ("sat on the front row in 2025"), not the card's.
_TIME_BEFORE = re.compile(r"\b(?:in|since|by|from|until|till|of|before|after)\s*$", re.IGNORECASE)


def find_card_face_years(text: str, today: datetime.date | None = None) -> list[ContextHit]:
    year = (today or datetime.date.today()).year
    digits = spelled(text)
    hits = []
    for cue_at in _CARD_FACE.finditer(digits.text):
        end = re.search(r"[.?!](?:\s|$)", digits.text[cue_at.end() :])
        stop = cue_at.end() + (end.start() if end else len(digits.text) - cue_at.end())
        m = _LONE_YEAR.search(digits.text, cue_at.end(), stop)
        if m is None or len(re.findall(r"[A-Za-z']+", digits.text[cue_at.end() : m.start()])) > MAX_FACE_WORDS:
            continue
        # Only the first number after the phrase: a point in time or a count is no card's year.
        timed = _TIME_BEFORE.search(digits.text, 0, m.start()) or counted_phrase(digits.text[m.end() :])
        full = _full_year(m["year"], year)
        if not timed and year - CARD_YEARS_BACK <= full <= year + CARD_YEARS_AHEAD:
            hits.append(ContextHit("CREDIT_DEBIT_EXPIRY", *digits.original_span(m.start(), m.end())))
    return hits


def _full_year(said: str, this_year: int) -> int:
    return int(said) if len(said) == 4 else this_year // 100 * 100 + int(said)


# "It's <name> speaking", "This is <name> speaking", "Hello. <Name> speaking": the words before
# "speaking" are a name whatever Whisper made of them ("it's a kick or clock speaking", dev4).
_SPEAKING = re.compile(
    r"\b(?:it's|it\s+is|this\s+is)\s+(?P<a>(?:[\w'-]+\s+){0,3}?[\w'-]+)\s+speaking\b"
    r"|(?:^|[.!?,]\s+)(?P<b>(?:[A-Z][\w'-]*\s+){0,2}[A-Z][\w'-]*(?<!ly))\s+speaking\b",
    re.IGNORECASE,
)
_NOT_NAMES = frozenset("i he she we they you who who's whos that it me not now still just".split())  # noqa: SIM905


def find_speakers(text: str) -> list[ContextHit]:
    hits = []
    for m in _SPEAKING.finditer(text):
        group = "a" if m["a"] is not None else "b"
        if group == "b" and not m[group][0].isupper():
            continue
        if m[group].split()[0].lower() not in _NOT_NAMES:
            hits.append(ContextHit("NAME", m.start(group), m.end(group)))
    return hits
