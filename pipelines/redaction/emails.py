"""E-mail addresses after their cue, as Whisper writes them spoken ("j smith at gmail dot com")."""

from __future__ import annotations

from pipelines.redaction.context import Token
from pipelines.redaction.values import skip_lead

TLDS = frozenset("com net org edu gov io co uk us de info biz me".split())  # noqa: SIM905
MAX_EMAIL_WORDS = 10


def email(toks: list[Token], first: int) -> tuple[int, int] | None:
    """Up to the top-level domain ("... gmail dot com", "toutlook.com"), else to the sentence end."""
    i = skip_lead(toks, first)
    if i is None:
        return None
    last, count = i, 0
    for j in range(i, min(len(toks), i + 3 * MAX_EMAIL_WORDS)):
        t = toks[j]
        if t.lower in (".", "dot") and j + 1 < len(toks) and toks[j + 1].lower in TLDS:
            return i, j + 1
        if t.word:
            count += 1
            if count > MAX_EMAIL_WORDS:
                break
            if count <= MAX_EMAIL_WORDS // 2:
                last = j
        elif t.text in "?!" or (t.text == "." and count > 1):
            break
    return i, last


def email_with_domain(toks: list[Token], first: int) -> tuple[int, int] | None:
    """An e-mail address that reaches its top-level domain; nothing otherwise ("send a copy to my
    husband" names no address)."""
    span = email(toks, first)
    if span is None or toks[span[1]].lower not in TLDS:
        return None
    return span
