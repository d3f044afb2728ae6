"""Ray metrics for batch runs, exported by Ray's metrics agent in Prometheus format.

Ray prefixes application metric names with `ray_`, so these scrape as `ray_voxray_files_total`,
`ray_voxray_audio_seconds_total`, `ray_voxray_failures_total`, `ray_voxray_file_latency_seconds`
and `ray_voxray_commits_total`. They are recorded in the driver, where transcript rows complete.
"""

from __future__ import annotations

from typing import Any

from models.common.schema import STATUS_OK

# Seconds of processing per file: short clips take well under a second, hour-long recordings minutes.
LATENCY_BOUNDARIES = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800]


class RunMetrics:
    def __init__(self, job: str) -> None:
        from ray.util.metrics import Counter, Histogram

        self.tags = {"job": job}
        self.files = Counter("voxray_files_total", "Files transcribed, by status.", tag_keys=("job", "status"))
        self.audio = Counter("voxray_audio_seconds_total", "Seconds of audio transcribed.", tag_keys=("job",))
        self.failures = Counter("voxray_failures_total", "Files that failed to transcribe.", tag_keys=("job",))
        self.latency = Histogram(
            "voxray_file_latency_seconds",
            "Processing seconds per file (decode, features and model).",
            boundaries=LATENCY_BOUNDARIES,
            tag_keys=("job",),
        )
        self.commits = Counter("voxray_commits_total", "Commit records written.", tag_keys=("job",))

    def row(self, row: dict[str, Any]) -> None:
        self.rows([row])

    def rows(self, rows: list[dict[str, Any]]) -> None:
        """Record many rows: one increment per counter and status, one observation per row.

        Each Ray metric call costs tens of microseconds in the driver; at archive scale (millions
        of small files) per-row increments were a large share of the driver's time.
        """
        by_status: dict[str, int] = {}
        audio_s, failures = 0.0, 0
        for row in rows:
            by_status[row["status"]] = by_status.get(row["status"], 0) + 1
            duration = float(row["duration_s"] or 0.0)
            if row["status"] == STATUS_OK and duration > 0:
                audio_s += duration
            else:
                failures += 1
            self.latency.observe(float(row["processing_s"] or 0.0), self.tags)
        for status, n in by_status.items():
            self.files.inc(n, {**self.tags, "status": status})
        if audio_s > 0:  # Ray counters refuse increments of zero
            self.audio.inc(audio_s, self.tags)
        if failures:
            self.failures.inc(failures, self.tags)

    def commit(self) -> None:
        self.commits.inc(1, self.tags)
