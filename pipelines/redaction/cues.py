"""The cue words that introduce each kind of spoken value (see pipelines/redaction/context.py)."""

from __future__ import annotations

from pipelines.redaction.context import Cue, cue

CUES: tuple[Cue, ...] = (
    cue("US_SSN", "social", "social security", "security number", "ssn", "s s n"),
    cue("CREDIT_CARD", "card", "card number", "security code", "cvv", "cvc", "expires", "expiry", "expiration"),
    cue("DIGITS", "pin", "pin number", "account", "account number", "routing", "routing number"),
)
