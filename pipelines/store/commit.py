"""Exactly-once commits of Parquet output on object storage (a local folder or an s3:// prefix).

Layout under DEST:

    date=YYYY-MM-DD/part-<run>-<unit>.parquet       transcripts (published, committed data files)
    _voxray/deadletter/part-<run>-<unit>.parquet    quarantined inputs and why
    _voxray/commits/<seq>-<run>-<unit>.json         commit records: the only source of truth
    _voxray/runs/<run>.json                         one record per nightly run (counts, cost)
    _staging/<run>/...                              files written but not yet committed

Protocol: a unit of work is written under `_staging/<run>/`, then one small commit record is PUT
(one S3 PUT is atomic; locally a rename). The record names the files it makes visible, the files
it supersedes and the inputs it covers. Only then are the staged files moved to their final names
(roll forward: if the writer dies before, the next writer or any reader finds them in staging).
A crash before the record leaves only unnamed staging files, which no reader looks at and
`recover()` deletes. Readers replay the records, never list data folders.

One writer per DEST at a time (the nightly job); concurrent writers would not corrupt the log
(record names carry the run id) but could race on superseding the same file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import posixpath
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from models.common.config import StorageConfig
from models.common.schema import TRANSCRIPT_SCHEMA
from models.common.storage import arrow_filesystem, is_s3, strip_scheme

META_DIR = "_voxray"
COMMITS_DIR = f"{META_DIR}/commits"
RUNS_DIR = f"{META_DIR}/runs"
DEADLETTER_DIR = f"{META_DIR}/deadletter"
STAGING_DIR = "_staging"
TRANSCRIPTS = "transcripts"
DEADLETTER = "deadletter"
RECORD_VERSION = 1

DEADLETTER_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("version", pa.string()),
        ("attempts", pa.int32()),
        ("error", pa.string()),
        ("model", pa.string()),
        ("config_fingerprint", pa.string()),
        ("run_id", pa.string()),
        ("quarantined_at", pa.timestamp("us", tz="UTC")),
    ]
)
SCHEMAS = {TRANSCRIPTS: TRANSCRIPT_SCHEMA, DEADLETTER: DEADLETTER_SCHEMA}


def utcnow() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class LogState:
    """The log replayed: live files (relative path -> entry) and the latest entry per input path."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_seq: int = -1
    records: int = 0

    def apply(self, record: dict[str, Any]) -> None:
        for rel in record.get("supersedes", []):
            self.files.pop(rel, None)
        for entry in record.get("files", []):
            self.files[entry["path"]] = entry
        for entry in record.get("inputs", []):
            self.inputs[entry["path"]] = entry
        self.last_seq = max(self.last_seq, int(record["seq"]))
        self.records += 1

    def live(self, table: str = TRANSCRIPTS) -> list[str]:
        return sorted(rel for rel, e in self.files.items() if e.get("table", TRANSCRIPTS) == table)


class CommitStore:
    """Committed output at DEST: read the log, commit transactions, recover, compact."""

    def __init__(self, dest: str, storage: StorageConfig) -> None:
        self.dest = dest.rstrip("/")
        self.storage = storage
        self.fs, root = arrow_filesystem(dest, storage)
        self.root = root.rstrip("/")
        self.local = not is_s3(dest)
        self._state: LogState | None = None

    # --- paths ----------------------------------------------------------------------------------

    def abs(self, rel: str) -> str:
        """The path inside the store's pyarrow filesystem."""
        return f"{self.root}/{rel}"

    def uri(self, rel: str) -> str:
        """The user-facing name: s3://bucket/key or an absolute local path."""
        return f"s3://{strip_scheme(self.abs(rel))}" if not self.local else self.abs(rel)

    # --- the log --------------------------------------------------------------------------------

    def record_names(self) -> list[str]:
        names = [posixpath.basename(i.path) for i in self._list(COMMITS_DIR)]
        # Sort by sequence number, then name: two writers that picked one number still replay stably.
        return sorted((n for n in names if n.endswith(".json") and not n.startswith(".")), key=_record_key)

    def records(self) -> list[dict[str, Any]]:
        names = self.record_names()
        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(lambda n: self._read_json(f"{COMMITS_DIR}/{n}"), names))

    def refresh(self) -> LogState:
        state = LogState()
        for record in self.records():
            state.apply(record)
        self._state = state
        return state

    @property
    def state(self) -> LogState:
        return self._state if self._state is not None else self.refresh()

    def transaction(self, run_id: str, unit: str, kind: str = "append") -> Transaction:
        return Transaction(self, run_id, unit, kind)

    # --- readers --------------------------------------------------------------------------------

    def committed_files(self, table: str = TRANSCRIPTS, *, refresh: bool = True) -> list[str]:
        """Data files of `table` that committed records make visible, as user-facing paths."""
        state = self.refresh() if refresh else self.state
        # A file committed but not yet moved out of staging (its writer died in between) is read
        # where it lies; staging is nearly empty, so listing it is cheap.
        staged = {i.path for i in self._list(STAGING_DIR)}
        out = []
        for rel in state.live(table):
            entry = state.files[rel]
            staged_rel = entry.get("staged")
            use = staged_rel if staged_rel and self.abs(staged_rel) in staged else rel
            out.append(self.uri(use))
        return out

    def read(self, table: str = TRANSCRIPTS, columns: list[str] | None = None) -> pa.Table:
        files = [self._inner(p) for p in self.committed_files(table)]
        schema = SCHEMAS[table]
        if not files:
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        return pads.dataset(files, schema=schema, format="parquet", filesystem=self.fs).to_table(columns=columns)

    # --- writers' housekeeping ------------------------------------------------------------------

    def recover(self, current_run: str, grace_s: float = 3600.0, now: float | None = None) -> dict[str, int]:
        """Roll committed-but-unpublished files forward, then delete garbage older than `grace_s`.

        Garbage: staging files of runs that are not alive (no run record saying `running` with a
        heartbeat within `grace_s`), and data files no live record names (superseded by a compaction
        or a rewrite, or published by nobody) once older than `grace_s`, so a reader that listed
        them a moment ago can still read them.
        """
        now = time.time() if now is None else now
        state = self.refresh()
        staged_infos = {i.path: i for i in self._list(STAGING_DIR)}
        rolled = 0
        for rel, entry in state.files.items():
            staged = entry.get("staged")
            if staged and self.abs(staged) in staged_infos:
                self._publish(staged, rel)
                staged_infos.pop(self.abs(staged))
                rolled += 1
        dead_staged = 0
        alive = self._alive_runs(now, grace_s) | {current_run}
        for path in staged_infos:
            run = path[len(self.abs(STAGING_DIR)) + 1 :].split("/", 1)[0]
            if run not in alive:
                self._delete(path)
                dead_staged += 1
        for info in self.fs.get_file_info(pafs.FileSelector(self.abs(STAGING_DIR), allow_not_found=True)):
            if info.type == pafs.FileType.Directory and info.base_name not in alive:
                self.drop_staging(info.base_name)
        orphans = 0
        live = {self.abs(rel) for rel in state.files}
        for info in self._list(""):
            rel = info.path[len(self.root) + 1 :]
            if rel.startswith((STAGING_DIR + "/", COMMITS_DIR + "/", RUNS_DIR + "/")) or info.path in live:
                continue
            if _is_part_file(rel) and info.mtime is not None and now - info.mtime.timestamp() > grace_s:
                self._delete(info.path)
                orphans += 1
        return {"rolled_forward": rolled, "staged_deleted": dead_staged, "orphans_deleted": orphans}

    def drop_staging(self, run_id: str) -> None:
        """Remove a run's staging folder (S3 keeps empty folder markers after moves and deletes)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.abs(f"{STAGING_DIR}/{run_id}"))

    def compact(self, run_id: str, min_files: int = 8, small_bytes: int = 64 * 1024**2) -> list[dict[str, Any]]:
        """Per date partition, replace `min_files` or more small transcript files by one, atomically."""
        state = self.state
        by_partition: dict[str, list[str]] = {}
        for rel in state.live(TRANSCRIPTS):
            if (state.files[rel].get("bytes") or 0) < small_bytes:
                by_partition.setdefault(posixpath.dirname(rel), []).append(rel)
        done = []
        for i, (partition, rels) in enumerate(sorted(by_partition.items())):
            if len(rels) < max(2, min_files):
                continue
            txn = self.transaction(run_id, f"compact{i:03d}", kind="compact")
            merged = pa.concat_tables([self.read_file(rel) for rel in rels])
            new_rel = txn.stage(merged, partition, f"part-{run_id}-compact{i:03d}.parquet")
            for rel in rels:
                txn.supersede(rel)
            old = set(rels)
            txn.add_inputs({**e, "file": new_rel} for e in state.inputs.values() if e.get("file") in old)
            done.append(txn.commit())
        return done

    def read_file(self, rel: str) -> pa.Table:
        entry = self.state.files.get(rel, {})
        staged = entry.get("staged")
        path = self.abs(rel)
        if staged and self.fs.get_file_info(self.abs(staged)).type == pafs.FileType.File:
            path = self.abs(staged)
        schema = SCHEMAS[entry.get("table", TRANSCRIPTS)]
        return pq.read_table(path, filesystem=self.fs, schema=schema)

    # --- run records ----------------------------------------------------------------------------

    def write_run(self, record: dict[str, Any]) -> None:
        self._write_json(f"{RUNS_DIR}/{record['run_id']}.json", record)

    def runs(self) -> list[dict[str, Any]]:
        names = sorted(posixpath.basename(i.path) for i in self._list(RUNS_DIR) if i.path.endswith(".json"))
        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(lambda n: self._read_json(f"{RUNS_DIR}/{n}"), names))

    def _alive_runs(self, now: float, grace_s: float) -> set[str]:
        alive = set()
        for run in self.runs():
            beat = run.get("heartbeat_at") or run.get("started_at")
            if run.get("status") == "running" and beat and now - _timestamp(beat) < grace_s:
                alive.add(run["run_id"])
        return alive

    # --- storage primitives ---------------------------------------------------------------------

    def _list(self, rel_dir: str) -> list[pafs.FileInfo]:
        base = self.abs(rel_dir) if rel_dir else self.root
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        return [i for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File]

    def _inner(self, uri: str) -> str:
        return strip_scheme(uri)

    def _ensure_parent(self, path: str) -> None:
        # S3 has no folders; creating one there would only add a marker object.
        if self.local:
            self.fs.create_dir(posixpath.dirname(path), recursive=True)

    def _write_json(self, rel: str, data: dict[str, Any]) -> None:
        body = json.dumps(data, indent=1, sort_keys=True, default=str).encode()
        self._write_bytes(self.abs(rel), body)

    def _write_bytes(self, path: str, body: bytes) -> None:
        """Whole or nothing: one PUT on S3 (small bodies are never multipart); rename locally."""
        self._ensure_parent(path)
        target = path
        if self.local:
            target = f"{posixpath.dirname(path)}/.{posixpath.basename(path)}.{uuid.uuid4().hex}.tmp"
        with self.fs.open_output_stream(target) as out:
            out.write(body)
        if self.local:
            self.fs.move(target, path)

    def _write_table(self, path: str, table: pa.Table) -> int:
        self._ensure_parent(path)
        pq.write_table(table, path, filesystem=self.fs, compression="zstd")
        return int(self.fs.get_file_info(path).size or 0)

    def _read_json(self, rel: str) -> dict[str, Any]:
        with self.fs.open_input_stream(self.abs(rel)) as fh:
            return json.loads(fh.read())

    def _publish(self, staged_rel: str, rel: str) -> None:
        self._ensure_parent(self.abs(rel))
        # Local: a rename. S3: copy then delete; until the delete both copies hold the same bytes.
        self.fs.move(self.abs(staged_rel), self.abs(rel))

    def _delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(path)


class Transaction:
    """One commit: stage files, name what they supersede and which inputs they cover, then commit."""

    def __init__(self, store: CommitStore, run_id: str, unit: str, kind: str) -> None:
        self.store = store
        self.run_id = run_id
        self.unit = unit
        self.kind = kind
        self.files: list[dict[str, Any]] = []
        self.supersedes: list[str] = []
        self.inputs: list[dict[str, Any]] = []

    def stage(self, table: pa.Table, folder: str, name: str, table_kind: str = TRANSCRIPTS) -> str:
        """Write `table` under staging; returns the relative path it will have once committed."""
        rel = f"{folder.strip('/')}/{name}" if folder else name
        staged = f"{STAGING_DIR}/{self.run_id}/{rel}"
        size = self.store._write_table(self.store.abs(staged), table)
        self.files.append({"path": rel, "table": table_kind, "rows": table.num_rows, "bytes": size, "staged": staged})
        return rel

    def supersede(self, rel: str) -> None:
        self.supersedes.append(rel)

    def add_inputs(self, entries: Iterable[dict[str, Any]]) -> None:
        self.inputs.extend(entries)

    def remove_inputs(self, paths: set[str]) -> None:
        """Drop the committed rows of `paths` (copy on write): affected files are rewritten without them."""
        state = self.store.state
        affected = sorted({e["file"] for p in paths if (e := state.inputs.get(p)) and e.get("file") in state.files})
        for i, rel in enumerate(affected):
            table = self.store.read_file(rel)
            keep = table.filter(pc.invert(pc.is_in(table["path"], pa.array(sorted(paths), pa.string()))))
            self.supersede(rel)
            if keep.num_rows == 0:
                continue
            new_rel = self.stage(keep, posixpath.dirname(rel), f"part-{self.run_id}-{self.unit}-rw{i:03d}.parquet")
            kept = set(keep["path"].to_pylist())
            self.add_inputs({**state.inputs[p], "file": new_rel} for p in sorted(kept) if p in state.inputs)

    def commit(self, *, publish: bool = True) -> dict[str, Any]:
        """Write the commit record (the atomic step), then move staged files to their final names."""
        store = self.store
        # The next number after every record present now, not just the ones this process has seen.
        seq = max([store.state.last_seq] + [_record_key(n)[0] for n in store.record_names()]) + 1
        record = {
            "version": RECORD_VERSION,
            "seq": seq,
            "run_id": self.run_id,
            "unit": self.unit,
            "kind": self.kind,
            "committed_at": utcnow(),
            "files": self.files,
            "supersedes": self.supersedes,
            "inputs": self.inputs,
        }
        store._write_json(f"{COMMITS_DIR}/{seq:08d}-{self.run_id}-{self.unit}.json", record)
        store.state.apply(record)
        if publish:
            for entry in self.files:
                store._publish(entry["staged"], entry["path"])
        return record


def committed_files(dest: str, storage: StorageConfig, table: str = TRANSCRIPTS) -> list[str]:
    """Committed data files of DEST (s3:// URIs or absolute local paths), for any Parquet reader."""
    return CommitStore(dest, storage).committed_files(table)


def read_committed(dest: str, storage: StorageConfig, table: str = TRANSCRIPTS) -> pa.Table:
    """Every committed row of DEST's `table` (transcripts or deadletter)."""
    return CommitStore(dest, storage).read(table)


def _record_key(name: str) -> tuple[int, str]:
    head = name.split("-", 1)[0]
    return (int(head) if head.isdigit() else -1, name)


def _is_part_file(rel: str) -> bool:
    return posixpath.basename(rel).startswith("part-") and rel.endswith(".parquet")


def _timestamp(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()
