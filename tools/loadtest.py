"""Load test of a local voxray serve: N concurrent clients, bounded in time and requests, loopback only.

`compare_batching` starts its own Serve app twice in the same run, with `max_batch_size=N` and with
1, and reports what dynamic batching gains.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pipelines.online.network import is_loopback

MAX_DURATION_S = 600.0
MAX_CONCURRENCY = 256
MAX_REQUESTS = 100_000
REQUEST_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class LoadSpec:
    url: str
    data: bytes
    filename: str
    concurrency: int
    duration_s: float
    max_requests: int
    api_key: str | None = None
    model: str = "tiny.en"
    response_format: str = "json"
    warmup: int = 2


@dataclass
class LoadResult:
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    audio_s: float = 0.0  # audio length of the clip, for real-time factors

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    @property
    def n_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of successful request latencies (seconds)."""
        if not self.latencies_s:
            return math.nan
        ordered = sorted(self.latencies_s)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def render(self, label: str = "") -> str:
        head = f"{label}: " if label else ""
        errors = ", ".join(f"{k} x{v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"{head}{self.ok} ok, {self.n_errors} errors ({errors}) in {self.wall_s:.1f} s\n"
            f"  throughput: {self.throughput:.2f} req/s ({self.throughput * self.audio_s:.1f} audio s/s)\n"
            f"  latency: p50 {self.percentile(50) * 1000:.0f} ms  p95 {self.percentile(95) * 1000:.0f} ms  "
            f"p99 {self.percentile(99) * 1000:.0f} ms"
        )


def check_loopback(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    if not is_loopback(parts.hostname):
        raise ValueError(f"refusing to load-test {parts.hostname}: only loopback addresses (127.0.0.1, ::1, localhost)")


async def _load(spec: LoadSpec) -> LoadResult:
    import aiohttp

    endpoint = spec.url.rstrip("/") + "/v1/audio/transcriptions"
    headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else {}
    result = LoadResult()
    issued = 0

    def form() -> aiohttp.FormData:
        f = aiohttp.FormData()
        f.add_field("file", spec.data, filename=spec.filename, content_type="application/octet-stream")
        f.add_field("model", spec.model)
        f.add_field("response_format", spec.response_format)
        return f

    async def one(session: aiohttp.ClientSession) -> str | None:
        """None when the request succeeded, else a short error label."""
        try:
            async with session.post(endpoint, data=form(), headers=headers) as response:
                await response.read()
                return None if response.status == 200 else f"HTTP {response.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return type(exc).__name__

    async def client(session: aiohttp.ClientSession, deadline: float) -> None:
        nonlocal issued
        while time.perf_counter() < deadline and issued < spec.max_requests:
            issued += 1
            began = time.perf_counter()
            error = await one(session)
            if error is None:
                result.latencies_s.append(time.perf_counter() - began)
            else:
                result.errors[error] = result.errors.get(error, 0) + 1

    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=spec.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        # Warm-up (not counted): first requests pay for lazy initialisation in the replicas.
        await asyncio.gather(*(one(session) for _ in range(spec.warmup)))
        started = time.perf_counter()
        deadline = started + spec.duration_s
        await asyncio.gather(*(client(session, deadline) for _ in range(spec.concurrency)))
        result.wall_s = time.perf_counter() - started
    return result


def validate(spec: LoadSpec) -> None:
    """Refuse non-loopback targets and unbounded runs (raises ValueError)."""
    check_loopback(spec.url)
    if not 0 < spec.duration_s <= MAX_DURATION_S:
        raise ValueError(f"--duration must be in (0, {MAX_DURATION_S:.0f}] seconds")
    if not 1 <= spec.concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"--concurrency must be in [1, {MAX_CONCURRENCY}]")
    if not 1 <= spec.max_requests <= MAX_REQUESTS:
        raise ValueError(f"--max-requests must be in [1, {MAX_REQUESTS}]")


def run_load(spec: LoadSpec, audio_s: float = 0.0) -> LoadResult:
    validate(spec)
    result = asyncio.run(_load(spec))
    result.audio_s = audio_s
    return result


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compare_batching(
    spec: LoadSpec,
    *,
    max_batch_size: int | None,
    batch_wait_s: float,
    threads: int,
    replica_cpus: float,
    audio_s: float,
) -> tuple[LoadResult, LoadResult]:
    """Start a local app with max_batch_size=N (default: the concurrency), load it, then the same with 1."""
    from dataclasses import replace

    import ray
    from ray import serve

    from models.common.config import ModelConfig
    from pipelines.config import TranscribeConfig
    from pipelines.online.app import ServeSettings, start

    batch = max_batch_size or spec.concurrency
    base = ServeSettings(
        config=TranscribeConfig(model=ModelConfig(model=spec.model)),
        api_key=None,
        batch_wait_s=batch_wait_s,
        threads=threads,
        replica_cpus=replica_cpus,
    )
    port = free_port()
    results = []
    started_ray = not ray.is_initialized()
    if started_ray:
        # Its own Ray instance on this machine, never a cluster that `ray start` left running.
        ray.init(address="local", include_dashboard=False, logging_level="warning")
    try:
        for size in (batch, 1):
            url = start(replace(base, max_batch_size=size), host="127.0.0.1", port=port, name="voxray-loadtest")
            print(f"-- max_batch_size={size}: {spec.concurrency} clients for {spec.duration_s:g} s", flush=True)
            results.append(run_load(replace(spec, url=url, api_key=None), audio_s))
            print(results[-1].render(f"max_batch_size={size}"), flush=True)
            serve.delete("voxray-loadtest")
    finally:
        serve.shutdown()
        if started_ray:
            ray.shutdown()
    return results[0], results[1]
