"""Run metrics reach Ray's Prometheus export: transcribe real clips, then scrape the metrics agent."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from pipelines.config import TranscribeConfig
from pipelines.listing import SourceFile
from pipelines.metrics import RunMetrics
from pipelines.transcribe import iter_transcripts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_with_metrics_port() -> Iterator[int]:
    # The export port is fixed when Ray starts, so this test owns its Ray instance and leaves Ray
    # shut down for the next module (as the multinode tests do).
    ray.shutdown()
    port = free_port()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level="warning",
        _metrics_export_port=port,
        _system_config={"metrics_report_interval_ms": 500},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield port
    ray.shutdown()


def scrape(port: int, wanted: str, timeout_s: float = 60.0) -> dict[str, float]:
    """voxray samples of the Prometheus page once `wanted` appears, as {name{selected labels}: value}."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        samples = {}
        for line in page.splitlines():
            if line.startswith("ray_voxray_") and 'job="metrics-test"' in line:
                name, value = line.rsplit(" ", 1)
                status = name.split('status="')[1].split('"')[0] if 'status="' in name else None
                samples[name.split("{")[0] + (f"[{status}]" if status else "")] = float(value)
        if wanted in samples:
            return samples
        time.sleep(0.5)
    raise AssertionError(f"{wanted} never appeared on the Prometheus page")


def test_files_audio_failures_and_latency_are_exported(ray_with_metrics_port, speech_manifest, bad_dir: Path):
    clips = speech_manifest[:2]
    files = [SourceFile(c["path"]) for c in clips] + [SourceFile(str(bad_dir / "random_bytes.flac"))]
    metrics = RunMetrics("metrics-test")
    rows = list(iter_transcripts(files, TranscribeConfig(), "metrics-test"))
    for row in rows:
        metrics.row(row)
    metrics.commit()
    samples = scrape(ray_with_metrics_port, "ray_voxray_commits_total")
    assert samples["ray_voxray_files_total[ok]"] == 2
    assert samples["ray_voxray_files_total[error]"] == 1
    assert samples["ray_voxray_failures_total"] == 1
    audio_s = sum(r["duration_s"] for r in rows if r["status"] == "ok")
    assert samples["ray_voxray_audio_seconds_total"] == pytest.approx(audio_s, rel=1e-6)
    assert samples["ray_voxray_file_latency_seconds_count"] == 3
