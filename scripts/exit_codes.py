"""Exit codes of `voxray read`, `status`, `export` and `nightly` against a Delta table on S3, N runs each.

    PYTHONPATH=. python scripts/exit_codes.py --runs 20

Starts SeaweedFS (tests/s3server.py), builds a voxray table of many files (40 commits over 10
partitions, no model needed), then runs each command N times in fresh processes and counts the
exit codes. Before the fix, `voxray read` aborted at interpreter exit (SIGABRT, 134 or -6 as
subprocess reports it) in some runs after printing correct rows (docs/faults.md). `--repo` runs
another checkout's code (e.g. main) for a before/after comparison on the same table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.outage import build_table, voxray_env  # noqa: E402
from tests.s3server import SeaweedS3  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repo", default=str(REPO), help="checkout whose voxray runs (default: this one)")
    parser.add_argument("--commands", default="read,status,export,nightly")
    args = parser.parse_args()
    failed = 0
    with SeaweedS3() as s3, tempfile.TemporaryDirectory() as tmp:
        s3.make_bucket("out")
        s3.make_bucket("empty")
        dest = "s3://out/table"
        build_table(s3, dest)
        commands = {
            "read": ["read", dest],
            "read-columns": ["read", dest, "--columns", "path,text"],
            "status": ["status", dest],
            "export": ["export", dest, "--out", f"{tmp}/export", "--format", "txt"],
            # An empty source: nothing to transcribe, so the run opens, plans and commits its markers.
            "nightly": ["nightly", "s3://empty/", "--output", dest],
        }
        env = {**voxray_env(s3), "PYTHONPATH": args.repo}
        for name in args.commands.split(","):
            codes: Counter[int] = Counter()
            started = time.perf_counter()
            last = ""
            for _ in range(args.runs):
                cmd = [sys.executable, "-m", "jobs.cli", *commands[name], "--s3-endpoint", s3.endpoint_url]
                done = subprocess.run(cmd, env=env, cwd=args.repo, capture_output=True, text=True)
                codes[done.returncode] += 1
                if done.returncode:
                    last = done.stderr.strip().splitlines()[-1:] or [""]
            clean = codes.get(0, 0)
            failed += args.runs - clean
            per_run = (time.perf_counter() - started) / args.runs
            print(f"{name}: {clean}/{args.runs} exited 0  codes {dict(codes)}  {per_run:.1f} s/run  {last or ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
