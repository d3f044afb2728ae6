"""`voxray export DEST --format srt|vtt|txt|jsonl --out DIR`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="turn Parquet transcripts into srt/vtt/txt/jsonl files",
        description="Reads the transcripts at DEST (committed rows only for nightly outputs) and writes one "
        "subtitle or text file per recording into --out, keeping the input folder structure (inputs that "
        "would share a name keep their extension: a.wav.srt, a.mp3.srt; S3 keys never leave --out). With "
        "--channels split transcripts, each recording also gets a time-ordered `.conversation` file with "
        "channel labels. jsonl writes all rows into one transcripts.jsonl. Failed rows are skipped and counted.",
    )
    p.add_argument("dest", metavar="DEST", help="transcript dataset: local folder or s3:// prefix")
    p.add_argument("--format", "-f", choices=["srt", "vtt", "txt", "jsonl"], required=True)
    p.add_argument("--out", "-o", type=Path, required=True, help="local folder for the files")
    p.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.common.config import StorageConfig
    from pipelines.export.files import export
    from pipelines.store.reader import read_transcripts

    storage = StorageConfig(s3_endpoint=args.s3_endpoint)
    try:
        rows = read_transcripts(args.dest, storage).to_pylist()
    except FileNotFoundError as exc:
        print(f"voxray export: {exc}", file=sys.stderr)
        return 2
    written, skipped = export(rows, args.format, args.out)
    print(f"wrote {len(written)} file(s) to {args.out}; skipped {skipped} failed transcript(s)")
    return 0
