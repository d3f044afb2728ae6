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

Superseded files are deleted only by Delta's VACUUM (`vacuum()`); compaction is Delta's OPTIMIZE.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction

from models.common.config import StorageConfig
from models.common.retry import call_with_retries
from models.common.schema import STORE_SCHEMA
from models.common.storage import arrow_filesystem, is_s3
from pipelines.store.location import (
    LOG_DIR,
    StoreError,
    check_dest_empty,
    data_filesystem,
    storage_options,
    table_uri,
)
from pipelines.store.state import (
    PARTITION,
    STATE_COLUMNS,
    InputState,
    apply_unit,
    fold_rows,
    partition_of,
)

TABLE_NAME = "voxray-transcripts"
WRITERS_APP = "voxray.writers"
FILE_PREFIX = "voxray-"
FILE_SCHEMA = pa.schema([f for f in STORE_SCHEMA if f.name != PARTITION])


# Points of a run where a crash is most telling, in the order a run reaches them: rows are flowing
# and the unit is not written; the unit's files are written, its commit is not; the commit is in the
# log, the run has not taken note of it; OPTIMIZE is next. A caller may pass `on_phase`, called with
# each name as the run reaches it (the crash tests stop a real process there: tests/faults.py).
PHASES = ("transcribing", "written", "committed", "compacting")
PhaseHook = Callable[[str], None]


def run_app_id(run_id: str) -> str:
    return f"voxray.run.{run_id}"


@dataclass
class UnitResult:
    version: int | None  # the table version this unit's commit made (None: nothing committed)
    rows: list[dict[str, Any]]  # the rows committed
    retries: int = 0  # conflicts with other writers, each followed by a rebuild


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
        build: Callable[[dict[str, InputState]], list[dict[str, Any]]],
        states: dict[str, InputState],
        *,
        metadata: Callable[[list[dict[str, Any]]], dict[str, str]] | None = None,
        max_retries: int = 20,
    ) -> UnitResult:
        """Commit the rows `build(states)` returns, replacing older rows of the same input paths.

        `states` is the caller's view of the table, updated in place. After a conflict the table
        is read again and `build` is called with the new states, so it can drop inputs another
        writer committed meanwhile and recount attempts.
        """
        table = self.open()
        token = run_app_id(run_id)
        retries = 0
        while True:
            if self.states_version != table.version():
                # Someone committed since the states were read (or the snapshot moved): a unit
                # built on stale states could miss an older row of its inputs. Read them again.
                states.clear()
                states.update(self.input_states())
            done = table.transaction_version(token)
            if done is not None and done >= unit:
                return UnitResult(None, [], retries)  # a retry of a commit that landed
            rows = build(states)
            if not rows:
                return UnitResult(None, [], retries)
            written, adds, removes, moves = self._write_unit(run_id, unit, rows, states)
            self.reached("written")
            sequence = (table.transaction_version(WRITERS_APP) or 0) + 1
            props = CommitProperties(
                app_transactions=[Transaction(token, unit), Transaction(WRITERS_APP, sequence)],
                custom_metadata={
                    "voxray.run_id": run_id,
                    "voxray.unit": str(unit),
                    **(metadata(rows) if metadata else {}),
                },
            )
            try:
                table.create_write_transaction(
                    adds + removes, "append", STORE_SCHEMA, partition_by=[PARTITION], commit_properties=props
                )
            except Exception as exc:
                table.update_incremental()
                landed = table.transaction_version(token)
                if landed is not None and landed >= unit:
                    # The commit went through but its answer was lost (a timeout): done, exactly once.
                    self.states_version = None  # other commits may have come in between: reread
                    return UnitResult(table.version(), rows, retries)
                # Not committed: our files were never visible; delete them (we wrote them).
                for path in written:
                    self._delete(path)
                retries += 1
                if not isinstance(exc, CommitFailedError) or retries > max_retries:
                    raise
                # Another writer committed first: read the table again (at the loop's top), rebuild.
                time.sleep(min(2.0, 0.05 * 2**retries))
                table.update_incremental()
                continue
            read_version = self.states_version
            table.update_incremental()
            self.reached("committed")
            apply_unit(states, rows, moves)
            # Our states now describe read_version + 1: our own commit, if nobody else's came in between.
            mine = read_version is not None and table.version() == read_version + 1
            self.states_version = table.version() if mine else None
            return UnitResult(table.version(), rows, retries)

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

    def _write_unit(
        self, run_id: str, unit: int, rows: list[dict[str, Any]], states: dict[str, InputState]
    ) -> tuple[list[str], list[AddAction], list[RemoveAction], dict[str, str | None]]:
        """Write the unit's files; returns them, the Delta actions, and where copied files went."""
        paths = {r["path"] for r in rows}
        affected = sorted({f for p in paths if p in states for f in states[p].files})
        written: list[str] = []
        adds: list[AddAction] = []
        removes: list[RemoveAction] = []
        moves: dict[str, str | None] = {}  # old file -> its copy without the replaced rows (None: empty)
        now_ms = int(time.time() * 1000)
        tag = f"{FILE_PREFIX}{run_id}-u{unit:05d}-{uuid.uuid4().hex[:8]}"
        for i, rel in enumerate(affected):
            # Copy on write: the other rows of a file stay, the replaced inputs' rows go.
            old = call_with_retries(
                lambda rel=rel: pq.read_table(f"{self.root}/{rel}", filesystem=self.fs, schema=FILE_SCHEMA),
                self.storage,
                f"reading {rel}",
            )
            keep = old.filter(pc.invert(pc.is_in(old["path"], pa.array(sorted(paths), pa.string()))))
            partition = partition_of(rel)
            removes.append(RemoveAction(rel, True, now_ms, None, {PARTITION: partition}))
            moves[rel] = None
            if keep.num_rows:
                add = self._write_file(keep, partition, f"{tag}-rw{i:03d}.parquet", written)
                adds.append(add)
                moves[rel] = add.path
        if rows:
            table = pa.Table.from_pylist(rows, schema=STORE_SCHEMA)
            for partition in sorted(set(table[PARTITION].to_pylist())):
                part = table.filter(pc.equal(table[PARTITION], partition)).drop_columns([PARTITION])
                add = self._write_file(part, partition, f"{tag}-{partition}.parquet", written)
                adds.append(add)
                moves[f"new:{partition}"] = add.path
        return written, adds, removes, moves

    def _write_file(self, table: pa.Table, partition: str, name: str, written: list[str]) -> AddAction:
        rel = f"{PARTITION}={partition}/{name}"
        path = f"{self.root}/{rel}"
        if not is_s3(self.uri):
            self.fs.create_dir(f"{self.root}/{PARTITION}={partition}", recursive=True)
        data = table.cast(FILE_SCHEMA)
        # A whole object under a fixed name: safe to write again after an outage.
        call_with_retries(
            lambda: pq.write_table(data, path, filesystem=self.fs, compression="zstd"), self.storage, f"writing {rel}"
        )
        written.append(path)
        size = int(call_with_retries(lambda: self.fs.get_file_info(path), self.storage, f"sizing {rel}").size or 0)
        stats = _stats(table)
        return AddAction(rel, size, {PARTITION: partition}, int(time.time() * 1000), True, json.dumps(stats))

    def _delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)

    # --- maintenance -------------------------------------------------------------------------

    def compact(self, min_files: int) -> int:
        """Delta OPTIMIZE (compaction) of every date partition holding `min_files` or more files."""
        table = self.refresh()
        actions = pa.table(table.get_add_actions(flatten=True))
        counts: dict[str, int] = {}
        for partition in actions[f"partition.{PARTITION}"].to_pylist():
            counts[partition] = counts.get(partition, 0) + 1
        done = 0
        for partition, count in sorted(counts.items()):
            if count < max(2, min_files):
                continue
            self.reached("compacting")
            try:
                table.optimize.compact(partition_filters=[(PARTITION, "=", partition)])
            except CommitFailedError:
                # Another writer rewrote one of these files meanwhile; compaction is never urgent:
                # the next run tries again on the table as it is then.
                table.update_incremental()
                continue
            done += 1
        table.update_incremental()
        return done

    def checkpoint(self) -> None:
        """Write a checkpoint so that loading the table reads one Parquet file, not every commit."""
        self.refresh().create_checkpoint()

    def vacuum(self, retention_hours: float, *, dry_run: bool = False) -> dict[str, list[str]]:
        """Delete this table's superseded files older than the retention, and its own orphans.

        Delta's VACUUM (not `full`) deletes only files that commits removed. Files a killed run
        wrote but never committed are orphans; Delta's full VACUUM would list them together with
        any foreign file in the folder, so only those named like ours (`voxray-...`) are deleted.
        """
        table = self.refresh()
        hours = int(retention_hours)
        removed = table.vacuum(retention_hours=hours, dry_run=dry_run, enforce_retention_duration=False)
        candidates = table.vacuum(retention_hours=hours, dry_run=True, enforce_retention_duration=False, full=True)
        orphans = [p for p in candidates if p.rsplit("/", 1)[-1].startswith(FILE_PREFIX) and p not in removed]
        if not dry_run:
            for rel in orphans:
                self._delete(f"{self.root}/{_relative(rel, self.uri)}")
        return {"removed": list(removed), "orphans": orphans}

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


def _relative(path: str, uri: str) -> str:
    """A path delta-rs reported (relative, or a full URI) relative to the table root."""
    for prefix in (uri.rstrip("/") + "/", "file://" + uri.rstrip("/") + "/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _stats(table: pa.Table) -> dict[str, Any]:
    """Delta file statistics: row count and min/max of `path` (lets engines skip files by path)."""
    stats: dict[str, Any] = {"numRecords": table.num_rows}
    if table.num_rows:
        bounds = pc.min_max(table["path"])
        stats["minValues"] = {"path": bounds["min"].as_py()}
        stats["maxValues"] = {"path": bounds["max"].as_py()}
        stats["nullCount"] = {"path": table["path"].null_count}
    return stats
