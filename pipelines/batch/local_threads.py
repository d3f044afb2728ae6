"""Threads for the in-process engine: a producer thread, and model replicas each in a thread of its own.

What Ray gives the batch path as tasks and actors (preparation beside the model, several model
copies), the in-process engine (pipelines/batch/local.py) gives with threads. The heavy work in
each (FFmpeg, Silero's ONNX, torch's log-mel, CTranslate2) runs outside the GIL.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pyarrow as pa

from pipelines.batch.watchdog import put_until_stopped

# Prepared tables held ahead of the models: enough to keep them busy, few enough to bound memory
# (a table of eight log-mel windows is 7.7 MB). Ray Data keeps two in flight per actor.
AHEAD_PER_REPLICA = 2
# How often a thread blocked on a queue looks whether the consumer has gone.
POLL_S = 0.1


class Model(Protocol):
    def __call__(self, table: pa.Table) -> pa.Table: ...


_DONE = object()


def threaded_map(
    tables: Iterator[pa.Table], load: Callable[[], Model], replicas: int
) -> Iterator[tuple[pa.Table, int]]:
    """(`model(table)`, rows of `table`) for each of `tables`, as they finish (not in order).

    `tables` is drawn in a thread of its own; `replicas` threads each `load()` a model (at once,
    while the first tables are made) and call it on the tables they take. An exception in any
    thread is raised here; closing this generator stops the threads at their next table.
    """
    inbox: queue.Queue[Any] = queue.Queue(maxsize=AHEAD_PER_REPLICA * replicas)
    outbox: queue.Queue[tuple[Any, Any]] = queue.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for table in tables:
                if not put_until_stopped(inbox, table, stop, POLL_S):
                    return
        except BaseException as exc:  # noqa: BLE001 - raised by the consumer
            outbox.put((exc, None))
        for _ in range(replicas):
            put_until_stopped(inbox, _DONE, stop, POLL_S)

    def decode() -> None:
        try:
            model = load()
            while (table := _get(inbox, stop)) is not _DONE and table is not None:
                outbox.put((model(table), table.num_rows))
        except BaseException as exc:  # noqa: BLE001 - raised by the consumer
            outbox.put((exc, None))
            stop.set()
        outbox.put((_DONE, None))

    threads = [threading.Thread(target=produce, name="voxray-prepare", daemon=True)]
    threads += [threading.Thread(target=decode, name=f"voxray-model-{i}", daemon=True) for i in range(replicas)]
    for thread in threads:
        thread.start()
    try:
        yield from _results(outbox, replicas)
    finally:
        stop.set()


def _results(outbox: queue.Queue[tuple[Any, Any]], replicas: int) -> Iterator[tuple[pa.Table, int]]:
    finished = 0
    while finished < replicas:
        result, rows = outbox.get()
        if result is _DONE:
            finished += 1
        elif isinstance(result, BaseException):
            raise result
        else:
            yield result, rows


def _get(box: queue.Queue[Any], stop: threading.Event) -> Any:
    """The next item, or None once `stop` is set."""
    while not stop.is_set():
        try:
            return box.get(timeout=POLL_S)
        except queue.Empty:
            continue
    return None
