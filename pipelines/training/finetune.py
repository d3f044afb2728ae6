"""Fine-tuning with Ray Train: the per-worker training loop and the driver that starts it.

`train_func` runs on every Ray Train worker (DDP through `ray.train.torch.prepare_model`). Its
batches stream from Ray Data CPU tasks (`pipelines.training.data`): decoding and features never
run on the trainers. Every `checkpoint_every` optimizer steps, and after each epoch's validation,
rank 0 writes a checkpoint (the model as a transformers folder under `model/`, the optimizer,
schedule and step counters in `state.pt`); a run started again with the same storage and name
resumes from the latest one. Checkpoints are ranked by `val_wer`, so the best one is kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.common.config import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    StorageConfig,
    dataclass_from_dict,
)
from pipelines.training.data import epoch_examples, epoch_indices

# Mid-epoch checkpoints are not validated: they rank below every validated one (lower is better),
# so only the latest of them survives (Ray Train always keeps the latest checkpoint).
UNVALIDATED_WER = 1e9
STATE_FILE = "state.pt"
MODEL_SUBDIR = "model"


@dataclass(frozen=True)
class FinetuneConfig:
    """What one fine-tuning run does (per-worker batch sizes; steps are optimizer steps)."""

    model: str = "tiny.en"
    epochs: PositiveInt = 3
    lr: PositiveFloat = 1e-5
    batch_size: PositiveInt = 8
    grad_accum: PositiveInt = 1
    warmup_steps: NonNegativeInt = 10
    weight_decay: NonNegativeFloat = 0.0
    checkpoint_every: PositiveInt = 50
    spec_augment: bool = False
    freq_mask: NonNegativeInt = 27  # SpecAugment LD policy: F = 27 mel bins, T = 100 frames, one mask each
    time_mask: NonNegativeInt = 100
    freeze_encoder: bool = False
    timestamp_share: Probability = 0.5
    max_steps: PositiveInt | None = None  # stop early (tests, smoke runs)
    val_batch_size: PositiveInt = 8
    language: str = "en"
    seed: int = 0


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


def train_func(config: dict[str, Any]) -> None:
    """Ray Train loop. config: `finetune` (FinetuneConfig as a dict), `model_dir`, `train_rows`, `num_workers`."""
    import ray.train
    import ray.train.torch

    cfg = FinetuneConfig(**config["finetune"])
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.manual_seed(cfg.seed + rank)
    device = ray.train.torch.get_device()
    checkpoint = ray.train.get_checkpoint()
    state: dict[str, Any] = {
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
    with _maybe_dir(checkpoint) as ckpt_dir:
        source = os.path.join(ckpt_dir, MODEL_SUBDIR) if ckpt_dir else config["model_dir"]
        model, kind = load_model(source)
        saved = load_training_state(Path(ckpt_dir) / STATE_FILE) if ckpt_dir else None
    if cfg.freeze_encoder and kind == "whisper":
        model.model.encoder.requires_grad_(False)
    model = ray.train.torch.prepare_model(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = planned_steps(cfg, config["train_rows"], world)
    scheduler = _linear_schedule(optimizer, cfg.warmup_steps, total_steps)
    amp_dtype = _amp_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        state.update(saved["state"], resumed_at=saved["state"]["step"])
    augment = _SpecAugment(cfg) if cfg.spec_augment and kind == "whisper" else None
    validator = _Validator(cfg, kind, config["model_dir"], rank)
    if state["baseline_wer"] is None:
        state["baseline_wer"] = validator(_unwrap(model), device)
        ray.train.report(
            {"step": 0, "epoch": 0, "val_wer": state["baseline_wer"], "baseline_wer": state["baseline_wer"]}
        )

    rows = ray.get(config["train_rows_ref"])
    reported = False
    while state["epoch"] < cfg.epochs and not _done(cfg, state):
        model.train()
        optimizer.zero_grad(set_to_none=True)  # no gradient carried over from a short last accumulation
        skip = state["batches_in_epoch"]  # batches of this epoch trained before a resume
        losses: list[float] = []
        indices = epoch_indices(rows.num_rows, cfg.seed, state["epoch"], rank, world)
        examples = epoch_examples(rows, indices, *config["examples"], config["data_cpus"])
        for index, batch in enumerate(_batches(examples, cfg, kind)):
            if index < skip:
                continue  # the epoch's order is fixed by its seed: these are the batches already trained on
            state["data_digest"] = _digest(state["data_digest"], batch)
            last_micro = (index + 1) % cfg.grad_accum == 0
            with _no_sync(model, not last_micro):
                loss = _loss(model, batch, kind, device, amp_dtype, augment, model.training)
                scaler.scale(loss / cfg.grad_accum).backward()
            losses.append(float(loss.detach()))
            state["batches_in_epoch"] = index + 1
            if not last_micro:
                continue
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            state["step"] += 1
            if state["step"] % cfg.checkpoint_every == 0 or _done(cfg, state):
                metrics = {"loss": float(np.mean(losses)), "val_wer": UNVALIDATED_WER, "validated": False}
                _report(model, optimizer, scheduler, scaler, state, metrics, rank, config["model_dir"])
                losses, reported = [], True
            if _done(cfg, state):
                break
        if _done(cfg, state):
            break  # max_steps reached: its checkpoint is written; no epoch-end validation
        state["epoch"] += 1
        state["batches_in_epoch"] = 0
        wer = validator(_unwrap(model), device)
        state["best_wer"] = wer if state["best_wer"] is None else min(state["best_wer"], wer)
        metrics = {"loss": float(np.mean(losses)) if losses else math.nan, "val_wer": wer, "validated": True}
        _report(model, optimizer, scheduler, scaler, state, metrics, rank, config["model_dir"])
        reported = True
    if not reported:
        # Nothing left to train (the same command after a finished run): still return the run's numbers.
        ray.train.report({**_state_metrics(state), "val_wer": state["best_wer"] or UNVALIDATED_WER, "validated": False})


def planned_steps(cfg: FinetuneConfig, train_rows: int, world: int) -> int:
    """Optimizer steps of the whole run: each worker sees its equal share of the rows per epoch."""
    batches = math.ceil(max(1, train_rows // world) / cfg.batch_size)
    steps = cfg.epochs * max(1, batches // cfg.grad_accum)
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def _digest(previous: str, batch: dict[str, Any]) -> str:
    labels = batch["labels"]
    data = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    return hashlib.sha256(previous.encode() + data.astype(np.int64).tobytes()).hexdigest()


def _done(cfg: FinetuneConfig, state: dict) -> bool:
    return cfg.max_steps is not None and state["step"] >= cfg.max_steps


def load_model(source: str) -> tuple[torch.nn.Module, str]:
    """A transformers checkpoint folder -> (model in float32, "whisper" | "ctc")."""
    from transformers import AutoConfig, AutoModelForCTC, WhisperForConditionalGeneration

    config = AutoConfig.from_pretrained(source)
    if config.model_type == "whisper":
        return WhisperForConditionalGeneration.from_pretrained(source, dtype=torch.float32), "whisper"
    model = AutoModelForCTC.from_pretrained(source, dtype=torch.float32)
    if hasattr(model, "freeze_feature_encoder"):
        model.freeze_feature_encoder()  # the convolutional front end stays as pre-trained (standard practice)
    return model, "ctc"


def _batches(shard: Any, cfg: FinetuneConfig, kind: str) -> Any:
    if kind == "whisper":
        return shard.iter_torch_batches(
            batch_size=cfg.batch_size, dtypes={"features": torch.float32, "labels": torch.long}, prefetch_batches=2
        )
    return shard.iter_batches(batch_size=cfg.batch_size, batch_format="numpy", prefetch_batches=2)


def _loss(
    model: torch.nn.Module,
    batch: dict[str, Any],
    kind: str,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    augment: _SpecAugment | None,
    training: bool,
) -> torch.Tensor:
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        if kind == "whisper":
            features = batch["features"].to(device)
            if augment is not None and training:
                features = augment(features)
            labels = _crop(batch["labels"].to(device))
            return model(input_features=features, labels=labels).loss
        values, mask, labels = _ctc_inputs(batch, device)
        return model(input_values=values, attention_mask=mask, labels=labels).loss


def _crop(labels: torch.Tensor) -> torch.Tensor:
    """Drop the all-padding tail of a label batch (labels come padded to a fixed width)."""
    used = int((labels != -100).any(dim=0).nonzero().max()) + 1 if (labels != -100).any() else 1
    return labels[:, :used]


def _ctc_inputs(batch: dict[str, Any], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    audios = [np.frombuffer(a, dtype=np.float32) for a in batch["audio"]]
    width = max(len(a) for a in audios)
    values = torch.zeros(len(audios), width)
    mask = torch.zeros(len(audios), width, dtype=torch.long)
    for i, a in enumerate(audios):
        # wav2vec2 expects zero-mean, unit-variance input (its feature extractor's normalisation).
        values[i, : len(a)] = torch.from_numpy((a - a.mean()) / np.sqrt(a.var() + 1e-7))
        mask[i, : len(a)] = 1
    labels = _crop(torch.as_tensor(batch["labels"]))
    return values.to(device), mask.to(device), labels.to(device)


class _SpecAugment:
    """Frequency and time masking of log-mel features (SpecAugment without time warping)."""

    def __init__(self, cfg: FinetuneConfig) -> None:
        import torchaudio

        self.freq = torchaudio.transforms.FrequencyMasking(cfg.freq_mask, iid_masks=True)
        self.time = torchaudio.transforms.TimeMasking(cfg.time_mask, iid_masks=True)

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        # Masked bins take Whisper's silence level rather than 0.0 (mid-range on the [-1, 1] scale).
        floor = features.amin(dim=(1, 2), keepdim=True)
        shifted = (features - floor)[:, None]
        return self.time(self.freq(shifted))[:, 0] + floor


class _Validator:
    """Corpus WER of the `val` dataset, computed on rank 0 (exact: no rows are dropped by splitting)."""

    def __init__(self, cfg: FinetuneConfig, kind: str, model_dir: str, rank: int) -> None:
        self.cfg, self.kind, self.rank = cfg, kind, rank
        self.model_dir = model_dir
        self._tokenizer = None

    def __call__(self, model: torch.nn.Module, device: torch.device) -> float:
        import ray.train
        import torch.distributed as dist

        wer = torch.zeros(1, dtype=torch.float64, device=device)
        if self.rank == 0:
            wer[0] = self._wer(model, ray.train.get_dataset_shard("val"), device)
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(wer, src=0)
        return float(wer[0])

    @torch.inference_mode()
    def _wer(self, model: torch.nn.Module, shard: Any, device: torch.device) -> float:
        from pipelines.quality.wer import corpus_wer

        was_training = model.training
        model.eval()
        references, hypotheses = [], []
        for batch in shard.iter_batches(batch_size=self.cfg.val_batch_size, batch_format="numpy"):
            references.extend(str(t) for t in batch["text"])
            hypotheses.extend(self._transcribe(model, batch, device))
        model.train(was_training)
        return corpus_wer(references, hypotheses, self.cfg.language) if references else math.nan

    def _transcribe(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device) -> list[str]:
        if self.kind == "whisper":
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
            features = torch.as_tensor(batch["features"], dtype=torch.float32, device=device)
            generated = model.generate(input_features=features, num_beams=1, max_new_tokens=200)
            return self._tokenizer.batch_decode(generated, skip_special_tokens=True)
        if self._tokenizer is None:
            from transformers import AutoProcessor

            self._tokenizer = AutoProcessor.from_pretrained(self.model_dir)
        values, mask, _ = _ctc_inputs(batch, device)
        ids = model(input_values=values, attention_mask=mask).logits.argmax(dim=-1)
        return self._tokenizer.batch_decode(ids.cpu().numpy())


def _report(
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

    metrics = {**metrics, **_state_metrics(state)}
    if rank != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as tmp:
        save_model(_unwrap(model), model_dir, Path(tmp) / MODEL_SUBDIR)
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


def _state_metrics(state: dict[str, Any]) -> dict[str, Any]:
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


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def _no_sync(model: torch.nn.Module, skip_sync: bool) -> Any:
    import contextlib

    return model.no_sync() if skip_sync and hasattr(model, "no_sync") else contextlib.nullcontext()


def _amp_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU has it (no loss scaling needed), else fp16; full precision on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> Any:
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimizer, min(warmup, max(0, total - 1)), max(1, total))


class _maybe_dir:  # noqa: N801 (used like contextlib's lower-case helpers)
    """`checkpoint.as_directory()` when resuming, else a context yielding None."""

    def __init__(self, checkpoint: Any) -> None:
        self.checkpoint = checkpoint
        self._cm = checkpoint.as_directory() if checkpoint is not None else None

    def __enter__(self) -> str | None:
        return self._cm.__enter__() if self._cm is not None else None

    def __exit__(self, *exc: Any) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)


# --- driver ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """Where and how a fine-tuning run executes."""

    train: str
    val: str
    storage: str
    name: str
    num_workers: int = 1
    use_gpu: bool = False
    cpus_per_worker: float = 1.0
    data_cpus: float = 0.5
    num_to_keep: int = 2
    max_failures: int = 0
    min_avg_logprob: float = -0.5


@dataclass(frozen=True)
class FinetuneResult:
    baseline_wer: float | None
    best_wer: float | None
    best_checkpoint: str | None
    latest_checkpoint: str | None
    steps: int
    resumed_at: int | None
    wall_s: float
    data_digest: str = ""  # the order of the batches trained on (see train_func's state)


def run_finetune(cfg: FinetuneConfig, spec: RunSpec, storage_config: Any = None) -> FinetuneResult:
    """Build the datasets and the TorchTrainer, run (or resume) it, and return the best checkpoint."""
    import ray
    import ray.train
    from ray.train.torch import TorchTrainer

    from models.common.storage import arrow_filesystem, is_s3
    from pipelines.training.data import PseudoLabelFilter, canonical_rows, training_dataset

    started = time.perf_counter()
    ray.data.DataContext.get_current().enable_progress_bars = sys.stderr.isatty()
    storage_config = storage_config or StorageConfig()
    cfg, model_dir = checked_config(cfg, storage_config)
    if not Path(model_dir).is_dir():
        # A hub id: fetch it once on the driver (node-local; multi-node runs should pass s3://).
        from huggingface_hub import snapshot_download

        model_dir = snapshot_download(model_dir)
    keep = PseudoLabelFilter(min_avg_logprob=spec.min_avg_logprob)
    train_rows = training_dataset(spec.train, storage_config, keep)
    val_rows = training_dataset(spec.val, storage_config, keep)
    rows = canonical_rows(train_rows)
    stage_class, stage_kwargs = _examples_stage(model_dir, storage_config, cfg)
    # Small batches keep the first training step close; actors load the tokenizer once.
    stage = {"batch_size": 4, "num_cpus": spec.data_cpus}
    val = val_rows.map_batches(
        stage_class,
        fn_constructor_kwargs={**stage_kwargs, "keep_text": True},
        compute=ray.data.ActorPoolStrategy(size=1),
        **stage,
    )

    storage_fs = None
    storage_path = spec.storage
    if is_s3(spec.storage):
        storage_fs, storage_path = arrow_filesystem(spec.storage, storage_config)
    trainer = TorchTrainer(
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
        },
        scaling_config=ray.train.ScalingConfig(
            num_workers=spec.num_workers,
            use_gpu=spec.use_gpu,
            resources_per_worker={"CPU": spec.cpus_per_worker, **({"GPU": 1} if spec.use_gpu else {})},
        ),
        run_config=ray.train.RunConfig(
            name=spec.name,
            storage_path=storage_path if storage_fs is not None else os.path.abspath(os.path.expanduser(storage_path)),
            storage_filesystem=storage_fs,
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=spec.num_to_keep,
                checkpoint_score_attribute="val_wer",
                checkpoint_score_order="min",
            ),
            failure_config=ray.train.FailureConfig(max_failures=spec.max_failures),
        ),
        datasets={"val": val},
        dataset_config=ray.train.DataConfig(datasets_to_split=[]),
    )
    result = trainer.fit()
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
