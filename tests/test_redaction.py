"""PII redaction of transcripts and recordings, on espeak-ng calls read to the bundled tiny.en.

The fixtures (tests/data/enterprise/pii, made by scripts/make_enterprise_fixtures.py) read a card
number, a phone number, an e-mail address and an SSN aloud between ordinary sentences.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import pyarrow.parquet as pq
import pytest

from models.common.config import ModelConfig
from pipelines.config import RedactConfig, TranscribeConfig
from pipelines.redaction.entities import PII, parse_entities
from pipelines.redaction.presidio import redact_row
from pipelines.redaction.spoken import normalize
from pipelines.transcribe import run_transcription
from tests.fixtures_ray import ray_local  # noqa: F401

DATA = Path(__file__).parent / "data" / "enterprise"
NUMBER_TYPES = ("CREDIT_CARD", "PHONE_NUMBER", "US_SSN", "DIGITS")
CASES = [json.loads(line) for line in (DATA / "pii.jsonl").read_text().splitlines()]


def _row(text: str) -> dict:
    return {"status": "ok", "text": text.strip(), "segments": [{"start": 0.0, "end": 4.0, "text": text, "words": None}]}


# What tiny.en wrote for espeak-ng reading such values (scratch measurements, 2026-11-25).
@pytest.mark.parametrize(
    ("written", "kind"),
    [
        (" Please charge the mean card for 5-3-2-0-1-5-1-1-2-8-3-0-3-6-6", "CREDIT_CARD"),
        (" my car number is for 1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1.", "DIGITS"),
        (" You can call me Mac on 415, 555, 013 to anytime after lunch.", "PHONE_NUMBER"),
        (" My phone number is two, one, two, five, five, five, zero, one, nine, nine.", "PHONE_NUMBER"),
        (" Send the invoice to jsmith at example dot com before Friday.", "EMAIL_ADDRESS"),
        (" Please send the receipt to MarieLatGmail.com. The order", "EMAIL_ADDRESS"),
        (" My social security number is 2-1-9-0-9-9-9-9-9.", "US_SSN"),
        # A fresh clone's CI (issue 20): six of nine digits, kept only by the cue before them.
        (" My social security number is 2909, I need very fun this week.", "US_SSN"),
    ],
)
def test_spoken_forms_are_redacted(written: str, kind: str) -> None:
    row = redact_row(_row(written), RedactConfig(entities=PII))
    assert [r["type"] for r in row["redactions"]] == [kind]
    r = row["redactions"][0]
    assert row["text"][r["start"] : r["end"]] == f"[{kind}]"
    assert not re.search(r"\d{3}|@", normalize(row["text"]).text), row["text"]


def test_ordinary_numbers_and_words_are_kept() -> None:
    text = " We met at 10 and it cost 25 dollars, I looked at the data in 2024."
    assert redact_row(_row(text), RedactConfig(entities=PII))["text"] == text.strip()


def test_entity_across_segments_and_words() -> None:
    words = [(" call", 0.0, 0.5), (" 415", 0.5, 1.0), (" 555", 1.0, 2.0), (" 0132", 2.0, 2.5), (" thanks", 2.5, 3.0)]

    def seg(ws):
        return {
            "start": ws[0][1],
            "end": ws[-1][2],
            "text": "".join(w for w, _, _ in ws),
            "words": [{"word": w, "start": s, "end": e, "probability": 1.0} for w, s, e in ws],
        }

    row = redact_row({"status": "ok", "segments": [seg(words[:3]), seg(words[3:])]}, RedactConfig(entities=PII))
    assert row["text"] == "call [PHONE_NUMBER] thanks"
    assert row["redactions"] == [{"type": "PHONE_NUMBER", "start_s": 0.5, "end_s": 2.5, "start": 5, "end": 19}]
    assert [[w["word"] for w in s["words"]] for s in row["segments"]] == [
        [" call", " [PHONE_NUMBER]", ""],
        ["", " thanks"],
    ]


def test_options_fail_fast() -> None:
    assert parse_entities("pii") == PII
    with pytest.raises(ValueError, match="unknown entity"):
        RedactConfig(entities=("CREDIT_CARDS",))
    with pytest.raises(ValueError, match="NER"):
        RedactConfig(entities=("PERSON",))
    with pytest.raises(ValueError, match="word timestamps"):
        TranscribeConfig(redact=RedactConfig(entities=PII))


@pytest.mark.slow
def test_redacted_transcripts_and_audio(ray_local, tmp_path: Path) -> None:  # noqa: F811
    config = TranscribeConfig(
        model=ModelConfig(word_timestamps=True),
        redact=RedactConfig(entities=PII, audio_dir=str(tmp_path / "audio")),
    )
    run_transcription([str(DATA / "pii")], str(tmp_path / "t"), config)
    rows = {Path(r["path"]).name: r for r in pq.read_table(tmp_path / "t").to_pylist()}
    assert len(rows) == len(CASES)
    copies = {}
    for case in CASES:
        row = rows[Path(case["path"]).name]
        assert row["status"] == "ok", row["error"]
        [(kind, value)] = case["values"].items()
        # The value is gone from the text, in digits or any spoken form, and from segments and words.
        flat = normalize(row["text"]).text.replace("-", "")
        assert value not in flat and not re.search(r"\d{4}|@", flat), row["text"]
        # A number's type follows how many digits the model wrote: with a digit dropped, the phone
        # number 212 555 0199 came out as 9 digits and was redacted as a US_SSN (measured).
        expected = {kind} if kind == "EMAIL_ADDRESS" else set(NUMBER_TYPES)
        assert any(r["type"] in expected for r in row["redactions"]), row["text"]
        for r in row["redactions"]:
            assert set(r) == {"type", "start_s", "end_s", "start", "end"}  # never the value itself
            assert row["text"][r["start"] : r["end"]] == f"[{r['type']}]" and r["start_s"] < r["end_s"]
        words = "".join(w["word"] for s in row["segments"] for w in s["words"] or [])
        assert not re.search(r"\d{4}|@", normalize(words).text.replace("-", "")), words
        # The copy: FLAC at the source's rate and channel count, named after the source.
        copy = Path(row["redacted_audio"])
        assert copy.parent == tmp_path / "audio" and copy.name.startswith(Path(case["path"]).stem + "-")
        with av.open(str(DATA / case["path"])) as src, av.open(str(copy)) as out:
            a, b = src.streams.audio[0], out.streams.audio[0]
            assert (b.codec_context.name, b.rate, b.channels) == ("flac", a.rate, a.channels)
        copies[copy.name] = case
    assert len(copies) == len(CASES)
    # Transcribing the redacted audio again finds none of the values, and the rest is still there.
    run_transcription([str(tmp_path / "audio")], str(tmp_path / "again"), TranscribeConfig())
    kept = total = 0
    for row in pq.read_table(tmp_path / "again").to_pylist():
        case = copies[Path(row["path"]).name]
        flat = normalize(row["text"]).text.replace("-", "")
        assert not re.search(r"\d{4}|@", flat), row["text"]
        rest = case["text"].split(".")[-2].lower().split()  # the sentence after the value
        heard = set(re.findall(r"[a-z]+", row["text"].lower()))
        kept += sum(w in heard for w in rest)
        total += len(rest)
    print(f"words kept after the redacted values: {kept}/{total}")
    # Measured 2026-11-25: 20 of 27 words of those sentences survive (24 of 27 since short clips
    # are packed by default). The lost ones sit next to
    # the silenced value: spans are padded by 0.25 s and tiny.en's word times are loose.
    assert kept / total >= 2 / 3, (kept, total)


def test_redacted_copies_never_collide() -> None:
    from pipelines.redaction.audio import copy_name

    names = {
        copy_name(p)
        for p in ("/calls/a/x.wav", "/calls/b/x.wav", "/calls/a/x.mp3", "s3://bucket/calls/a/x.wav", "/calls/a/x.wav/")
    }
    assert len(names) == 5 and all(n.startswith("x-") and n.endswith(".flac") for n in names)
    assert copy_name("s3://b/../../etc/passwd").startswith("passwd-")  # a name, never a path
