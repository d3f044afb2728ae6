"""`voxray bench`: voxray against faster-whisper on the same files and machine, in one run."""

from __future__ import annotations

import argparse
from pathlib import Path

# What each scenario measures (the --scenarios help); the default set is the first seven.
SCENARIOS_HELP = (
    "comma-separated: short-process, long-process (whole processes, as a user times them), short, "
    "long (model throughput in one process, like for like), stages, timestamps, memory, overhead; "
    "short-sets (held-out clip sets: the per-file loop, defaults and --no-pack, per set); "
    "also diarize-quality (builds its evaluation set with espeak-ng and ffmpeg into ~/.cache/voxray on "
    "first use), diarize-overhead, diarize-memory; redact-quality (a spoken-PII corpus read by "
    "espeak-ng, needs espeak-ng and ffmpeg); elastic (1-CPU `ray start` nodes on this "
    "machine: node lost, replaced, joining, SIGTERM; rows, time, time after a loss against what is left)"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure RTFx and WER against faster-whisper (table + PNG)",
        description="Runs voxray and faster-whisper on the same audio with the bundled tiny.en, the same beam "
        "size, on this machine, in one run: short clips (anchor: per-file WhisperModel.transcribe loop), a long "
        "recording (anchor: BatchedInferencePipeline at its best batch size), per-core CPU stage throughput, "
        "timestamp accuracy and peak memory. Prints a table; writes results.json and bench.png to --out.",
    )
    p.add_argument("--out", type=Path, default=Path("bench-results"))
    p.add_argument(
        "--short-dir",
        type=Path,
        default=Path("tests/data/speech"),
        help="folder with clips and a manifest.jsonl (path, text, optional duration_s); clips repeat to --short-count",
    )
    p.add_argument("--short-count", type=int, default=200)
    p.add_argument(
        "--short-sets",
        type=Path,
        default=None,
        help="short-sets scenario: a folder of clip sets made by scripts/make_clip_sets.py (default: build three "
        "held-out sets of 60 clips, which needs espeak-ng, sox and ffmpeg)",
    )
    p.add_argument(
        "--long-file",
        type=Path,
        default=Path("tests/data/realspeech"),
        help="a folder of utterances, joined 0.3 s apart (real, dense speech; references from *.trans.txt or "
        "faster-whisper per utterance), or a recording with a JSON of its sentences beside it",
    )
    p.add_argument("--long-minutes", type=float, default=60.0, help="minutes of long-form audio in all")
    p.add_argument("--long-recordings", type=int, default=8, help="files the long-form minutes are split into")
    p.add_argument("--anchor-batch-sizes", default="8,16")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument(
        "--compute-type",
        default="int8",
        help="CTranslate2 compute type for both systems (int8 is both defaults on CPU; float32 removes "
        "quantisation noise from the WER comparison)",
    )
    p.add_argument("--memory-hours", type=float, default=3.0)
    p.add_argument("--overhead-files", type=int, default=100_000, help="files in the overhead scenario")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where both systems run the model; cuda also samples GPU utilisation (nvidia-smi) during each run",
    )
    p.add_argument(
        "--scenarios",
        default="short-process,long-process,short,long,stages,timestamps,memory",
        help=SCENARIOS_HELP,
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tools.bench.benchmark import BenchConfig, render_table, run_benchmarks

    cfg = BenchConfig(
        short_dir=args.short_dir,
        short_count=args.short_count,
        short_sets=args.short_sets,
        long_file=args.long_file,
        long_minutes=args.long_minutes,
        long_recordings=args.long_recordings,
        anchor_batch_sizes=tuple(int(b) for b in args.anchor_batch_sizes.split(",")),
        beam_size=args.beam_size,
        compute_type=args.compute_type,
        memory_hours=args.memory_hours,
        device=args.device,
        overhead_files=args.overhead_files,
        scenarios=tuple(args.scenarios.split(",")),
        out=args.out,
    )
    print(render_table(run_benchmarks(cfg)))
    print(f"wrote {cfg.out / 'results.json'} and {cfg.out / 'bench.png'}")
    return 0
