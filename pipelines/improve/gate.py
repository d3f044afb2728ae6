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
        reasons.append(f"dev WER {pct(candidate.dev)} is not below the current model's {pct(current.dev)}")
    measured = current.regression is not None and candidate.regression is not None
    if measured and not candidate.regression <= current.regression + cfg.max_regression:
        reasons.append(
            f"regression WER {pct(candidate.regression)} is more than {100 * cfg.max_regression:.1f} points "
            f"above the current model's {pct(current.regression)}"
        )
    if any(math.isnan(v) for s in (current, candidate) for v in (s.dev, s.regression) if v is not None):
        reasons.append("a WER could not be measured (no reference words)")
    if reasons:
        return Decision(False, tuple(reasons))
    return Decision(True, (f"dev WER {pct(current.dev)} -> {pct(candidate.dev)}",))


def choose(current: Scores, candidates: dict[float, Scores], cfg: GateConfig) -> tuple[float | None, Decision]:
    """The WiSE-FT ladder: of the candidates (by mix) that `decide` would promote, the one with the
    lowest dev WER (ties: the lower mix, the one closer to the current model); (None, every
    candidate's reasons) when none passes.

    The regression set thus selects among candidates as well as bounding them: a candidate can pass
    by the luck of a few words. The loop's evaluation reports general speech on a set it never sees.
    """
    verdicts = {mix: decide(current, scores, cfg) for mix, scores in candidates.items()}
    passing = [mix for mix, verdict in verdicts.items() if verdict.promote]
    if not passing:
        return None, Decision(False, tuple(f"mix {m:g}: {r}" for m, v in verdicts.items() for r in v.reasons))
    best = min(passing, key=lambda mix: (candidates[mix].dev, mix))
    why = f"mix {best:g}, the lowest dev WER of {len(passing)} passing of {len(candidates)}"
    return best, Decision(True, (f"{why}: {verdicts[best].reasons[0]}",))


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
