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
from pipelines.batch.run import run_transcription
from pipelines.config import ChunkingConfig, TranscribeConfig
from pipelines.redaction.entities import PII, parse_entities
from pipelines.redaction.presidio import redact_row
from pipelines.redaction.settings import RedactConfig
from pipelines.redaction.spoken import normalize
from tests.fixtures_ray import ray_local  # noqa: F401

DATA = Path(__file__).parent / "data" / "enterprise"
# A number said without a cue is typed by its digit count; with one, by the cue.
NUMBER_TYPES = ("CREDIT_DEBIT_NUMBER", "PHONE", "SSN", "BANK_ACCOUNT_NUMBER")
CASES = [json.loads(line) for line in (DATA / "pii.jsonl").read_text().splitlines()]


def _row(text: str) -> dict:
    return {"status": "ok", "text": text.strip(), "segments": [{"start": 0.0, "end": 4.0, "text": text, "words": None}]}


# What tiny.en wrote for espeak-ng reading such values (scratch measurements, 2026-11-25).
@pytest.mark.parametrize(
    ("written", "kind"),
    [
        (" Please charge the mean card for 5-3-2-0-1-5-1-1-2-8-3-0-3-6-6", "CREDIT_DEBIT_NUMBER"),
        # 20 digits said without a cue ("card" heard as "car"): longer than any card number.
        (" my car number is for 1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1.", "BANK_ACCOUNT_NUMBER"),
        (" The phone number is 415, 555, 013 to anytime after lunch.", "PHONE"),
        (" My phone number is two, one, two, five, five, five, zero, one, nine, nine.", "PHONE"),
        (" Send the invoice to jsmith at example dot com before Friday.", "EMAIL"),
        (" Please send the receipt to MarieLatGmail.com. The order", "EMAIL"),
        (" My social security number is 2-1-9-0-9-9-9-9-9.", "SSN"),
        # A fresh clone's CI (issue 20): six of nine digits, kept only by the cue before them.
        (" My social security number is 2909, I need very fun this week.", "SSN"),
        # Issue 20's leaks, as tiny.en wrote them.
        (" My social is 1,2,3,4,5,0,i,8,7", "SSN"),
        (" The security code on the Mac is 737", "CREDIT_DEBIT_CVV"),
        (" The expiration date is zero four slash two nine", "CREDIT_DEBIT_EXPIRY"),
        (" Send it to JSmith4 to my toutlook.com", "EMAIL"),
        (" My PIN is four eight one two.", "PIN"),
        (" The routing number is 0 2 1, 0 0 0. 0 2 1", "BANK_ROUTING"),
        (" Hello, my name is Sarah Johnson.", "NAME"),
        (" I live at 42 elm street in Springfield.", "ADDRESS"),
        (" I was born on July 16, 1971.", "DATE_OF_BIRTH"),
        (" My IP address is 192.168.1.20.", "IP"),
    ],
)
def test_spoken_forms_are_redacted(written: str, kind: str) -> None:
    row = redact_row(_row(written), RedactConfig(entities=PII))
    assert [r["type"] for r in row["redactions"]] == [kind]
    r = row["redactions"][0]
    assert row["text"][r["start"] : r["end"]] == f"[{kind}]"
    assert not re.search(r"\d{3}|@|\.com|Sarah|elm|July", normalize(row["text"]).text), row["text"]


@pytest.mark.parametrize(
    "text",
    [
        " We met at 10 and it cost 25 dollars, I looked at the data in 2024.",
        " Flight 214 leaves at 6:45 from gate 12, room 305.",
        " I ordered 3 boxes for 49.99 each in 2023.",
        " I paid 40 dollars with my card yesterday.",
    ],
)
def test_ordinary_numbers_and_words_are_kept(text: str) -> None:
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
    assert row["text"] == "call [PHONE] thanks"
    assert row["redactions"] == [{"type": "PHONE", "start_s": 0.5, "end_s": 2.5, "start": 5, "end": 12}]
    assert [[w["word"] for w in s["words"]] for s in row["segments"]] == [
        [" call", " [PHONE]", ""],
        ["", " thanks"],
    ]


def test_options_fail_fast() -> None:
    assert parse_entities("pii") == PII and len(PII) == 14
    assert parse_entities("ssn, Email") == ("SSN", "EMAIL")
    # Names from before AWS's are mapped.
    assert parse_entities("CREDIT_CARD,US_SSN,PERSON") == ("CREDIT_DEBIT_NUMBER", "SSN", "NAME")
    assert RedactConfig(entities=("PHONE_NUMBER",)).entities == ("PHONE",)
    with pytest.raises(ValueError, match=r"CREDIT_CARDS.*SOCIAL"):
        RedactConfig(entities=("CREDIT_CARDS", "SOCIAL"))
    with pytest.raises(ValueError, match="NER"):
        RedactConfig(entities=("ORGANIZATION",), spacy_model="blank:en")
    with pytest.raises(ValueError, match="en_core_web_xx"):
        RedactConfig(entities=PII, spacy_model="en_core_web_xx")
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
        expected = {kind} if kind == "EMAIL" else set(NUMBER_TYPES)
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
    # With VAD on, as an attacker (or voxray on a long call) would: a redacted value leaves seconds of
    # digital silence mid-clip, after which tiny.en ends the whole clip early. Measured 2026-12-06
    # on the e-mail copy: without VAD "my email." only (the next sentence, intact in the audio, was
    # never decoded: 17 of 27 words kept over all copies); with VAD "my email for the arrived two
    # days late." (22 of 27).
    again = TranscribeConfig(chunking=ChunkingConfig(vad="on"))
    run_transcription([str(tmp_path / "audio")], str(tmp_path / "again"), again)
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


def test_pinned_ner_model_is_the_reviewed_one() -> None:
    from pipelines.redaction.ner import DEFAULT_MODEL_DIGEST, model_digest, package_folder
    from pipelines.redaction.settings import DEFAULT_SPACY_MODEL

    assert model_digest(package_folder(DEFAULT_SPACY_MODEL)) == DEFAULT_MODEL_DIGEST


def test_failed_redaction_withholds_the_transcript(tmp_path: Path) -> None:
    """A real fault: the redacted-audio folder cannot be made (a file is in the way)."""
    from models.common.config import StorageConfig
    from pipelines.redaction.stream import redact_recording

    (tmp_path / "blocked").write_text("a file, not a folder")
    source = str(DATA / "pii" / "p4_ssn.flac")
    text = " My social security number is 2909, I need very fun this week."
    row = {**_row(text), "path": source, "error": None, "speakers": None}
    redact = RedactConfig(entities=PII, audio_dir=str(tmp_path / "blocked" / "audio"))
    [out] = redact_recording([row], redact, StorageConfig())
    assert out["status"] == "error" and "redaction failed" in out["error"]
    assert out["text"] == "" and out["segments"] == [] and out["redacted_audio"] is None
    assert "2909" not in json.dumps(out, default=str)


def test_cue_and_value_in_different_segments() -> None:
    """A cue at the end of one segment (or window) reaches the value in the next."""
    segments = [
        {"start": 0.0, "end": 2.0, "text": " I will give you my social security number.", "words": None},
        {"start": 2.0, "end": 4.0, "text": " It is 2 1 9. Oh, 9.", "words": None},
        {"start": 4.0, "end": 6.0, "text": " 9 9 9 9, and I need the refund.", "words": None},
    ]
    row = redact_row({"status": "ok", "segments": segments}, RedactConfig(entities=PII))
    assert not re.search(r"\d", row["text"]) and "refund" in row["text"], row["text"]
    assert [(r["type"], r["start_s"], r["end_s"]) for r in row["redactions"]] == [("SSN", 2.0, 6.0)]


def test_cli_refuses_unknown_types_and_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jobs.cli import main

    calls = DATA / "pii"
    with pytest.raises(SystemExit) as exit_info:
        main(["transcribe", str(calls), "--output", str(tmp_path / "a"), "--redact", "SSN,BOGUS"])
    assert exit_info.value.code == 2 and "BOGUS" in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text("redact:\n  spacy_model: en_core_web_lg\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["transcribe", str(calls), "--output", str(tmp_path / "b"), "--redact", "pii", "--config", str(config)])
    assert exit_info.value.code == 2 and "en_core_web_lg" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_redact_settings_round_trip_yaml() -> None:
    config = TranscribeConfig(
        model=ModelConfig(word_timestamps=True), redact=RedactConfig(entities=("US_SSN", "EMAIL"), audio_pad_s=0.5)
    )
    again = TranscribeConfig.from_yaml_text(config.to_yaml())
    assert again == config and again.redact.entities == ("SSN", "EMAIL")


def test_rows_are_redacted_by_recording_once_all_its_channels_have_come() -> None:
    """A split-channel call's rows go to redaction together (its audio copy silences both
    channels at once); a failed file's single row, and rows still waiting at the end, go as they are."""
    from pipelines.redaction.stream import recordings

    rows = [
        {"path": "a.wav", "channel": 0, "channels": 2, "status": "ok"},
        {"path": "b.wav", "channel": None, "channels": 1, "status": "ok"},
        {"path": "c.wav", "channel": None, "channels": None, "status": "error"},
        {"path": "a.wav", "channel": 1, "channels": 2, "status": "ok"},
        {"path": "d.wav", "channel": 0, "channels": 2, "status": "ok"},
    ]
    groups = [[(r["path"], r["channel"]) for r in g] for g in recordings(iter(rows))]
    assert groups == [[("b.wav", None)], [("c.wav", None)], [("a.wav", 0), ("a.wav", 1)], [("d.wav", 0)]]
