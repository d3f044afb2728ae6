"""The loop every Ray Train worker runs (`train_func`, DDP through `ray.train.torch.prepare_model`).

Its batches stream from Ray Data CPU tasks (`pipelines.training.data`): decoding and features never
run on the trainers. Every `checkpoint_every` optimizer steps, and after each epoch's validation,
rank 0 writes a checkpoint (pipelines/training/checkpoint.py); a run started again with the same
storage and name resumes from the latest one, at the same batch of the same seeded epoch order.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipelines.training.checkpoint import (
    MODEL_SUBDIR,
    STATE_FILE,
    UNVALIDATED_WER,
    load_training_state,
    maybe_dir,
    report,
    state_metrics,
)
from pipelines.training.data import epoch_examples, epoch_indices
from pipelines.training.model import (
    EncoderCache,
    SpecAugment,
    Validator,
    amp_dtype,
    batches,
    distilled_loss,
    linear_schedule,
    load_model,
    loss,
    no_sync,
    unwrap,
)
from pipelines.training.settings import FinetuneConfig, distills


def train_func(config: dict[str, Any]) -> None:
    """Ray Train loop. config: `finetune` (FinetuneConfig as a dict), `model_dir`, `train_rows`,
    `train_rows_ref`, `examples`, `data_cpus` and `threads` (see finetune.run_finetune)."""
    import ray.train

    cfg = FinetuneConfig(**config["finetune"])
    worker = _Worker(cfg, config)
    worker.validate_baseline()
    rows = ray.get(config["train_rows_ref"])
    while worker.state["epoch"] < cfg.epochs and not _done(cfg, worker.state):
        losses = worker.train_epoch(rows, config)
        if _done(cfg, worker.state):
            break  # max_steps reached: its checkpoint is written; no epoch-end validation
        worker.end_epoch(losses)
    if not worker.reported:
        # Nothing left to train (the same command after a finished run): still return the run's numbers.
        state = worker.state
        ray.train.report({**state_metrics(state), "val_wer": state["best_wer"] or UNVALIDATED_WER, "validated": False})


def planned_steps(cfg: FinetuneConfig, train_rows: int, world: int) -> int:
    """Optimizer steps of the whole run: each worker sees its equal share of the rows per epoch."""
    n_batches = math.ceil(max(1, train_rows // world) / cfg.batch_size)
    steps = cfg.epochs * max(1, n_batches // cfg.grad_accum)
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def fresh_state() -> dict[str, Any]:
    return {
        "step": 0,
        "epoch": 0,
        "batches_in_epoch": 0,
        "best_wer": None,
        "baseline_wer": None,
        "resumed_at": None,  # the step this run resumed from (None: a fresh start)
        # A running hash of the labels trained on, in order (rank 0's share): two runs that saw the
        # same batches in the same order, resumed or not, end with the same digest.
        "data_digest": "",
    }


class _Worker:
    """One worker's model, optimizer, schedule, loss scaler and counters, resumed if checkpointed."""

    def __init__(self, cfg: FinetuneConfig, config: dict[str, Any]) -> None:
        import ray.train
        import ray.train.torch

        self.cfg, self.model_dir = cfg, config["model_dir"]
        context = ray.train.get_context()
        self.rank, self.world = context.get_world_rank(), context.get_world_size()
        torch.manual_seed(cfg.seed + self.rank)
        self.device = ray.train.torch.get_device()
        if self.device.type == "cpu":
            torch.set_num_threads(config["threads"])
        self.state = fresh_state()
        self.reported = False
        with maybe_dir(ray.train.get_checkpoint()) as ckpt_dir:
            source = os.path.join(ckpt_dir, MODEL_SUBDIR) if ckpt_dir else self.model_dir
            model, self.kind = load_model(source)
            saved = load_training_state(Path(ckpt_dir) / STATE_FILE) if ckpt_dir else None
        freeze(model, self.kind, cfg)
        self.model = ray.train.torch.prepare_model(model)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.anchor = _anchor(self.model, self.model_dir, ckpt_dir is not None) if cfg.l2sp > 0 else None
        self.frozen = _frozen(self.model_dir, self.kind, self.device) if distills(cfg) else None
        self.optimizer = torch.optim.AdamW(self.trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
        total_steps = planned_steps(cfg, config["train_rows"], self.world)
        self.scheduler = linear_schedule(self.optimizer, cfg.warmup_steps, total_steps)
        self.amp_dtype = amp_dtype(self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        if saved is not None:
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
            self.scaler.load_state_dict(saved["scaler"])
            self.state.update(saved["state"], resumed_at=saved["state"]["step"])
        self.augment = SpecAugment(cfg) if cfg.spec_augment and self.kind == "whisper" else None
        self.cache = _encoder_cache(cfg, self.kind, self.augment)
        self.validator = Validator(cfg, self.kind, self.model_dir, self.rank, self.cache)

    def validate_baseline(self) -> None:
        import ray.train

        if self.state["baseline_wer"] is None:
            wer = self.state["baseline_wer"] = self.validator(unwrap(self.model), self.device)
            ray.train.report({"step": 0, "epoch": 0, "val_wer": wer, "baseline_wer": wer})

    def train_epoch(self, rows: Any, config: dict[str, Any]) -> list[float]:
        """The rest of the current epoch; returns the losses since the last checkpoint."""
        cfg, state = self.cfg, self.state
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)  # no gradient carried over from a short last accumulation
        skip = state["batches_in_epoch"]  # batches of this epoch trained before a resume
        losses: list[float] = []
        indices = epoch_indices(rows.num_rows, cfg.seed, state["epoch"], self.rank, self.world)
        examples = epoch_examples(rows, indices, *config["examples"], config["data_cpus"])
        model, kind = self.model, self.kind
        for index, batch in enumerate(batches(examples, cfg, kind)):
            if index < skip:
                continue  # the epoch's order is fixed by its seed: these are the batches already trained on
            state["data_digest"] = _digest(state["data_digest"], batch)
            last_micro = (index + 1) % cfg.grad_accum == 0
            with no_sync(model, not last_micro):
                value = self._loss(batch)
                self.scaler.scale((value + self._penalty()) / cfg.grad_accum).backward()
            losses.append(float(value.detach()))
            state["batches_in_epoch"] = index + 1
            if not last_micro:
                continue
            self._step()
            if state["step"] % cfg.checkpoint_every == 0 or _done(cfg, state):
                self._report({"loss": float(np.mean(losses)), "val_wer": UNVALIDATED_WER, "validated": False})
                losses = []
            if _done(cfg, state):
                break
        return losses

    def end_epoch(self, losses: list[float]) -> None:
        """Validate the epoch just finished and checkpoint it."""
        state = self.state
        state["epoch"] += 1
        state["batches_in_epoch"] = 0
        wer = self.validator(unwrap(self.model), self.device)
        state["best_wer"] = wer if state["best_wer"] is None else min(state["best_wer"], wer)
        self._report({"loss": float(np.mean(losses)) if losses else math.nan, "val_wer": wer, "validated": True})

    def _loss(self, batch: dict[str, Any]) -> torch.Tensor:
        if self.frozen is not None:
            args = (self.model, self.frozen, batch, self.cfg, self.device, self.amp_dtype, self.augment)
            return distilled_loss(*args, cache=self.cache)
        args = (self.model, batch, self.kind, self.device, self.amp_dtype, self.augment, self.model.training)
        return loss(*args, cache=self.cache)

    def _penalty(self) -> torch.Tensor | float:
        """L2-SP: l2sp / 2 * the squared distance of the trained parameters from the starting model's."""
        if self.anchor is None:
            return 0.0
        drift = sum((p - a).pow(2).sum() for p, a in zip(self.trainable, self.anchor, strict=True))
        return 0.5 * self.cfg.l2sp * drift

    def _step(self) -> None:
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.trainable, 1.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.state["step"] += 1

    def _report(self, metrics: dict[str, Any]) -> None:
        report(self.model, self.optimizer, self.scheduler, self.scaler, self.state, metrics, self.rank, self.model_dir)
        self.reported = True


def freeze(model: Any, kind: str, cfg: FinetuneConfig) -> None:
    """Keep the parts of a Whisper model that `cfg` says stay as they are (the rest trains)."""
    if kind != "whisper":
        return
    if cfg.freeze_encoder:
        model.model.encoder.requires_grad_(False)
    if cfg.freeze_embeddings:  # the token embedding is tied to the output projection: both stay
        model.model.decoder.embed_tokens.requires_grad_(False)
        model.model.decoder.embed_positions.requires_grad_(False)


def _encoder_cache(cfg: FinetuneConfig, kind: str, augment: SpecAugment | None) -> EncoderCache | None:
    """A cache of the frozen encoder's outputs, where they are the same every epoch: a Whisper model
    with a frozen encoder and no SpecAugment (which changes the encoder's input every time)."""
    if kind != "whisper" or not cfg.freeze_encoder or augment is not None or cfg.encoder_cache_mb == 0:
        return None
    return EncoderCache(cfg.encoder_cache_mb << 20)


def _anchor(model: torch.nn.Module, model_dir: str, resumed: bool) -> list[torch.Tensor]:
    """The starting model's values of the trained parameters, in `model.parameters()` order: a copy of
    the model as loaded on a fresh start; the start model read again after a resume from a checkpoint."""
    live = unwrap(model)
    start = load_model(model_dir)[0].to(next(live.parameters()).device) if resumed else live
    start_params = dict(start.named_parameters())
    return [start_params[name].detach().clone() for name, p in live.named_parameters() if p.requires_grad]


def _frozen(model_dir: str, kind: str, device: torch.device) -> torch.nn.Module:
    """The start model, read again from its folder (a resumed run's live model is a checkpoint's),
    frozen in eval mode: the distillation term's reference."""
    if kind != "whisper":
        raise ValueError("distill_general / distill_domain: only Whisper models can be distilled")
    frozen = load_model(model_dir)[0].to(device).eval()
    return frozen.requires_grad_(False)


def _digest(previous: str, batch: dict[str, Any]) -> str:
    labels = batch["labels"]
    data = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    return hashlib.sha256(previous.encode() + data.astype(np.int64).tobytes()).hexdigest()


def _done(cfg: FinetuneConfig, state: dict) -> bool:
    return cfg.max_steps is not None and state["step"] >= cfg.max_steps
