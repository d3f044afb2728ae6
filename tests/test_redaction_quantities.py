"""Fast checks (no Ray, no audio) of the seventh round's rule of kind: a number that counts the
head of its noun phrase ("945 windows", "250 parking spaces", "2019 years old") is a quantity,
whatever cue came before it; dollars too few for any value are an amount. Sentences from no split."""

from __future__ import annotations

import pytest

from pipelines.redaction.entities import PII
from pipelines.redaction.numerals import counted_phrase, spelled
from pipelines.redaction.presidio import redact_row
from pipelines.redaction.settings import RedactConfig
from pipelines.redaction.values import digit_string


def _redact(text: str) -> str:
    row = {"status": "ok", "text": text.strip(), "segments": [{"start": 0.0, "end": 4.0, "text": text, "words": None}]}
    return redact_row(row, RedactConfig(entities=PII))["text"]


@pytest.mark.parametrize(
    "text",
    [
        # A birth cue's window does not take a count, in digits or in words.
        " I was born in a house with 412 steps.",
        " I was born in a village of six hundred and twelve families.",
        # A measure governs the number right after a cue.
        " My mobile is 2016 years old now.",
        # A count whose noun has a word or two before it.
        " The branch has 380 parking spaces.",
        " My account shows 214 unread alerts.",
        # Thousands said in words: one number, then a count.
        " The social club met 2,000 and 12 times.",
        # Dollars too few for any value.
        " My account for $27 a month.",
        # A round number and the rest is one number; units written short; separators of thousands.
        " The card reader failed 300 and 14 times.",
        " My phone says the shop is 316 km away.",
        " The account app showed 3,140 transactions.",
        # A place's label governs its number, whatever cue came before.
        " The phone shop is on floor 612.",
        # A cue word that describes another noun introduces no value.
        " My address book lists 120 friends and 38 shops.",
    ],
)
def test_counts_and_small_amounts_are_kept(text: str) -> None:
    kept = _redact(text)
    assert digit_string(kept) == digit_string(text) and "[" not in kept, kept


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        # Privacy first: right after its cue a long number before "times" stays the value, and so
        # does a value followed by words that are no noun phrase.
        (" The pin 8316 times.", "8316"),
        (" I changed my PIN to 7 3 0 9 last month.", "7309"),
        (" The security code is 551 thanks.", "551"),
        (" My social is 2,000 and 15.", "2015"),
        # Digits read out before a plural stay the value ("rows" for a garbled street).
        (" Mail it to 58 rows in Leeds.", "58"),
        (" Born 04 11 1987 in Leeds.", "1987"),
        # The same shapes as values: a round number and the rest, an address that opens with one.
        (" My PIN is 600 and 42.", "60042"),
        (" My address is 600 and 4 Mill Road.", "6004"),
    ],
)
def test_values_before_words_stay_redacted(text: str, gone: str) -> None:
    kept = _redact(text)
    assert gone not in digit_string(kept), kept


def test_noun_phrase_heads() -> None:
    assert counted_phrase(" parking spaces")
    assert counted_phrase(" years old")
    assert not counted_phrase(" last week")
    assert not counted_phrase(" and 3 kids")
    assert not counted_phrase(" Rosewood Lanes")
    assert spelled("met 2,000 and 15 times").text == "met 2015 times"
