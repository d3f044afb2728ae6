"""Command-line options shared by subcommands that run the model, mapped onto TranscribeConfig.

Each option is declared once, in OPTIONS: its flag, its argparse arguments (help, type, choices)
and the TranscribeConfig field it sets (`section.field`). `add_model_options` builds the argument
groups from it and `config_from_args` applies every given flag with one generic override; the
defaults live in the config dataclasses (a flag left out is None and changes nothing), and the
checks in the dataclasses (`validated()`), so flags are checked as strictly as YAML.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from models.resolved import ResolvedModel
from pipelines.config import TranscribeConfig
from pipelines.redaction.entities import parse_entities
from pipelines.speakers.embed import check_backend


@dataclass(frozen=True)
class Option:
    """One command-line option and the TranscribeConfig field it sets (None: not a config field)."""

    names: tuple[str, ...]
    target: str | None
    kwargs: dict[str, Any]
    convert: Callable[[Any], Any] | None = None  # the flag's value -> the field's value
    exclusive: bool = False  # one of its group's mutually exclusive options

    @property
    def dest(self) -> str:
        return self.kwargs.get("dest") or self.names[0].lstrip("-").replace("-", "_")


def option(target: str | None, *names: str, convert: Callable[[Any], Any] | None = None,
           exclusive: bool = False, **kwargs: Any) -> Option:  # fmt: skip
    return Option(names, target, kwargs, convert, exclusive)


def _auto_is_none(language: str) -> str | None:
    return None if language == "auto" else language


# What a `convert` returns to leave the field as it is.
KEEP = object()


def _entities(value: str) -> tuple[str, ...] | object:
    return parse_entities(value) if value else KEEP


# A flag that is only true or only false when given: None (not given) leaves the config alone.
FLAG = {"action": "store_true", "default": None}

OPTIONS: dict[str, tuple[Option, ...]] = {
    "model": (
        option(None, "--config", type=Path, help="YAML file with a TranscribeConfig; flags override it"),
        option(
            "model.model",
            "--model",
            help="tiny.en (bundled, offline; default), a faster-whisper name such as "
            "large-v3 (downloaded), a local CTranslate2 folder, an s3:// folder, or registry:DIR "
            "(the current version of a `voxray improve` model registry)",
        ),
        option("model.backend", "--backend", choices=["ct2", "torch"], help="inference engine (default ct2)"),
        option(
            "model.language",
            "--language",
            convert=_auto_is_none,
            help="language code, or 'auto' to detect per file (multilingual models)",
        ),
        option("model.beam_size", "--beam-size", type=int, help="beam width (default 5)"),
        option(
            "model.fallback",
            "--fallback",
            choices=["beam", "sample"],
            help="how a window failing Whisper's guards is decoded again at t > 0: beam (default; beam search "
            "with a growing repetition penalty, reproducible) or sample (Whisper's sampling, differs run to run)",
        ),
        option(
            "model.compute_type",
            "--compute-type",
            help="CTranslate2 compute type: default (int8 on CPU, float16 on GPU), "
            "int8, int8_float16, float16, float32 ...",
        ),
        option("model.device", "--device", choices=["auto", "cpu", "cuda"], help="where the model runs (default auto)"),
        option("model.word_timestamps", "--word-timestamps", **FLAG, help="add per-word timings"),
        option(
            "model.without_timestamps",
            "--without-timestamps",
            exclusive=True,
            **FLAG,
            help="decode text only, as faster-whisper's batched pipeline does: one segment per VAD window "
            "(up to 30 s); the default for recordings over 30 s, here also for short clips; not with --pack",
        ),
        option(
            "model.without_timestamps",
            "--sentence-timestamps",
            exclusive=True,
            dest="without_timestamps",
            action="store_false",
            default=None,
            help="Whisper's sentence timestamps on long recordings too (seeking where it stops early: about "
            "40%% more model time on dense speech); on by default with --word-timestamps or --diarize",
        ),
    ),
    "vocabulary and privacy": (
        option(
            "model.hotwords",
            "--hotwords",
            help='terms to favour, e.g. "Kubernetes Grafana Xarelto" (faster-whisper hotwords)',
        ),
        option(
            "model.initial_prompt",
            "--initial-prompt",
            help="text Whisper sees as preceding every window (style, spellings)",
        ),
        option(
            "redact.entities",
            "--redact",
            convert=_entities,
            help="redact PII in transcripts: 'pii' (every type below) or a comma-separated list of AWS "
            "Transcribe's types: BANK_ACCOUNT_NUMBER, BANK_ROUTING, CREDIT_DEBIT_NUMBER, CREDIT_DEBIT_CVV, "
            "CREDIT_DEBIT_EXPIRY, PIN, EMAIL, ADDRESS, NAME, PHONE, SSN, IBAN, DATE_OF_BIRTH, IP; turns on "
            "word timestamps",
        ),
        option(
            "redact.audio_dir",
            "--redact-audio",
            metavar="DIR",
            help="also write a copy of each recording with redacted words silenced (FLAC; local or s3://)",
        ),
    ),
    "audio": (
        option(
            "decode.channels",
            "--channels",
            choices=["mix", "split"],
            help="mix to mono (default) or transcribe each channel on its own (one row per file and channel)",
        ),
        option(
            "chunking.vad",
            "--vad",
            choices=["auto", "on", "off"],
            help="voice activity detection: auto (long files and silence checks; default), on, off",
        ),
        option(
            "chunking.pack_short_clips",
            "--pack",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="pack several short clips into one 30 s window and encoder pass (default: off, each clip gets an "
            "encoder pass over its own frames, model.clip_input.splice: own; on with splice: span)",
        ),
    ),
    "speakers": (
        option(
            "diarize.enabled",
            "--diarize",
            **FLAG,
            help="label who speaks when: a `speaker` on every segment and word, a `speakers` list per row "
            "(offline encoder from the resemblyzer package; works on the mix of a stereo file)",
        ),
        option("diarize.num_speakers", "--num-speakers", type=int, help="with --diarize: exactly this many speakers"),
        option("diarize.min_speakers", "--min-speakers", type=int, help="with --diarize: at least this many speakers"),
        option("diarize.max_speakers", "--max-speakers", type=int, help="with --diarize: at most this many speakers"),
        option(
            "diarize.backend",
            "--speaker-backend",
            choices=["resemblyzer", "pyannote"],
            help="speaker encoder: resemblyzer (offline, default) or a pyannote.audio model from Hugging Face "
            "(needs pyannote.audio and HF_TOKEN)",
        ),
        option("diarize.model", "--speaker-model", help="Hugging Face id of the pyannote embedding model"),
    ),
    "cluster": (
        option(
            "compute.batch_size",
            "--batch-size",
            type=int,
            help="windows per model call (default 8 on CPU, 32 on GPU)",
        ),
        option(
            "compute.stall_timeout_s",
            "--stall-timeout",
            type=float,
            help="seconds without a finished window before the run fails, naming what it waits for (default 300)",
        ),
        option(
            "compute.num_actors",
            "--num-actors",
            type=int,
            help="model actors (default: one per GPU, or from CPU count)",
        ),
        option("compute.threads_per_actor", "--threads-per-actor", type=int, help="CPU threads per model actor"),
        option(
            "compute.engine",
            "--engine",
            choices=["auto", "ray", "local"],
            help="ray: a Ray Data pipeline (a local Ray, or the cluster RAY_ADDRESS names); local: the same stages "
            "in this process without starting Ray (same rows), threads instead of tasks and actors; auto (default): "
            "local for a job of up to 200 local files and 64 MiB when neither RAY_ADDRESS, a running `ray start` "
            "cluster nor a Ray-only option (--num-actors, --max-actors) asks for Ray",
        ),
        option(
            "compute.files_per_task",
            "--files-per-task",
            type=int,
            help="files per CPU preparation task (default: from the file count and the cluster's CPUs)",
        ),
    ),
    "storage": (
        option("storage.s3_endpoint", "--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)"),
        option(
            "storage.s3_sse",
            "--s3-sse",
            choices=["AES256", "aws:kms"],
            help="server-side encryption for every object written to S3 (transcripts, redacted audio, nightly table)",
        ),
        option(
            "storage.s3_sse_kms_key_id",
            "--s3-sse-kms-key-id",
            help="KMS key for --s3-sse aws:kms (default: the bucket's AWS managed key)",
        ),
    ),
}


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options of every subcommand that runs the model, one argument group per concern."""
    for title, options in OPTIONS.items():
        group = parser.add_argument_group(title)
        exclusive = None
        for opt in options:
            if opt.exclusive and exclusive is None:
                exclusive = group.add_mutually_exclusive_group()
            (exclusive if opt.exclusive else group).add_argument(*opt.names, **opt.kwargs)


def config_from_args(args: argparse.Namespace, base: TranscribeConfig | None = None) -> TranscribeConfig:
    """`base` (else --config's file, else the defaults) with the flags on top, validated; exit 2 when wrong."""
    try:
        if base is None:
            base = TranscribeConfig.from_yaml_file(args.config) if getattr(args, "config", None) else TranscribeConfig()
        if getattr(args, "redact", None):
            # Redactions carry times and redacted audio is cut by them: word timestamps are needed.
            base = replace(base, model=replace(base.model, word_timestamps=True))
        config = with_overrides(base, args)
        # Flags are checked as strictly as YAML (--beam-size 0 is refused here, not in an actor).
        config = config.validated()
        check_backend(config.diarize)
        return config
    except ValueError as error:
        print(f"voxray: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def with_overrides(config: TranscribeConfig, args: argparse.Namespace) -> TranscribeConfig:
    """`config` with the value of every option given in `args` set in its field."""
    sections: dict[str, dict[str, Any]] = {}
    for opt in (o for options in OPTIONS.values() for o in options if o.target):
        value = getattr(args, opt.dest, None)
        if value is not None:
            section, name = opt.target.split(".")
            converted = opt.convert(value) if opt.convert else value
            if converted is not KEEP:
                sections.setdefault(section, {})[name] = converted
    return replace(config, **{s: replace(getattr(config, s), **v) for s, v in sections.items()})


def values_from_args(cls: type, args: argparse.Namespace, **dests: str) -> dict[str, Any]:
    """The fields of dataclass `cls` that `args` gives (not None), by name or by `dests[field]`."""
    values = {f.name: getattr(args, dests.get(f.name, f.name), None) for f in dataclasses.fields(cls)}
    return {name: value for name, value in values.items() if value is not None}


def refuse_unknown_language(config: TranscribeConfig, model: ResolvedModel | None = None) -> None:
    """Exit 2 before any work when --language is not one the model knows (tiny.en: English only).

    `model`: `config.model` as the run resolved it (else it is resolved here when a language is given).
    """
    from models.resolved import resolve
    from pipelines.batch.infer import check_model_language

    if config.model.language is None:
        return
    try:
        check_model_language(model or resolve(config.model, config.storage), config.model.language, config.storage)
    except ValueError as error:
        print(f"voxray: error: --language: {error}", file=sys.stderr)
        raise SystemExit(2) from None
