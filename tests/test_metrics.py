"""Run metrics reach Ray's Prometheus export: `voxray transcribe` and `voxray nightly` on real clips, then a scrape."""

from __future__ import annotations

import shutil
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from jobs.cli import main


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


def scrape(port: int, job: str, *wanted: str, timeout_s: float = 60.0) -> dict[str, float]:
    """voxray samples of one job on the Prometheus page once all of `wanted` appear, as {name[status]: value}.

    Each metric reaches the page on its own report interval: one appearing says nothing of another
    (on a loaded machine the latency histogram once showed before the per-status file counter).
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        samples = {}
        for line in page.splitlines():
            if line.startswith("ray_voxray_") and f'job="{job}"' in line:
                name, value = line.rsplit(" ", 1)
                status = name.split('status="')[1].split('"')[0] if 'status="' in name else None
                samples[name.split("{")[0] + (f"[{status}]" if status else "")] = float(value)
        if all(w in samples for w in wanted):
            return samples
        time.sleep(0.5)
    raise AssertionError(f"{wanted} of job {job} never all appeared on the Prometheus page")


def test_voxray_transcribe_and_nightly_export_their_metrics(
    ray_with_metrics_port, speech_manifest, bad_dir: Path, tmp_path: Path
):
    # The real commands, as users run them: the metrics come from their own wiring, not from a
    # RunMetrics fed by hand.
    source = tmp_path / "archive"
    source.mkdir()
    clips = speech_manifest[:2]
    for clip in clips:
        shutil.copy(clip["path"], source / Path(clip["path"]).name)
    shutil.copy(bad_dir / "random_bytes.flac", source / "random_bytes.flac")
    audio_s = sum(c["duration_s"] for c in clips)

    assert main(["transcribe", str(source), "--output", str(tmp_path / "out")]) == 0
    samples = scrape(
        ray_with_metrics_port,
        "transcribe",
        "ray_voxray_file_latency_seconds_count",
        "ray_voxray_files_total[ok]",
        "ray_voxray_files_total[error]",
        "ray_voxray_failures_total",
        "ray_voxray_audio_seconds_total",
    )
    assert samples["ray_voxray_files_total[ok]"] == 2
    assert samples["ray_voxray_files_total[error]"] == 1
    assert samples["ray_voxray_failures_total"] == 1
    assert samples["ray_voxray_audio_seconds_total"] == pytest.approx(audio_s, abs=0.2)
    assert samples["ray_voxray_file_latency_seconds_count"] == 3

    assert main(["nightly", str(source), "--output", str(tmp_path / "store")]) == 0
    samples = scrape(
        ray_with_metrics_port,
        "nightly",
        "ray_voxray_commits_total",
        "ray_voxray_files_total[ok]",
        "ray_voxray_files_total[error]",
        "ray_voxray_audio_seconds_total",
    )
    assert samples["ray_voxray_files_total[ok]"] == 2
    assert samples["ray_voxray_files_total[error]"] == 1
    assert samples["ray_voxray_audio_seconds_total"] == pytest.approx(audio_s, abs=0.2)
    assert samples["ray_voxray_commits_total"] >= 1
