"""Checkpoints of a fine-tuning run: the model as a transformers folder under `model/`, the
optimizer, schedule, loss scaler and step counters in `state.pt`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from pipelines.training.model import unwrap

# Mid-epoch checkpoints are not validated: they rank below every validated one (lower is better),
# so only the latest of them survives (Ray Train always keeps the latest checkpoint).
UNVALIDATED_WER = 1e9
STATE_FILE = "state.pt"
MODEL_SUBDIR = "model"


def report(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    state: dict[str, Any],
    metrics: dict[str, Any],
    rank: int,
    model_dir: str,
) -> None:
    """Every worker reports (it is a barrier); rank 0 attaches the checkpoint."""
    import ray.train

    metrics = {**metrics, **state_metrics(state)}
    if rank != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as tmp:
        save_model(unwrap(model), model_dir, Path(tmp) / MODEL_SUBDIR)
        save_training_state(Path(tmp) / STATE_FILE, optimizer, scheduler, scaler, state)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))


def save_training_state(
    path: Path, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: torch.amp.GradScaler, state: dict[str, Any]
) -> None:
    """Optimizer, schedule, loss scaler and step counters: tensors and plain values only."""
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "state": dict(state),
        },
        path,
    )


def load_training_state(path: Path) -> dict[str, Any]:
    """What `save_training_state` wrote. Checkpoints live on shared storage: `weights_only` refuses
    any pickled object other than tensors and plain containers, so a planted file cannot run code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def state_metrics(state: dict[str, Any]) -> dict[str, Any]:
    keys = ("step", "epoch", "baseline_wer", "resumed_at", "data_digest")
    return {k: state[k] for k in keys}


def save_model(model: torch.nn.Module, source_dir: str, dest: Path) -> None:
    """The model plus its tokenizer and processor files: a checkpoint export-ct2 and the torch backend load."""
    import shutil

    model.save_pretrained(dest)
    for name in os.listdir(source_dir):
        side_file = name.endswith((".json", ".txt")) and name not in ("config.json", "generation_config.json")
        if side_file and not (dest / name).exists():
            shutil.copyfile(os.path.join(source_dir, name), dest / name)


class maybe_dir:  # noqa: N801 (used like contextlib's lower-case helpers)
    """`checkpoint.as_directory()` when resuming, else a context yielding None."""

    def __init__(self, checkpoint: Any) -> None:
        self.checkpoint = checkpoint
        self._cm = checkpoint.as_directory() if checkpoint is not None else None

    def __enter__(self) -> str | None:
        return self._cm.__enter__() if self._cm is not None else None

    def __exit__(self, *exc: Any) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)
