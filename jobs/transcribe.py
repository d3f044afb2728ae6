"""`voxray transcribe SOURCE... --output DEST`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from jobs.options import add_model_options, config_from_args, refuse_unknown_language
from models.common.retry import EXIT_STORAGE_UNAVAILABLE, TRANSIENT_PREFIX, describe_error, is_transient

if TYPE_CHECKING:
    from pipelines.batch.sinks import SinkFactory
    from pipelines.config import TranscribeConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe audio files into a Parquet dataset",
        description="Transcribe every audio/video file under SOURCE (files, folders, globs, s3:// prefixes, "
        "or CSV/JSONL/Parquet manifests with a `path` column) into a Parquet dataset at DEST with exactly "
        "one row per input file (per channel with --channels split). Files that fail get status=error.",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--output", "-o", required=True, metavar="DEST", help="local folder or s3:// prefix")
    p.add_argument(
        "--format",
        choices=["parquet", "delta"],
        default="parquet",
        help="parquet: a plain Parquet folder (default); delta: a voxray Delta Lake table, where a file "
        "transcribed again replaces its row (the nightly job's format; see docs/nightly.md)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace what DEST holds")
    mode.add_argument("--append", action="store_true", help="add new part files to DEST")
    p.add_argument(
        "--fail-on-error",
        action="store_true",
        help="exit with status 3 if any file failed (after everything is written)",
    )
    p.add_argument("--show", type=int, default=0, metavar="N", help="print the first N transcripts when done")
    p.add_argument(
        "--profile",
        action="store_true",
        help="print where the time went: wall and CPU seconds per stage, summed over the run's processes",
    )
    p.add_argument("--verbose", action="store_true", help="also show Ray's own warnings and log lines on the console")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.resolved import resolve
    from pipelines.batch.run import ensure_ray, run_transcription
    from pipelines.batch.watchdog import STALLED_EXIT, StalledError
    from pipelines.config import OptionError
    from pipelines.listing import SourceNotFoundError

    config = config_from_args(args)
    from pipelines.store.table import StoreError

    mode = "overwrite" if args.overwrite else "append" if args.append else "error"
    if args.format == "delta" and mode != "error":
        flag = "--overwrite" if args.overwrite else "--append"
        print(f"voxray: {flag} is for --format parquet; a Delta table replaces a file's row when it is "
              "transcribed again", file=sys.stderr)  # fmt: skip
        return 2
    model = resolve(config.model, config.storage)  # once for the run: the check and the run share it
    refuse_unknown_language(config, model)
    if args.verbose and config.compute.engine != "local":
        ensure_ray(verbose=True)  # before the run starts Ray quietly (so --verbose runs on Ray)
    try:
        summary = run_transcription(args.sources, args.output, config, mode=mode, sink=_sink(args, config), model=model)
    except (SourceNotFoundError, FileExistsError, StoreError, OptionError) as exc:
        print(f"voxray: {exc}", file=sys.stderr)
        return 2
    except StalledError as exc:
        print(f"voxray: {exc}", file=sys.stderr)
        return STALLED_EXIT
    except Exception as exc:
        if not is_transient(exc):
            raise
        # Parquet parts written so far are whole; a Delta table has only whole commits.
        print(f"voxray: storage unreachable, run stopped: {describe_error(exc)}; run again to finish "
              "(--overwrite for --format parquet)", file=sys.stderr)  # fmt: skip
        return EXIT_STORAGE_UNAVAILABLE
    if args.show and args.format == "parquet":
        _show(summary.written, args.show, config)
    print(summary.render())
    if args.profile:
        print(summary.profile.render(summary.wall_s))
    if args.format == "delta":
        print(f"committed to the Delta table at {args.output}")
    else:
        print(f"wrote {len(summary.written)} Parquet file(s) to {args.output}")
    if summary.unavailable:
        print(
            f"voxray: {summary.unavailable} file(s) were not transcribed because storage stayed unreachable "
            f"(rows with error '{TRANSIENT_PREFIX}...'); everything else is written. Run again to finish "
            "(--overwrite for --format parquet; --format delta replaces those rows)",
            file=sys.stderr,
        )
        return EXIT_STORAGE_UNAVAILABLE
    return 3 if args.fail_on_error and summary.failed else 0


def _sink(args: argparse.Namespace, config: TranscribeConfig) -> SinkFactory | None:
    """--format delta: voxray's Delta table (pipelines/store); parquet: the default Parquet folder."""
    if args.format != "delta":
        return None
    from pipelines.store.sink import DeltaSink

    return lambda files, run_id: DeltaSink(args.output, config.storage, run_id, files)


def _show(paths: list[str], limit: int, config) -> None:
    import pyarrow.parquet as pq

    from models.common.storage import arrow_filesystem

    shown = 0
    for path in paths:
        fs, inner = arrow_filesystem(path, config.storage)
        for row in pq.read_table(inner, filesystem=fs, columns=["path", "status", "error", "text"]).to_pylist():
            body = row["text"] if row["status"] == "ok" else f"ERROR: {row['error']}"
            print(f"{row['path']}\n    {body}")
            shown += 1
            if shown >= limit:
                return
