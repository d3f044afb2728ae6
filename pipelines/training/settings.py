"""What a fine-tuning run does (FinetuneConfig) and where it runs (RunSpec)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from models.common.config import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    YamlConfig,
)


@dataclass(frozen=True)
class FinetuneConfig(YamlConfig):
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
    # Keep the Whisper decoder's token and position embeddings as they are (the token embedding is
    # tied to the output projection): only the decoder's layers learn. Adam moves every trained
    # weight about lr per step whatever its gradient, so embedding rows the labels never need would
    # drift as far as those they do.
    freeze_embeddings: bool = False
    # L2-SP (Li et al., ICML 2018): loss + l2sp / 2 * ||theta - theta_start||^2 over the trained
    # parameters. Adam moves every parameter about lr per step whatever its gradient, so rows of the
    # tied token embedding that the labels never need drift as far as those they do; the penalty
    # holds back parameters whose task gradient is smaller than l2sp times their drift. 0: off.
    l2sp: NonNegativeFloat = 0.0
    # Learning without forgetting (Li & Hoiem, 2016): loss + w * KL(frozen start model || student) of the
    # decoder's next-token distributions at the label positions (teacher-forced on the same label
    # prefix), averaged over each clip's label tokens. w is `distill_general` on rows the manifest
    # marks `general` (speech outside the domain, whose behaviour the model should keep) and
    # `distill_domain` on the others. The start model stays frozen in memory; with a frozen encoder
    # it costs one more decoder forward per batch. Whisper only; 0 and 0: off.
    distill_general: NonNegativeFloat = 0.0
    distill_domain: NonNegativeFloat = 0.0
    # Host memory for the frozen encoder's outputs, computed once and reused every epoch (model.py's
    # EncoderCache; only with freeze_encoder and without spec_augment); 0: encode every step.
    encoder_cache_mb: NonNegativeInt = 4096
    timestamp_share: Probability = 0.5
    max_steps: PositiveInt | None = None  # stop early (tests, smoke runs)
    val_batch_size: PositiveInt = 8
    language: str = "en"
    seed: int = 0


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
    # A CPU worker's torch threads when more than its reserved CPUs (finetune.worker_threads): a run
    # that has the machine to itself, such as `voxray improve`'s training phase, uses all its cores.
    threads: int | None = None
    num_to_keep: int = 2
    max_failures: int = 0
    min_avg_logprob: float = -0.5


class DistillWeights(Protocol):
    """Anything that carries the two learning-without-forgetting weights (FinetuneConfig, and
    improve's TrainSettings, which passes them on)."""

    distill_general: float
    distill_domain: float


def distills(weights: DistillWeights) -> bool:
    """Whether a run distils at all: only then is the frozen start model loaded and the manifests
    marked with which clips are general speech."""
    return weights.distill_general > 0 or weights.distill_domain > 0
