"""`voxray nightly SOURCE... --output DEST`: incremental, exactly-once archive transcription."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from jobs.options import add_model_options, config_from_args, refuse_unknown_language, values_from_args
from models.common.retry import EXIT_STORAGE_UNAVAILABLE, describe_error, is_transient
from pipelines.store.nightly import NightlyConfig

__all__ = ["NightlyConfig", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "nightly",
        help="transcribe what is new or changed in an archive since the last run (exactly once)",
        description="List SOURCE (folders, s3:// prefixes, globs, manifests), transcribe only the files "
        "that are new or changed since the last run into DEST (or whose model/config changed, with "
        "--retranscribe-on-config-change), committing every N files atomically. All state lives in DEST, "
        "so any machine can run the next night; a killed run is resumed by running it again. DEST is a Delta "
        "Lake table (docs/nightly.md); a DEST holding anything else is refused. Files that keep failing are "
        "quarantined (`voxray read DEST --table deadletter`) after --max-attempts runs.",
    )
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="default: `sources` from --config")
    p.add_argument("--output", "-o", metavar="DEST", help="local folder or s3:// prefix (default: from --config)")
    p.add_argument("--commit-every", type=int, metavar="N", help="inputs per commit (default 100)")
    p.add_argument("--max-attempts", type=int, metavar="N", help="runs a failing file is tried (default 3)")
    p.add_argument(
        "--retranscribe-on-config-change",
        action="store_true",
        default=None,
        help="also redo files transcribed with another model or configuration",
    )
    p.add_argument("--price-per-node-hour", type=float, metavar="X", help="for the cost per audio hour")
    p.add_argument("--compact-min-files", type=int, metavar="N", help="compact a partition at N files (0: never)")
    add_model_options(p)
    for action in p._actions:
        if action.dest == "config":
            action.help = "YAML file with a NightlyConfig (see nightly.example.yaml); flags override it"
    p.set_defaults(func=run)


def nightly_config_from_args(args: argparse.Namespace) -> NightlyConfig:
    base = NightlyConfig.from_yaml_file(args.config) if args.config else NightlyConfig()
    # Model flags apply on top of the YAML's transcribe section.
    transcribe = config_from_args(args, base.transcribe)
    refuse_unknown_language(transcribe)
    overrides = values_from_args(NightlyConfig, args)
    overrides["sources"] = tuple(args.sources) or base.sources
    overrides["transcribe"] = transcribe
    config = replace(base, **overrides)
    return NightlyConfig.from_dict(config.to_dict())  # flags checked as strictly as the YAML


def run(args: argparse.Namespace) -> int:
    from models.registry import ModelNotFoundError
    from pipelines.batch.watchdog import STALLED_EXIT, StalledError
    from pipelines.listing import SourceNotFoundError
    from pipelines.store.nightly import run_nightly

    try:
        config = nightly_config_from_args(args)
        record = run_nightly(config)
    except (SourceNotFoundError, ModelNotFoundError, ValueError) as exc:  # StoreError is a ValueError
        print(f"voxray: {exc}", file=sys.stderr)
        return 2
    except StalledError as exc:
        print(f"voxray: {exc}\nwhat had finished is committed: the next run resumes from there", file=sys.stderr)
        return STALLED_EXIT
    except Exception as exc:
        if not is_transient(exc):
            raise
        # What was committed stays committed (whole units only); the next run does the rest.
        print(f"voxray: storage unreachable, run stopped: {describe_error(exc)}; run again to finish",
              file=sys.stderr)  # fmt: skip
        return EXIT_STORAGE_UNAVAILABLE
    print(record.render())
    if record.unavailable:
        print(f"voxray: {record.unavailable} file(s) could not be read because storage stayed unreachable; "
              "they are retried by the next run (not counted towards quarantine)", file=sys.stderr)  # fmt: skip
        return EXIT_STORAGE_UNAVAILABLE
    return 0
