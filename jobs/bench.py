"""`voxray bench`: voxray against faster-whisper on the same files and machine, in one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from jobs.options import values_from_args

# What each scenario measures (the --scenarios help); the default set is the first seven.
SCENARIOS_HELP = (
    "comma-separated: short-process, long-process (whole processes, as a user times them), short, "
    "long (model throughput in one process, like for like), stages, timestamps, memory, overhead; "
    "small-job (`make demo`'s six samples as whole processes: defaults, --engine ray and the per-file "
    "loop, alternating for 5 rounds; medians and ratios to the loop); "
    "short-sets (held-out clip sets: the per-file loop, defaults, --pack, whole windows and --engine ray, per set); "
    "distill (`voxray improve`'s teacher, the packaged Whisper base, against its student tiny.en on the "
    "--short-dir clips: RTFx of each through the batch pipeline and the student's speed-up); "
    "also diarize-quality (builds its evaluation set with espeak-ng and ffmpeg into ~/.cache/voxray on "
    "first use), diarize-overhead, diarize-memory; redact-quality (a spoken-PII corpus read by "
    "espeak-ng, needs espeak-ng and ffmpeg); elastic (1-CPU `ray start` nodes on this "
    "machine: node lost, replaced, joining, SIGTERM; rows, time, time after a loss against what is left)"
)


def int_list(text: str) -> tuple[int, ...]:
    return tuple(int(b) for b in text.split(","))


def name_list(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure RTFx and WER against faster-whisper (table + PNG)",
        description="Runs voxray and faster-whisper on the same audio with the bundled tiny.en, the same beam "
        "size, on this machine, in one run: short clips (anchor: per-file WhisperModel.transcribe loop), a long "
        "recording (anchor: BatchedInferencePipeline at its best batch size), per-core CPU stage throughput, "
        "timestamp accuracy and peak memory. Prints a table; writes results.json and bench.png to --out.",
    )
    p.add_argument("--out", type=Path)
    p.add_argument(
        "--short-dir",
        type=Path,
        help="folder with clips and a manifest.jsonl (path, text, optional duration_s); clips repeat to --short-count",
    )
    p.add_argument("--short-count", type=int)
    p.add_argument(
        "--short-sets",
        type=Path,
        help="short-sets scenario: a folder of clip sets made by scripts/make_clip_sets.py (default: build three "
        "held-out sets of 60 clips, which needs espeak-ng, sox and ffmpeg)",
    )
    p.add_argument(
        "--long-file",
        type=Path,
        help="a folder of utterances, joined 0.3 s apart (real, dense speech; references from *.trans.txt or "
        "faster-whisper per utterance), or a recording with a JSON of its sentences beside it",
    )
    p.add_argument("--long-minutes", type=float, help="minutes of long-form audio in all")
    p.add_argument("--long-recordings", type=int, help="files the long-form minutes are split into")
    p.add_argument("--anchor-batch-sizes", type=int_list)
    p.add_argument("--beam-size", type=int)
    p.add_argument(
        "--compute-type",
        help="CTranslate2 compute type for both systems (int8 is both defaults on CPU; float32 removes "
        "quantisation noise from the WER comparison)",
    )
    p.add_argument("--memory-hours", type=float)
    p.add_argument("--overhead-files", type=int, help="files in the overhead scenario")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        help="where both systems run the model; cuda also samples GPU utilisation (nvidia-smi) during each run",
    )
    p.add_argument(
        "--scenarios",
        type=name_list,
        help=SCENARIOS_HELP,
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tools.bench.benchmark import BenchConfig, render_table, run_benchmarks

    # Flags left out are None: BenchConfig's defaults apply.
    cfg = BenchConfig(**values_from_args(BenchConfig, args))
    print(render_table(run_benchmarks(cfg)))
    print(f"wrote {cfg.out / 'results.json'} and {cfg.out / 'bench.png'}")
    return 0
