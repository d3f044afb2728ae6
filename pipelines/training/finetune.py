"""Fine-tuning with Ray Train: the driver that builds the datasets and the TorchTrainer.

The per-worker loop is `pipelines.training.worker.train_func`; checkpoints (pipelines/training/
checkpoint.py) are ranked by `val_wer`, so the best one is kept, and a run started again with the
same storage and name resumes from the latest one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.common.config import StorageConfig, dataclass_from_dict
from pipelines.training.settings import FinetuneConfig, RunSpec
from pipelines.training.worker import train_func

__all__ = ["FinetuneConfig", "FinetuneResult", "RunSpec", "checked_config", "run_finetune"]


def checked_config(cfg: FinetuneConfig, storage: StorageConfig) -> tuple[FinetuneConfig, str]:
    """(cfg validated as if loaded from YAML, the model's local folder or hub id); ValueError naming
    the option when a value is out of range or the model does not know `language`."""
    from models.languages import check_language
    from models.whisper_torch import resolve_torch_model

    cfg = dataclass_from_dict(FinetuneConfig, dataclasses.asdict(cfg))
    source = resolve_torch_model(cfg.model, storage)
    if Path(source).is_dir():
        check_language(source, cfg.language, cfg.model)
    return cfg, str(source)


@dataclass(frozen=True)
class FinetuneResult:
    baseline_wer: float | None
    best_wer: float | None
    best_checkpoint: str | None
    latest_checkpoint: str | None
    steps: int
    resumed_at: int | None
    wall_s: float
    data_digest: str = ""  # the order of the batches trained on (see worker.fresh_state)


def run_finetune(cfg: FinetuneConfig, spec: RunSpec, storage_config: Any = None) -> FinetuneResult:
    """Build the datasets and the TorchTrainer, run (or resume) it, and return the best checkpoint."""
    import ray

    started = time.perf_counter()
    ray.data.DataContext.get_current().enable_progress_bars = sys.stderr.isatty()
    storage_config = storage_config or StorageConfig()
    cfg, model_dir = checked_config(cfg, storage_config)
    if not Path(model_dir).is_dir():
        # A hub id: fetch it once on the driver (node-local; multi-node runs should pass s3://).
        from huggingface_hub import snapshot_download

        model_dir = snapshot_download(model_dir)
    trainer = _trainer(cfg, spec, storage_config, model_dir)
    return _result(trainer.fit(), started)


def _trainer(cfg: FinetuneConfig, spec: RunSpec, storage_config: StorageConfig, model_dir: str) -> Any:
    import ray
    import ray.train
    from ray.train.torch import TorchTrainer

    from pipelines.training.data import PseudoLabelFilter, canonical_rows, training_dataset

    keep = PseudoLabelFilter(min_avg_logprob=spec.min_avg_logprob)
    rows = canonical_rows(training_dataset(spec.train, storage_config, keep))
    stage_class, stage_kwargs = _examples_stage(model_dir, storage_config, cfg)
    # Small batches keep the first training step close; actors load the tokenizer once.
    val = training_dataset(spec.val, storage_config, keep).map_batches(
        stage_class,
        fn_constructor_kwargs={**stage_kwargs, "keep_text": True},
        compute=ray.data.ActorPoolStrategy(size=1),
        batch_size=4,
        num_cpus=spec.data_cpus,
    )
    return TorchTrainer(
        train_func,
        train_loop_config={
            "finetune": dataclasses.asdict(cfg),
            "model_dir": model_dir,
            "train_rows": rows.num_rows,
            # Each worker builds its epochs from these rows (see `epoch_indices`): a Ray Train
            # dataset shard streams in whatever order blocks finish, so a resume could not be exact.
            "train_rows_ref": ray.put(rows),
            "examples": (stage_class, stage_kwargs),
            "data_cpus": spec.data_cpus,
            "threads": worker_threads(spec),
        },
        scaling_config=ray.train.ScalingConfig(
            num_workers=spec.num_workers,
            use_gpu=spec.use_gpu,
            resources_per_worker={"CPU": spec.cpus_per_worker, **({"GPU": 1} if spec.use_gpu else {})},
        ),
        run_config=_run_config(spec, storage_config),
        datasets={"val": val},
        dataset_config=ray.train.DataConfig(datasets_to_split=[]),
    )


def worker_threads(spec: RunSpec) -> int:
    """A CPU worker's torch threads: `spec.threads`, else its CPUs rounded up (Ray sets
    OMP_NUM_THREADS to their floor, 1 thread for 1.5 CPUs)."""
    return spec.threads or max(1, math.ceil(spec.cpus_per_worker))


def _run_config(spec: RunSpec, storage_config: StorageConfig) -> Any:
    import ray.train

    from models.common.storage import arrow_filesystem, is_s3

    storage_fs = None
    storage_path = spec.storage
    if is_s3(spec.storage):
        storage_fs, storage_path = arrow_filesystem(spec.storage, storage_config)
    return ray.train.RunConfig(
        name=spec.name,
        storage_path=storage_path if storage_fs is not None else os.path.abspath(os.path.expanduser(storage_path)),
        storage_filesystem=storage_fs,
        checkpoint_config=ray.train.CheckpointConfig(
            num_to_keep=spec.num_to_keep,
            checkpoint_score_attribute="val_wer",
            checkpoint_score_order="min",
        ),
        failure_config=ray.train.FailureConfig(max_failures=spec.max_failures),
    )


def _result(result: Any, started: float) -> FinetuneResult:
    best = min(result.best_checkpoints or [], key=lambda cm: cm[1].get("val_wer", math.inf), default=None)
    validated = [cm for cm in result.best_checkpoints or [] if cm[1].get("validated")]
    best = min(validated, key=lambda cm: cm[1]["val_wer"], default=best)
    metrics = result.metrics or {}
    return FinetuneResult(
        baseline_wer=metrics.get("baseline_wer"),
        best_wer=best[1]["val_wer"] if best and best[1].get("validated") else None,
        best_checkpoint=best[0].path if best else None,
        latest_checkpoint=result.checkpoint.path if result.checkpoint else None,
        steps=int(metrics.get("step", 0)),
        resumed_at=metrics.get("resumed_at"),
        data_digest=metrics.get("data_digest", ""),
        wall_s=time.perf_counter() - started,
    )


def _examples_stage(model_dir: str, storage: Any, cfg: FinetuneConfig) -> tuple[type, dict[str, Any]]:
    from transformers import AutoConfig

    from pipelines.training.data import CTCExamples, WhisperExamples

    if AutoConfig.from_pretrained(model_dir).model_type == "whisper":
        return WhisperExamples, {
            "model_dir": model_dir,
            "storage": storage,
            "language": cfg.language,
            "timestamp_share": cfg.timestamp_share,
        }
    return CTCExamples, {"model_dir": model_dir, "storage": storage}
