"""`voxray status DEST`: nightly runs, what is committed, failures, dead letters, speed and cost."""

from __future__ import annotations

import argparse
import json
from collections import Counter


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="show the runs, counts, failures and cost of a nightly output",
        description="Summarise DEST written by `voxray nightly`: every run (counts, audio hours, RTFx, "
        "node-hours, estimated cost per audio hour), the committed inputs by status, and the dead letters.",
    )
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--runs", type=int, default=10, metavar="N", help="show the last N runs (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.common.config import StorageConfig
    from pipelines.store.commit import DEADLETTER, CommitStore

    store = CommitStore(args.dest, StorageConfig(s3_endpoint=args.s3_endpoint))
    state = store.refresh()
    runs = store.runs()
    by_status = Counter(e["status"] for e in state.inputs.values())
    failing = sorted((e for e in state.inputs.values() if e["status"] == "failed"), key=lambda e: e["path"])
    dead = store.read(DEADLETTER, columns=["path", "attempts", "error"]).to_pylist()
    audio_s = sum(e.get("audio_s") or 0.0 for e in state.inputs.values() if e["status"] == "ok")
    summary = {
        "dest": args.dest,
        "inputs": dict(by_status),
        "committed_files": len(state.live()),
        "commit_records": state.records,
        "audio_hours": audio_s / 3600,
        "runs": runs[-args.runs :],
        "failing": [{k: e[k] for k in ("path", "attempts", "error")} for e in failing],
        "deadletter": dead,
    }
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
        return 0
    print(f"{args.dest}")
    print(
        f"inputs: {dict(sorted(by_status.items()))}  files: {summary['committed_files']}  "
        f"commits: {state.records}  audio: {audio_s / 3600:.3f} h"
    )
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
        for e in failing:
            print(f"  {e['path']}  attempts: {e['attempts']}  {e['error']}")
    print(f"\ndead letters ({len(dead)}):")
    for d in dead:
        print(f"  {d['path']}  attempts: {d['attempts']}  {d['error']}")
    return 0
