"""A mixed load on a local `voxray serve` app: valid, corrupt, oversized and unauthorised uploads.

`run_mix` starts the app itself (loopback, with an API key, so that unauthorised requests mean
something), runs N concurrent clients for a bounded time, each request of a kind drawn in turn
from the mix, and checks every answer against what its kind must get (200, 400, 413, 401). It
reports p50/p95/p99 of the valid requests, throughput, every unexpected status, and the RSS of the
app's processes (its replicas and the HTTP proxy) after a warm-up at the run's concurrency and at
the end. `burst` then sends many requests at once and counts the 503s that shed the excess, each
with Retry-After.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from tools.loadtest import REQUEST_TIMEOUT_S, LoadResult, free_port

# What each kind of upload must be answered with.
EXPECTED = {"valid": 200, "corrupt": 400, "oversized": 413, "unauthorised": 401}
# Of every 16 requests: mostly valid ones, one or two of each kind of invalid one.
DEFAULT_MIX = {"valid": 12, "corrupt": 2, "oversized": 1, "unauthorised": 1}
APP_NAME = "voxray-loadmix"


@dataclass
class MixResult:
    load: LoadResult  # latencies of the valid requests, wall time
    statuses: dict[str, Counter[int]] = field(default_factory=dict)  # per kind: status -> count
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0

    @property
    def unexpected(self) -> dict[str, dict[int, int]]:
        return {
            kind: {s: n for s, n in counts.items() if s != EXPECTED[kind]}
            for kind, counts in self.statuses.items()
            if any(s != EXPECTED[kind] for s in counts)
        }

    @property
    def server_errors(self) -> int:
        return sum(n for counts in self.statuses.values() for s, n in counts.items() if s >= 500)

    @property
    def rss_growth(self) -> float:
        return self.rss_end_mb / self.rss_start_mb - 1 if self.rss_start_mb else 0.0

    def render(self) -> str:
        kinds = "  ".join(f"{k}: {dict(sorted(v.items()))}" for k, v in sorted(self.statuses.items()))
        return (
            self.load.render("valid requests")
            + f"\n  statuses by kind: {kinds}\n  unexpected: {self.unexpected or 'none'}  5xx: {self.server_errors}"
            + f"\n  RSS of the app: {self.rss_start_mb:.0f} MB after warm-up -> {self.rss_end_mb:.0f} MB "
            f"({self.rss_growth:+.1%})"
        )


def uploads(clip: Path, max_upload_bytes: int) -> dict[str, tuple[bytes, str]]:
    # Corrupt: the clip's RIFF/WAVE tag followed by bytes that are no audio.
    corrupt = clip.read_bytes()[:12] + bytes(range(256)) * 64
    return {
        "valid": (clip.read_bytes(), clip.name),
        "corrupt": (corrupt, "corrupt.wav"),
        "oversized": (b"\0" * (max_upload_bytes + 1024), "big.wav"),
        "unauthorised": (clip.read_bytes(), clip.name),
    }


def app_rss_mb() -> float:
    """Resident memory of this app's replicas and of the HTTP proxy beside them, from /proc.

    Replicas are found by their process title (`ray::ServeReplica:voxray-loadmix:...`); the proxy is
    the `ray::ProxyActor` started by the same raylet (not one of another Ray on the machine).
    """
    procs = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            procs[entry.name] = (title, fields.get("PPid", "").strip(), int(fields.get("VmRSS", "0 kB").split()[0]))
    replicas = {pid for pid, (title, _, _) in procs.items() if title.startswith(f"ray::ServeReplica:{APP_NAME}:")}
    raylets = {procs[pid][1] for pid in replicas}
    proxies = {
        pid for pid, (title, ppid, _) in procs.items() if title.startswith("ray::ProxyActor") and ppid in raylets
    }
    return sum(procs[pid][2] for pid in replicas | proxies) / 1024


async def _send(session, url: str, kind: str, data: bytes, name: str, key: str) -> tuple[int, float, dict, bytes]:
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    form.add_field("model", "whisper-1")
    headers = {"Authorization": f"Bearer {'wrong-' + key if kind == 'unauthorised' else key}"}
    began = time.perf_counter()
    try:
        async with session.post(url, data=form, headers=headers) as response:
            body = await response.read()
            return response.status, time.perf_counter() - began, dict(response.headers), body
    except (aiohttp.ClientError, asyncio.TimeoutError):
        # An oversized upload may see the connection closed after its 413: the server's choice.
        return (413 if kind == "oversized" else 599), time.perf_counter() - began, {}, b""


def interleaved(mix: dict[str, int]) -> list[str]:
    """One cycle of the mix with each kind spread evenly, rare kinds early: a short run on a slow
    machine still sends every kind (12 valid first left 9 requests in 8 s all valid)."""
    slots = [(i / weight, -weight, kind) for kind, weight in mix.items() for i in range(weight)]
    return [kind for *_, kind in sorted(slots)]


async def _mix(base: str, files: dict, key: str, spec: MixSpec) -> MixResult:
    import aiohttp

    url = base.rstrip("/") + "/v1/audio/transcriptions"
    concurrency, mix = spec.concurrency, dict(spec.mix)
    order = interleaved(mix)
    result = MixResult(LoadResult(), {kind: Counter() for kind in mix})
    turn = 0
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        # The baseline is taken after the app has served the run's concurrency: a warm-up of a few
        # requests left the model's first full batches (and their buffers) inside the measurement.
        for _ in range(spec.warmup_rounds):
            await asyncio.gather(*(_send(session, url, "valid", *files["valid"], key) for _ in range(concurrency)))
        result.rss_start_mb = await asyncio.to_thread(app_rss_mb)
        started = time.perf_counter()
        deadline = started + spec.duration_s

        async def client() -> None:
            nonlocal turn
            while time.perf_counter() < deadline:
                kind = order[turn % len(order)]
                turn += 1
                status, latency, *_ = await _send(session, url, kind, *files[kind], key)
                result.statuses[kind][status] += 1
                if kind == "valid" and status == 200:
                    result.load.latencies_s.append(latency)

        await asyncio.gather(*(client() for _ in range(concurrency)))
        result.load.wall_s = time.perf_counter() - started
        result.rss_end_mb = await asyncio.to_thread(app_rss_mb)
    return result


@dataclass(frozen=True)
class BurstResult:
    statuses: Counter[int]
    retry_after: list[str]  # the Retry-After of each 503 ("" where it had none)
    last_s: float  # when the last answer came
    from_proxy: int  # 503s answered by Serve's proxy (its backstop), not by voxray's ingress

    @property
    def shed_with_retry_after(self) -> bool:
        return set(self.statuses) <= {200, 503} and all(self.retry_after)

    def render(self) -> str:
        return (
            f"{dict(sorted(self.statuses.items()))}, 503s with Retry-After: "
            f"{sum(1 for r in self.retry_after if r)}/{len(self.retry_after)} "
            f"({self.from_proxy} from Serve's proxy), last answer after {self.last_s:.1f} s"
        )


async def _burst(base: str, data: bytes, name: str, key: str, n: int) -> BurstResult:
    import aiohttp

    url = base.rstrip("/") + "/v1/audio/transcriptions"
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=n)) as session:
        began = time.perf_counter()
        answers = await asyncio.gather(*(_send(session, url, "valid", data, name, key) for _ in range(n)))
        last = time.perf_counter() - began
    shed = [(headers, body) for status, _, headers, body in answers if status == 503]
    return BurstResult(
        Counter(status for status, *_ in answers),
        [headers.get("Retry-After", "") for headers, _ in shed],
        last,
        sum(1 for _, body in shed if b"server_busy" not in body),  # the ingress's answers carry its code
    )


@dataclass(frozen=True)
class MixSpec:
    clip: Path
    concurrency: int = 32
    duration_s: float = 60.0
    burst: int = 300
    max_queued: int = 64
    max_upload_mb: float = 1.0
    warmup_rounds: int = 1  # rounds of `concurrency` valid requests at once before the RSS baseline
    ingress_headroom: int | None = None  # None: ServeSettings' default
    mix: tuple[tuple[str, int], ...] = tuple(DEFAULT_MIX.items())


def run_mix(spec: MixSpec) -> tuple[MixResult, BurstResult]:
    """Start a local app, run the mixed load, then the burst; returns both results."""
    import ray
    from ray import serve

    from pipelines.online.app import ServeSettings, start

    key = secrets.token_urlsafe(16)
    max_bytes = int(spec.max_upload_mb * 1024**2)
    settings = ServeSettings(api_key=key, max_upload_bytes=max_bytes, max_queued_requests=spec.max_queued)
    if spec.ingress_headroom is not None:
        settings = replace(settings, ingress_headroom=spec.ingress_headroom)
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(address="local", include_dashboard=False, logging_level="warning")
    try:
        base = start(settings, host="127.0.0.1", port=free_port(), name=APP_NAME)
        files = uploads(spec.clip, max_bytes)
        mixed = asyncio.run(_mix(base, files, key, spec))
        burst = asyncio.run(_burst(base, *files["valid"], key, spec.burst))
    finally:
        serve.shutdown()
        if started_ray:
            ray.shutdown()
    return mixed, burst
