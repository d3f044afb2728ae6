"""Redaction of a stream of transcript rows, in a few Ray actors (the driver only routes rows).

Rows of one recording are redacted together (all channels of a split-channel call), so the
redacted audio copy silences every channel's redacted words at once. A recording whose redaction
fails, in text or audio, in the actor or in a lost one, becomes error rows with no transcript:
nothing unredacted is ever written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import ray

from models.common.config import StorageConfig
from pipelines.redaction.settings import RedactConfig

# Recordings per call: enough to amortise a call's overhead, small enough to spread over actors.
FILES_PER_TASK = 8
# Calls in flight at once; bounds the rows the driver holds.
MAX_IN_FLIGHT = 8
# Each process that redacts loads Presidio and spaCy once, about 5 CPU-s, while the work itself is
# about 3% of transcription's CPU (docs/redaction.md). Ray tasks paid the load in every worker they
# landed on (Ray reclaims a worker idle for a second where it has more workers than CPUs): 23% of
# a 200-clip job's CPU on 2 cores. So a few long-lived actors do it, one per this many cluster CPUs.
CPUS_PER_REDACTOR = 16
MAX_REDACTORS = 8


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


@ray.remote(num_cpus=0, max_restarts=3, max_task_retries=3)
class Redactor:
    """A process that loads the analyzer once and redacts call after call.

    No CPU is reserved: the transcription plan gives the cluster's CPUs to its actors and
    preparation tasks, and a reservation here could wait behind them while the driver, which waits
    on this, stops taking their rows. A lost actor is restarted and its calls are retried.
    """

    def __init__(self, redact: RedactConfig, storage: StorageConfig) -> None:
        from pipelines.redaction.presidio import analyzer

        self.redact, self.storage = redact, storage
        analyzer(redact.spacy_model)  # now, while the job's first recordings are transcribed

    def redact_files(self, groups: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return redact_files(groups, self.redact, self.storage)


def recordings(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The rows grouped by recording, each group as soon as all of its channels have come."""
    pending: dict[str, list[dict[str, Any]]] = {}  # path -> rows waiting for the file's other channels
    for row in rows:
        group = pending.setdefault(row["path"], [])
        group.append(row)
        expected = row["channels"] if row.get("channel") is not None and row.get("channels") else 1
        if len(group) >= expected or row["status"] != "ok" and row.get("channel") is None:
            yield pending.pop(row["path"])
    yield from pending.values()


def redact_stream(
    rows: Iterator[dict[str, Any]], redact: RedactConfig, storage: StorageConfig
) -> Iterator[dict[str, Any]]:
    """Redacted rows, each exactly once, as calls complete.

    A job the local engine ran in this process (pipelines/batch/local.py: a handful of local
    files, no Ray) is redacted here too, rather than starting Ray for it.
    """
    if not ray.is_initialized():
        for group in recordings(rows):
            yield from redact_recording(group, redact, storage)
        return
    cpus = int(ray.cluster_resources().get("CPU", 1))
    count = max(1, min(MAX_REDACTORS, cpus // CPUS_PER_REDACTOR))
    actors = [Redactor.options(scheduling_strategy="SPREAD").remote(redact, storage) for _ in range(count)]
    try:
        yield from _on_actors(recordings(rows), actors)
    finally:
        for actor in actors:
            ray.kill(actor)


def _on_actors(groups: Iterator[list[dict[str, Any]]], actors: list[Any]) -> Iterator[dict[str, Any]]:
    in_flight: dict[ray.ObjectRef, list[list[dict[str, Any]]]] = {}
    calls = 0

    def submit(batch: list[list[dict[str, Any]]]) -> None:
        nonlocal calls
        in_flight[actors[calls % len(actors)].redact_files.remote(batch)] = batch
        calls += 1

    def drain(until: int) -> Iterator[dict[str, Any]]:
        while len(in_flight) > until:
            [done], _ = ray.wait(list(in_flight), num_returns=1)
            batch = in_flight.pop(done)
            try:
                yield from ray.get(done)
            except Exception as error:  # noqa: BLE001 - retries spent (a lost actor): withhold the rows
                for rows in batch:
                    yield from failed(rows, error)

    ready: list[list[dict[str, Any]]] = []
    for group in groups:
        ready.append(group)
        if len(ready) >= FILES_PER_TASK:
            submit(ready)
            ready = []
            yield from drain(MAX_IN_FLIGHT)
    if ready:
        submit(ready)
    yield from drain(0)
