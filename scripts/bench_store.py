"""Planning benchmark for the nightly Delta table: does planning cost grow with the number of commits?

    python scripts/bench_store.py                 # 1,000,000 rows; after 10 and after 1,000 commits
    python scripts/bench_store.py --rows 100000   # a quicker look

Builds two tables of the same rows in a scratch folder (one in 10 commits, one in 1,000), each left
as a nightly run leaves it (checkpointed), then measures in a fresh process per case:
- load: opening the table and reading the per-input state the to-do list needs (a projection);
- todo: computing the to-do list for as many listed objects as the table has rows (+1,000 new);
and the many-commit table again after OPTIMIZE, as a nightly run leaves it (few data files).
`open_s` is opening the log alone (checkpoint + later commits); `load_s` adds reading the state.
Each case prints its wall time and the process's peak RSS (ru_maxrss), and the RSS after imports.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(dest: str, rows: int, commits: int) -> None:
    from pipelines.store.state import with_store_columns
    from pipelines.store.table import TranscriptTable

    table = TranscriptTable(dest)
    table.open(create=True)
    states = table.input_states()
    per = rows // commits
    now = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
    for unit in range(commits):
        made = [
            {"path": f"s3://archive/calls/{unit:05d}/{i:07d}.wav", "status": "ok", "text": "a short call",
             "segments": [], "duration_s": 60.0, "transcribed_at": now, "model": "tiny.en",
             "config_fingerprint": "fp"}
            for i in range(per)
        ]  # fmt: skip
        batch = with_store_columns(made, version=f"etag-{unit}", attempts=0, quarantined=False)
        table.commit_unit("bench", unit + 1, lambda _, batch=batch: batch, states)
        states.clear()  # the builder needs no state; keeping 1M entries would only cost memory
        table.states_version = table.open().version()
    table.checkpoint()


def measure(dest: str, case: str) -> dict:
    import gc

    from pipelines.listing import SourceFile
    from pipelines.store.incremental import InputKey, plan_todo
    from pipelines.store.table import TranscriptTable

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    table = TranscriptTable(dest)
    delta = table.open()  # the log: the last checkpoint plus the commits after it
    open_s = time.perf_counter() - t0
    states = table.input_states()
    load_s = time.perf_counter() - t0
    out = {"case": case, "inputs": len(states), "data_files": len(delta.file_uris()), "open_s": round(open_s, 2),
           "load_s": round(load_s, 2), "version": delta.version()}  # fmt: skip
    if case == "todo":
        listed = [SourceFile(path=p, etag=s.version) for p, s in states.items()]
        listed += [SourceFile(path=f"s3://archive/new/{i}.wav", etag="e") for i in range(1000)]
        gc.collect()
        t1 = time.perf_counter()
        todo = plan_todo(listed, states, InputKey("tiny.en", "fp"), max_attempts=3)
        out.update(listed=len(listed), todo=len(todo.files), todo_s=round(time.perf_counter() - t1, 2))
    out.update(
        rss_after_imports_mb=round(base), peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    )
    return out


def _measure_in_child(dest: str, case: str) -> dict:
    """A fresh process per case: its peak RSS is the case's own, not the builder's."""
    command = [sys.executable, __file__, "--measure", dest, case]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--commits", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--no-optimize", dest="optimize", action="store_false",
                        help="skip measuring the many-commit table again after OPTIMIZE")  # fmt: skip
    parser.add_argument("--dir", help="scratch folder (default: a temporary one, deleted after)")
    parser.add_argument("--measure", nargs=2, metavar=("DEST", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return 0
    work = Path(args.dir or tempfile.mkdtemp(prefix="voxray-bench-store-"))
    try:
        for commits in args.commits:
            dest = str(work / f"table-{commits}")
            t0 = time.perf_counter()
            build(dest, args.rows, commits)
            log = sorted(p.name for p in (Path(dest) / "_delta_log").iterdir())
            built = {
                "table": f"{args.rows} rows in {commits} commits",
                "build_s": round(time.perf_counter() - t0, 1),
                "log_files": len(log),
                "checkpoints": sum(".checkpoint." in n for n in log),
            }
            print(json.dumps(built))
            for case in ("load", "todo"):
                print(json.dumps({"commits": commits, **_measure_in_child(dest, case)}))
            if args.optimize and commits > 10:
                # What a nightly run leaves: OPTIMIZE (compact_min_files) merges the small files.
                from pipelines.store.table import TranscriptTable

                TranscriptTable(dest).compact(min_files=2)
                TranscriptTable(dest).checkpoint()
                for case in ("load", "todo"):
                    print(json.dumps({"commits": f"{commits}+OPTIMIZE", **_measure_in_child(dest, case)}))
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
