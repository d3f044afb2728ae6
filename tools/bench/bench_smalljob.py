"""`voxray bench --scenarios small-job`: `make demo`'s job as whole processes, against the plain loop.

The six files of samples/ (one broken) through `voxray transcribe samples` as a new user runs it
(no RAY_ADDRESS: the default engine picks the in-process path for such a job), through the Ray
path (`--engine ray`, a local Ray started for the run), and the plain faster-whisper per-file loop
over the five readable files (tools/bench/anchor.py). The three alternate, round after round, so
that a machine shared with other work loads them alike; each measurement is the median of the
rounds, with its ratio to the loop's median (the target: at most 2x) and every round's ratio.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.batch.local import RAY_CURRENT_CLUSTER
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
        "faster-whisper per-file loop (5 readable files)": ([*anchor, *common, *refs], _env(None)),
        "voxray transcribe samples (defaults, no RAY_ADDRESS)": ([*voxray, "-o", str(work / "auto")], _env(None)),
        "voxray transcribe samples --engine ray": ([*voxray, "--engine", "ray", "-o", str(work / "ray")], _env()),
    }
    walls: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(ROUNDS):
        for name, (cmd, env) in systems.items():
            walls[name].append(_timed(cmd, env))
    loop = list(walls)[0]
    texts = {loop: json.loads(anchor_out.read_text())}
    texts.update({name: _texts(work / folder) for name, folder in zip(list(walls)[1:], ("auto", "ray"), strict=True)})
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
                "ray_cluster_recorded": os.path.exists(RAY_CURRENT_CLUSTER),
            },
        )
        for name in walls
    ]


def _texts(dest: Path) -> dict[str, str]:
    import pyarrow.dataset as pads

    return {r["path"]: r["text"] or "" for r in pads.dataset(str(dest), format="parquet").to_table().to_pylist()}


def _env(ray_address: str | None = "local") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(REPO)
    return env | ({"RAY_ADDRESS": ray_address} if ray_address else {})


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started
