"""`voxray read DEST`: the committed transcripts of a voxray Delta table, now or as of a version/time."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "read",
        help="print or export the committed transcripts of a nightly output (a Delta table)",
        description="Read DEST's Delta table (see docs/nightly.md) at its current version, or as it was at "
        "--as-of VERSION|TIMESTAMP, and print it as JSON lines, or export it to one Parquet file with "
        "--format parquet --out FILE.",
    )
    p.add_argument("dest", metavar="DEST", help="local folder or s3:// prefix written by `voxray nightly`")
    p.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    p.add_argument("--out", metavar="FILE", help="output file (required with --format parquet; default stdout)")
    p.add_argument("--table", choices=["transcripts", "deadletter"], default="transcripts")
    p.add_argument("--columns", help="comma-separated columns (default: all)")
    p.add_argument("--as-of", metavar="VERSION|TIMESTAMP", help="a table version, or an ISO 8601 time (UTC)")
    p.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    from models.common.config import StorageConfig
    from models.common.retry import is_transient
    from pipelines.store.reader import parse_as_of, read_committed
    from pipelines.store.table import StoreError

    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    if args.format == "parquet" and not args.out:
        print("voxray: --format parquet needs --out FILE", file=sys.stderr)
        return 2
    try:
        as_of = parse_as_of(args.as_of)
        table = read_committed(args.dest, StorageConfig(s3_endpoint=args.s3_endpoint), args.table,
                               as_of=as_of, columns=columns)  # fmt: skip
    except (StoreError, ValueError, KeyError) as exc:
        print(f"voxray: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # delta-rs: an unknown column, or a version the log no longer has
        if is_transient(exc):
            raise  # storage unreachable: exit 75 (jobs/cli.py), not a usage error
        print(f"voxray: cannot read {args.dest}: {exc}", file=sys.stderr)
        return 2
    if args.format == "parquet":
        pq.write_table(table, args.out, compression="zstd")
        print(f"wrote {table.num_rows} row(s) to {args.out}", file=sys.stderr)
        return 0
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        for batch in table.to_batches(max_chunksize=1000):
            for row in batch.to_pylist():
                out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
