"""Admission control for the ingress: hold at most N requests, turn the rest away with a Retry-After.

Ray Serve queues requests without bound by default (`max_queued_requests=-1`): 300 requests sent
at once were all queued, and the last was answered after 150 s. The ingress counts the requests it
holds (reading the upload, waiting for the model, in it) and answers 503 at once, before reading
the body, when it holds `limit`. Retry-After is about one model call: when a held request leaves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

# A client told to wait longer than this would rather be told to go elsewhere.
MAX_RETRY_AFTER_S = 60
# Retry-After of Serve's own backstop answers (the proxy's, past the ingress's headroom): Serve's
# config is static, so not the running mean; a few model calls of a CPU replica.
BACKSTOP_RETRY_AFTER_S = 5
# Weight of the newest model call in the running mean of model-call seconds.
EWMA_WEIGHT = 0.2


class Admission:
    """Counts held requests (one event loop: no lock needed) and how long model calls take."""

    def __init__(self, limit: int, first_guess_s: float = 1.0) -> None:
        self.limit = limit
        self.held = 0
        self.model_s = first_guess_s

    @property
    def full(self) -> bool:
        return self.held >= self.limit

    @contextmanager
    def hold(self) -> Iterator[None]:
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1

    @contextmanager
    def timing(self) -> Iterator[None]:
        began = time.monotonic()
        yield
        self.model_s = (1 - EWMA_WEIGHT) * self.model_s + EWMA_WEIGHT * (time.monotonic() - began)

    def retry_after_s(self) -> int:
        return min(MAX_RETRY_AFTER_S, max(1, math.ceil(self.model_s)))
