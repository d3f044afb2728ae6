"""`--language` checked against the model's own language list: at start (exit 2), and per request in serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.cli import main
from models.common.config import StorageConfig
from models.languages import model_languages
from models.registry import resolve_model


def test_language_lists_come_from_the_model_folder(multilingual_model: Path) -> None:
    assert model_languages(resolve_model("tiny.en", StorageConfig())) == ("en",)
    languages = model_languages(multilingual_model)
    assert len(languages) == 99 and {"en", "de", "fr", "zh", "haw"} <= set(languages)
    assert "xx" not in languages


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--language", "de"], "tiny.en transcribes English only"),
        (["--language", "xx"], "tiny.en transcribes English only"),
        (["--language", "xx", "--model", "MULTILINGUAL"], "'xx' is not one model"),
    ],
)
def test_transcribe_refuses_a_language_the_model_lacks_before_any_work(
    flags: list[str], message: str, multilingual_model: Path, speech_manifest: list[dict], tmp_path: Path, capsys
) -> None:
    flags = [str(multilingual_model) if f == "MULTILINGUAL" else f for f in flags]
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["transcribe", speech_manifest[0]["path"], "--output", str(out), *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--language" in err and message in err
    assert not out.exists()


def test_nightly_refuses_it_too(speech_manifest: list[dict], tmp_path: Path, capsys) -> None:
    out = tmp_path / "store"
    with pytest.raises(SystemExit) as exit_info:
        main(["nightly", speech_manifest[0]["path"], "--output", str(out), "--language", "fr"])
    assert exit_info.value.code == 2 and "English only" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_serving_answers_an_unknown_language_with_400_for_that_request_alone(
    multilingual_model: Path, speech_manifest: list[dict]
) -> None:
    from dataclasses import replace

    from pipelines.config import TranscribeConfig
    from pipelines.online.transcriber import OnlineTranscriber, RequestError, RequestOptions

    config = TranscribeConfig()
    engine = OnlineTranscriber(replace(config, model=replace(config.model, model=str(multilingual_model))), threads=2)
    clip = next(c for c in speech_manifest if c["path"].endswith(".wav"))
    data = Path(clip["path"]).read_bytes()
    with pytest.raises(RequestError) as refused:
        engine.prepare(data, "bad.wav", RequestOptions(language="xx"))
    assert refused.value.status == 400 and refused.value.code == "unsupported_language"
    assert "'xx'" in refused.value.message
    # The requests that were fine still go through the model together and get their transcripts.
    fine = [engine.prepare(data, f"ok{i}.wav", RequestOptions(language=lang)) for i, lang in enumerate(["en", None])]
    rows = engine.transcribe_many(fine)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(r["language"] == "en" and r["text"].strip() for r in rows)
