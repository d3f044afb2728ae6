"""Ray for tests: one local Ray instance shared by every test that asks for it.

Import the fixture into a test module (`from tests.fixtures_ray import ray_local  # noqa: F401`).
Tests that need their own cluster (ray.cluster_utils.Cluster) call `ray.shutdown()` first and
leave Ray shut down; the next `ray_local` user starts it again.
"""

from __future__ import annotations

import os

import pytest
import ray


def start_ray_local() -> None:
    """Start the shared instance unless one is running (also for session fixtures, which cannot use
    the function-scoped `ray_local`)."""
    if not ray.is_initialized():
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        # address="local": never attach to a cluster some `ray start` left recorded in /tmp/ray.
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="warning", configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False


@pytest.fixture
def ray_local():
    start_ray_local()
    yield ray
