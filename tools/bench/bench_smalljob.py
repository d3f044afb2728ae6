"""`voxray bench --scenarios small-job`: `make demo`'s job as whole processes, against the plain loop.

The six files of samples/ (one broken) through `voxray transcribe samples` in-process (`--engine
local`, what the default picks on a machine where nothing asks for Ray: tests/test_engine.py; named
here so that a `ray start` cluster recorded on the machine is never joined), through the Ray path
(`--engine ray`, a local Ray started for the run), and the plain faster-whisper per-file loop
over the five readable files (tools/bench/anchor.py). The three alternate, round after round, so
that a machine shared with other work loads them alike; each measurement is the median of the
rounds, with its ratio to the loop's median (the target: at most 2x) and every round's ratio.
`cpu_s` (user + system CPU seconds of the process and its children, median) moves less with
other work on the machine than wall time does; a Ray started for the run counts only in part
(its GCS and raylet are not the command's children once they are daemonised).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.quality.wer import corpus_wer

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
ROUNDS = 5


def bench_small_job(cfg: Any, work: Path, measurement: Any) -> list:  # BenchConfig, Measurement
    from models.common.config import StorageConfig
    from models.registry import resolve_model

    entries = [json.loads(line) for line in (SAMPLES / "manifest.jsonl").read_text().splitlines() if line]
    refs = {str((SAMPLES / e["path"]).resolve()): e["text"] for e in entries}
    audio_s = sum(e["duration_s"] for e in entries)
    common = ["--beam-size", str(cfg.beam_size), "--compute-type", cfg.compute_type]
    model = str(resolve_model("tiny.en", StorageConfig()))
    anchor_out = work / "anchor-small.json"
    anchor = [sys.executable, "-m", "tools.bench.anchor", "loop", "--model", model, "--out", str(anchor_out)]
    voxray = [sys.executable, "-m", "jobs.cli", "transcribe", str(SAMPLES), "--overwrite", *common]
    systems = {
        "faster-whisper per-file loop (5 readable files)": [*anchor, *common, *refs],
        "voxray transcribe samples --engine local": [*voxray, "--engine", "local", "-o", str(work / "local")],
        "voxray transcribe samples --engine ray": [*voxray, "--engine", "ray", "-o", str(work / "ray")],
    }
    walls: dict[str, list[float]] = {name: [] for name in systems}
    cpus: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(ROUNDS):
        for name, cmd in systems.items():
            wall, cpu = _timed(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)
    loop = list(walls)[0]
    texts = {loop: json.loads(anchor_out.read_text())}
    texts.update({name: _texts(work / folder) for name, folder in zip(list(walls)[1:], ("local", "ray"), strict=True)})
    return [
        measurement(
            "small-job",
            f"{name}, whole process",
            audio_s,
            statistics.median(walls[name]),
            corpus_wer(list(refs.values()), [texts[name].get(p, "") for p in refs]),
            extra={
                "vs_loop": round(statistics.median(walls[name]) / statistics.median(walls[loop]), 2),
                "rounds_vs_loop": [round(w / a, 2) for w, a in zip(walls[name], walls[loop], strict=True)],
                "cpu_s": round(statistics.median(cpus[name]), 2),
            },
        )
        for name in walls
    ]


def _texts(dest: Path) -> dict[str, str]:
    import pyarrow.dataset as pads

    return {r["path"]: r["text"] or "" for r in pads.dataset(str(dest), format="parquet").to_table().to_pylist()}


def _env() -> dict[str, str]:
    # RAY_ADDRESS=local: the Ray path starts its own Ray, never another one's on the machine.
    return dict(os.environ, RAY_ADDRESS="local", PYTHONPATH=str(REPO))


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds of the process, and the CPU seconds it and its waited-for children used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, env=_env(), check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
