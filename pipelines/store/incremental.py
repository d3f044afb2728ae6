"""Which inputs a nightly run must transcribe, from state kept in DEST's commit records only.

Every commit record lists the inputs it covers: path, version (ETag, or size:mtime), model and
config fingerprint, status (ok, failed, quarantined), attempts and error. Replaying the log gives
the latest entry per path, so a fresh machine knows everything the last run knew.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from models.common.schema import STATUS_OK
from pipelines.listing import SourceFile
from pipelines.store.commit import DEADLETTER_SCHEMA

OK = "ok"
FAILED = "failed"
QUARANTINED = "quarantined"


@dataclass(frozen=True)
class InputKey:
    """What a committed transcript was made from: the object's version and how it was transcribed."""

    version: str
    model: str
    fingerprint: str


@dataclass
class Todo:
    files: list[SourceFile]
    # Why each file is on the list (new, modified, retry, reconfigured) or not (up_to_date, quarantined).
    reasons: Counter = field(default_factory=Counter)


def plan_todo(
    listed: list[SourceFile],
    inputs: dict[str, dict[str, Any]],
    key: InputKey,
    *,
    max_attempts: int,
    retranscribe_on_config_change: bool = False,
) -> Todo:
    """Listed files minus committed ones; failed ones come back until `max_attempts`."""
    todo = Todo(files=[])
    for f in listed:
        reason = _reason(f, inputs.get(f.path), key, max_attempts, retranscribe_on_config_change)
        todo.reasons[reason] += 1
        if reason in ("new", "modified", "retry", "reconfigured"):
            todo.files.append(f)
    return todo


def _reason(f: SourceFile, prev: dict[str, Any] | None, key: InputKey, max_attempts: int, reconfigure: bool) -> str:
    if prev is None:
        return "new"
    if prev["version"] != f.version():
        return "modified"
    changed = (prev.get("model"), prev.get("fingerprint")) != (key.model, key.fingerprint)
    if reconfigure and changed:
        return "reconfigured"
    if prev["status"] == QUARANTINED:
        return "quarantined"
    if prev["status"] == FAILED and prev.get("attempts", 0) < max_attempts:
        return "retry"
    return "up_to_date"


def outcome(
    f: SourceFile,
    rows: list[dict[str, Any]],
    prev: dict[str, Any] | None,
    key: InputKey,
    max_attempts: int,
    file_rel: str | None,
) -> dict[str, Any]:
    """The input entry a commit record stores for `f` after this run transcribed it into `rows`."""
    errors = [r["error"] or "unknown error" for r in rows if r["status"] != STATUS_OK]
    audio_s = sum(r["duration_s"] or 0.0 for r in rows if r["status"] == STATUS_OK)
    entry: dict[str, Any] = {
        "path": f.path,
        "version": f.version(),
        "model": key.model,
        "fingerprint": key.fingerprint,
        "rows": len(rows),
        "audio_s": audio_s,
    }
    if not errors:
        return {**entry, "status": OK, "attempts": 0, "error": None, "file": file_rel}
    # Attempts count per object version and configuration: a new upload or config gets a fresh start.
    same = prev is not None and prev["status"] == FAILED and prev["version"] == f.version()
    attempts = (prev.get("attempts", 0) if same else 0) + 1
    status = QUARANTINED if attempts >= max_attempts else FAILED
    return {**entry, "status": status, "attempts": attempts, "error": "; ".join(sorted(set(errors))), "file": None}


def deadletter_table(entries: list[dict[str, Any]], run_id: str) -> pa.Table:
    now = dt.datetime.now(dt.timezone.utc)
    rows = [
        {
            "path": e["path"],
            "version": e["version"],
            "attempts": e["attempts"],
            "error": e["error"],
            "model": e["model"],
            "config_fingerprint": e["fingerprint"],
            "run_id": run_id,
            "quarantined_at": now,
        }
        for e in entries
    ]
    return pa.Table.from_pylist(rows, schema=DEADLETTER_SCHEMA)


def file_complete(rows: list[dict[str, Any]]) -> bool:
    """All rows of one input are in: one in mix mode (or on error), one per channel in split mode."""
    first = rows[0]
    if first["channel"] is None:
        return True
    return len({r["channel"] for r in rows}) >= (first["channels"] or 1)
