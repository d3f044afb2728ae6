"""Redaction of a stream of transcript rows in Ray CPU tasks (the driver only routes rows).

Rows of one recording are redacted together (all channels of a split-channel call), so the
redacted audio copy silences every channel's redacted words at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ray

from pipelines.config import TranscribeConfig

# Recordings per task: enough to amortise a task's overhead, small enough to spread over workers.
FILES_PER_TASK = 8
# Tasks in flight at once; bounds the rows the driver holds.
MAX_IN_FLIGHT = 8


def redact_files(groups: list[list[dict[str, Any]]], config: TranscribeConfig) -> list[dict[str, Any]]:
    """Redact the rows of each recording (text, and audio when configured): the task body."""
    from pipelines.redaction.audio import write_redacted_audio
    from pipelines.redaction.presidio import redact_row

    out = []
    for rows in groups:
        redacted = [redact_row(row, config.redact) for row in rows]
        if config.redact.audio_dir:
            copy = write_redacted_audio(redacted, config)
            redacted = [{**row, "redacted_audio": copy} for row in redacted]
        out.extend(redacted)
    return out


_redact_task = ray.remote(num_cpus=0.5, max_retries=3)(redact_files)


def redact_stream(rows: Iterator[dict[str, Any]], config: TranscribeConfig) -> Iterator[dict[str, Any]]:
    """Redacted rows, each exactly once, as tasks complete."""
    pending: dict[str, list[dict[str, Any]]] = {}  # path -> rows waiting for the file's other channels
    ready: list[list[dict[str, Any]]] = []
    in_flight: list[ray.ObjectRef] = []

    def submit(groups: list[list[dict[str, Any]]]) -> None:
        in_flight.append(_redact_task.remote(groups, config))

    def drain(until: int) -> Iterator[dict[str, Any]]:
        while len(in_flight) > until:
            done, rest = ray.wait(in_flight, num_returns=1)
            in_flight[:] = rest
            yield from ray.get(done[0])

    for row in rows:
        group = pending.setdefault(row["path"], [])
        group.append(row)
        expected = row["channels"] if row.get("channel") is not None and row.get("channels") else 1
        if len(group) >= expected or row["status"] != "ok" and row.get("channel") is None:
            ready.append(pending.pop(row["path"]))
        if len(ready) >= FILES_PER_TASK:
            submit(ready)
            ready = []
            yield from drain(MAX_IN_FLIGHT)
    ready.extend(pending.values())
    if ready:
        submit(ready)
    yield from drain(0)
