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
    # Fewer clients than the queue holds: the mixed phase must never be shed; the burst must be.
    # A headroom of 4 (1024 by default) makes the burst overflow the ingress, so that Serve's proxy
    # answers some of it itself: those 503s must carry Retry-After too (6 of 236 did not).
    spec = MixSpec(CLIP, concurrency=3, duration_s=8.0, burst=40, max_queued=4, ingress_headroom=4)
    mixed, burst = run_mix(spec)
    statuses, retry_after = burst.statuses, burst.retry_after
    assert not mixed.unexpected, mixed.render()
    assert mixed.server_errors == 0
    assert all(sum(counts.values()) for counts in mixed.statuses.values()), mixed.statuses  # every kind was sent
    assert mixed.load.ok > 0 and mixed.rss_start_mb > 0
    # At most max_queued held at once: of 40 sent together, the excess is shed, each with a Retry-After.
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] >= spec.burst - 2 * spec.max_queued, statuses
    assert statuses[200] >= 1
    assert len(retry_after) == statuses[503] and all(int(r) >= 1 for r in retry_after), burst.render()
    assert 1 <= burst.from_proxy < statuses[503], burst.render()  # both the ingress and the proxy shed


def test_serves_own_bounds_stand_above_the_ingress_and_answer_with_retry_after() -> None:
    from pipelines.online.admission import BACKSTOP_RETRY_AFTER_S
    from pipelines.online.app import ServeSettings, build_app

    settings = ServeSettings(max_queued_requests=64, use_gpu=False)
    ingress = build_app(settings)._bound_deployment
    model = ingress.init_args[0]._bound_deployment
    config = ingress._deployment_config
    assert config.max_ongoing_requests == config.max_queued_requests == 64 + settings.ingress_headroom
    for deployment in (ingress, model):
        backstop = deployment._deployment_config.backpressure_config
        assert (backstop.status_code, backstop.retry_after_s) == (503, BACKSTOP_RETRY_AFTER_S)


def test_admission_holds_at_most_its_limit_and_advises_a_bounded_retry_after() -> None:
    from pipelines.online.admission import MAX_RETRY_AFTER_S, Admission

    admission = Admission(limit=2, first_guess_s=0.2)
    with admission.hold():
        assert not admission.full
        with admission.hold():
            assert admission.full and admission.held == 2
        assert not admission.full
    assert admission.held == 0 and admission.retry_after_s() == 1  # never 0: clients would hammer
    admission.model_s = 1e6
    assert admission.retry_after_s() == MAX_RETRY_AFTER_S
