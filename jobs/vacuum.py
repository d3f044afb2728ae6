"""`voxray vacuum DEST`: delete the table's superseded files once they are older than a retention."""

from __future__ import annotations

import argparse
import sys

DEFAULT_RETENTION_HOURS = 168.0  # Delta's default: a week of time travel, and of slow readers


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vacuum",
        help="delete a nightly table's superseded files (Delta VACUUM) after a retention period",
        description="Run Delta's VACUUM on DEST: files that commits (rewrites, OPTIMIZE) removed more than "
        "--retention-hours ago are deleted, and so are data files voxray wrote but never committed (a "
        "killed run's) once as old. Nothing else in DEST is touched. Versions older than the retention "
        "can no longer be read with `voxray read --as-of`.",
    )
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--retention-hours", type=float, default=DEFAULT_RETENTION_HOURS, metavar="H",
                   help=f"keep files removed less than H hours ago (default {DEFAULT_RETENTION_HOURS:g})")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    p.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.common.config import StorageConfig
    from pipelines.store.table import StoreError, TranscriptTable

    if args.retention_hours < 0:
        print("voxray: --retention-hours must be >= 0", file=sys.stderr)
        return 2
    table = TranscriptTable(args.dest, StorageConfig(s3_endpoint=args.s3_endpoint))
    try:
        table.open()
    except StoreError as exc:
        print(f"voxray: {exc}", file=sys.stderr)
        return 2
    done = table.vacuum(args.retention_hours, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for path in done["removed"] + done["orphans"]:
        print(path)
    print(f"{verb} {len(done['removed'])} superseded file(s) and {len(done['orphans'])} uncommitted file(s)",
          file=sys.stderr)  # fmt: skip
    return 0
