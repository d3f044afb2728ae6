"""Fast checks (no Ray, no audio) of the eighth round's rules: a number that the dependency parse
makes the count of a common noun after it (singular, garbled or behind describing words) is a
quantity; a round number on its own is an amount. Values read out stay redacted. Sentences from
no split of the spoken-PII corpus."""

from __future__ import annotations

import pytest

from pipelines.redaction.entities import PII
from pipelines.redaction.ner import load
from pipelines.redaction.presidio import redact_row
from pipelines.redaction.settings import DEFAULT_SPACY_MODEL, RedactConfig
from pipelines.redaction.syntax import counts_noun, number_tokens
from pipelines.redaction.values import digit_string


def _redact(text: str, digits: str = "ordinary") -> str:
    row = {"status": "ok", "text": text.strip(), "segments": [{"start": 0.0, "end": 4.0, "text": text, "words": None}]}
    return redact_row(row, RedactConfig(entities=PII, digits=digits))["text"]


@pytest.mark.parametrize(
    "text",
    [
        # A singular or garbled noun the number counts, which no word list names.
        " The warehouse had 740 pallet waiting.",
        " The farm has four hundred twelve dairy cow.",
        # Describing words between the number and its noun (more than the word rules allow).
        " The library has 860 very old leather books.",
        # After a cue word with other words between: the parse governs, as a plural does.
        " My account shows 2021 pending transfer today.",
        # A round number on its own.
        " The queue went down to 300 by noon.",
        " We drove another 1000 before lunch.",
    ],
)
def test_counted_and_round_numbers_are_kept(text: str) -> None:
    kept = _redact(text)
    assert digit_string(kept) == digit_string(text) and "[" not in kept, kept


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        # A value is an object or an attribute, not a noun's count.
        (" I typed 8143 at the machine.", "8143"),
        (" My pin is 6290.", "6290"),
        # A noun that names a value does not make its number a count.
        (" It is the 5172 code they sent.", "5172"),
        # Right after its cue a number before a count word stays the value (privacy first).
        (" The pin 4417 times.", "4417"),
        # A round number inside a chain of numbers is a part of a value.
        (" It is 71, not 300, not 18.", "300"),
    ],
)
def test_values_stay_redacted(text: str, gone: str) -> None:
    assert gone not in digit_string(_redact(text))


def test_strict_policy_still_redacts_counts() -> None:
    assert "740" not in digit_string(_redact(" The warehouse had 740 pallet waiting.", digits="strict"))


def test_number_tokens_follow_the_number_chain() -> None:
    text = "Our office has five hundred very different staff and I type 2231 daily."
    doc = load(DEFAULT_SPACY_MODEL)(text)
    numbers = number_tokens(doc, lambda s, e: (s, e))
    five = text.index("five")
    assert counts_noun(five, text.index("hundred") + len("hundred"), numbers)
    at = text.index("2231")
    assert not counts_noun(at, at + 4, numbers)


def test_a_pipeline_without_parser_counts_nothing() -> None:
    doc = load("blank:en")("The farm has 412 dairy cow.")
    assert number_tokens(doc, lambda s, e: (s, e)) == {}
