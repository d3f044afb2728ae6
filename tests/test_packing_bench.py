"""The short-sets scenario's numbers: model CPU seconds from `--profile`, and the jitter floor."""

from __future__ import annotations

from tools.bench.bench_shortsets import model_cpu_s, words_lost

# The head of `voxray transcribe --profile`'s table, as printed (24 clips of tests/data/speech).
PROFILE = """files: 24  rows: 24  ok: 24  failed: 0
stage                                 wall s     cpu s   calls  % of run
actor:busy                             20.89      4.62       3     41.4%
actor:model load                        1.20      1.10       2      2.4%
"""


def test_the_model_cpu_seconds_are_read_from_the_profile_table() -> None:
    assert model_cpu_s(PROFILE) == 4.62
    assert model_cpu_s("files: 1  rows: 1") is None


def test_the_floor_is_counted_against_the_loop_under_its_own_names() -> None:
    counts = words_lost(["the cat sat"], ["the cat sat"], ["the cat"], against="loop")
    assert counts == {"files_losing_words_vs_loop": 1, "words_lost_vs_loop": 1, "reference_words": 3}
