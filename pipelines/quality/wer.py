"""Word and character error rates, computed the way the Open ASR Leaderboard computes them (pure).

Both sides go through Whisper's text normalizer (the English one for English, the basic one for
other languages) before jiwer aligns them. A corpus rate is the sum of errors over the sum of
reference units, never a mean of per-file rates: a 2-word file must not weigh as much as a
200-word one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

import jiwer

# Written without spaces between words: WER would count whole sentences as one "word", so
# these are scored by characters (Whisper's paper and FLEURS do the same).
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "yue", "bo"})

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ErrorCounts:
    """Alignment counts of one or many hypotheses against their references."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    hits: int = 0

    @property
    def reference_units(self) -> int:
        return self.substitutions + self.deletions + self.hits

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """errors / reference units.

        An empty reference (a silent clip) divides by one instead of zero: hallucinated words on
        silence then rank at the top of the worst files instead of turning into inf or NaN.
        """
        return self.errors / max(1, self.reference_units)

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.hits + other.hits,
        )


@dataclass(frozen=True)
class Score:
    """One reference/hypothesis pair: normalized texts, word and character counts."""

    reference: str
    hypothesis: str
    words: ErrorCounts
    chars: ErrorCounts
    metric: str  # "wer" or "cer": the one that suits the language

    @property
    def rate(self) -> float:
        return self.words.rate if self.metric == "wer" else self.chars.rate


def base_language(language: str | None) -> str:
    """'en-US' / 'EN' / None -> 'en' (None means English: the bundled model is English-only)."""
    return (language or "en").replace("_", "-").split("-")[0].lower()


def uses_cer(language: str | None) -> bool:
    return base_language(language) in NO_SPACE_LANGUAGES


def metric_for(language: str | None) -> str:
    return "cer" if uses_cer(language) else "wer"


@cache
def normalizer_for(language: str | None) -> Callable[[str], str]:
    """Whisper's English normalizer for English (spelling, numbers, 'Mr.'), the basic one otherwise."""
    if base_language(language) == "en":
        from whisper_normalizer.english import EnglishTextNormalizer

        return EnglishTextNormalizer()
    from whisper_normalizer.basic import BasicTextNormalizer

    # split_letters would break words into grapheme clusters; character scoring does that already.
    return BasicTextNormalizer()


def normalize(text: str | None, language: str | None = None) -> str:
    return _SPACES.sub(" ", normalizer_for(language)(text or "")).strip()


def word_errors(reference: str, hypothesis: str) -> ErrorCounts:
    """Counts for already-normalized texts, words split on whitespace."""
    if not reference.split():
        # jiwer refuses an empty reference; every hypothesis word is then an insertion.
        return ErrorCounts(insertions=len(hypothesis.split()))
    out = jiwer.process_words(reference, hypothesis)
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, out.hits)


def char_errors(reference: str, hypothesis: str, *, keep_spaces: bool = True) -> ErrorCounts:
    """Counts over characters of already-normalized texts.

    Spaces count as characters where the language uses them (jiwer's CER); for languages written
    without spaces the normalizer's spaces (left where punctuation was) are dropped on both sides.
    """
    if not keep_spaces:
        reference, hypothesis = reference.replace(" ", ""), hypothesis.replace(" ", "")
    if not reference:
        return ErrorCounts(insertions=len(hypothesis))
    out = jiwer.process_characters(reference, hypothesis)
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, out.hits)


def score(reference: str | None, hypothesis: str | None, language: str | None = None) -> Score:
    """Normalize both sides for `language`, then count word and character errors."""
    ref, hyp = normalize(reference, language), normalize(hypothesis, language)
    return Score(
        reference=ref,
        hypothesis=hyp,
        words=word_errors(ref, hyp),
        chars=char_errors(ref, hyp, keep_spaces=not uses_cer(language)),
        metric=metric_for(language),
    )


def total(counts: Iterable[ErrorCounts]) -> ErrorCounts:
    out = ErrorCounts()
    for c in counts:
        out = out + c
    return out


def corpus_wer(references: list[str], hypotheses: list[str], language: str | None = None) -> float:
    """Sum of word errors over the sum of reference words, after normalization."""
    return total(score(r, h, language).words for r, h in zip(references, hypotheses, strict=True)).rate
