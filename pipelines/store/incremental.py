"""Which inputs a nightly run must transcribe, from what the table holds for each path.

The table keeps, in every row, the source's version (ETag, or size:mtime), the model and config
fingerprint, the status, the failed attempts and whether the input is quarantined (the dead
letter). An input is redone when it is new, its object changed, it failed fewer than
`max_attempts` times, or (on request) its model or configuration changed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from models.common.retry import storage_unavailable
from models.common.schema import STATUS_OK
from pipelines.listing import SourceFile
from pipelines.store.state import InputState, with_store_columns

OK = "ok"
FAILED = "failed"
QUARANTINED = "quarantined"
REDO = frozenset({"new", "modified", "retry", "reconfigured"})


@dataclass(frozen=True)
class InputKey:
    """How this run transcribes: the model and the configuration's fingerprint."""

    model: str
    fingerprint: str


@dataclass
class Todo:
    files: list[SourceFile]
    # Why each file is on the list (new, modified, retry, reconfigured) or not (up_to_date, quarantined).
    reasons: Counter = field(default_factory=Counter)


def plan_todo(
    listed: list[SourceFile],
    states: dict[str, InputState],
    key: InputKey,
    *,
    max_attempts: int,
    retranscribe_on_config_change: bool = False,
) -> Todo:
    """Listed files minus committed ones; failed ones come back until `max_attempts`."""
    todo = Todo(files=[])
    for f in listed:
        reason = reason_for(f, states.get(f.path), key, max_attempts, retranscribe_on_config_change)
        todo.reasons[reason] += 1
        if reason in REDO:
            todo.files.append(f)
    return todo


def reason_for(f: SourceFile, prev: InputState | None, key: InputKey, max_attempts: int, reconfigure: bool) -> str:
    if prev is None:
        return "new"
    if prev.version != f.version():
        return "modified"
    if reconfigure and (prev.model, prev.fingerprint) != (key.model, key.fingerprint):
        return "reconfigured"
    if prev.status == QUARANTINED:
        return "quarantined"
    if prev.status == FAILED and prev.attempts < max_attempts:
        return "retry"
    return "up_to_date"


def outcome_rows(
    f: SourceFile, rows: list[dict[str, Any]], prev: InputState | None, max_attempts: int
) -> tuple[str, list[dict[str, Any]]]:
    """The input's status after this run and its rows with the store's columns."""
    failed = any(r["status"] != STATUS_OK for r in rows)
    if not failed:
        return OK, with_store_columns(rows, version=f.version(), attempts=0, quarantined=False)
    # Attempts count per object version: a new upload gets a fresh start.
    same = prev is not None and prev.status == FAILED and prev.version == f.version()
    # A file that could not be read because storage was unreachable is not at fault: that run
    # does not count towards its quarantine.
    outage = all(storage_unavailable(r["error"]) for r in rows if r["status"] != STATUS_OK)
    attempts = (prev.attempts if same and prev is not None else 0) + (0 if outage else 1)
    status = QUARANTINED if attempts >= max_attempts else FAILED
    return status, with_store_columns(rows, version=f.version(), attempts=attempts, quarantined=status == QUARANTINED)


def file_complete(rows: list[dict[str, Any]]) -> bool:
    """All rows of one input are in: one in mix mode (or on error), one per channel in split mode."""
    first = rows[0]
    if first["channel"] is None:
        return True
    return len({r["channel"] for r in rows}) >= (first["channels"] or 1)
