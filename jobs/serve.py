"""`voxray serve --model M`: online transcription over OpenAI's audio API (Ray Serve)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model over HTTP, compatible with OpenAI's audio transcription API",
        description="Serve a model with Ray Serve: POST /v1/audio/transcriptions (OpenAI-compatible: multipart "
        "'file', 'model', 'language', 'response_format' json|text|srt|vtt|verbose_json, "
        "'timestamp_granularities[]' segment|word), GET /v1/models, GET /health. Concurrent requests are "
        "batched into shared model calls. Runs until Ctrl-C.",
    )
    add_serve_options(p)
    p.set_defaults(func=run)


def add_serve_options(p: argparse.ArgumentParser) -> None:
    m = p.add_argument_group("model")
    m.add_argument("--model", default=None, help="tiny.en (bundled; default), a CTranslate2 folder or s3:// folder")
    m.add_argument("--config", type=Path, help="YAML TranscribeConfig (decoding, VAD); flags override it")
    m.add_argument("--backend", choices=["ct2", "torch"], help="inference engine (default ct2)")
    m.add_argument("--beam-size", type=int, help="beam width (default 5)")
    m.add_argument("--compute-type", help="CTranslate2 compute type (default: int8 on CPU, float16 on GPU)")
    m.add_argument("--device", choices=["auto", "cpu", "cuda"], help="auto: one GPU per replica when there are GPUs")
    h = p.add_argument_group("http")
    h.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    h.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    h.add_argument("--api-key", help="require 'Authorization: Bearer KEY' (or set VOXRAY_API_KEY)")
    h.add_argument("--max-upload-mb", type=float, default=25.0, help="largest upload accepted (default 25, as OpenAI)")
    h.add_argument("--max-duration-s", type=float, default=600.0, help="longest audio accepted (default 600)")
    s = p.add_argument_group("scaling")
    s.add_argument("--replicas", type=int, default=1, help="model replicas (default 1)")
    s.add_argument("--min-replicas", type=int, help="autoscale between --min-replicas and --max-replicas")
    s.add_argument("--max-replicas", type=int)
    s.add_argument("--max-batch-size", type=int, default=8, help="requests per model call (default 8)")
    s.add_argument("--batch-wait-ms", type=float, default=50.0, help="how long a batch waits to fill (default 50)")
    s.add_argument("--replica-cpus", type=float, default=1.0, help="CPUs reserved per model replica (default 1)")
    s.add_argument("--threads", type=int, default=2, help="CPU threads per model replica (default 2)")
    s.add_argument(
        "--max-queued",
        type=int,
        default=64,
        help="requests held at once (reading, waiting, in the model); more get 503 with Retry-After (default 64)",
    )


def settings_from_args(args: argparse.Namespace):  # -> ServeSettings (imported lazily)
    from pipelines.config import TranscribeConfig
    from pipelines.online.app import ServeSettings, resolve_api_key

    config = TranscribeConfig.from_yaml_file(args.config) if args.config else TranscribeConfig()
    overrides = {
        "model": args.model,
        "backend": args.backend,
        "beam_size": args.beam_size,
        "compute_type": args.compute_type,
        "device": args.device,
    }
    config = replace(config, model=replace(config.model, **{k: v for k, v in overrides.items() if v is not None}))
    config = config.validated()
    if (args.min_replicas is None) != (args.max_replicas is None):
        raise ValueError("--min-replicas and --max-replicas go together")
    if args.max_queued < 1:
        raise ValueError(f"--max-queued must be at least 1, got {args.max_queued}")
    return ServeSettings(
        config=config,
        api_key=resolve_api_key(getattr(args, "api_key", None)),
        max_upload_bytes=int(args.max_upload_mb * 1024**2),
        max_duration_s=args.max_duration_s,
        max_batch_size=args.max_batch_size,
        batch_wait_s=args.batch_wait_ms / 1000.0,
        replicas=args.replicas,
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        replica_cpus=args.replica_cpus,
        threads=args.threads,
        max_queued_requests=args.max_queued,
    )


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from pipelines.online.app import start
    from pipelines.online.network import is_loopback

    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        print(f"voxray serve: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(args.host) and not settings.api_key:
        # Anyone who can reach the address could use the model: refused, not a warning.
        print(
            f"voxray serve: refusing to listen on {args.host} without an API key; pass --api-key or set "
            "VOXRAY_API_KEY (or listen on 127.0.0.1)",
            file=sys.stderr,
        )
        return 2
    from ray import serve

    url = start(settings, host=args.host, port=args.port)
    print(f"voxray serve: {settings.model_name} at {url}/v1/audio/transcriptions (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("voxray serve: shutting down", flush=True)
        serve.shutdown()
    return 0
