"""The one reader of transcript datasets: a voxray Delta table (now or as of a version), else Parquet files."""

from __future__ import annotations

import datetime as dt
import posixpath

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from models.common.config import StorageConfig
from models.common.storage import arrow_filesystem
from pipelines.store.table import TranscriptTable

TRANSCRIPTS = "transcripts"
DEADLETTER = "deadletter"


def is_table(dest: str, storage: StorageConfig) -> bool:
    """Whether DEST is a Delta table (it has a `_delta_log/`), as `voxray nightly` writes."""
    return TranscriptTable(dest, storage).exists()


def read_transcripts(dest: str, storage: StorageConfig, columns: tuple[str, ...] | None = None) -> pa.Table:
    """The current rows of DEST's Delta table when it is one (nightly, --format delta), else every Parquet file."""
    if TranscriptTable(dest, storage).exists():
        table = read_committed(dest, storage)
        return table.select([c for c in columns if c in table.column_names]) if columns else table
    return read_parquet_tree(dest, storage, columns)


def parse_as_of(value: str | None) -> int | dt.datetime | None:
    """A table version (an integer) or an ISO 8601 timestamp (UTC when no zone is given)."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--as-of takes a table version or an ISO 8601 timestamp, not {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def read_committed(
    dest: str,
    storage: StorageConfig | None = None,
    table: str = TRANSCRIPTS,
    *,
    as_of: int | dt.datetime | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """Every committed row of DEST's table (`deadletter`: only the quarantined inputs' rows)."""
    if table not in (TRANSCRIPTS, DEADLETTER):
        raise ValueError(f"unknown table {table!r}: transcripts or deadletter")
    wanted = None if columns is None else sorted(set(columns) | {"quarantined"})
    rows = TranscriptTable(dest, storage).read(as_of=as_of, columns=wanted)
    if table == DEADLETTER:
        rows = rows.filter(pc.equal(rows["quarantined"], True))
    return rows.select(columns) if columns is not None else rows


def read_parquet_tree(dest: str, storage: StorageConfig, columns: tuple[str, ...] | None = None) -> pa.Table:
    """Every Parquet file at or under DEST, skipping names that start with '_' or '.' (staging areas,
    Spark/Hadoop markers), as pyarrow.dataset does."""
    from pyarrow.fs import FileSelector, FileType

    fs, root = arrow_filesystem(dest, storage)
    info = fs.get_file_info(root)
    if info.type == FileType.File:
        paths = [root]
    elif info.type == FileType.Directory:
        found = fs.get_file_info(FileSelector(root, recursive=True))
        paths = sorted(
            i.path
            for i in found
            if i.is_file
            and i.path.endswith(".parquet")
            and not any(part.startswith(("_", ".")) for part in posixpath.relpath(i.path, root).split("/"))
        )
    else:
        raise FileNotFoundError(f"transcripts not found: {dest}")
    if not paths:
        raise FileNotFoundError(f"no Parquet files under {dest}")
    tables = []
    for path in paths:
        schema = pq.read_schema(path, filesystem=fs)
        wanted = [c for c in columns if c in schema.names] if columns else None
        tables.append(pq.read_table(path, filesystem=fs, columns=wanted))
    return pa.concat_tables(tables, promote_options="default")
