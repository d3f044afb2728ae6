"""WER/CER on small cases worked out by hand (pure: no Ray, no audio)."""

from __future__ import annotations

import pytest

from pipelines.quality import wer
from pipelines.quality.wer import ErrorCounts


def test_one_substitution_one_deletion_one_insertion():
    # ref:   .   the cat sat on the mat
    # hyp:  so   the bat sat on the  .
    #       I        S              D     -> S=1 D=1 I=1, hits the/sat/on/the = 4
    # Any other alignment costs more (e.g. position by position: 6 substitutions), so it is unique.
    # WER = (S + D + I) / reference words = 3 / 6
    s = wer.score("the cat sat on the mat", "so the bat sat on the")
    assert s.words == ErrorCounts(substitutions=1, deletions=1, insertions=1, hits=4)
    assert s.words.reference_units == 6
    assert s.words.rate == pytest.approx(3 / 6)
    assert s.metric == "wer" and s.rate == s.words.rate


def test_identical_and_empty_hypothesis():
    assert wer.score("the cat sat", "the cat sat").words.rate == 0.0
    # Nothing recognised: every reference word is a deletion, 3 / 3.
    empty = wer.score("the cat sat", "")
    assert empty.words == ErrorCounts(deletions=3)
    assert empty.words.rate == 1.0


def test_empty_reference_counts_insertions():
    # A silent clip with two hallucinated words: 2 insertions. The rate divides by one reference unit
    # instead of zero (2.0, not inf), so such a file ranks first among the worst files.
    s = wer.score("", "hello there")
    assert s.words == ErrorCounts(insertions=2)
    assert s.words.rate == 2.0
    assert wer.score("", "").words.rate == 0.0


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        # Casing and punctuation vanish on both sides.
        ("Hello, World!", "hello world"),
        # "Mr." -> "mister", and the normalizer turns "'s" into " is" (Whisper's rule, kept as is).
        ("Mr. Smith's car is red.", "mister smith is car is red"),
        # Spelled-out numbers and currency become digits: "twenty-five dollars" -> "$25".
        ("I paid twenty-five dollars.", "i paid $25"),
        # Consecutive number words merge into one number: "one two three" -> "123" (one word).
        ("One, two, three.", "123"),
        # British spellings map to American ones.
        ("The colour grey", "the color gray"),
    ],
)
def test_english_normalizer_makes_equivalent_texts_equal(reference: str, hypothesis: str):
    s = wer.score(reference, hypothesis)
    assert s.reference == s.hypothesis
    assert s.words.errors == 0


def test_normalizer_does_not_hide_real_errors():
    # "Mr. Smith" vs "Mrs. Smith": mister vs missus, 1 substitution in 2 words.
    s = wer.score("Mr. Smith", "Mrs. Smith")
    assert s.words == ErrorCounts(substitutions=1, hits=1)


def test_corpus_wer_is_pooled_not_averaged():
    # File 1: "a b" vs "a x"  -> 1 substitution over 2 words (50 %).
    # File 2: 8 words, all right (0 %).
    # Pooled: 1 error / 10 words = 10 %; the mean of the per-file rates would be 25 %.
    refs = ["a b", "c d e f g h i j"]
    hyps = ["a x", "c d e f g h i j"]
    assert wer.corpus_wer(refs, hyps) == pytest.approx(0.10)
    assert wer.total(wer.score(r, h).words for r, h in zip(refs, hyps, strict=True)) == ErrorCounts(
        substitutions=1, hits=9
    )


def test_english_cer_counts_spaces():
    # "the cat" vs "the bat": 7 characters with the space, one substituted -> 1 / 7.
    s = wer.score("the cat", "the bat")
    assert s.chars == ErrorCounts(substitutions=1, hits=6)
    assert s.chars.rate == pytest.approx(1 / 7)


def test_chinese_is_scored_by_characters():
    # 今天天气很好。 vs 今天天汽很好: the full stop goes, 气 -> 汽 is 1 substitution in 6 characters.
    s = wer.score("今天天气很好。", "今天天汽很好", language="zh")
    assert s.metric == "cer"
    assert s.chars == ErrorCounts(substitutions=1, hits=5)
    assert s.rate == pytest.approx(1 / 6)


def test_chinese_punctuation_space_is_not_an_error():
    # The basic normalizer turns "，" into a space ("你好 世界"); Chinese has no spaces, so both sides
    # drop them: 4 characters, all right.
    s = wer.score("你好，世界", "你好世界", language="zh-CN")
    assert s.chars == ErrorCounts(hits=4)
    assert s.rate == 0.0


@pytest.mark.parametrize(
    ("language", "metric"),
    [(None, "wer"), ("en", "wer"), ("en-US", "wer"), ("fr", "wer"), ("zh", "cer"), ("ZH_tw", "cer"), ("ja", "cer")],
)
def test_metric_by_language(language: str | None, metric: str):
    assert wer.metric_for(language) == metric
    assert wer.uses_cer(language) == (metric == "cer")


def test_non_english_uses_basic_normalizer():
    # The basic normalizer lowercases and strips punctuation but keeps accents and does not spell out
    # English words: "Ça" vs "ca" stays 1 substitution in 3 words.
    s = wer.score("Ça va, Monsieur?", "ca va monsieur", language="fr")
    assert s.reference == "ça va monsieur"
    assert s.words == ErrorCounts(substitutions=1, hits=2)
    # The English normalizer would have spelled "Mr." out; the basic one must not.
    assert wer.normalize("Mr. Dupont", "fr") == "mr dupont"
