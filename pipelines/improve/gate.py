"""Promote a candidate model or keep the current one, with the reasons either way."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GateConfig:
    # General speech may get at most this much worse (absolute WER, 0.01 = 1 point).
    max_regression: float = 0.01
    # Fewer kept clips than this: no training at all (a fine-tune on a handful of clips learns
    # their labels' mistakes, and an archive of noise or another language ends here).
    min_kept_clips: int = 16


@dataclass(frozen=True)
class Scores:
    """Corpus WERs of one model (None: that set was not measured)."""

    dev: float  # the --eval references when given, else the held-out pseudo-labelled clips
    regression: float | None


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: tuple[str, ...]


def decide(current: Scores, candidate: Scores, cfg: GateConfig) -> Decision:
    """Better on dev, and at most `max_regression` worse on general speech."""
    reasons = []
    if not candidate.dev < current.dev:
        reasons.append(f"dev WER {_pct(candidate.dev)} is not below the current model's {_pct(current.dev)}")
    measured = current.regression is not None and candidate.regression is not None
    if measured and not candidate.regression <= current.regression + cfg.max_regression:
        reasons.append(
            f"regression WER {_pct(candidate.regression)} is more than {100 * cfg.max_regression:.1f} points "
            f"above the current model's {_pct(current.regression)}"
        )
    if any(math.isnan(v) for s in (current, candidate) for v in (s.dev, s.regression) if v is not None):
        reasons.append("a WER could not be measured (no reference words)")
    if reasons:
        return Decision(False, tuple(reasons))
    return Decision(True, (f"dev WER {_pct(current.dev)} -> {_pct(candidate.dev)}",))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
