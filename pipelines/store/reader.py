"""The one reader of transcript datasets: committed rows when DEST has a commit log, else its Parquet files."""

from __future__ import annotations

import posixpath
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from models.common.config import StorageConfig
from models.common.storage import arrow_filesystem
from pipelines.store.commit import read_committed


def read_transcripts(dest: str, storage: StorageConfig, columns: tuple[str, ...] | None = None) -> pa.Table:
    """Committed rows if DEST has a commit log (the nightly store), else every Parquet file under DEST."""
    try:
        table = read_committed(dest, storage)
    except Exception as exc:  # a dataset written without the commit protocol, or an older format
        print(f"voxray: reading {dest} without its commit log ({exc})", file=sys.stderr)
    else:
        if table is not None and table.num_rows:
            return table.select([c for c in columns if c in table.column_names]) if columns else table
    return read_parquet_tree(dest, storage, columns)


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
