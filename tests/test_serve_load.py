"""Serve under a bounded mixed load, and a burst that must be shed (issue 25, item 4).

The short version of `voxray loadtest --mix` (docs/faults.md has the 32-client, 60 s numbers): a
real app on loopback, real uploads. Every answer must be the one its kind gets (200, 400, 413,
401), and a burst larger than the app's queue must be answered at once with 503 + Retry-After for
the excess instead of being queued without bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures_ray import ray_local  # noqa: F401
from tools.loadmix import MixSpec, run_mix

CLIP = Path(__file__).parent / "data" / "speech" / "01_quick_brown_fox.wav"


@pytest.mark.slow
def test_mixed_load_gets_the_right_answers_and_a_burst_is_shed_with_retry_after(ray_local) -> None:  # noqa: F811
    spec = MixSpec(CLIP, concurrency=6, duration_s=8.0, burst=40, max_queued=4, warmup=2)
    mixed, (statuses, retry_after, _) = run_mix(spec)
    assert not mixed.unexpected, mixed.render()
    assert mixed.server_errors == 0
    assert all(sum(counts.values()) for counts in mixed.statuses.values()), mixed.statuses  # every kind was sent
    assert mixed.load.ok > 0 and mixed.rss_start_mb > 0
    # At most max_queued held at once: of 40 sent together, the excess is shed, each with a Retry-After.
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] >= spec.burst - 2 * spec.max_queued, statuses
    assert statuses[200] >= 1
    assert len(retry_after) == statuses[503] and all(int(r) >= 1 for r in retry_after)
