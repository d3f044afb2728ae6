"""How long `voxray improve`'s training takes with and without the encoder cache and the trainer's
extra threads: the same manifest, settings and seed, one run each, in one command.

    python scripts/bench_finetune_cache.py --train WORK/train.jsonl --val WORK/val.jsonl --out DIR

WORK is an improve run's work folder (its train.jsonl marks the general clips). The anchor is the
loop as it was before both changes (every clip encoded every step, one torch thread: what Ray's
one-CPU reservation gave); "cached" is today's default. Both train the same epochs with improve's
settings (TrainSettings) and report wall seconds, steps and the best validation WER (equal up to the
last bits of the encoder's sums).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

from models.common.config import StorageConfig
from pipelines.batch.run import ensure_ray
from pipelines.improve.train import TrainSettings, trainer_threads
from pipelines.training.finetune import FinetuneConfig, RunSpec, run_finetune


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--epochs", type=int, default=TrainSettings.epochs)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    ensure_ray(worker_logs=False)
    settings = TrainSettings(epochs=args.epochs)
    fields = {f.name for f in dataclasses.fields(FinetuneConfig)}
    base = FinetuneConfig(model=args.model, **{k: v for k, v in dataclasses.asdict(settings).items() if k in fields})
    variants = {
        "anchor: encoded every step, 1 thread": (dataclasses.replace(base, encoder_cache_mb=0), 1),
        "cached, all cores": (base, trainer_threads()),
    }
    results = {}
    for label, (cfg, threads) in variants.items():
        name = f"bench-{'anchor' if cfg.encoder_cache_mb == 0 else 'cached'}-{int(time.time())}"
        spec = RunSpec(train=args.train, val=args.val, storage=str(args.out / "runs"), name=name, threads=threads)
        started = time.perf_counter()
        result = run_finetune(cfg, spec, StorageConfig())
        wall = time.perf_counter() - started
        per_step = round(wall / max(1, result.steps), 2)
        results[label] = {"wall_s": round(wall, 1), "steps": result.steps, "threads": threads, "s_per_step": per_step}
        results[label]["best_val_wer"] = result.best_wer
        print(f"{label:40s} wall {wall:7.1f} s  steps {result.steps}  best val WER {result.best_wer}", flush=True)
    anchor, cached = results.values()
    ratio = anchor["wall_s"] / cached["wall_s"]
    print(f"speed-up (anchor wall / cached wall): {ratio:.2f}x on {os.cpu_count()} CPUs")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"epochs": args.epochs, "train": args.train, "val": args.val, "results": results, "speedup": ratio}
    (args.out / "bench_finetune_cache.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
