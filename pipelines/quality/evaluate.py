"""Accuracy evaluation: references joined to transcripts by path, per-file scores, totals, report, plot.

Every reference gets exactly one per-file row. A reference without a transcript ("missing") or
whose transcription failed ("error") is scored against an empty hypothesis, so its words count
as deletions: dropping it would make a system that fails on hard files look better.
"""

from __future__ import annotations

import math
import os
import posixpath
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from models.common.config import StorageConfig
from models.common.ids import new_run_id
from models.common.schema import STATUS_ERROR, STATUS_OK
from models.common.storage import is_s3, strip_scheme
from models.resolved import ResolvedModel
from pipelines.config import TranscribeConfig
from pipelines.listing import manifest_rows
from pipelines.quality import wer

STATUS_MISSING = "missing"

# Transcript columns eval needs; older or newer datasets may lack some of them.
HYP_COLUMNS = ("path", "channel", "status", "error", "text", "duration_s", "processing_s", "transcribed_at")

PER_FILE_SCHEMA = pa.schema(
    [
        ("system", pa.string()),
        ("path", pa.string()),
        ("source", pa.string()),  # folder relative to the references' common root
        ("duration_s", pa.float64()),
        ("language", pa.string()),
        ("metric", pa.string()),  # "wer" or "cer": the one that suits the language
        ("status", pa.string()),  # ok | error | missing
        ("error", pa.string()),
        ("reference", pa.string()),
        ("hypothesis", pa.string()),
        ("reference_norm", pa.string()),
        ("hypothesis_norm", pa.string()),
        ("ref_words", pa.int64()),
        ("substitutions", pa.int64()),
        ("deletions", pa.int64()),
        ("insertions", pa.int64()),
        ("hits", pa.int64()),
        ("wer", pa.float64()),
        ("ref_chars", pa.int64()),
        ("char_substitutions", pa.int64()),
        ("char_deletions", pa.int64()),
        ("char_insertions", pa.int64()),
        ("char_hits", pa.int64()),
        ("cer", pa.float64()),
        ("processing_s", pa.float64()),
    ]
)

# Upper edges (seconds) and labels of the duration buckets in the plot.
DURATION_BUCKETS = (
    (5, "<5 s"),
    (10, "5-10 s"),
    (30, "10-30 s"),
    (60, "30-60 s"),
    (300, "1-5 min"),
    (math.inf, ">5 min"),
)


@dataclass(frozen=True)
class Reference:
    path: str
    text: str
    duration_s: float | None = None
    language: str | None = None


@dataclass
class SystemResult:
    """One system (a model run or a transcript dataset) scored on the references."""

    label: str
    rows: list[dict[str, Any]]
    wall_s: float | None = None  # set when eval ran the model itself
    notes: list[str] = field(default_factory=list)

    def counts(self, rows: Iterable[dict[str, Any]] | None = None) -> tuple[wer.ErrorCounts, wer.ErrorCounts]:
        rows = self.rows if rows is None else list(rows)
        words = wer.total(wer.ErrorCounts(r["substitutions"], r["deletions"], r["insertions"], r["hits"]) for r in rows)
        chars = wer.total(
            wer.ErrorCounts(r["char_substitutions"], r["char_deletions"], r["char_insertions"], r["char_hits"])
            for r in rows
        )
        return words, chars

    def totals(self) -> dict[str, Any]:
        words, chars = self.counts()
        ok = [r for r in self.rows if r["status"] == STATUS_OK]
        # Audio of the references, as far as known (a missing file's length may be unknown).
        audio_s = sum(r["duration_s"] or 0.0 for r in self.rows)
        metrics = {r["metric"] for r in self.rows}
        out: dict[str, Any] = {
            "system": self.label,
            "files": len(self.rows),
            "ok": len(ok),
            "failed": sum(r["status"] == STATUS_ERROR for r in self.rows),
            "missing": sum(r["status"] == STATUS_MISSING for r in self.rows),
            "audio_s": round(audio_s, 3),
            "metric": metrics.pop() if len(metrics) == 1 else "mixed",
            "wer": words.rate,
            "cer": chars.rate,
            "ref_words": words.reference_units,
            "substitutions": words.substitutions,
            "deletions": words.deletions,
            "insertions": words.insertions,
            "hits": words.hits,
            "ref_chars": chars.reference_units,
            "char_substitutions": chars.substitutions,
            "char_deletions": chars.deletions,
            "char_insertions": chars.insertions,
        }
        if self.wall_s:
            # Leaderboard RTFx: audio seconds transcribed per second of transcription wall time.
            out["wall_s"] = round(self.wall_s, 3)
            out["rtfx"] = sum(r["duration_s"] or 0.0 for r in ok) / self.wall_s
        out["failed_files"] = [{"path": r["path"], "error": r["error"]} for r in self.rows if r["status"] != STATUS_OK]
        return out


# ---------------------------------------------------------------------------------------------- inputs


def load_references(manifest: str, storage: StorageConfig, default_language: str | None = None) -> list[Reference]:
    """A CSV/JSONL/Parquet manifest with `path` and `text` (optional `duration_s`, `language`)."""
    columns = manifest_rows(manifest, storage, required=("path", "text"))
    n = len(columns["path"])
    durations = columns.get("duration_s") or [None] * n
    languages = columns.get("language") or [None] * n
    refs: dict[str, Reference] = {}
    for path, text, duration, language in zip(columns["path"], columns["text"], durations, languages, strict=True):
        key = path_key(path)
        if key in refs:
            print(f"voxray eval: {path} is listed twice in {manifest}; keeping the first", file=sys.stderr)
            continue
        refs[key] = Reference(
            path=key,
            text="" if text is None else str(text),
            duration_s=float(duration) if duration not in (None, "") else None,
            language=language or default_language,
        )
    return list(refs.values())


def path_key(path: str) -> str:
    """Paths as transcripts store them: s3://bucket/key or an absolute, normalized local path."""
    if is_s3(path):
        return "s3://" + strip_scheme(path)
    return os.path.normpath(os.path.abspath(path))


def hypotheses_by_path(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One hypothesis per path: the newest row per (path, channel); channels joined in order."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (path_key(row["path"]), row.get("channel") or 0)
        old = latest.get(key)
        if old is None or _when(row) >= _when(old):
            latest[key] = row
    by_path: dict[str, list[dict[str, Any]]] = {}
    for (path, _), row in sorted(latest.items(), key=lambda kv: kv[0]):
        by_path.setdefault(path, []).append(row)
    merged = {}
    for path, parts in by_path.items():
        failed = [p for p in parts if p.get("status") != STATUS_OK]
        merged[path] = {
            "status": STATUS_ERROR if failed else STATUS_OK,
            "error": "; ".join(str(p.get("error") or "transcription failed") for p in failed) or None,
            "text": " ".join((p.get("text") or "").strip() for p in parts if p.get("status") == STATUS_OK),
            "duration_s": max((p["duration_s"] for p in parts if p.get("duration_s") is not None), default=None),
            "processing_s": sum(p.get("processing_s") or 0.0 for p in parts),
        }
    return merged


def _when(row: dict[str, Any]) -> tuple:
    # Rows without a timestamp sort before any row with one.
    stamp = row.get("transcribed_at")
    return (0,) if stamp is None else (1, stamp)


def transcribe_references(
    refs: list[Reference], config: TranscribeConfig, model: ResolvedModel | None = None
) -> tuple[dict[str, dict[str, Any]], float]:
    """Run the model on the references' audio; returns hypotheses and the pipeline's wall time.

    Ray's start is excluded from the time (a cluster is usually already up); model loading is included.
    `model`: `config.model` as the caller resolved it (else the run resolves it, once).
    """
    from pipelines.batch.run import ensure_ray, iter_transcripts
    from pipelines.listing import SourceFile

    ensure_ray()
    run_id = new_run_id("eval-")
    started = time.perf_counter()
    rows = list(iter_transcripts([SourceFile(path=r.path) for r in refs], config, run_id, model=model))
    return hypotheses_by_path(rows), time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- scoring


def evaluate(
    refs: list[Reference], hyps: dict[str, dict[str, Any]], label: str, wall_s: float | None = None
) -> SystemResult:
    sources = source_folders([r.path for r in refs])
    rows = []
    for ref in refs:
        hyp = hyps.get(ref.path)
        if hyp is None:
            status, error, text, duration, processing = STATUS_MISSING, "no transcript for this file", "", None, None
        else:
            status, error = hyp["status"], hyp.get("error")
            text = (hyp.get("text") or "") if status == STATUS_OK else ""
            duration, processing = hyp.get("duration_s"), hyp.get("processing_s")
        s = wer.score(ref.text, text, ref.language)
        rows.append(
            {
                "system": label,
                "path": ref.path,
                "source": sources[ref.path],
                "duration_s": duration if duration is not None else ref.duration_s,
                "language": wer.base_language(ref.language),
                "metric": s.metric,
                "status": status,
                "error": error,
                "reference": ref.text,
                "hypothesis": text,
                "reference_norm": s.reference,
                "hypothesis_norm": s.hypothesis,
                "ref_words": s.words.reference_units,
                "substitutions": s.words.substitutions,
                "deletions": s.words.deletions,
                "insertions": s.words.insertions,
                "hits": s.words.hits,
                "wer": s.words.rate,
                "ref_chars": s.chars.reference_units,
                "char_substitutions": s.chars.substitutions,
                "char_deletions": s.chars.deletions,
                "char_insertions": s.chars.insertions,
                "char_hits": s.chars.hits,
                "cer": s.chars.rate,
                "processing_s": processing,
            }
        )
    result = SystemResult(label, rows, wall_s)
    if refs and all(r["status"] == STATUS_MISSING for r in rows):
        result.notes.append(
            "no reference path matched a transcript path: paths must be the same absolute path or s3:// URL"
        )
    return result


def source_folders(paths: list[str]) -> dict[str, str]:
    """Each path's folder relative to the common root of all of them (the root's own name at the top)."""
    dirs = {p: posixpath.dirname(p) for p in paths}
    if not dirs:
        return {}
    root = posixpath.commonpath(list(dirs.values())) if len(set(dirs.values())) > 1 else next(iter(dirs.values()))
    top = posixpath.basename(root.rstrip("/")) or root
    return {p: (posixpath.relpath(d, root) if d != root else top) for p, d in dirs.items()}


def duration_bucket(duration_s: float | None) -> str:
    if duration_s is None:
        return "unknown"
    return next(label for edge, label in DURATION_BUCKETS if duration_s < edge)
