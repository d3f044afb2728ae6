"""The loop's transcription passes: the teacher and the production model over the archive, and the
models being compared on reference sets. All go through voxray's batch pipeline (Ray Data, actor pool).

An archive pass is written as Parquet under the work folder with a marker naming its fingerprint
and sources, so a rerun (after a crash in training, say) reuses it instead of transcribing again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads

from models.common.config import StorageConfig
from pipelines.config import TranscribeConfig
from pipelines.quality import wer
from pipelines.quality.evaluate import Reference, path_key, transcribe_references

DONE = "_IMPROVE_DONE.json"
ARCHIVE_COLUMNS = ["path", "status", "error", "text", "duration_s", "segments"]


def model_config(spec: str, storage: StorageConfig, language: str | None = None, hotwords: str | None = None):  # noqa: ANN201
    """A TranscribeConfig for `spec` with voxray's defaults (beam 5, int8 on CPU)."""
    base = TranscribeConfig()
    model = replace(base.model, model=spec, language=language, hotwords=hotwords)
    return replace(base, model=model, storage=storage).validated()


def teacher_config(spec: str, storage: StorageConfig, language: str | None = None, hotwords: str | None = None):  # noqa: ANN201
    """`model_config` with short clips packed several to a window, for the teacher's labels only.

    Packing gave the teacher (Whisper base with the glossary as hotwords) much better labels than
    each clip's own encoder pass, the transcription default: dev WER 18.4% against 26.9% on the
    insurer, 26.9% against 34.5% on the telecom (docs/finetune.md). Labels are training data, not a
    user's transcripts, so that a clip's label can depend on its window's neighbours costs nothing
    here; the production pass and the gate keep the defaults, which are what users run.
    """
    config = model_config(spec, storage, language=language, hotwords=hotwords)
    return replace(config, chunking=replace(config.chunking, pack_short_clips=True)).validated()


def archive_pass(sources: list[str], config: TranscribeConfig, dest: Path) -> list[dict[str, Any]]:
    """One row per archive clip (error rows included), from `dest` when a finished identical pass is there."""
    from pipelines.batch.run import run_transcription

    key = hashlib.sha256(json.dumps([config.fingerprint(), sorted(sources)]).encode()).hexdigest()[:16]
    marker = dest / DONE
    if not (marker.exists() and json.loads(marker.read_text()).get("key") == key):
        marker.unlink(missing_ok=True)
        done = run_transcription(sources, str(dest), config, mode="overwrite")
        marker.write_text(json.dumps({"key": key, "model": config.model.model, "wall_s": round(done.wall_s, 1)}))
    rows = pads.dataset(str(dest), format="parquet").to_table(columns=ARCHIVE_COLUMNS).to_pylist()
    return [{**r, "path": path_key(r["path"])} for r in rows]


def corpus_wers(
    config: TranscribeConfig, refsets: dict[str, list[Reference]]
) -> tuple[dict[str, float], dict[str, dict[str, Any]], float]:
    """Corpus WER of one model on each reference set, the clips of all sets transcribed in one pass.

    Returns (WER by set name, hypotheses by path, the pass's wall seconds).
    """
    union = {r.path: r for refs in refsets.values() for r in refs}
    hyps, wall = transcribe_references(list(union.values()), config)
    rates = {}
    for name, refs in refsets.items():
        texts = [(hyps.get(r.path) or {}).get("text") or "" for r in refs]
        rates[name] = wer.corpus_wer([r.text for r in refs], texts, "en") if refs else float("nan")
    return rates, hyps, wall
