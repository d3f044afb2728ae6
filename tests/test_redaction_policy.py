"""Fast checks (no Ray, no audio) of the digit policy (pipelines/redaction/digits.py) and the cue
windows (pipelines/redaction/window.py), on sentences that are in no split of the spoken-PII
corpus."""

from __future__ import annotations

import re

import pytest

from models.common.config import ModelConfig
from pipelines.config import TranscribeConfig
from pipelines.redaction.entities import PII
from pipelines.redaction.presidio import redact_row
from pipelines.redaction.settings import RedactConfig


def _redact(text: str, digits: str = "ordinary") -> str:
    row = {"status": "ok", "text": text.strip(), "segments": [{"start": 0.0, "end": 4.0, "text": text, "words": None}]}
    return redact_row(row, RedactConfig(entities=PII, digits=digits))["text"]


# Values whose cue the model lost: only the policy sees them.
CUELESS = [
    " Okay so it's 738, right?",
    " Then we'll go with five hundred and sixty two, alright.",
    " Yes, the one I want is seven one four nine.",
    " It was, uh, 40.17 I believe.",
    " The thing number is $63.20, same as before.",
]
# Ordinary talk the `ordinary` policy keeps.
ORDINARY = [
    " The flight number is 332 and it boards at gate 9.",
    " Her room number was 418 on the fourth floor.",
    " We open at 10 30 in the morning.",
    " The bakery sold 300 loaves and two hundred rolls.",
    " It was 1998 when we met, since 1987 we bank here.",
    " That came to 120 dollars, or 99.50 each.",
    " It takes 120 or 150 days to arrive.",
    " The error code is 503 again.",
]


@pytest.mark.parametrize("text", CUELESS)
def test_numbers_without_a_cue_are_redacted(text: str) -> None:
    for policy in ("ordinary", "strict"):
        redacted = _redact(text, policy)
        assert not re.search(r"\d{2}|hundred|seven|one four", redacted), (policy, redacted)
    assert _redact(CUELESS[0], "cues") == CUELESS[0].strip()


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_numbers_are_kept_but_not_when_strict(text: str) -> None:
    assert _redact(text) == text.strip()
    assert _redact(text, "strict") != text.strip()


def test_a_clock_time_in_words_is_kept() -> None:
    # The run takes the "o" of "o'clock" for a zero; the time is still a time.
    text = " The show starts at forty five o'clock, he joked."
    assert _redact(text) == text.strip()


def test_a_house_number_takes_the_place_after_it() -> None:
    # (spaCy may call the place a person: the type is the finders' to choose, the words go.)
    redacted = _redact(" They put us at 482 near the Halvorsen bridge.")
    assert re.fullmatch(r"They put us at \[[A-Z_]+\] bridge\.", redacted), redacted


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # A date garbled into words: the window takes the rest of the sentence (8 words at most).
        (" My birthday's twelve-year-old, oh six, the 84, I think.", "My birthday's [DATE_OF_BIRTH], I think."),
        (" It expires at the end of, um, the cell 29.", "It expires at the [CREDIT_DEBIT_EXPIRY]."),
        # A count in the window is no date.
        (" I was born in a village of 300 people.", "I was born in a village of 300 people."),
        # An e-mail address broken by full stops, up to its domain.
        (" Forward it to the Kowal. Ski. outlook.com please.", "Forward it to the [EMAIL] please."),
    ],
)
def test_cue_windows(text: str, kept: str) -> None:
    assert _redact(text) == kept


def test_digit_policy_is_checked_and_round_trips() -> None:
    with pytest.raises(ValueError, match="redact.digits"):
        RedactConfig(entities=PII, digits="lenient")  # type: ignore[arg-type]
    redact = RedactConfig(entities=PII, digits="strict")
    config = TranscribeConfig(model=ModelConfig(word_timestamps=True), redact=redact)
    assert TranscribeConfig.from_yaml_text(config.to_yaml()) == config


def test_kept_words_copy_silences_all_but_the_kept_words() -> None:
    from pipelines.redaction.audio import MAX_UNHEARD_S, spans

    # "My social is" then a value the model wrote as ordinary words, then a next sentence.
    words = [(" My", 0.0, 0.2), (" social", 0.2, 0.6), (" is", 0.6, 0.8), (" at", 0.8, 1.0)]
    words += [(" one", 1.0, 1.3), (" Saturday.", 1.3, 2.0), (" Thanks", 2.5, 3.0)]
    row = {
        "duration_s": 5.0,
        "segments": [{"words": [{"word": w, "start": s, "end": e} for w, s, e in words]}],
        "redactions": [],
    }
    assert spans([row], 0.25) == []  # `redactions`: nothing redacted, nothing silenced
    # The cue's sentence after it, and all the audio after the last kept word.
    assert spans([row], 0.25, "kept_words") == [(0.35, 2.25), (3.25, 5.0 + MAX_UNHEARD_S)]
    # A tag is no cue ("[PHONE]" is not "phone"), and a value found ends the window.
    tagged = [(" call", 0.0, 0.3), (" me", 0.3, 0.5), (" on", 0.5, 0.7), (" [PHONE]", 0.7, 2.0), (" Bye.", 2.5, 3.0)]
    row2 = {**row, "segments": [{"words": [{"word": w, "start": s, "end": e} for w, s, e in tagged]}]}
    assert spans([row2], 0.25, "kept_words") == [(0.95, 2.25), (3.25, 5.0 + MAX_UNHEARD_S)]
    # No transcript: nothing in the copy was vetted, all of it is silenced.
    assert spans([{**row, "segments": []}], 0.25, "kept_words") == [(0.0, 5.0 + MAX_UNHEARD_S)]


def test_a_cue_window_listens_past_a_sentence_without_a_number() -> None:
    from pipelines.redaction.cues import CUES
    from pipelines.redaction.window import audio_windows

    def row(words: list[tuple[str, float, float]]) -> dict:
        return {"segments": [{"words": [{"word": w, "start": s, "end": e} for w, s, e in words]}]}

    # The value comes in the next sentence, garbled into words: the window takes that one too.
    said = [(" My", 0.0, 0.2), (" social", 0.2, 0.6), (" is", 0.6, 0.8), (" fine.", 0.8, 1.2)]
    said += [(" Then", 1.5, 1.8), (" nasty", 1.8, 2.2), (" vine.", 2.2, 2.8), (" Thanks.", 7.0, 7.5)]
    assert audio_windows(row(said), CUES) == [(0.6, 2.8)]
    # A sentence that held a number ends it, as before.
    said[3] = (" nine.", 0.8, 1.2)
    assert audio_windows(row(said), CUES) == [(0.6, 1.2)]


def test_spelled_out_letters_are_never_kept_audio() -> None:
    from pipelines.redaction.audio import spans

    letters = [(" X", 0.0, 0.3), ("-I", 0.3, 0.6), ("-R", 0.6, 0.9), ("-E", 0.9, 1.2), (" Bye", 1.5, 2.0)]
    row = {
        "duration_s": 2.0,
        "segments": [{"words": [{"word": w, "start": s, "end": e} for w, s, e in letters]}],
        "redactions": [],
    }
    silenced = spans([row], 0.1, "kept_words")
    assert silenced[0] == (0.0, 1.4) and all(not (s < 1.7 < e) for s, e in silenced), silenced
