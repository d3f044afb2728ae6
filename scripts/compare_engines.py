"""Run `voxray transcribe` on clip folders with each engine as whole processes: wall, CPU, same texts.

    python scripts/compare_engines.py FOLDER... --out DIR [--engines local,ray] [-- EXTRA VOXRAY ARGS]

For each folder, one process per engine, one after the other (`local`: no RAY_ADDRESS; `ray`:
RAY_ADDRESS=local, a Ray started for the run), with `--profile`. Prints wall seconds, CPU seconds,
the profile's main lines, and how many files' (text, status) differ from the first engine's.
CPU seconds: where this process may make a cgroup-v1 cpuacct group (root on Linux), everything
the run starts is counted, a local Ray's daemonised GCS, raylet and workers included; otherwise
only the process and its waited-for children (`cpu_scope` in the JSON lines says which).
Appends one JSON line per run to DIR/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as pads

REPO = Path(__file__).resolve().parent.parent
CGROUP = Path("/sys/fs/cgroup/cpuacct/voxray-compare-engines")
PROFILE_LINES = ("ray start", "until first", "actor:busy", "model load", "prepare:", "wall:")


def _cpu_reader() -> tuple[str, list[str]]:
    """('cgroup' or 'children', a prefix that runs a command inside the group where there is one)."""
    try:
        CGROUP.mkdir(exist_ok=True)
    except OSError:
        return "children", []
    return "cgroup", ["sh", "-c", f'echo $$ > {CGROUP}/cgroup.procs; exec "$@"', "sh"]


def _cpu_now(scope: str) -> float:
    if scope == "cgroup":
        return int((CGROUP / "cpuacct.usage").read_text()) / 1e9
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(folder: Path, dest: Path, engine: str, extra: list[str]) -> tuple[dict, dict[str, tuple]]:
    """One whole `voxray transcribe` run: its measurement and each file's (text, status)."""
    scope, prefix = _cpu_reader()
    cmd = [sys.executable, "-m", "jobs.cli", "transcribe", str(folder), "-o", str(dest), "--overwrite"]
    cmd += ["--language", "en", "--profile", "--engine", engine, *extra]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("RAY_ADDRESS", None)
    if engine == "ray":
        env["RAY_ADDRESS"] = "local"  # a Ray of its own, never another one's on the machine
    cpu, started = _cpu_now(scope), time.perf_counter()
    done = subprocess.run([*prefix, *cmd], env=env, capture_output=True, text=True, check=True)
    wall, cpu = time.perf_counter() - started, _cpu_now(scope) - cpu
    table = pads.dataset(str(dest), format="parquet").to_table(columns=["path", "text", "status"])
    texts = {r["path"]: (r["text"], r["status"]) for r in table.to_pylist()}
    profile = [line for line in done.stdout.splitlines() if any(k in line for k in PROFILE_LINES)]
    result = {"set": folder.name, "engine": engine, "files": len(texts), "wall_s": round(wall, 2)}
    result |= {"cpu_s": round(cpu, 2), "cpu_scope": scope, "load_avg_1min": round(os.getloadavg()[0], 2)}
    return result | {"profile": profile}, texts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--engines", default="local,ray")
    args, extra = p.parse_known_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for folder in args.folders:
        texts = {}
        for engine in args.engines.split(","):
            result, texts[engine] = run_once(folder, args.out / f"{folder.name}-{engine}", engine, extra)
            print(f"{folder.name} {engine}: wall {result['wall_s']} s, cpu {result['cpu_s']} s ({result['cpu_scope']})")
            print("\n".join(f"    {line}" for line in result["profile"]), flush=True)
            with open(args.out / "results.jsonl", "a") as log:
                log.write(json.dumps(result) + "\n")
        first, *others = texts
        for engine in others:
            differ = sorted(p for p in texts[first] if texts[first][p] != texts[engine].get(p))
            print(f"{folder.name}: {first} vs {engine}: {len(differ)} of {len(texts[first])} files differ {differ[:3]}")


if __name__ == "__main__":
    main()
