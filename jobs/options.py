"""Command-line options shared by subcommands that run the model, mapped onto TranscribeConfig."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from models.common.config import ModelConfig
from models.resolved import ResolvedModel
from pipelines.config import TranscribeConfig
from pipelines.redaction.entities import parse_entities
from pipelines.speakers.embed import check_backend


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options of every subcommand that runs the model, one argument group per concern."""
    _model_options(parser.add_argument_group("model"))
    _vocabulary_options(parser.add_argument_group("vocabulary and privacy"))
    _audio_options(parser.add_argument_group("audio"))
    _speaker_options(parser.add_argument_group("speakers"))
    _cluster_options(parser.add_argument_group("cluster"))
    _storage_options(parser.add_argument_group("storage"))


def _model_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--config", type=Path, help="YAML file with a TranscribeConfig; flags override it")
    g.add_argument(
        "--model",
        help="tiny.en (bundled, offline; default), a faster-whisper name such as "
        "large-v3 (downloaded), a local CTranslate2 folder, an s3:// folder, or registry:DIR "
        "(the current version of a `voxray improve` model registry)",
    )
    g.add_argument("--backend", choices=["ct2", "torch"], help="inference engine (default ct2)")
    g.add_argument("--language", help="language code, or 'auto' to detect per file (multilingual models)")
    g.add_argument("--beam-size", type=int, help="beam width (default 5)")
    g.add_argument(
        "--compute-type",
        help="CTranslate2 compute type: default (int8 on CPU, float16 on GPU), "
        "int8, int8_float16, float16, float32 ...",
    )
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where the model runs (default auto)")
    g.add_argument("--word-timestamps", action="store_true", default=None, help="add per-word timings")
    timing = g.add_mutually_exclusive_group()
    timing.add_argument(
        "--without-timestamps",
        action="store_true",
        default=None,
        help="decode text only, as faster-whisper's batched pipeline does: one segment per VAD window "
        "(up to 30 s); the default for recordings over 30 s, here also for short clips; not with --pack",
    )
    timing.add_argument(
        "--sentence-timestamps",
        dest="without_timestamps",
        action="store_false",
        default=None,
        help="Whisper's sentence timestamps on long recordings too (seeking where it stops early: about "
        "40%% more model time on dense speech); on by default with --word-timestamps or --diarize",
    )


def _vocabulary_options(v: argparse._ArgumentGroup) -> None:
    v.add_argument("--hotwords", help='terms to favour, e.g. "Kubernetes Grafana Xarelto" (faster-whisper hotwords)')
    v.add_argument("--initial-prompt", help="text Whisper sees as preceding every window (style, spellings)")
    v.add_argument(
        "--redact",
        help="redact PII in transcripts: 'pii' (every type below) or a comma-separated list of AWS Transcribe's "
        "types: BANK_ACCOUNT_NUMBER, BANK_ROUTING, CREDIT_DEBIT_NUMBER, CREDIT_DEBIT_CVV, CREDIT_DEBIT_EXPIRY, PIN, "
        "EMAIL, ADDRESS, NAME, PHONE, SSN, IBAN, DATE_OF_BIRTH, IP; turns on word timestamps",
    )
    v.add_argument(
        "--redact-audio",
        metavar="DIR",
        help="also write a copy of each recording with redacted words silenced (FLAC; local or s3://)",
    )


def _audio_options(a: argparse._ArgumentGroup) -> None:
    a.add_argument(
        "--channels",
        choices=["mix", "split"],
        help="mix to mono (default) or transcribe each channel on its own (one row per file and channel)",
    )
    a.add_argument(
        "--vad",
        choices=["auto", "on", "off"],
        help="voice activity detection: auto (long files and silence checks; default), on, off",
    )
    a.add_argument(
        "--pack",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pack several short clips into one 30 s window, about twice as fast on short clips (default: on "
        "with the ct2 backend and timestamps; --no-pack gives every clip a window of its own)",
    )


def _speaker_options(d: argparse._ArgumentGroup) -> None:
    d.add_argument(
        "--diarize",
        action="store_true",
        default=None,
        help="label who speaks when: a `speaker` on every segment and word, a `speakers` list per row "
        "(offline encoder from the resemblyzer package; works on the mix of a stereo file)",
    )
    d.add_argument("--num-speakers", type=int, help="with --diarize: exactly this many speakers")
    d.add_argument("--min-speakers", type=int, help="with --diarize: at least this many speakers")
    d.add_argument("--max-speakers", type=int, help="with --diarize: at most this many speakers")
    d.add_argument(
        "--speaker-backend",
        choices=["resemblyzer", "pyannote"],
        help="speaker encoder: resemblyzer (offline, default) or a pyannote.audio model from Hugging Face "
        "(needs pyannote.audio and HF_TOKEN)",
    )
    d.add_argument("--speaker-model", help="Hugging Face id of the pyannote embedding model")


def _cluster_options(c: argparse._ArgumentGroup) -> None:
    c.add_argument("--batch-size", type=int, help="windows per model call (default 8 on CPU, 32 on GPU)")
    c.add_argument(
        "--stall-timeout",
        type=float,
        help="seconds without a finished window before the run fails, naming what it waits for (default 300)",
    )
    c.add_argument("--num-actors", type=int, help="model actors (default: one per GPU, or from CPU count)")
    c.add_argument("--threads-per-actor", type=int, help="CPU threads per model actor")
    c.add_argument(
        "--files-per-task",
        type=int,
        help="files per CPU preparation task (default: from the file count and the cluster's CPUs)",
    )


def _storage_options(s: argparse._ArgumentGroup) -> None:
    s.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    s.add_argument(
        "--s3-sse",
        choices=["AES256", "aws:kms"],
        help="server-side encryption for every object written to S3 (transcripts, redacted audio, nightly table)",
    )
    s.add_argument("--s3-sse-kms-key-id", help="KMS key for --s3-sse aws:kms (default: the bucket's AWS managed key)")


def config_from_args(args: argparse.Namespace, base: TranscribeConfig | None = None) -> TranscribeConfig:
    """`base` (else --config's file, else the defaults) with the flags on top, validated; exit 2 when wrong."""
    try:
        if base is None:
            base = TranscribeConfig.from_yaml_file(args.config) if getattr(args, "config", None) else TranscribeConfig()
        language = args.language
        model = _overrides(
            base.model,
            model=args.model,
            backend=args.backend,
            language=None if language == "auto" else language,
            beam_size=args.beam_size,
            compute_type=args.compute_type,
            device=args.device,
            word_timestamps=args.word_timestamps,
            without_timestamps=args.without_timestamps,
            hotwords=getattr(args, "hotwords", None),
            initial_prompt=getattr(args, "initial_prompt", None),
        )
        if getattr(args, "redact", None):
            # Redactions carry times and redacted audio is cut by them: word timestamps are needed.
            model = replace(model, word_timestamps=True)
        if language == "auto":
            model = replace(model, language=None)
        # Flags are checked as strictly as YAML (--beam-size 0 is refused here, not in an actor).
        config = _with_overrides(base, model, args).validated()
        check_backend(config.diarize)
        return config
    except ValueError as error:
        print(f"voxray: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _with_overrides(config: TranscribeConfig, model: ModelConfig, args: argparse.Namespace) -> TranscribeConfig:
    return replace(
        config,
        model=model,
        decode=_overrides(config.decode, channels=args.channels),
        chunking=_overrides(config.chunking, vad=args.vad, pack_short_clips=args.pack),
        compute=_overrides(
            config.compute,
            batch_size=args.batch_size,
            num_actors=args.num_actors,
            threads_per_actor=args.threads_per_actor,
            files_per_task=args.files_per_task,
            stall_timeout_s=getattr(args, "stall_timeout", None),
        ),
        storage=_overrides(
            config.storage,
            s3_endpoint=args.s3_endpoint,
            s3_sse=getattr(args, "s3_sse", None),
            s3_sse_kms_key_id=getattr(args, "s3_sse_kms_key_id", None),
        ),
        redact=_overrides(
            config.redact,
            entities=parse_entities(args.redact) if getattr(args, "redact", None) else None,
            audio_dir=getattr(args, "redact_audio", None),
        ),
        diarize=_overrides(
            config.diarize,
            enabled=args.diarize,
            num_speakers=args.num_speakers,
            min_speakers=args.min_speakers,
            max_speakers=args.max_speakers,
            backend=args.speaker_backend,
            model=args.speaker_model,
        ),
    )


def _overrides(obj, **values):
    return replace(obj, **{k: v for k, v in values.items() if v is not None})


def refuse_unknown_language(config: TranscribeConfig, model: ResolvedModel | None = None) -> None:
    """Exit 2 before any work when --language is not one the model knows (tiny.en: English only).

    `model`: `config.model` as the run resolved it (else it is resolved here when a language is given).
    """
    from models.resolved import resolve
    from pipelines.inference import check_model_language

    if config.model.language is None:
        return
    try:
        check_model_language(model or resolve(config.model, config.storage), config.model.language, config.storage)
    except ValueError as error:
        print(f"voxray: error: --language: {error}", file=sys.stderr)
        raise SystemExit(2) from None
