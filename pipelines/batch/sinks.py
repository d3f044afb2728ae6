"""Write stage: transcript rows -> Parquet part files (local folder or s3:// prefix).

Every part file appears whole or not at all: locally it is written under a temporary name and
renamed; on S3 a single PUT is atomic. Committing a run as a unit is the nightly job's business
(pipelines/store/table.py, a Delta Lake table); this sink only guarantees no torn files.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from models.common.config import StorageConfig
from models.common.retry import call_with_retries
from models.common.storage import arrow_filesystem, is_s3, qualified
from pipelines.batch.assemble import rows_to_table
from pipelines.listing import SourceFile


class Sink(Protocol):
    """Where a run's transcript rows go: every row once through `add`, then `close` (what was written)."""

    def add(self, row: dict[str, Any]) -> None: ...

    def close(self) -> list[str]: ...


# A sink for one run, made once its inputs are listed (a Delta sink records their versions): the
# command line chooses the kind (Parquet here, pipelines/store/sink.py's Delta table), the batch
# path only writes rows through it.
SinkFactory = Callable[[list[SourceFile], str], Sink]


def parquet_sink(dest: str, storage: StorageConfig, mode: str = "error") -> SinkFactory:
    """A factory of Parquet sinks into DEST; mode error (DEST must be empty), overwrite or append."""

    def make(files: list[SourceFile], run_id: str) -> ParquetSink:
        sink = ParquetSink(dest, storage, prefix=f"part-{run_id}")
        _prepare_dest(sink, mode)
        return sink

    return make


def _prepare_dest(sink: ParquetSink, mode: str) -> None:
    from pyarrow.fs import FileSelector

    selector = FileSelector(sink.root, recursive=True, allow_not_found=True)
    existing = [i for i in sink.fs.get_file_info(selector) if i.is_file]
    if not existing or mode == "append":
        return
    if mode == "overwrite":
        sink.fs.delete_dir_contents(sink.root)
        return
    raise FileExistsError(f"output {sink.root} is not empty ({len(existing)} files); pass --overwrite or --append")


class ParquetSink:
    def __init__(
        self, dest: str, storage: StorageConfig, prefix: str, rows_per_file: int = 2000, subdir: str = ""
    ) -> None:
        self.storage = storage
        self.fs, root = arrow_filesystem(dest, storage)
        self.root = root.rstrip("/") + (f"/{subdir.strip('/')}" if subdir else "")
        self.s3 = is_s3(dest)
        self.prefix = prefix
        self.rows_per_file = rows_per_file
        self._rows: list[dict[str, Any]] = []
        self.written: list[str] = []
        call_with_retries(lambda: self.fs.create_dir(self.root, recursive=True), storage, f"creating {dest}")

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.rows_per_file:
            self.flush()

    def flush(self) -> str | None:
        if not self._rows:
            return None
        table = rows_to_table(self._rows)
        self._rows = []
        return self.write_table(table)

    def write_table(self, table: pa.Table, name: str | None = None) -> str:
        name = name or f"{self.prefix}-{len(self.written):05d}.parquet"
        path = f"{self.root}/{name}"
        if self.s3:
            # One object under a fixed name: written again whole after a transient failure.
            call_with_retries(
                lambda: pq.write_table(table, path, filesystem=self.fs, compression="zstd"),
                self.storage,
                f"writing {qualified(path, self.s3)}",
            )
        else:
            tmp = f"{self.root}/.{name}.{uuid.uuid4().hex}.tmp"
            pq.write_table(table, tmp, filesystem=self.fs, compression="zstd")
            os.replace(tmp, path)
        # Written paths are user-facing (s3://bucket/key): pyarrow's S3 paths drop the scheme.
        self.written.append(qualified(path, self.s3))
        return self.written[-1]

    def close(self) -> list[str]:
        self.flush()
        if not self.written:
            # No input at all: DEST still holds a (empty) Parquet dataset with the schema.
            self.write_table(rows_to_table([]))
        return self.written
