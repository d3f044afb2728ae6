"""What the table holds per input, as the to-do list needs it, and the store's own row columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PARTITION = "date"
# The columns the to-do list needs: a projection, so planning never reads transcripts.
STATE_COLUMNS = ["path", "channel", "status", "error", "source_version", "model", "config_fingerprint",
                 "attempts", "quarantined", "duration_s"]  # fmt: skip


@dataclass(slots=True)  # a table of millions of inputs holds one of these per input while planning
class InputState:
    """What the table holds for one input path (all its rows), as the to-do list needs it."""

    version: str | None
    model: str | None
    fingerprint: str | None
    status: str  # ok, failed, quarantined
    attempts: int
    error: str | None = None
    audio_s: float = 0.0
    files: set[str] = field(default_factory=set)


def fold_rows(states: dict[str, InputState], columns: dict[str, list], file_rel: str) -> None:
    for i, path in enumerate(columns["path"]):
        ok = columns["status"][i] == "ok"
        status = "quarantined" if columns["quarantined"][i] else ("ok" if ok else "failed")
        state = states.get(path)
        if state is None:
            state = states[path] = InputState(
                version=columns["source_version"][i],
                model=columns["model"][i],
                fingerprint=columns["config_fingerprint"][i],
                status=status,
                attempts=columns["attempts"][i] or 0,
                error=columns["error"][i],
            )
        elif status != "ok" and state.status == "ok":
            # One failed channel makes the input failed.
            state.status, state.error = status, columns["error"][i]
        state.attempts = max(state.attempts, columns["attempts"][i] or 0)
        if ok:
            state.audio_s += columns["duration_s"][i] or 0.0
        state.files.add(file_rel)


def apply_unit(states: dict[str, InputState], rows: list[dict[str, Any]], moves: dict[str, str | None]) -> None:
    """Update the caller's state after our own commit, without reading the table again."""
    for path in {r["path"] for r in rows}:
        states.pop(path, None)
    copied = {old for old in moves if not old.startswith("new:")}
    if copied:  # only units that replaced older rows moved other inputs' rows to new files
        for state in states.values():
            if state.files & copied:
                state.files = {moves.get(f, f) for f in state.files} - {None}  # type: ignore[assignment]
    columns = {c: [r.get(c) for r in rows] for c in STATE_COLUMNS}
    for key, rel in moves.items():
        if key.startswith("new:") and rel is not None:
            picked = [i for i, r in enumerate(rows) if r[PARTITION] == key[4:]]
            fold_rows(states, {c: [v[i] for i in picked] for c, v in columns.items()}, rel)


def partition_of(rel: str) -> str:
    head = rel.split("/", 1)[0]
    return head.split("=", 1)[1] if head.startswith(f"{PARTITION}=") else ""


def partition_date(when: dt.datetime | None) -> str:
    return (when or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d")


def with_store_columns(
    rows: Iterable[dict[str, Any]], *, version: str | None, attempts: int, quarantined: bool
) -> list[dict[str, Any]]:
    """Transcript rows plus the store's own columns (source version, retries, dead letter, date)."""
    out = []
    for row in rows:
        out.append(
            {
                **row,
                "source_version": version,
                "attempts": attempts,
                "quarantined": quarantined,
                PARTITION: partition_date(row.get("transcribed_at")),
            }
        )
    return out
