"""The data files of one unit: written under names no commit uses yet, so nothing is visible until
the unit's Delta commit names them (pipelines/store/commit.py)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake.transaction import AddAction, RemoveAction

from models.common.config import StorageConfig
from models.common.retry import call_with_retries
from models.common.schema import STORE_SCHEMA
from pipelines.store.state import PARTITION, InputState, partition_of

FILE_PREFIX = "voxray-"
FILE_SCHEMA = pa.schema([f for f in STORE_SCHEMA if f.name != PARTITION])


@dataclass
class WrittenUnit:
    """A unit's files and the Delta actions that make them the table's."""

    written: list[str] = field(default_factory=list)  # full paths, to delete if the commit fails
    adds: list[AddAction] = field(default_factory=list)
    removes: list[RemoveAction] = field(default_factory=list)
    moves: dict[str, str | None] = field(default_factory=dict)  # old file -> its copy (None: empty)


@dataclass(frozen=True)
class UnitFiles:
    """Writes a unit's files into the table at `root` on `fs` (and deletes them if its commit fails)."""

    fs: pafs.FileSystem
    root: str
    local: bool  # a local folder needs its partition folders made; S3 has none
    storage: StorageConfig

    def write(self, run_id: str, unit: int, rows: list[dict[str, Any]], states: dict[str, InputState]) -> WrittenUnit:
        """The unit's rows in new files, plus copies of the files holding older rows of its inputs."""
        out = WrittenUnit()
        paths = {r["path"] for r in rows}
        affected = sorted({f for p in paths if p in states for f in states[p].files})
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
            out.removes.append(RemoveAction(rel, True, now_ms, None, {PARTITION: partition}))
            out.moves[rel] = None
            if keep.num_rows:
                add = self._write_file(keep, partition, f"{tag}-rw{i:03d}.parquet", out.written)
                out.adds.append(add)
                out.moves[rel] = add.path
        if rows:
            table = pa.Table.from_pylist(rows, schema=STORE_SCHEMA)
            for partition in sorted(set(table[PARTITION].to_pylist())):
                part = table.filter(pc.equal(table[PARTITION], partition)).drop_columns([PARTITION])
                add = self._write_file(part, partition, f"{tag}-{partition}.parquet", out.written)
                out.adds.append(add)
                out.moves[f"new:{partition}"] = add.path
        return out

    def _write_file(self, table: pa.Table, partition: str, name: str, written: list[str]) -> AddAction:
        rel = f"{PARTITION}={partition}/{name}"
        path = f"{self.root}/{rel}"
        if self.local:
            self.fs.create_dir(f"{self.root}/{PARTITION}={partition}", recursive=True)
        data = table.cast(FILE_SCHEMA)
        # A whole object under a fixed name: safe to write again after an outage.
        call_with_retries(
            lambda: pq.write_table(data, path, filesystem=self.fs, compression="zstd"), self.storage, f"writing {rel}"
        )
        written.append(path)
        size = int(call_with_retries(lambda: self.fs.get_file_info(path), self.storage, f"sizing {rel}").size or 0)
        return AddAction(rel, size, {PARTITION: partition}, int(time.time() * 1000), True, json.dumps(_stats(table)))

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)


def _stats(table: pa.Table) -> dict[str, Any]:
    """Delta file statistics: row count and min/max of `path` (lets engines skip files by path)."""
    stats: dict[str, Any] = {"numRecords": table.num_rows}
    if table.num_rows:
        bounds = pc.min_max(table["path"])
        stats["minValues"] = {"path": bounds["min"].as_py()}
        stats["maxValues"] = {"path": bounds["max"].as_py()}
        stats["nullCount"] = {"path": table["path"].null_count}
    return stats
