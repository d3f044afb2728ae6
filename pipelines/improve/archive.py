"""The archive `voxray improve` learns from: plain sources, and nightly Delta tables.

A nightly table's rows name the audio and already carry the production model's transcripts, so
its clips need no production pass: the agreement filter compares the teacher with the table's
text. Rows are per (path, channel); a file's channel rows collapse into one production transcript
(channels joined in order), because the teacher transcribes the whole file. A file whose rows
include an error has no production transcript to agree with: it is skipped, not sent to the
teacher, and counted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.common.config import StorageConfig
from models.common.schema import STATUS_OK
from pipelines.quality.evaluate import hypotheses_by_path, path_key
from pipelines.store.reader import is_table, read_committed

# What the agreement filter and the channel collapse need from a table's rows.
TABLE_COLUMNS = ["path", "channel", "status", "error", "text", "duration_s", "transcribed_at"]


@dataclass(frozen=True)
class Archive:
    """SOURCE arguments split: plain ones (files, folders, s3:// prefixes, manifests) and tables."""

    plain: tuple[str, ...]
    tables: tuple[str, ...] = ()
    # Production transcripts from the tables, by path (as transcripts store paths): ok files only.
    production: dict[str, dict[str, Any]] = field(default_factory=dict)
    table_errors: int = 0  # files whose table rows carry status error: skipped and counted

    @property
    def table_audio(self) -> list[str]:
        return sorted(self.production)

    def teacher_sources(self, work: Path) -> list[str]:
        """What the teacher transcribes: the plain sources, and the tables' ok files as a manifest
        whose name is its content's digest (a table that grew makes a new pass, not a stale reuse)."""
        if not self.production:
            return list(self.plain)
        lines = "".join(json.dumps({"path": p}) + "\n" for p in self.table_audio)
        manifest = work / f"table-audio-{hashlib.sha256(lines.encode()).hexdigest()[:16]}.jsonl"
        if not manifest.exists():
            work.mkdir(parents=True, exist_ok=True)
            partial = manifest.with_suffix(".partial")
            partial.write_text(lines, encoding="utf-8")
            partial.replace(manifest)
        return [*self.plain, str(manifest)]


def open_archive(sources: tuple[str, ...], storage: StorageConfig) -> Archive:
    """Sort SOURCEs into plain ones and nightly tables, reading each table's committed rows now."""
    plain, tables, production, errors = [], [], {}, 0
    for source in sources:
        if not is_table(source, storage):
            plain.append(source)
            continue
        tables.append(source)
        rows = read_committed(source, storage, columns=TABLE_COLUMNS).to_pylist()
        for path, merged in hypotheses_by_path(rows).items():
            if merged["status"] == STATUS_OK:
                production[path] = merged
            else:
                errors += 1
    return Archive(plain=tuple(plain), tables=tuple(tables), production=production, table_errors=errors)


def production_rows(archive: Archive, plain_rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Production transcripts by path: the tables' text, then what a production pass over the plain
    sources transcribed."""
    return {**archive.production, **{path_key(r["path"]): r for r in plain_rows}}
