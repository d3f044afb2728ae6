"""Redaction of a stream of transcript rows in Ray CPU tasks (the driver only routes rows).

Rows of one recording are redacted together (all channels of a split-channel call), so the
redacted audio copy silences every channel's redacted words at once. A recording whose redaction
fails, in text or audio, in the task or in a lost worker, becomes error rows with no transcript:
nothing unredacted is ever written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ray

from models.common.config import StorageConfig
from pipelines.redaction.settings import RedactConfig

# Recordings per task: enough to amortise a task's overhead, small enough to spread over workers.
FILES_PER_TASK = 8
# Tasks in flight at once; bounds the rows the driver holds.
MAX_IN_FLIGHT = 8


def failed(rows: list[dict[str, Any]], error: BaseException) -> list[dict[str, Any]]:
    """Error rows for a recording whose redaction failed: no text, no segments, no copy.

    The message names the exception's type only: its text might quote the transcript.
    """
    message = f"redaction failed ({type(error).__name__}); the transcript was withheld, rerun to retry"
    withheld = {"text": "", "segments": [], "redactions": [], "speakers": None, "redacted_audio": None}
    return [{**row, "status": "error", "error": message, **withheld} for row in rows]


def redact_recording(rows: list[dict[str, Any]], redact: RedactConfig, storage: StorageConfig) -> list[dict[str, Any]]:
    """The rows of one recording redacted (text, and audio when configured), or its error rows."""
    from pipelines.redaction.audio import write_redacted_audio
    from pipelines.redaction.presidio import redact_row

    try:
        redacted = [redact_row(row, redact) for row in rows]
        if redact.audio_dir:
            copy = write_redacted_audio(redacted, redact, storage)
            redacted = [{**row, "redacted_audio": copy} for row in redacted]
    except Exception as error:  # noqa: BLE001 - any failure withholds the recording's transcript
        return failed(rows, error)
    return redacted


def redact_files(
    groups: list[list[dict[str, Any]]], redact: RedactConfig, storage: StorageConfig
) -> list[dict[str, Any]]:
    """The task body: every recording of `groups` redacted."""
    return [row for rows in groups for row in redact_recording(rows, redact, storage)]


_redact_task = ray.remote(num_cpus=0.5, max_retries=3)(redact_files)


def redact_stream(
    rows: Iterator[dict[str, Any]], redact: RedactConfig, storage: StorageConfig
) -> Iterator[dict[str, Any]]:
    """Redacted rows, each exactly once, as tasks complete."""
    pending: dict[str, list[dict[str, Any]]] = {}  # path -> rows waiting for the file's other channels
    ready: list[list[dict[str, Any]]] = []
    in_flight: dict[ray.ObjectRef, list[list[dict[str, Any]]]] = {}

    def submit(groups: list[list[dict[str, Any]]]) -> None:
        in_flight[_redact_task.remote(groups, redact, storage)] = groups

    def drain(until: int) -> Iterator[dict[str, Any]]:
        while len(in_flight) > until:
            [done], _ = ray.wait(list(in_flight), num_returns=1)
            groups = in_flight.pop(done)
            try:
                yield from ray.get(done)
            except Exception as error:  # noqa: BLE001 - retries spent (a lost worker): withhold the rows
                for rows in groups:
                    yield from failed(rows, error)

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
