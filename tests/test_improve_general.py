"""The held-out general real-speech check of `voxray improve` (scripts/make_general_dev.py --real-out,
scripts/flywheel_general.py): the set is disjoint from the gate's regression set, and the paired
count says how many word errors a candidate removed and added, utterance by utterance."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.fixtures_ray import ray_local  # noqa: F401

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from flywheel_general import paired  # noqa: E402
from make_general_dev import real_general  # noqa: E402


def test_the_held_out_set_is_real_speech_the_regression_set_does_not_use() -> None:
    from pipelines.improve.run import DEFAULT_REGRESSION

    rows = real_general()
    regression = [json.loads(line) for line in DEFAULT_REGRESSION.read_text().splitlines() if line.strip()]
    used_files = {Path(r["source"]).name for r in regression}
    used_texts = {r["text"].strip().lower() for r in regression}
    names = {Path(r["path"]).name for r in rows}
    assert len(rows) == 12 and not names & used_files
    assert not {r["text"].strip().lower() for r in rows} & used_texts
    assert all(Path(r["path"]).is_file() and r["text"].strip() for r in rows)


def test_paired_counts_gains_and_losses_per_utterance() -> None:
    # (errors, reference words): b got worse by 2, c better by 1, a and d unchanged.
    before = {"a": (0, 10), "b": (1, 20), "c": (3, 30), "d": (0, 40)}
    after = {"a": (0, 10), "b": (3, 20), "c": (2, 30), "d": (0, 40)}
    result = paired(before, after)
    assert (result["words_lost"], result["words_gained"]) == (2, 1)
    assert (result["utterances_worse"], result["utterances_better"]) == (1, 1)
    assert result["difference_points"] == pytest.approx(1.0)
    lo, hi = result["bootstrap_95_points"]
    assert lo <= 1.0 <= hi
    assert result["changed"] == {"b": [1, 3], "c": [3, 2]}
    assert paired(before, after) == result  # seeded


def test_paired_refuses_different_utterances() -> None:
    with pytest.raises(SystemExit):
        paired({"a": (0, 1)}, {"b": (0, 1)})


def test_general_training_speech_shares_no_sentence_with_an_evaluation_set() -> None:
    from make_general_dev import EVERYDAY, evaluation_texts

    assert len(set(EVERYDAY)) == len(EVERYDAY) == 60
    texts = evaluation_texts()
    assert len(texts) > 100  # the Harvard sentences, tests/data/speech, the regression and held-out sets
    assert not {t.lower() for t in EVERYDAY} & texts


def test_general_clips_in_an_evaluation_set_are_never_trained_on(tmp_path: Path) -> None:
    """By path, and by content: a copy of a gate clip under another name is the same clip."""
    from pipelines.improve.filters import Labelled, Selection
    from pipelines.improve.general import IN_EVALUATION, without_evaluation
    from pipelines.quality.evaluate import Reference

    data = SCRIPTS.parent / "tests" / "data"
    gate_clip, other = data / "realspeech" / "sonnet-01.flac", data / "voices" / "sas-00.flac"
    copy = tmp_path / "renamed.flac"
    copy.write_bytes(gate_clip.read_bytes())
    kept = tuple(Labelled(str(p), "text", 1.0) for p in (gate_clip, copy, other))
    selection = Selection(kept=kept, seen=5, removed={"flagged": 2})
    result = without_evaluation(selection, [Reference(str(gate_clip), "From fairest creatures")])
    assert [k.path for k in result.kept] == [str(other)]
    assert result.removed == {"flagged": 2, IN_EVALUATION: 2} and result.seen == 5


@pytest.mark.slow
def test_general_speech_is_labelled_filtered_and_kept_out_of_the_gate(ray_local, tmp_path: Path) -> None:  # noqa: F811
    """`--general`'s selection with real parts: real Ray, the packaged Whisper base as the teacher, the
    bundled tiny.en as the current model, real speech, a copy of a gate clip and an undecodable file."""
    from models.common.config import StorageConfig
    from models.packaged import packaged_base
    from models.registry import bundled_model_path
    from pipelines.improve.filters import UNREADABLE, FilterConfig
    from pipelines.improve.general import IN_EVALUATION, general_selection
    from pipelines.quality.evaluate import Reference

    data = SCRIPTS.parent / "tests" / "data"
    general = tmp_path / "general"
    general.mkdir()
    real = ["awb-00.flac", "sas-00.flac", "cards-00.flac"]
    for name in real:
        (general / name).write_bytes((data / "voices" / name).read_bytes())
    gate_clip = data / "realspeech" / "sonnet-01.flac"
    (general / "renamed.flac").write_bytes(gate_clip.read_bytes())
    (general / "not_audio.wav").write_bytes((data / "bad" / "not_audio.wav").read_bytes())
    teacher = packaged_base()
    assert teacher is not None
    selection = general_selection(
        (str(general),), str(teacher), str(bundled_model_path()), "en", tmp_path / "work",
        [Reference(str(gate_clip), "From fairest creatures we desire increase")], FilterConfig(), StorageConfig(),
    )  # fmt: skip
    assert selection.seen == 5
    assert len(selection.kept) + sum(selection.removed.values()) == 5  # every clip kept or counted once
    assert selection.removed[UNREADABLE] == 1 and IN_EVALUATION in selection.removed
    kept = {Path(k.path).name: k.text for k in selection.kept}
    assert set(kept) <= set(real) and kept, selection.removed  # the gate's clip is never trained on
    assert all(text.strip() for text in kept.values())
