"""`voxray finetune`: fine-tune a Whisper or CTC model with Ray Train (resumable, best checkpoint kept)."""

from __future__ import annotations

import argparse
import json
import sys

from jobs.options import values_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune a model on labelled audio with Ray Train",
        description="Fine-tune a Whisper model (or a CTC model such as wav2vec2) with Ray Train's TorchTrainer "
        "(DDP). Training data is a manifest (CSV/JSONL/Parquet with `path` and `text`) or a voxray transcripts "
        "dataset, whose confident rows become pseudo-labels. Audio is decoded in Ray Data CPU tasks and "
        "streamed to the trainers. Checkpoints go to --storage every --checkpoint-every steps and after each "
        "epoch (with the validation WER); running the same command again resumes from the latest one. Prints "
        "the validation WER before and after and the best checkpoint (export it with `voxray models export-ct2`).",
    )
    p.add_argument("--model", help="transformers folder, CTranslate2 folder, tiny.en, s3://, hub id")
    p.add_argument("--train", required=True, help="manifest file, or a transcripts folder/prefix (pseudo-labels)")
    p.add_argument("--val", required=True, help="validation manifest (or transcripts) for the WER after each epoch")
    p.add_argument("--storage", required=True, help="local folder or s3:// prefix for checkpoints")
    p.add_argument("--name", required=True, help="run name; the same name resumes")
    p.add_argument("--num-workers", type=int, help="training workers (DDP processes)")
    p.add_argument("--use-gpu", action="store_true", default=None, help="one GPU per worker, mixed precision")
    p.add_argument("--cpus-per-worker", type=float, help="CPUs each training worker reserves")
    p.add_argument("--data-cpus", type=float, help="CPUs each data-preparation actor reserves")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--lr", type=float, help="peak learning rate (linear warmup, linear decay)")
    p.add_argument("--warmup-steps", type=int)
    p.add_argument("--batch-size", type=int, help="clips per worker per micro-batch")
    p.add_argument("--grad-accum", type=int, help="micro-batches per optimizer step")
    p.add_argument("--checkpoint-every", type=int, help="optimizer steps between checkpoints")
    p.add_argument("--spec-augment", action="store_true", default=None, help="random frequency and time masking")
    p.add_argument("--freeze-encoder", action="store_true", default=None, help="train the Whisper decoder only")
    p.add_argument(
        "--distill-general",
        type=float,
        help="weight of KL(start model || student) on the manifest's rows marked `general` (default 0: off)",
    )
    p.add_argument("--distill-domain", type=float, help="the same term's weight on the other rows (default 0)")
    p.add_argument("--language", help="language of the training audio (multilingual models; default en)")
    p.add_argument("--seed", type=int, help="seeds each epoch's order and the initialisation (default 0)")
    p.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0)")
    p.add_argument(
        "--timestamp-share",
        type=float,
        help="share of clips labelled with timestamps, so the model keeps predicting them (default 0.5)",
    )
    p.add_argument("--freq-mask", type=int, help="SpecAugment frequency mask width in mel bins (27)")
    p.add_argument("--time-mask", type=int, help="SpecAugment time mask width in frames (100)")
    p.add_argument("--val-batch-size", type=int, help="clips per validation batch (default 8)")
    p.add_argument("--keep", type=int, help="checkpoints kept (the best by val WER and the latest)")
    p.add_argument("--max-failures", type=int, help="worker failures Ray Train retries from a checkpoint")
    p.add_argument(
        "--min-avg-logprob",
        type=float,
        help="pseudo-labels: keep transcripts whose mean segment avg_logprob is above this",
    )
    p.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    p.add_argument("--summary", help="write the result (WERs, best checkpoint path) as JSON to this file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.common.config import StorageConfig
    from pipelines.batch.run import ensure_ray
    from pipelines.training.finetune import FinetuneConfig, RunSpec, checked_config, run_finetune

    # Flags left out are None: the dataclasses' defaults apply (one place for each default).
    cfg = FinetuneConfig(**values_from_args(FinetuneConfig, args))
    spec = RunSpec(**values_from_args(RunSpec, args, num_to_keep="keep"))
    storage = StorageConfig(s3_endpoint=args.s3_endpoint)
    try:
        checked_config(cfg, storage)  # wrong options fail here, before Ray starts
    except ValueError as exc:
        print(f"voxray: error: {exc}", file=sys.stderr)
        return 2
    ensure_ray(dashboard=True)
    try:
        result = run_finetune(cfg, spec, storage)
    except (FileNotFoundError, ValueError) as exc:
        print(f"voxray: {exc}", file=sys.stderr)
        return 2
    print(f"validation WER before: {_pct(result.baseline_wer)}  after (best): {_pct(result.best_wer)}")
    print(f"optimizer steps: {result.steps}  wall time: {result.wall_s:.0f} s")
    print(f"best checkpoint: {result.best_checkpoint}")
    print(f"latest checkpoint: {result.latest_checkpoint}")
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as fh:
            json.dump(result.__dict__, fh, indent=2)
    return 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
