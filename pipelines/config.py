"""Typed, frozen configuration for a transcription run; round-trips to YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from models.common.config import (
    ModelConfig,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    StorageConfig,
    YamlConfig,
)
from pipelines.redaction.entities import KNOWN, NER_ENTITIES

ChannelMode = Literal["mix", "split"]
VadMode = Literal["auto", "on", "off"]


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
class ChunkingConfig:
    # auto: VAD only for recordings longer than one 30 s window (short clips go whole, like Whisper).
    vad: VadMode = "auto"
    # Pack several short clips into one 30 s window (with silence between them). None (auto): on
    # wherever segments are split back by Whisper's timestamps (the ct2 backend with timestamps).
    pack_short_clips: bool | None = None
    pack_gap_s: NonNegativeFloat = 1.0
    # A clip longer than this is never packed; it gets a window of its own.
    pack_max_clip_s: PositiveFloat = 12.0
    vad_threshold: Probability = 0.5
    vad_min_silence_ms: NonNegativeInt = 160


@dataclass(frozen=True)
class ComputeConfig:
    """How the Ray cluster is used. None means an automatic choice from the cluster's resources."""

    batch_size: PositiveInt | None = None
    num_actors: PositiveInt | None = None
    threads_per_actor: PositiveInt | None = None
    # Files handed to one CPU preparation task at a time (also the packing horizon). None: chosen
    # from the number of files and the cluster's CPUs (pipelines.transcribe.files_per_task).
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


SpeakerBackend = Literal["resemblyzer", "pyannote"]


@dataclass(frozen=True)
class DiarizeConfig:
    """Who spoke when (`--diarize`): speaker embeddings over VAD speech, clustered per recording."""

    enabled: bool = False
    # Exactly this many speakers, or a range; neither: estimated from the embeddings.
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    # resemblyzer: the offline encoder in the `resemblyzer` wheel; pyannote: a pyannote.audio
    # embedding model from Hugging Face (`model`, token from HF_TOKEN), for sites online.
    backend: SpeakerBackend = "resemblyzer"
    model: str | None = None
    # Embedding windows slide over each stretch of speech: GE2E's 1.6 s partials, half overlapping.
    window_s: float = 1.6
    step_s: float = 0.8
    # Padding of the speech stretches that speaker windows (and so turns) cover. The ASR's VAD
    # pads 0.4 s, which made turns run 0.4 s into every pause: most of the DER left with correct
    # labels. Chosen on the dev set (DER with each window given its true speaker, mean of four
    # recordings): 0.05 s 1.8%, 0.10 s 1.8%, 0.15 s 2.5%, 0.40 s 8.7%.
    speech_pad_s: NonNegativeFloat = 0.1
    # Cosine distance at which average-linkage clustering stops merging, for the resemblyzer
    # encoder's embeddings. Chosen on the dev set of scripts/make_diarization_fixtures.py: 0.19-0.23
    # found all four counts there, 0.18 split a speaker, 0.24 merged the telephone pair; the middle.
    threshold: float = 0.21
    # An estimated cluster smaller than this share of a recording's windows is folded into the
    # nearest larger one (a cough or a laugh is not a speaker).
    min_cluster_share: float = 0.05
    # Clustering sees at most this many windows (evenly spread); the rest join the nearest
    # centroid. Average linkage needs n^2 memory: this keeps a 3-hour recording bounded.
    max_cluster_windows: int = 2000

    def __post_init__(self) -> None:
        counts = {
            "num_speakers": self.num_speakers,
            "min_speakers": self.min_speakers,
            "max_speakers": self.max_speakers,
        }
        for name, value in counts.items():
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"--{name.replace('_', '-')} must be a whole number of at least 1, not {value!r}")
        if self.num_speakers is not None and (self.min_speakers is not None or self.max_speakers is not None):
            raise ValueError("give --num-speakers or --min-speakers/--max-speakers, not both")
        if self.min_speakers is not None and self.max_speakers is not None and self.min_speakers > self.max_speakers:
            raise ValueError(f"--min-speakers {self.min_speakers} is more than --max-speakers {self.max_speakers}")
        if not self.enabled and any(v is not None for v in counts.values()):
            raise ValueError("--num-speakers, --min-speakers and --max-speakers need --diarize")
        if self.backend not in ("resemblyzer", "pyannote"):
            raise ValueError(f"unknown speaker backend {self.backend!r}: use resemblyzer or pyannote")
        if self.model is not None and self.backend != "pyannote":
            raise ValueError("--speaker-model is for --speaker-backend pyannote")
        if not 0 < self.step_s <= self.window_s:
            raise ValueError("diarize.step_s must be positive and at most diarize.window_s")
        if not 0 < self.threshold < 2:
            raise ValueError("diarize.threshold is a cosine distance between 0 and 2")


@dataclass(frozen=True)
class RedactConfig:
    """PII redaction (pipelines/redaction). No entities: nothing is redacted."""

    entities: tuple[str, ...] = ()
    # Presidio's score below which a hit is ignored (its phone recognizer scores 0.4).
    score_threshold: Probability = 0.3
    # spaCy pipeline for Presidio: blank:en serves the pattern recognizers; NER entities need a
    # trained, installed one (e.g. en_core_web_lg).
    spacy_model: str = "blank:en"
    # Redacted copies of the recordings go here (local folder or s3:// prefix); None: none.
    audio_dir: str | None = None
    # Silence this much beyond each redacted word's timestamps (word times are approximate).
    audio_pad_s: NonNegativeFloat = 0.25

    def __post_init__(self) -> None:
        unknown = [e for e in self.entities if e not in KNOWN]
        if unknown:
            raise ValueError(f"redact: unknown entity types {unknown}; known: {', '.join(KNOWN)} (or 'pii')")
        ner = [e for e in self.entities if e in NER_ENTITIES]
        if ner and self.spacy_model.startswith("blank:"):
            raise ValueError(f"redact: {ner} need a trained spaCy NER pipeline in redact.spacy_model")
        if self.audio_dir and not self.entities:
            raise ValueError("--redact-audio needs --redact (which entities to silence)")

    @property
    def enabled(self) -> bool:
        return bool(self.entities)


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

    @property
    def packs_short_clips(self) -> bool:
        if self.chunking.pack_short_clips is not None:
            return self.chunking.pack_short_clips
        return self.model.backend == "ct2" and not self.model.without_timestamps

    def validated(self) -> TranscribeConfig:
        """This config, checked as if loaded from YAML (for values set in code or by flags)."""
        return self.from_dict(self.to_dict())

    def fingerprint(self) -> str:
        """A short hash of everything that changes transcripts (not how the cluster is used)."""
        import hashlib
        import json

        from models.registry import model_identity

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
        # The model's content, not only its name: new weights behind the same path or name must
        # not pass for the transcripts of the old ones.
        relevant["model_identity"] = model_identity(self.model.model, self.storage)
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]
