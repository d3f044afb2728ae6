"""The `voxray` command. Each subcommand lives in its own module with `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# Subcommand modules, in the order `voxray --help` lists them. Heavy imports stay inside each
# module's `run`, so `--help` is instant.
SUBCOMMANDS = (
    "jobs.transcribe",
    "jobs.export",
    "jobs.nightly",
    "jobs.read",
    "jobs.status",
    "jobs.vacuum",
    "jobs.eval",
    "jobs.bench",
    "jobs.models",
    "jobs.finetune",
    "jobs.improve",
    "jobs.serve",
    "jobs.loadtest",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxray",
        description="Distributed batch speech transcription on Ray: audio in object storage -> "
        "timestamped Parquet transcripts.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        from models.common.retry import EXIT_STORAGE_UNAVAILABLE, describe_error, is_transient
        from pipelines.batch.watchdog import STALLED_EXIT, StalledError

        if isinstance(exc, StalledError):
            # The progress watchdog ended a run that waited on something that never came.
            print(f"voxray {args.command}: {exc}", file=sys.stderr)
            return STALLED_EXIT
        if not is_transient(exc):
            raise
        # Storage stayed unreachable past the retry deadline: a scheduler should run it again later.
        print(f"voxray {args.command}: storage unreachable: {describe_error(exc)}; run it again", file=sys.stderr)
        return EXIT_STORAGE_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
