"""Fine-tune the production model on the kept pseudo-labels (`voxray finetune`'s Ray Train loop) and
export the best checkpoint to CTranslate2 int8.

The run's name is a digest of the starting model, the labels and the training settings: the same
command after a crash (SIGKILL included) finds the same Ray Train run and resumes it from its
latest checkpoint, while new labels or a new starting model start a fresh run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from models.common.config import StorageConfig
from models.registry import model_identity
from pipelines.improve.filters import Labelled

if TYPE_CHECKING:
    from pipelines.training.finetune import FinetuneResult

QUANTIZATION = "int8"


@dataclass(frozen=True)
class TrainSettings:
    """What `voxray improve` passes to the fine-tuning loop (the rest are FinetuneConfig's defaults)."""

    # Four epochs: against two, dev WER fell on every domain it was tried on (freight 87.0 -> 73.7%,
    # letting 45.9 -> 45.3%, insurer 22.9 -> 22.2%, clinic 28.8 -> 28.5%), the gate's regression within its
    # bound; with the frozen encoder encoded once (EncoderCache) and both cores, four epochs train in
    # less time than two did (docs/finetune.md, "Four epochs at the cost of two").
    epochs: int = 4
    lr: float = 5e-5
    # The decoder learns the glossary's words; a frozen encoder keeps the acoustics the model has for
    # general speech (the gate's regression set) and halves the backward pass on CPU.
    freeze_encoder: bool = True
    # Train the decoder's layers only, its token and position embeddings kept (FinetuneConfig).
    freeze_embeddings: bool = False
    batch_size: int = 8
    warmup_steps: int = 5
    checkpoint_every: int = 10
    max_steps: int | None = None
    seed: int = 0
    # L2-SP strength toward the starting weights (FinetuneConfig.l2sp); 0: off.
    l2sp: float = 0.0
    # Learning without forgetting (FinetuneConfig.distill_general / distill_domain): the weight of the
    # KL term toward the frozen current model on the general clips and on the archive's clips; 0: off.
    # 5 on the general clips: chosen on the insurer (the tuning domain), where it kept the gate's
    # general speech within its bound and the domain targets (docs/finetune.md, "--distill 5 becomes
    # the default"); on the archive's clips it cost much more domain WER for the same words kept.
    distill_general: float = 5.0
    distill_domain: float = 0.0
    storage: str | None = None  # Ray Train storage (local or s3://); default: WORK/runs


def write_manifest(path: Path, rows: list[Labelled] | list[dict], general: frozenset[str] = frozenset()) -> Path:
    """A JSONL manifest; rows whose path is in `general` are marked `"general": true` (the
    distillation weight they get). Without any, the file is as it was before the flag existed, so
    runs named by its bytes keep their names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    items = [{"path": r.path, "text": r.text} if isinstance(r, Labelled) else r for r in rows]
    items = [{**i, "general": True} if i["path"] in general else i for i in items]
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def run_name(start_model: str, train: Path, val: Path, settings: TrainSettings, storage: StorageConfig) -> str:
    digest = hashlib.sha256()
    digest.update(model_identity(start_model, storage).encode())
    digest.update(train.read_bytes() + b"\0" + val.read_bytes())
    digest.update(json.dumps(_named_settings(settings), sort_keys=True).encode())
    return "improve-" + digest.hexdigest()[:12]


# Settings added after runs were named enter a run's name only when set, so the same command
# still finds (and resumes) a run started before they existed.
_LATER_SETTINGS = {"l2sp": 0.0, "freeze_embeddings": False, "distill_general": 0.0, "distill_domain": 0.0}


def _named_settings(settings: TrainSettings) -> dict:
    values = dataclasses.asdict(settings)
    return {k: v for k, v in values.items() if k not in _LATER_SETTINGS or v != _LATER_SETTINGS[k]}


def finetune(
    start_model: str, train: Path, val: Path, settings: TrainSettings, work: Path, storage: StorageConfig
) -> FinetuneResult:
    """Train (or resume) and return the result; the best checkpoint is ranked by the val WER."""
    from pipelines.training.finetune import FinetuneConfig, RunSpec, run_finetune  # torch: imported when training

    cfg = FinetuneConfig(
        model=start_model,
        epochs=settings.epochs,
        lr=settings.lr,
        batch_size=settings.batch_size,
        warmup_steps=settings.warmup_steps,
        checkpoint_every=settings.checkpoint_every,
        max_steps=settings.max_steps,
        seed=settings.seed,
        freeze_encoder=settings.freeze_encoder,
        freeze_embeddings=settings.freeze_embeddings,
        l2sp=settings.l2sp,
        distill_general=settings.distill_general,
        distill_domain=settings.distill_domain,
    )
    spec = RunSpec(
        train=str(train),
        val=str(val),
        storage=settings.storage or str(work / "runs"),
        name=run_name(start_model, train, val, settings, storage),
        threads=trainer_threads(),
    )
    return run_finetune(cfg, spec, storage)


def trainer_threads() -> int:
    """The one trainer's torch threads: every core of the largest node. Nothing else of the loop
    runs while it trains (the data tasks decode a clip now and then), and on a 2-core machine a step
    (tiny.en, batch 8) took 3.6 s on two threads against 6.1 s on the one its CPU reservation gives.
    """
    import ray

    if not ray.is_initialized():  # the trainer starts a local Ray on this machine
        return os.cpu_count() or 1
    cpus = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]
    return max(1, int(max(cpus, default=1.0)))


def export_candidate(
    result: FinetuneResult, dest: Path, storage: StorageConfig, mix: float = 1.0, start_model: str | None = None
) -> Path:
    """The best checkpoint (else the latest) as a CTranslate2 int8 folder at `dest`; with `mix` < 1,
    its weights interpolated with `start_model`'s first (pipelines/improve/interpolate.py)."""
    from models.common.storage import filesystem, is_s3, strip_scheme
    from models.ct2_export import checkpoint_folder, export_ct2

    checkpoint = result.best_checkpoint or result.latest_checkpoint
    if checkpoint is None:
        raise RuntimeError("fine-tuning produced no checkpoint")
    local = Path(checkpoint)
    if is_s3(checkpoint):
        local = dest.with_name(dest.name + "-checkpoint")
        shutil.rmtree(local, ignore_errors=True)  # our own download folder from an earlier attempt
        filesystem(checkpoint, storage).get(strip_scheme(checkpoint).rstrip("/") + "/", str(local), recursive=True)
    if mix < 1.0:
        from models.whisper_torch import resolve_torch_model
        from pipelines.improve.interpolate import interpolate_weights

        if start_model is None:
            raise ValueError("a mix below 1 needs the model the fine-tune started from")
        base = Path(resolve_torch_model(start_model, storage))
        local = interpolate_weights(base, checkpoint_folder(local), mix, dest.with_name(dest.name + "-mixed"))
    return export_ct2(local, dest, quantization=QUANTIZATION, force=True)
