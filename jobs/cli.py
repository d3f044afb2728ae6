"""The `voxray` command. Each subcommand lives in its own module with `register(subparsers)`."""

from __future__ import annotations

import argparse
import atexit
import importlib
import importlib.util
import os
import sys
import threading
from typing import NoReturn

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
# Commands whose process ends without the interpreter's teardown once they have returned (see
# _end_process): what they write is closed by then, and they import torch in-process.
QUICK_EXIT = frozenset({"transcribe"})


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
    """Run a subcommand; its exit code. As the `voxray` process itself (`argv` None), a QUICK_EXIT
    command's process ends here."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        if argv is None and args.command in QUICK_EXIT:
            _end_process(code)
        return code
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


def _end_process(code: int) -> NoReturn:
    """Exit once threads and atexit handlers (Ray's shutdown, logging's flush) are done, skipping
    Python's teardown of every module: after `import torch` that alone took 0.9-1.3 s, a third of
    a small job's whole process (docs/performance.md)."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        # Ray's own atexit hook sleeps 0.5 s first so that workers' last log lines get printed;
        # by now the rows are written and the summary is out (ray.shutdown: 1.95 -> 1.55 s).
        ray.shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
