"""`voxray status DEST`: runs (from the Delta table's history), inputs by status, dead letters, cost."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="show the runs, counts, failures and cost of a nightly output",
        description="Summarise DEST written by `voxray nightly`: every run from the table's own commit history "
        "(counts, audio hours, RTFx, node-hours, estimated cost per audio hour), the committed inputs by "
        "status, and the dead letters.",
    )
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--runs", type=int, default=10, metavar="N", help="show the last N runs (default 10)")
    p.add_argument("--history", type=int, default=1000, metavar="N", help="commits of history to read (default 1000)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.common.config import StorageConfig
    from pipelines.store.nightly import runs_from_history
    from pipelines.store.table import StoreError, TranscriptTable

    table = TranscriptTable(args.dest, StorageConfig(s3_endpoint=args.s3_endpoint))
    try:
        delta = table.open()
    except StoreError as exc:
        print(f"voxray: {exc}", file=sys.stderr)
        return 2
    states = table.input_states()
    runs = runs_from_history(table.history(args.history))
    by_status = Counter(s.status for s in states.values())
    failing = sorted((p, s) for p, s in states.items() if s.status == "failed")
    dead = sorted((p, s) for p, s in states.items() if s.status == "quarantined")
    audio_s = sum(s.audio_s for s in states.values() if s.status == "ok")
    summary = {
        "dest": args.dest,
        "version": delta.version(),
        "inputs": dict(by_status),
        "files": len(delta.file_uris()),
        "audio_hours": audio_s / 3600,
        "runs": runs[-args.runs :],
        "failing": [{"path": p, "attempts": s.attempts, "error": s.error} for p, s in failing],
        "deadletter": [{"path": p, "attempts": s.attempts, "error": s.error} for p, s in dead],
    }
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
        return 0
    print(f"{args.dest}  (Delta table version {summary['version']})")
    print(f"inputs: {dict(sorted(by_status.items()))}  files: {summary['files']}  audio: {audio_s / 3600:.3f} h")
    print(
        f"\n{'run':<30} {'status':<9} {'todo':>5} {'ok':>5} {'fail':>5} {'quar':>5} {'commits':>7} "
        f"{'audio h':>8} {'wall s':>8} {'RTFx':>6} {'node-h':>8} {'$/audio h':>10}"
    )
    for r in runs[-args.runs :]:
        cost = r.get("cost_per_audio_hour")
        print(
            f"{r['run_id']:<30} {r['status']:<9} {r['todo']:>5} {r['ok']:>5} {r['failed']:>5} "
            f"{r['quarantined']:>5} {r['commits']:>7} {r['audio_s'] / 3600:>8.3f} {r['wall_s']:>8.1f} "
            f"{r['rtfx']:>6.1f} {r['node_hours']:>8.4f} {'-' if cost is None else f'{cost:.4f}':>10}"
        )
    if failing:
        print(f"\nfailing, will be retried ({len(failing)}):")
        for p, s in failing:
            print(f"  {p}  attempts: {s.attempts}  {s.error}")
    print(f"\ndead letters ({len(dead)}):")
    for p, s in dead:
        print(f"  {p}  attempts: {s.attempts}  {s.error}")
    return 0
