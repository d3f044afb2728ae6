"""The transcript store: a Delta Lake table at DEST (a local folder or an s3:// prefix).

One row per (path, channel). Each unit of a run is committed in two phases that we own:

1. write: the unit's rows go to new Parquet files named `voxray-<run>-<unit>-<id>.parquet`, and
   every committed file holding an older row of one of the unit's inputs is copied without it
   (copy on write). Nothing is visible yet: no reader of a Delta table looks at files the log
   does not name.
2. commit: one Delta commit adds the new files and removes the copied ones. It carries two
   application transactions: `voxray.run.<run_id>` = the unit number (the idempotency token: a
   commit retried after an ambiguous failure is skipped when the table already has it), and
   `voxray.writers` = the table's writer sequence + 1 (the fence: two unit commits made from the
   same table version conflict in Delta's conflict checker, so the loser reloads, drops what the
   winner committed, rewrites and retries; no input ever gets a second row).

Superseded files are deleted only by Delta's VACUUM (`vacuum()`); compaction is Delta's OPTIMIZE
(pipelines/store/maintenance.py). The unit's files are written by pipelines/store/files.py and
committed by pipelines/store/commit.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction

from models.common.config import StorageConfig
from models.common.schema import STORE_SCHEMA
from models.common.storage import arrow_filesystem, is_s3
from pipelines.store import maintenance
from pipelines.store.commit import Build, Metadata, UnitResult, commit_unit, run_app_id
from pipelines.store.files import FILE_PREFIX, UnitFiles
from pipelines.store.location import (
    LOG_DIR,
    StoreError,
    check_dest_empty,
    data_filesystem,
    storage_options,
    table_uri,
)
from pipelines.store.state import PARTITION, STATE_COLUMNS, InputState, fold_rows

__all__ = ["FILE_PREFIX", "PHASES", "TABLE_NAME", "PhaseHook", "StoreError", "TranscriptTable", "UnitResult"]

TABLE_NAME = "voxray-transcripts"
# Points of a run where a crash is most telling, in the order a run reaches them: rows are flowing
# and the unit is not written; the unit's files are written, its commit is not; the commit is in the
# log, the run has not taken note of it; OPTIMIZE is next. A caller may pass `on_phase`, called with
# each name as the run reaches it (the crash tests stop a real process there: tests/faults.py).
PHASES = ("transcribing", "written", "committed", "compacting")
PhaseHook = Callable[[str], None]


class TranscriptTable:
    """voxray's Delta table at DEST: open or create it, plan from it, commit units, read it."""

    def __init__(self, dest: str, storage: StorageConfig | None = None, *, on_phase: PhaseHook | None = None) -> None:
        self.dest = dest
        self.on_phase = on_phase
        self.storage = storage or StorageConfig()
        self.uri = table_uri(dest)
        self.options = storage_options(dest, self.storage)
        self.fs, root = arrow_filesystem(self.uri, self.storage)
        self.root = root.rstrip("/")
        self.files = UnitFiles(self.fs, self.root, local=not is_s3(self.uri), storage=self.storage)
        self._dt: DeltaTable | None = None
        # The table version the caller's states (from input_states) describe; None: unknown.
        self.states_version: int | None = None

    # --- opening ---------------------------------------------------------------------------------

    def exists(self) -> bool:
        try:
            return DeltaTable.is_deltatable(self.uri, storage_options=self.options)
        except OSError:  # DEST is a file, or unreadable: not a table
            return False

    def open(self, *, create: bool = False) -> DeltaTable:
        """The table; with `create`, an empty DEST becomes a new table. Anything else is refused."""
        if self._dt is not None:
            return self._dt
        if self.exists():
            table = DeltaTable(self.uri, storage_options=self.options)
        else:
            if not create:
                raise StoreError(f"{self.dest} is not a voxray table (no {LOG_DIR})")
            check_dest_empty(self.fs, self.root, self.dest)
            table = self._create()
        name = table.metadata().name
        if name != TABLE_NAME:
            raise StoreError(
                f"{self.dest} is a Delta table that voxray did not create (name {name!r}); "
                "pick an empty or new DEST for voxray's transcripts"
            )
        self._dt = table
        return table

    def _create(self) -> DeltaTable:
        try:
            return DeltaTable.create(
                self.uri,
                schema=STORE_SCHEMA,
                partition_by=[PARTITION],
                name=TABLE_NAME,
                description="voxray transcripts: one row per (path, channel)",
                storage_options=self.options,
            )
        except Exception:
            # Another writer created it a moment ago (its version 0 won the conditional PUT).
            if self.exists():
                return DeltaTable(self.uri, storage_options=self.options)
            raise

    def reached(self, phase: str) -> None:
        """Tell the caller's `on_phase` hook (if any) that the run reached `phase` (one of PHASES)."""
        if self.on_phase is not None:
            self.on_phase(phase)

    def refresh(self) -> DeltaTable:
        table = self.open()
        table.update_incremental()
        return table

    # --- state for planning ------------------------------------------------------------------

    def input_states(self) -> dict[str, InputState]:
        """Per input path: version, configuration, status, attempts and the files holding its rows."""
        table = self.refresh()
        self.states_version = table.version()
        states: dict[str, InputState] = {}
        for fragment in table.to_pyarrow_dataset(filesystem=data_filesystem(self.uri, self.storage)).get_fragments():
            # Batch by batch: a compacted file of millions of rows is never held whole as Python lists.
            for batch in fragment.to_batches(columns=STATE_COLUMNS):
                fold_rows(states, batch.to_pydict(), fragment.path)
        return states

    # --- committing ----------------------------------------------------------------------------

    def commit_unit(
        self,
        run_id: str,
        unit: int,
        build: Build,
        states: dict[str, InputState],
        *,
        metadata: Metadata | None = None,
        max_retries: int = 20,
    ) -> UnitResult:
        """Commit the rows `build(states)` returns, replacing older rows of the same input paths.

        `states` is the caller's view of the table, updated in place. After a conflict the table
        is read again and `build` is called with the new states, so it can drop inputs another
        writer committed meanwhile and recount attempts.
        """
        return commit_unit(self, run_id, unit, build, states, metadata=metadata, max_retries=max_retries)

    def commit_marker(self, run_id: str, unit: int, metadata: dict[str, str]) -> None:
        """A commit with no data (a run's start or end in the table's history): never conflicts."""
        table = self.open()
        token = run_app_id(run_id)
        done = table.transaction_version(token)
        if done is not None and done >= unit:
            return
        props = CommitProperties(
            app_transactions=[Transaction(token, unit)], custom_metadata={"voxray.run_id": run_id, **metadata}
        )
        table.create_write_transaction([], "append", STORE_SCHEMA, partition_by=[PARTITION], commit_properties=props)
        table.update_incremental()

    # --- maintenance -------------------------------------------------------------------------

    def compact(self, min_files: int) -> int:
        """Delta OPTIMIZE of every date partition holding `min_files` or more files."""
        return maintenance.compact(self, min_files)

    def checkpoint(self) -> None:
        """Write a checkpoint so that loading the table reads one Parquet file, not every commit."""
        self.refresh().create_checkpoint()

    def vacuum(self, retention_hours: float, *, dry_run: bool = False) -> dict[str, list[str]]:
        """Delete superseded files older than the retention, and this table's own orphans."""
        return maintenance.vacuum(self, retention_hours, dry_run=dry_run)

    # --- reading -------------------------------------------------------------------------------

    def read(self, *, as_of: int | dt.datetime | None = None, columns: list[str] | None = None) -> pa.Table:
        table = DeltaTable(self.uri, storage_options=self.options)
        if table.metadata().name != TABLE_NAME:
            raise StoreError(f"{self.dest} is a Delta table that voxray did not create")
        if as_of is not None:
            table.load_as_version(as_of)
        return table.to_pyarrow_table(columns=columns, filesystem=data_filesystem(self.uri, self.storage))

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        return DeltaTable(self.uri, storage_options=self.options).history(limit)
