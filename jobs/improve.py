"""`voxray improve`: an archive improves its own model, with no human labels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.improve.filters import FilterConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "improve",
        help="improve the production model from an unlabelled archive (pseudo-labels, fine-tuning, a gate)",
        description="A teacher model (with the company glossary as hotwords) transcribes the archive through the "
        "batch pipeline; clips whose teacher transcript passes measured filters become labels; Ray Train "
        "fine-tunes the registry's current model on them; the best checkpoint, mixed with the current weights at "
        "each --mix and exported to CTranslate2 int8, is promoted (the lowest dev WER of those that beat the current "
        "model on dev and are at most 1 WER point worse on general speech). Otherwise the current model stays "
        "(exit 0). Use the result anywhere with "
        "--model registry:DIR. Rerunning the same command resumes an interrupted run.",
    )
    p.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="files, folders, s3:// prefixes, manifests, or a nightly Delta table (its rows name the audio, "
        "and their transcripts stand in for the production model's in the agreement filter)",
    )
    p.add_argument("--registry", help="model registry folder or s3:// prefix (versions + CURRENT.json)")
    p.add_argument("--rollback", metavar="DIR", help="point registry DIR back at its previous version, then exit")
    p.add_argument("--model", default="tiny.en", help="production model that seeds an empty registry (tiny.en)")
    p.add_argument("--teacher", help="teacher model spec (default: the packaged multilingual Whisper base)")
    p.add_argument("--language", default="en", help="language of the archive (default en)")
    vocab = p.add_mutually_exclusive_group()
    vocab.add_argument("--hotwords", help="the glossary's terms for the teacher, e.g. 'Veltrix Roamshield'")
    vocab.add_argument("--glossary", type=Path, help="a text file with one term per line (teacher hotwords)")
    p.add_argument("--eval", help="labelled references (path, text) for the gate and checkpoint choice")
    p.add_argument("--regression", help="general-speech references (default: the bundled real speech)")
    p.add_argument(
        "--general",
        nargs="+",
        metavar="SOURCE",
        help="general (non-domain) speech, labelled by the teacher without the glossary and mixed into training "
        "so the model keeps everyday speech; clips in the gate's sets are never trained on (default: the bundled "
        "60 everyday sentences; 'none': the archive alone)",
    )
    p.add_argument("--work", help="local work folder (default: ~/.cache/voxray/improve/<registry digest>)")
    p.add_argument("--storage", help="Ray Train checkpoint storage, local or s3:// (default WORK/runs)")
    _training_options(p)
    p.add_argument("--batch-size", type=int, help="clips per optimizer step (default 8)")
    p.add_argument("--max-steps", type=int, help="stop fine-tuning after this many optimizer steps")
    p.add_argument("--dev-share", type=float, default=0.1, help="kept clips held out as dev without --eval")
    p.add_argument("--min-kept", type=int, default=16, help="fewer kept clips than this: no training")
    p.add_argument(
        "--min-avg-logprob",
        type=float,
        help="keep a clip only when the teacher's average log-probability is at least this (default -0.7)",
    )
    p.add_argument(
        "--max-disagreement",
        type=float,
        help="keep a clip only when the production transcript's WER against the teacher's is at most this "
        "(default 0.8)",
    )
    p.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    p.add_argument("--summary", help="write the result as JSON to this file")
    p.add_argument("--verbose", action="store_true", help="also show what Ray Train and its workers print")
    p.set_defaults(func=run)


def _training_options(p: argparse.ArgumentParser) -> None:
    """How the candidate is trained and mixed with the current weights."""
    p.add_argument("--epochs", type=int, help="passes over the kept clips (default 4)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 5e-5)")
    p.add_argument(
        "--freeze-encoder",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train the decoder only (default; --no-freeze-encoder trains the whole model)",
    )
    freeze = "keep the decoder's token and position embeddings (and the tied output layer) as they are"
    p.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=False, help=freeze)
    p.add_argument("--l2sp", type=float, default=0.0, help="L2-SP strength toward the current weights (0: off)")
    p.add_argument(
        "--distill",
        type=float,
        metavar="W",
        help="learning without forgetting: W times KL(current model || fine-tuned) of the decoder's next-token "
        "distributions on the --general clips, added to the loss (0: off; default 5)",
    )
    p.add_argument(
        "--distill-domain",
        type=float,
        metavar="W",
        help="the same term's weight on the archive's clips (0: off)",
    )
    p.add_argument(
        "--mix",
        type=float,
        nargs="+",
        help="WiSE-FT ladder: one candidate per MIX, its weights (1 - MIX) * current + MIX * fine-tuned; lower "
        "keeps more general speech, higher learns more of the domain (0 < MIX <= 1; default 1 0.8 0.6). The gate "
        "promotes the passing candidate with the lowest dev WER. Changing only --mix reuses the archive passes "
        "and the finished training run",
    )


def run(args: argparse.Namespace) -> int:
    from models.common.config import StorageConfig

    storage = StorageConfig(s3_endpoint=args.s3_endpoint)
    if args.rollback:
        return _rollback(args.rollback, storage)
    try:
        cfg, checked = _checked(args, storage)
    except ValueError as exc:
        print(f"voxray: error: {exc}", file=sys.stderr)
        return 2
    from pipelines.batch.run import ensure_ray
    from pipelines.improve.run import run_improve, write_summary

    ensure_ray(verbose=args.verbose, worker_logs=False)
    result = run_improve(cfg, checked)
    if args.summary:
        write_summary(args.summary, result)
    return 0


def _checked(args: argparse.Namespace, storage):  # noqa: ANN001, ANN202
    """(ImproveConfig, Checked); ValueError naming the option that is wrong."""
    from dataclasses import replace

    from pipelines.improve.gate import GateConfig
    from pipelines.improve.general import general_sources
    from pipelines.improve.run import DEFAULT_MIXES, ImproveConfig, check
    from pipelines.improve.train import TrainSettings

    if not args.registry:
        raise ValueError("--registry DIR is required (or --rollback DIR)")
    if not args.sources:
        raise ValueError("give at least one SOURCE (the archive)")
    hotwords = args.hotwords
    if args.glossary:
        try:
            terms = [t.strip() for t in args.glossary.read_text(encoding="utf-8").splitlines() if t.strip()]
        except OSError as exc:
            raise ValueError(f"--glossary {args.glossary}: {exc}") from exc
        hotwords = ", ".join(terms)
    if not 0 < args.dev_share < 1:
        raise ValueError(f"--dev-share must be between 0 and 1, not {args.dev_share}")
    given = {
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "distill_general": args.distill,
        "distill_domain": args.distill_domain,
    }
    train = TrainSettings(
        max_steps=args.max_steps,
        storage=args.storage,
        freeze_encoder=args.freeze_encoder,
        freeze_embeddings=args.freeze_embeddings,
        l2sp=args.l2sp,
        # Unset options keep TrainSettings' defaults, defined once there.
        **{k: v for k, v in given.items() if v is not None},
    )
    filters = _filters(args)
    cfg = ImproveConfig(
        registry=args.registry,
        sources=tuple(args.sources),
        model=args.model,
        teacher=args.teacher,
        language=args.language,
        hotwords=hotwords,
        eval=args.eval,
        regression=args.regression,
        general=general_sources(args.general),
        work=args.work,
        dev_share=args.dev_share,
        mixes=DEFAULT_MIXES if args.mix is None else tuple(args.mix),
        gate=replace(GateConfig(), min_kept_clips=args.min_kept),
        filters=filters,
        train=train,
        storage=storage,
    )
    return cfg, check(cfg)


def _filters(args: argparse.Namespace) -> FilterConfig:
    """The keep criteria, FilterConfig's defaults where an option is unset; out-of-range values refused."""
    from pipelines.improve.filters import FilterConfig

    if args.min_avg_logprob is not None and not args.min_avg_logprob < 0:
        raise ValueError(f"--min-avg-logprob must be below 0 (a log-probability), not {args.min_avg_logprob}")
    if args.max_disagreement is not None and not args.max_disagreement > 0:
        raise ValueError(f"--max-disagreement must be above 0 (a WER), not {args.max_disagreement}")
    given = (("min_avg_logprob", args.min_avg_logprob), ("max_disagreement", args.max_disagreement))
    return FilterConfig(**{k: v for k, v in given if v is not None})


def _rollback(root: str, storage) -> int:  # noqa: ANN001
    from models.versions import ModelRegistry, RegistryError

    try:
        version = ModelRegistry(root, storage).rollback()
    except (RegistryError, OSError) as exc:
        print(f"voxray: error: --rollback: {exc}", file=sys.stderr)
        return 2
    print(f"{root}: current version is now {version}")
    return 0
