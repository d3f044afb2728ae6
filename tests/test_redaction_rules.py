"""Fast checks (no Ray, no audio) of the redaction rules for values said without their cue and for
numbers read in words: codes read out in groups, house numbers before a place, pairs of digits."""

from __future__ import annotations

import pytest

from pipelines.redaction.entities import PII
from pipelines.redaction.presidio import redact_row
from pipelines.redaction.settings import RedactConfig
from pipelines.redaction.spoken import read_out, runs
from pipelines.redaction.values import digit_string


def _redact(text: str) -> dict:
    row = {"status": "ok", "text": text.strip(), "segments": [{"start": 0.0, "end": 4.0, "text": text, "words": None}]}
    return redact_row(row, RedactConfig(entities=PII))


def test_numbers_read_in_pairs_are_digits() -> None:
    assert digit_string("twenty nine ten seventy-four forty four") == "2910744 4".replace(" ", "")
    assert [r.digits for r in runs("My pin is seventy-two twenty")] == ["7220"]
    # "to" beside a two-digit word is a range, not a digit.
    assert [r.digits for r in runs("from ten to twelve")] == ["10", "12"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("is seven nine eight eight, I think", "7988"),
        ("she said 61, 07 and hung up", "6107"),
        ("my twenty-three fifty-nine is", "2359"),
        ("back in nineteen ninety-five", None),  # a year read in pairs
        ("it opens at ten thirty", None),  # a clock time
        ("flight 214 to Chicago", None),  # a number and a preposition
        ("I paid 20, 15 dollars", None),  # an amount
        ("it took 2012 days", None),  # one group: said as a number
    ],
)
def test_codes_read_out_in_groups(text: str, found: str | None) -> None:
    assert [r.digits for r in read_out(text)] == ([found] if found else [])


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        # The cue and the street word misheard, the house number and the town heard.
        (" I decided 42 due to the land in Ashford.", "I decided [ADDRESS]."),
        # Whisper's full stop after a house number read alone.
        (" I leave at five hundred and forty-seven. Maybe I'll in Springfield.", "I leave at [ADDRESS]."),
        # A code read out in groups without its cue ("PIN" heard as something else).
        (" My bin, seven two one eight, is not working.", "My bin, [PIN], is not working."),
        (" Look up a count number twenty nine ten seventy four forty four for me", None),
    ],
)
def test_values_without_their_cue(text: str, redacted: str | None) -> None:
    row = _redact(text)
    if redacted is not None:
        assert row["text"] == redacted
    assert not any(ch.isdigit() for ch in row["text"]) and "seventy" not in row["text"], row["text"]


@pytest.mark.parametrize(
    "text",
    [
        " We have 2 offices in London and 3 in Paris, 20 people in all.",
        " Flight 214 to Chicago leaves from gate 12.",
        " The 3 of us went to Denver in 2019.",
        " Bus 42 to Springfield stops outside.",
        " I'll be there from ten to twelve, back in nineteen ninety-five it was at ten thirty.",
        # Real speech (tests/data/voices/cards-04.flac, tiny.en): "close" is also a street word.
        " Eight of spades, four of close, seven of hearts.",
        # Beside the rules for misheard cues: an error code, a range said twice, a near-cue word.
        " The error code is 404 again.",
        " I'll take 2 or 3 or 4 of them.",
        " We expressed 12 concerns.",
    ],
)
def test_numbers_near_places_and_pairs_are_kept(text: str) -> None:
    kept = _redact(text)["text"]
    digits = lambda s: digit_string(s)  # noqa: E731
    assert digits(kept) == digits(text), kept


@pytest.mark.parametrize(
    "text",
    [" My card was declined for forty dollars.", " The account fee is 12 dollars a month, 3 percent more."],
)
def test_an_amount_after_a_cue_is_kept(text: str) -> None:
    assert _redact(text)["text"] == text.strip()


def test_cue_ablation_of_the_tuning_tool() -> None:
    from tools.bench.pii_cached import without_cues

    row = without_cues({"text": "Hello, my name is Ann Lee. I live at 4 Elm Street, Leeds.", "duration_s": 3.0})
    assert row["text"] == "Hello, Ann Lee. 4 Elm Leeds." and row["segments"][0]["text"] == " " + row["text"]


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        # Digits read one by one, their cue misheard ("three digits on the mark").
        (" The numbers on the mark, four one seven.", "417"),
        (" Then reach me on N3-9-1, N6-0-2.", "391602"),
        # Short groups beside a long value belong to it.
        (" It's 8, 1 or 3344556677 or 4, 25.", "81334455667742"),
        # A long cue word misheard by a letter or two.
        (" The exploration is March 2031.", "2031"),
        # A number is not an e-mail address ("at 61.02" is no domain).
        (" Put it in my chicken at 61.02 77.481", "610277481"),
        # Any code but an error code.
        (" The code under the Mac is 562, I think.", "562"),
        # A named street without its number, and a house number before capitalised words.
        (" Send it to 9 for the Lakeside Terrace in Norwood.", "Lakeside"),
        (" I leave at 218 Maple Greenhill please.", "218"),
        # Numbers chained by a misheard "dot".
        (" The router is at 172, not 168, not 254.", "172168254"),
    ],
)
def test_values_whose_cue_was_misheard(text: str, gone: str) -> None:
    kept = _redact(text)["text"]
    assert gone not in (kept if gone.isalpha() else digit_string(kept)), kept
