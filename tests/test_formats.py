"""Writers: Whisper's timestamp and subtitle conventions, OpenAI's verbose_json shape, jsonl for export."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from openai.types.audio import TranscriptionVerbose

from pipelines.export import formats


def segment(start: float, end: float, text: str, words: list[dict] | None = None) -> dict:
    return {
        "start": start,
        "end": end,
        "text": text,
        "avg_logprob": -0.25,
        "no_speech_prob": 0.01,
        "compression_ratio": 1.1,
        "temperature": 0.0,
        "flagged": False,
        "channel": None,
        "words": words,
    }


@pytest.fixture
def row() -> dict:
    words = [
        {"start": 0.0, "end": 0.4, "word": " Hello", "probability": 0.9},
        {"start": 0.4, "end": 0.9, "word": " there.", "probability": 0.8},
    ]
    return {
        "path": "a.wav",
        "status": "ok",
        "language": "en",
        "duration_s": 3725.25,
        "text": "Hello there. It costs a --> b.",
        "segments": [
            segment(0.0, 0.9, " Hello there.", words),
            segment(3661.5, 3723.0004, " It costs a --> b.", [{"start": 3661.5, "end": 3662.0, "word": " It"}]),
        ],
        "transcribed_at": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "language_probability": math.nan,
    }


@pytest.mark.parametrize(
    ("seconds", "hours", "marker", "expected"),
    [
        (0.0, False, ".", "00:00.000"),
        (0.0, True, ",", "00:00:00,000"),
        (59.9996, False, ".", "01:00.000"),  # rounds to the millisecond, carrying into minutes
        (3661.5, False, ".", "01:01:01.500"),  # hours appear once there are any
        (1.0126, True, ",", "00:00:01,013"),  # rounded, not truncated
    ],
)
def test_timestamps_follow_whispers_format(seconds, hours, marker, expected):
    assert formats.format_timestamp(seconds, hours, marker) == expected


def test_negative_timestamps_are_refused():
    with pytest.raises(ValueError):
        formats.format_timestamp(-0.5)


def test_srt_numbers_cues_uses_commas_and_escapes_arrows(row):
    srt = formats.render(row, "srt")
    blocks = srt.strip("\n").split("\n\n")
    assert blocks[0] == "1\n00:00:00,000 --> 00:00:00,900\nHello there."
    assert blocks[1] == "2\n01:01:01,500 --> 01:02:03,000\nIt costs a -> b."
    assert srt.endswith("\n\n")


def test_vtt_has_header_and_dotted_timestamps(row):
    vtt = formats.render(row, "vtt")
    assert vtt.startswith("WEBVTT\n\n00:00.000 --> 00:00.900\nHello there.\n\n")
    assert "01:01:01.500 --> 01:02:03.000\nIt costs a -> b.\n" in vtt


def test_json_and_text(row):
    assert json.loads(formats.render(row, "json")) == {"text": row["text"]}
    assert formats.render(row, "text") == row["text"] + "\n"


def test_verbose_json_validates_as_openais_type(row):
    body = json.loads(formats.render(row, "verbose_json", words=True))
    parsed = TranscriptionVerbose.model_validate(body)
    assert parsed.language == "english"
    assert parsed.duration == pytest.approx(3725.25)
    assert [s.id for s in parsed.segments] == [0, 1]
    assert parsed.segments[1].start == 3661.5
    assert parsed.segments[1].seek == 366150  # in 10 ms frames, as Whisper counts
    assert [w.word for w in parsed.words] == [" Hello", " there.", " It"]
    assert set(body["words"][0]) == {"word", "start", "end"}


def test_verbose_json_leaves_out_what_was_not_asked_for(row):
    body = json.loads(formats.render(row, "verbose_json"))
    assert "words" not in body and len(body["segments"]) == 2
    only_words = json.loads(formats.render(row, "verbose_json", segments=False, words=True))
    assert "segments" not in only_words and len(only_words["words"]) == 3


def test_verbose_json_with_no_language_or_segments():
    body = json.loads(
        formats.render({"text": "", "segments": None, "language": None, "duration_s": None}, "verbose_json")
    )
    assert body == {"task": "transcribe", "language": "unknown", "duration": 0.0, "text": "", "segments": []}


def test_txt_has_one_line_per_segment(row):
    assert formats.to_txt(row["segments"]) == "Hello there.\nIt costs a --> b.\n"


def test_jsonl_is_one_parseable_line_per_row(row):
    text = formats.to_jsonl([row, {**row, "path": "b.wav"}])
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith("\n")
    first = json.loads(lines[0])
    assert first["transcribed_at"] == "2025-01-02T03:04:05+00:00"
    assert first["language_probability"] is None  # NaN is not JSON
    assert first["segments"][0]["words"][1]["word"] == " there."
    assert json.loads(lines[1])["path"] == "b.wav"


def test_unknown_format_is_refused(row):
    with pytest.raises(ValueError, match="response_format"):
        formats.render(row, "docx")
