"""`voxray bench --scenarios redact-quality`: redaction on a spoken-PII corpus (needs espeak-ng;
tools/bench/pii_corpus.py), scored on its test split (192 clips) and its fresh split (120 clips, phrasings written after
the rules were tuned); the dev splits are for tuning.

The test split is transcribed with word timestamps (what `--redact` turns on); those rows then go
through voxray's redaction stage exactly as `--redact pii --redact-audio` runs it after assembly
(pipelines/redaction/stream.py: Ray CPU tasks, text and audio copies), so the text the model wrote
and its redaction are compared row for row, and the stage's time is measured on its own. The
redacted copies are transcribed again (what a listener could recover). Presidio's default
recognizers on the same plain text are the baseline. Redaction's share of the wall time: the
stage's wall time over transcription plus stage (the product overlaps the two, so this is an
upper bound), and its CPU time in one process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from models.common.config import ModelConfig, StorageConfig
from pipelines.config import TranscribeConfig
from pipelines.redaction.entities import PII
from pipelines.redaction.settings import RedactConfig
from tools.bench.pii_corpus import Utterance, build_utterances, synthesize
from tools.bench.pii_score import Tally

SEED = 20
# The test split (dev is for tuning) and the fresh one, written after the rules were tuned.
SPLITS = ("test", "fresh")


def cache_folder() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "voxray" / f"pii-corpus-{SEED}"


def _transcribe(folder: Path, dest: Path, config: TranscribeConfig) -> tuple[dict[str, dict[str, Any]], float]:
    from pipelines.batch.run import run_transcription

    started = time.perf_counter()
    run_transcription([str(folder)], str(dest), config)
    wall = time.perf_counter() - started
    return {Path(r["path"]).stem: r for r in pq.read_table(dest).to_pylist()}, wall


def presidio_baseline(texts: dict[str, str], spacy_model: str) -> dict[str, str]:
    """Presidio's default recognizers, every entity, default threshold; spans replaced by tags."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from pipelines.redaction.ner import load

    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": spacy_model}])
    engine.nlp = {"en": load(spacy_model)}
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    out = {}
    for key, text in texts.items():
        for r in sorted(analyzer.analyze(text, language="en"), key=lambda r: -r.start):
            text = text[: r.start] + f"<{r.entity_type}>" + text[r.end :]
        out[key] = text
    return out


def bench_redact_quality(cfg, measurement) -> list:  # noqa: ANN001 (BenchConfig, Measurement)
    utterances = build_utterances(SEED)
    synthesize(utterances, cache_folder() / "audio")
    return [r for split in SPLITS for r in _split_quality(cfg, measurement, split, utterances)]


def _split_quality(cfg, measurement, split: str, utterances: list[Utterance]) -> list:  # noqa: ANN001
    from pipelines.redaction.presidio import redact_row
    from pipelines.redaction.stream import redact_stream

    utterances = [u for u in utterances if u.split == split]
    clips = cache_folder() / "audio" / split
    work = cfg.out / "redact-quality" / split
    model = ModelConfig(word_timestamps=True, beam_size=cfg.beam_size, compute_type=cfg.compute_type)
    redact = RedactConfig(entities=PII, audio_dir=str(work / f"redacted-audio-{time.time_ns()}"))
    raw, plain_wall = _transcribe(clips, work / f"plain-{time.time_ns()}", TranscribeConfig(model=model))
    started = time.perf_counter()
    red = {Path(r["path"]).stem: r for r in redact_stream(iter(raw.values()), redact, StorageConfig())}
    redact_wall = time.perf_counter() - started
    plain = TranscribeConfig(model=ModelConfig(beam_size=cfg.beam_size, compute_type=cfg.compute_type))
    again_rows, _ = _transcribe(Path(redact.audio_dir), work / f"again-{time.time_ns()}", plain)
    # Redacted copies are named <stem>-<hash>.flac.
    again = {stem.rsplit("-", 1)[0]: row["text"] for stem, row in again_rows.items()}
    everything = RedactConfig(entities=PII)
    redact_row(next(iter(raw.values())), everything)  # the analyzer's one-off load is not counted
    started = time.process_time()
    for row in raw.values():
        redact_row(row, everything)
    redact_cpu = time.process_time() - started
    baseline = presidio_baseline({k: r["text"] for k, r in raw.items()}, redact.spacy_model)
    audio_s = sum(r["duration_s"] or 0.0 for r in raw.values())
    ours, theirs = Tally(), Tally()
    for u in utterances:
        ours.add(u, raw[u.id]["text"], red[u.id]["text"], again.get(u.id, ""))
        theirs.add(u, raw[u.id]["text"], baseline[u.id], None)
    print(report(split, ours, theirs))
    results = _measurements(measurement, split, ours, theirs, audio_s, plain_wall)
    total = plain_wall + redact_wall
    print(
        f"redaction's share of wall time ({len(utterances)} clips): stage {redact_wall:.1f} s of "
        f"{total:.1f} s = {100 * redact_wall / total:.1f}% (text and audio copies, Ray tasks); "
        f"text alone in one process: {redact_cpu:.1f} CPU s = {100 * redact_cpu / total:.1f}%"
    )
    extra = {"plain_wall_s": round(plain_wall, 2), "share": redact_wall / total, "cpu_share": redact_cpu / total}
    results.append(
        measurement("redact", f"voxray redaction stage (pii, audio) [{split}]", audio_s, redact_wall, extra=extra)
    )
    return results


def report(split: str, ours: Tally, theirs: Tally) -> str:
    lines = [
        f"redact-quality, {split} split: type, utterances, values the model wrote, text leaks (voxray / Presidio),"
    ]
    lines.append("recall (voxray / Presidio), values recovered from re-transcribed redacted audio")
    for kind in PII:
        lines.append(
            f"  {kind:<20} {ours.total[kind]:3d} {ours.written[kind]:3d}  leaks {ours.text_leaks[kind]:2d} / "
            f"{theirs.text_leaks[kind]:2d}  recall {ours.recall(kind):.2f} / {theirs.recall(kind):.2f}  "
            f"audio {ours.audio_leaks[kind]:2d}"
        )
    lines.append(
        f"  total: written {sum(ours.written.values())}, text leaks {sum(ours.text_leaks.values())} "
        f"(Presidio {sum(theirs.text_leaks.values())}), audio leaks {sum(ours.audio_leaks.values())} "
        f"of {sum(ours.total.values())}; ordinary sentences with all numbers kept {ours.kept}/{ours.ordinary} "
        f"(Presidio {theirs.kept}/{theirs.ordinary})"
    )
    return "\n".join(lines)


def _measurements(measurement, split: str, ours: Tally, theirs: Tally, audio_s: float, wall: float) -> list:  # noqa: ANN001
    out = []
    for name, tally in (("voxray --redact pii", ours), ("Presidio defaults (same text)", theirs)):
        extra: dict[str, Any] = {
            "split": split,
            "written": sum(tally.written.values()),
            "text_leaks": sum(tally.text_leaks.values()),
            "ordinary_kept": f"{tally.kept}/{tally.ordinary}",
        }
        if tally is ours:
            extra["audio_leaks"] = sum(tally.audio_leaks.values())
        out.append(measurement("redact", f"{name} [{split}]", audio_s, wall, extra=extra))
    return out


__all__ = ["Utterance", "bench_redact_quality", "cache_folder"]
