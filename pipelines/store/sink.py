"""`voxray transcribe --format delta`: transcripts committed to a voxray Delta table in units.

The same table code as the nightly run (pipelines/store/table.py): a file transcribed again
replaces its row, and a crash loses at most the uncommitted unit.
"""

from __future__ import annotations

import uuid
from typing import Any

from models.common.config import StorageConfig
from models.common.schema import STATUS_OK
from pipelines.listing import SourceFile
from pipelines.store.incremental import file_complete
from pipelines.store.state import with_store_columns
from pipelines.store.table import TranscriptTable


class DeltaSink:
    def __init__(
        self, dest: str, storage: StorageConfig, run_id: str, files: list[SourceFile], files_per_commit: int = 1000
    ):
        self.table = TranscriptTable(dest, storage)
        self.table.open(create=True)
        self.run_id = run_id or uuid.uuid4().hex
        self.versions = {f.path: f.version() for f in files}
        self.files_per_commit = files_per_commit
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.unit: list[dict[str, Any]] = []
        self.unit_files = 0
        self.commits = 0
        self.states = self.table.input_states()

    def add(self, row: dict[str, Any]) -> None:
        rows = self.pending.setdefault(row["path"], [])
        rows.append(row)
        if file_complete(rows):
            self._take(self.pending.pop(row["path"]))

    def _take(self, rows: list[dict[str, Any]]) -> None:
        failed = any(r["status"] != STATUS_OK for r in rows)
        version = self.versions.get(rows[0]["path"])
        self.unit.extend(with_store_columns(rows, version=version, attempts=int(failed), quarantined=False))
        self.unit_files += 1
        if self.unit_files >= self.files_per_commit:
            self.flush()

    def flush(self) -> None:
        if not self.unit:
            return
        rows = self.unit
        self.commits += 1
        self.table.commit_unit(self.run_id, self.commits, lambda _states: rows, self.states)
        self.unit, self.unit_files = [], 0

    def close(self) -> list[str]:
        for rows in self.pending.values():
            self._take(rows)
        self.pending = {}
        self.flush()
        return [self.table.uri]
