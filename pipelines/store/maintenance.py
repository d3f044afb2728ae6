"""Keeping voxray's table small and fast to read: Delta OPTIMIZE and VACUUM."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from deltalake.exceptions import CommitFailedError

from pipelines.store.files import FILE_PREFIX
from pipelines.store.state import PARTITION

if TYPE_CHECKING:
    from pipelines.store.table import TranscriptTable


def compact(store: TranscriptTable, min_files: int) -> int:
    """Delta OPTIMIZE (compaction) of every date partition holding `min_files` or more files."""
    table = store.refresh()
    actions = pa.table(table.get_add_actions(flatten=True))
    counts: dict[str, int] = {}
    for partition in actions[f"partition.{PARTITION}"].to_pylist():
        counts[partition] = counts.get(partition, 0) + 1
    done = 0
    for partition, count in sorted(counts.items()):
        if count < max(2, min_files):
            continue
        store.reached("compacting")
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


def vacuum(store: TranscriptTable, retention_hours: float, *, dry_run: bool = False) -> dict[str, list[str]]:
    """Delete this table's superseded files older than the retention, and its own orphans.

    Delta's VACUUM (not `full`) deletes only files that commits removed. Files a killed run
    wrote but never committed are orphans; Delta's full VACUUM would list them together with
    any foreign file in the folder, so only those named like ours (`voxray-...`) are deleted.
    """
    table = store.refresh()
    hours = int(retention_hours)
    removed = table.vacuum(retention_hours=hours, dry_run=dry_run, enforce_retention_duration=False)
    candidates = table.vacuum(retention_hours=hours, dry_run=True, enforce_retention_duration=False, full=True)
    orphans = [p for p in candidates if p.rsplit("/", 1)[-1].startswith(FILE_PREFIX) and p not in removed]
    if not dry_run:
        for rel in orphans:
            store.files.delete(f"{store.root}/{_relative(rel, store.uri)}")
    return {"removed": list(removed), "orphans": orphans}


def _relative(path: str, uri: str) -> str:
    """A path delta-rs reported (relative, or a full URI) relative to the table root."""
    for prefix in (uri.rstrip("/") + "/", "file://" + uri.rstrip("/") + "/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path
