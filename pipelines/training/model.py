"""The model side of a fine-tuning step: loading, batches, loss, SpecAugment, validation, AMP."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import torch

from pipelines.training.settings import FinetuneConfig


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


def batches(shard: Any, cfg: FinetuneConfig, kind: str) -> Any:
    if kind == "whisper":
        return shard.iter_torch_batches(
            batch_size=cfg.batch_size,
            dtypes={"features": torch.float32, "labels": torch.long, "general": torch.float32},
            prefetch_batches=2,
        )
    return shard.iter_batches(batch_size=cfg.batch_size, batch_format="numpy", prefetch_batches=2)


def loss(
    model: torch.nn.Module,
    batch: dict[str, Any],
    kind: str,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    augment: SpecAugment | None,
    training: bool,
    cache: EncoderCache | None = None,
) -> torch.Tensor:
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        if kind == "whisper":
            features, labels = _whisper_inputs(batch, device, augment if training else None)
            if cache is not None:
                return model(encoder_outputs=_encoded(model, features, cache), labels=labels).loss
            return model(input_features=features, labels=labels).loss
        values, mask, labels = ctc_inputs(batch, device)
        return model(input_values=values, attention_mask=mask, labels=labels).loss


def _whisper_inputs(
    batch: dict[str, Any], device: torch.device, augment: SpecAugment | None
) -> tuple[torch.Tensor, torch.Tensor]:
    features = batch["features"].to(device)
    return (augment(features) if augment is not None else features), _crop(batch["labels"].to(device))


def distilled_loss(  # noqa: PLR0913 (the label loss's arguments, plus the frozen model and the weights)
    model: torch.nn.Module, frozen: torch.nn.Module, batch: dict[str, Any], cfg: FinetuneConfig,
    device: torch.device, amp_dtype: torch.dtype | None, augment: SpecAugment | None,
    cache: EncoderCache | None = None,
) -> torch.Tensor:  # fmt: skip
    """Whisper's label loss plus the distillation term toward `frozen` (the start model), each clip
    weighted by cfg.distill_general or cfg.distill_domain as its `general` flag says."""
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        features, labels = _whisper_inputs(batch, device, augment if model.training else None)
        general = batch["general"].to(device) > 0
        weights = torch.where(general, cfg.distill_general, cfg.distill_domain).to(torch.float32)
        if cfg.freeze_encoder:
            # Both models share the frozen encoder's weights: encode once, run the two decoders on it.
            inputs: dict[str, Any] = {"encoder_outputs": _encoded(model, features, cache)}
        else:
            inputs = {"input_features": features}
        out = model(**inputs, labels=labels)
        with torch.no_grad():
            reference = frozen(**inputs, labels=labels).logits
        return out.loss + distillation(out.logits, reference, labels, weights)


def _encoded(model: torch.nn.Module, features: torch.Tensor, cache: EncoderCache | None) -> Any:
    """The frozen encoder's output for `features`, through `cache` when there is one."""
    from transformers.modeling_outputs import BaseModelOutput

    encoder = unwrap(model).model.encoder
    if cache is not None:
        return BaseModelOutput(last_hidden_state=cache(encoder, features))
    with torch.no_grad():
        return BaseModelOutput(last_hidden_state=encoder(features).last_hidden_state)


class EncoderCache:
    """A frozen Whisper encoder's outputs, keyed by the bytes of the features they came from.

    With the encoder frozen and no SpecAugment, a clip's encoder output is the same every epoch, and
    on CPU it was most of a step: tiny.en, a batch of 8, one thread, 3.9 s of 6.2 s (the decoder's
    forward and backward with the distillation term, 2.3 s). Each clip is encoded once; later epochs
    run the decoders only. Outputs stay in host memory up to `budget_bytes` (tiny.en: 2.3 MB a clip);
    clips past it are encoded every time, as without the cache. A clip encoded in another batch can
    differ in the last bits (the batch's shape changes the kernels' summation order), as on another
    machine; nothing else changes.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self._outputs: dict[bytes, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._outputs)

    @torch.no_grad()
    def __call__(self, encoder: torch.nn.Module, features: torch.Tensor) -> torch.Tensor:
        keys = [_features_key(f) for f in features]
        missing = [i for i, key in enumerate(keys) if key not in self._outputs]
        fresh = dict(zip(missing, encoder(features[missing]).last_hidden_state, strict=True)) if missing else {}
        for i, output in fresh.items():
            size = output.numel() * output.element_size()
            if keys[i] not in self._outputs and self.used_bytes + size <= self.budget_bytes:
                self._outputs[keys[i]] = output.detach().to("cpu", copy=True)
                self.used_bytes += size
        rows = [fresh[i] if i in fresh else self._outputs[key].to(features.device) for i, key in enumerate(keys)]
        return torch.stack(rows)


def _features_key(features: torch.Tensor) -> bytes:
    return hashlib.blake2b(features.detach().cpu().numpy().tobytes(), digest_size=16).digest()


def distillation(
    logits: torch.Tensor, reference: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Mean over the batch of weights[i] * clip i's mean, over its label positions, of
    KL(reference || student) between the next-token distributions (temperature 1)."""
    log_student = torch.log_softmax(logits.float(), dim=-1)
    log_reference = torch.log_softmax(reference.float(), dim=-1)
    kl = torch.nn.functional.kl_div(log_student, log_reference, log_target=True, reduction="none").sum(-1)
    mask = (labels != -100).to(kl.dtype)
    per_clip = (kl * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    return (weights * per_clip).mean()


def _crop(labels: torch.Tensor) -> torch.Tensor:
    """Drop the all-padding tail of a label batch (labels come padded to a fixed width)."""
    used = int((labels != -100).any(dim=0).nonzero().max()) + 1 if (labels != -100).any() else 1
    return labels[:, :used]


def ctc_inputs(batch: dict[str, Any], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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


class SpecAugment:
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


class Validator:
    """Corpus WER of the `val` dataset, computed on rank 0 (exact: no rows are dropped by splitting)."""

    def __init__(
        self, cfg: FinetuneConfig, kind: str, model_dir: str, rank: int, cache: EncoderCache | None = None
    ) -> None:
        self.cfg, self.kind, self.rank = cfg, kind, rank
        self.model_dir = model_dir
        self.cache = cache  # the frozen encoder's outputs: the val clips are the same every epoch
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
            inputs = {"input_features": features}
            if self.cache is not None:  # the same tokens, without encoding the clips again
                inputs = {"encoder_outputs": _encoded(model, features, self.cache)}
            generated = model.generate(**inputs, num_beams=1, max_new_tokens=200)
            return self._tokenizer.batch_decode(generated, skip_special_tokens=True)
        if self._tokenizer is None:
            from transformers import AutoProcessor

            self._tokenizer = AutoProcessor.from_pretrained(self.model_dir)
        values, mask, _ = ctc_inputs(batch, device)
        ids = model(input_values=values, attention_mask=mask).logits.argmax(dim=-1)
        return self._tokenizer.batch_decode(ids.cpu().numpy())


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def no_sync(model: torch.nn.Module, skip_sync: bool) -> Any:
    import contextlib

    return model.no_sync() if skip_sync and hasattr(model, "no_sync") else contextlib.nullcontext()


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU has it (no loss scaling needed), else fp16; full precision on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> Any:
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimizer, min(warmup, max(0, total - 1)), max(1, total))
