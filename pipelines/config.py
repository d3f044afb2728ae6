"""Typed, frozen configuration for a transcription run; round-trips to YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from models.common.config import (
    ClipInput,
    ModelConfig,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    StorageConfig,
    YamlConfig,
)
from pipelines.redaction.settings import RedactConfig
from pipelines.speakers.settings import DiarizeConfig, SpeakerBackend  # noqa: F401 (re-exported)
from pipelines.windows import ChunkingConfig

ChannelMode = Literal["mix", "split"]
# How short clips were decoded before `model.clip_input` existed (packed, each clip its window's span):
# a config that sets it keeps the fingerprint its tables were written with.
LEGACY_CLIP_INPUT = ClipInput(splice="span")


class OptionError(ValueError):
    """A combination of options the chosen model cannot honour; the CLI exits with status 2."""


@dataclass(frozen=True)
class DecodeConfig:
    channels: ChannelMode = "mix"
    # Files longer than this fail with a clear error instead of tying up a worker for days.
    max_duration_s: PositiveFloat = 24 * 3600.0
    # Objects bigger than this are refused before any byte is read.
    max_bytes: PositiveInt = 8 * 1024**3


@dataclass(frozen=True)
class ComputeConfig:
    """How the Ray cluster is used. None means an automatic choice from the cluster's resources."""

    batch_size: PositiveInt | None = None
    num_actors: PositiveInt | None = None
    threads_per_actor: PositiveInt | None = None
    # Files handed to one CPU preparation task at a time (also the packing horizon). None: chosen
    # from the number of files and the cluster's CPUs (pipelines.batch.run.files_per_task).
    files_per_task: PositiveInt | None = None
    # CPUs each preparation task asks for. Less than the model actors ask for: the stage is partly
    # I/O-bound, and differing requests keep Ray from fusing it into the actors (ray#54433), which
    # would leave the model idle while its own actor decodes.
    prepare_cpus: PositiveFloat = 0.5
    # Custom Ray resources each model actor asks for, e.g. {"voxray_inference": 1} to pin the pool
    # to the inference node type of cluster.yaml / the KubeRay RayJob.
    actor_resources: tuple[tuple[str, NonNegativeFloat], ...] = ()
    # The model actor pool may grow to this many actors onto nodes that join mid-run (an
    # autoscaling cluster's). None: the planned size, which lost actors return to when a node
    # joins. Ray Data keeps CPU in reserve for a pool's growth, so a larger maximum takes CPU
    # from preparation on the nodes there are (two 1-CPU nodes: one preparation task, not two).
    max_actors: PositiveInt | None = None
    # A run that finishes no window and no task for this long ends with an error naming what it
    # waited for (actors restarting on a lost node, resources no node has). Five minutes: a
    # node-loss run ends within five minutes of its last possible progress; raise it for a first
    # model download slower than that. None: wait for ever.
    stall_timeout_s: PositiveFloat | None = 300.0
    # Where the stages run: ray (a Ray Data pipeline, on the cluster RAY_ADDRESS names or a local
    # Ray started for the run), local (the same stages in this process, no Ray: pipelines/batch/
    # local.py), or auto: local for a small job of local files when nothing asks for Ray.
    engine: Literal["auto", "ray", "local"] = "auto"


@dataclass(frozen=True)
class TranscribeConfig(YamlConfig):
    model: ModelConfig = field(default_factory=ModelConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    redact: RedactConfig = field(default_factory=RedactConfig)
    diarize: DiarizeConfig = field(default_factory=DiarizeConfig)

    def __post_init__(self) -> None:
        if self.redact.enabled and not self.model.word_timestamps:
            # Redactions carry times, and redacted audio is cut by them.
            raise ValueError("redaction needs word timestamps (model.word_timestamps: true; the CLI sets it)")
        if (self.model.hotwords or self.model.initial_prompt) and self.model.backend != "ct2":
            raise ValueError("--hotwords and --initial-prompt are implemented for the ct2 backend only")
        if self.model.without_timestamps and self.chunking.pack_short_clips:
            # Packed clips are split back apart by Whisper's timestamps.
            raise ValueError("packing short clips needs timestamps: drop --pack or --without-timestamps")
        if self.model.without_timestamps and self.model.backend != "ct2":
            raise ValueError("--without-timestamps is implemented for the ct2 backend only")
        if self.model.word_timestamps and self.model.backend != "ct2":
            # The torch backend has no cross-attention alignment: it would return no words at all.
            raise ValueError("--word-timestamps is implemented for the ct2 backend only")

    def check_model(self, reads_audio: bool) -> None:
        """Refuse what the resolved model cannot do, before any work (reads_audio: a CTC model)."""
        if reads_audio and self.chunking.pack_short_clips:
            # A CTC model gives one segment per window, without timestamps to split packed clips by.
            raise OptionError(f"--pack needs a model with timestamps; {self.model.model} is a CTC model")

    @property
    def text_only_long_form(self) -> bool:
        """Whether the windows of recordings longer than one window are decoded as text only.

        On dense real speech Whisper stops early in most windows and wants the caller to seek, so
        sentence timestamps cost a second encoder pass over the rest of each such window: 40% more
        model time than faster-whisper's batched pipeline, which decodes text only by default
        (docs/performance.md). So by default long recordings are decoded as it does, with one
        segment per window of speech; word timestamps, speaker turns and split-channel calls
        (read as a conversation, turn by turn) need Whisper's sentence timing, and turn it back
        on, as `--sentence-timestamps` does.
        """
        if self.model.without_timestamps is not None:
            return self.model.without_timestamps
        finer = self.model.word_timestamps or self.diarize.enabled or self.decode.channels == "split"
        return self.model.backend == "ct2" and not finer

    def validated(self) -> TranscribeConfig:
        """This config, checked as if loaded from YAML (for values set in code or by flags)."""
        return self.from_dict(self.to_dict())

    def fingerprint(self, model_identity: str | None = None) -> str:
        """A short hash of everything that changes transcripts (not how the cluster is used).

        `model_identity`: the model's, when a run has resolved it already (models.resolved).
        """
        import hashlib
        import json

        from models.registry import model_identity as identity_of

        relevant = {k: v for k, v in self.to_dict().items() if k not in ("compute", "storage")}
        if not self.diarize.enabled:
            # Runs without --diarize keep the fingerprints they had before diarization existed.
            del relevant["diarize"]
        # Where redacted audio goes does not change transcripts. Settings left at their defaults
        # (no vocabulary, no redaction) are left out, so fingerprints from before they existed hold.
        redact = {k: v for k, v in relevant.pop("redact").items() if k != "audio_dir"}
        if self.redact.enabled:
            relevant["redact"] = redact
        for key in ("hotwords", "initial_prompt"):
            if relevant["model"].get(key) is None:
                relevant["model"].pop(key, None)
        if self.model.clip_input == LEGACY_CLIP_INPUT:
            del relevant["model"]["clip_input"]
        # The model's content, not only its name: new weights behind the same path or name must
        # not pass for the transcripts of the old ones.
        relevant["model_identity"] = model_identity or identity_of(self.model.model, self.storage)
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]
