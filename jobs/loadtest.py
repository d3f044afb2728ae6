"""`voxray loadtest`: N concurrent clients against a local `voxray serve`, bounded in time and requests.

Loopback only: this is a tool to size a deployment, not to load someone else's server. With
`--compare-batching` it starts its own Serve app twice in the same run, with `max_batch_size=N`
and with 1, and reports what dynamic batching gains.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "loadtest",
        help="load-test a local voxray serve (throughput, latency percentiles, errors)",
        description="Send one audio file from N concurrent clients to a local voxray serve for T seconds "
        "(or M requests) and report throughput, p50/p95/p99 latency and errors. Only loopback URLs are "
        "accepted. With --compare-batching, start a local Serve app twice (dynamic batching on, then "
        "max_batch_size=1) and report both and the gain.",
    )
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (loopback only)")
    p.add_argument("--file", required=True, type=Path, metavar="CLIP", help="audio file every request uploads")
    p.add_argument("--concurrency", "-c", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--duration", "-t", type=float, default=30.0, help="seconds to send requests (default 30)")
    p.add_argument("--max-requests", type=int, default=10_000, help="stop after this many requests")
    p.add_argument("--api-key", help="bearer key (or set VOXRAY_API_KEY)")
    p.add_argument("--model", default="tiny.en", help="model field sent; with --compare-batching, the model served")
    p.add_argument("--response-format", default="json", help="response_format sent (default json)")
    p.add_argument("--warmup", type=int, default=2, help="requests sent before measuring (--mix: --warmup-rounds)")
    m = p.add_argument_group("--mix (faults and load: docs/faults.md)")
    m.add_argument(
        "--mix",
        action="store_true",
        help="start a local app with an API key and send valid, corrupt, oversized and unauthorised uploads; "
        "check each answer (200/400/413/401), report p50/p95/p99, throughput and the app's RSS, then send "
        "--burst requests at once (the excess must get 503 with Retry-After)",
    )
    m.add_argument("--burst", type=int, default=300, help="requests sent at once after the mixed load (default 300)")
    m.add_argument(
        "--warmup-rounds",
        type=int,
        default=1,
        help="rounds of --concurrency valid requests sent at once before the RSS baseline (default 1)",
    )
    m.add_argument("--max-queued", type=int, default=64, help="the app's --max-queued (default 64)")
    c = p.add_argument_group("--compare-batching")
    c.add_argument("--compare-batching", action="store_true", help="start a local app twice: batched vs unbatched")
    c.add_argument("--max-batch-size", type=int, help="batch size of the batched run (default: --concurrency)")
    c.add_argument("--batch-wait-ms", type=float, default=50.0, help="batch wait of the batched run (default 50)")
    c.add_argument("--threads", type=int, default=2, help="CPU threads of the model replica (default 2)")
    c.add_argument("--replica-cpus", type=float, default=1.0, help="CPUs reserved for the model replica")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.decode import DecodeError, decode_audio
    from pipelines.online.app import resolve_api_key
    from tools.loadtest import LoadSpec, compare_batching, run_load, validate

    try:
        data = args.file.read_bytes()
        audio_s = decode_audio(str(args.file)).duration_s
    except (OSError, DecodeError) as exc:
        print(f"voxray loadtest: cannot use {args.file}: {exc}", file=sys.stderr)
        return 2
    spec = LoadSpec(
        url=args.url,
        data=data,
        filename=args.file.name,
        concurrency=args.concurrency,
        duration_s=args.duration,
        max_requests=args.max_requests,
        api_key=resolve_api_key(args.api_key),
        model=args.model,
        response_format=args.response_format,
        warmup=args.warmup,
    )
    print(f"clip: {args.file} ({audio_s:.1f} s of audio)")
    try:
        validate(spec)
        if args.mix:
            return _run_mix(args, audio_s)
        if args.compare_batching:
            batched, single = compare_batching(
                spec,
                max_batch_size=args.max_batch_size,
                batch_wait_s=args.batch_wait_ms / 1000.0,
                threads=args.threads,
                replica_cpus=args.replica_cpus,
                audio_s=audio_s,
            )
            gain = batched.throughput / single.throughput if single.throughput else math.nan
            print(f"dynamic batching gain: {gain:.2f}x throughput, p50 {batched.percentile(50) * 1000:.0f} ms "
                  f"vs {single.percentile(50) * 1000:.0f} ms")  # fmt: skip
            failed = batched.n_errors + single.n_errors
        else:
            result = run_load(spec, audio_s)
            print(result.render(spec.url))
            failed = result.n_errors
    except ValueError as exc:
        print(f"voxray loadtest: {exc}", file=sys.stderr)
        return 2
    return 1 if failed else 0


def _run_mix(args: argparse.Namespace, audio_s: float) -> int:
    """Exit 0 only when every answer was the expected one, no 5xx, and the burst was shed with Retry-After."""
    from tools.loadmix import MixSpec, run_mix

    spec = MixSpec(
        args.file, args.concurrency, args.duration, args.burst, args.max_queued, warmup_rounds=args.warmup_rounds
    )
    mixed, burst = run_mix(spec)
    mixed.load.audio_s = audio_s
    print(f"-- mixed load: {spec.concurrency} clients for {spec.duration_s:g} s")
    print(mixed.render())
    print(f"-- burst: {spec.burst} requests at once (max_queued {spec.max_queued}): {burst.render()}")
    return 0 if not mixed.unexpected and burst.shed_with_retry_after else 1
