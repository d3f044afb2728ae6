"""Write stage: transcript rows -> Parquet part files (local folder or s3:// prefix).

Every part file appears whole or not at all: locally it is written under a temporary name and
renamed; on S3 a single PUT is atomic. Committing a run as a unit is the nightly job's business
(pipelines/store/table.py, a Delta Lake table); this sink only guarantees no torn files.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from models.common.config import StorageConfig
from models.common.retry import call_with_retries
from models.common.storage import arrow_filesystem, is_s3, qualified
from pipelines.assemble import rows_to_table


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
        return self.written
