"""One unit's Delta commit, exactly once, fenced against other writers (the protocol is described
in pipelines/store/table.py's docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake.exceptions import CommitFailedError

from models.common.schema import STORE_SCHEMA
from pipelines.store.files import WrittenUnit
from pipelines.store.state import PARTITION, InputState, apply_unit

if TYPE_CHECKING:
    from pipelines.store.table import TranscriptTable

WRITERS_APP = "voxray.writers"

Build = Callable[[dict[str, InputState]], list[dict[str, Any]]]
Metadata = Callable[[list[dict[str, Any]]], dict[str, str]]


def run_app_id(run_id: str) -> str:
    return f"voxray.run.{run_id}"


@dataclass
class UnitResult:
    version: int | None  # the table version this unit's commit made (None: nothing committed)
    rows: list[dict[str, Any]]  # the rows committed
    retries: int = 0  # conflicts with other writers, each followed by a rebuild


def commit_unit(
    store: TranscriptTable,
    run_id: str,
    unit: int,
    build: Build,
    states: dict[str, InputState],
    *,
    metadata: Metadata | None = None,
    max_retries: int = 20,
) -> UnitResult:
    """Commit the rows `build(states)` returns (see TranscriptTable.commit_unit)."""
    table = store.open()
    token = run_app_id(run_id)
    retries = 0
    while True:
        if store.states_version != table.version():
            # Someone committed since the states were read (or the snapshot moved): a unit
            # built on stale states could miss an older row of its inputs. Read them again.
            states.clear()
            states.update(store.input_states())
        done = table.transaction_version(token)
        if done is not None and done >= unit:
            return UnitResult(None, [], retries)  # a retry of a commit that landed
        rows = build(states)
        if not rows:
            return UnitResult(None, [], retries)
        files = store.files.write(run_id, unit, rows, states)
        store.reached("written")
        props = _properties(table, run_id, unit, metadata(rows) if metadata else {})
        try:
            table.create_write_transaction(
                files.adds + files.removes, "append", STORE_SCHEMA, partition_by=[PARTITION], commit_properties=props
            )
        except Exception as exc:
            if _landed_anyway(store, table, token, unit):
                return UnitResult(table.version(), rows, retries)
            # Not committed: our files were never visible; delete them (we wrote them).
            for path in files.written:
                store.files.delete(path)
            retries += 1
            if not isinstance(exc, CommitFailedError) or retries > max_retries:
                raise
            # Another writer committed first: read the table again (at the loop's top), rebuild.
            time.sleep(min(2.0, 0.05 * 2**retries))
            table.update_incremental()
            continue
        return UnitResult(_committed(store, table, states, rows, files), rows, retries)


def _properties(table: DeltaTable, run_id: str, unit: int, metadata: dict[str, str]) -> CommitProperties:
    """The idempotency token (the run's unit number) and the fence (the writer sequence + 1)."""
    sequence = (table.transaction_version(WRITERS_APP) or 0) + 1
    return CommitProperties(
        app_transactions=[Transaction(run_app_id(run_id), unit), Transaction(WRITERS_APP, sequence)],
        custom_metadata={"voxray.run_id": run_id, "voxray.unit": str(unit), **metadata},
    )


def _landed_anyway(store: TranscriptTable, table: DeltaTable, token: str, unit: int) -> bool:
    """Whether a commit that raised went through all the same (its answer was lost: a timeout)."""
    table.update_incremental()
    landed = table.transaction_version(token)
    if landed is not None and landed >= unit:
        store.states_version = None  # other commits may have come in between: reread
        return True
    return False


def _committed(
    store: TranscriptTable, table: DeltaTable, states: dict[str, InputState], rows: list[dict[str, Any]],
    files: WrittenUnit,
) -> int:  # fmt: skip
    """Take note of our own commit in the caller's states; returns the table's version."""
    read_version = store.states_version
    table.update_incremental()
    store.reached("committed")
    apply_unit(states, rows, files.moves)
    # Our states now describe read_version + 1: our own commit, if nobody else's came in between.
    mine = read_version is not None and table.version() == read_version + 1
    store.states_version = table.version() if mine else None
    return table.version()
