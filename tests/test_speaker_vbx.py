"""VBx clustering and its PLDA model (pipelines/speakers/vbx.py, plda.py): the count estimate.

The quality of the estimate is measured on the diarization evaluation set (docs/diarization.md);
on the real-speech fixtures it is asserted in tests/test_speakers.py, for both count methods.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.common.config import ConfigError
from pipelines.config import DiarizeConfig, TranscribeConfig
from pipelines.speakers.plda import PLDA_DIMS, load_plda, train_plda
from pipelines.speakers.vbx import initial_gamma, vbx

EMBEDDING_DIM = 256  # the resemblyzer encoder's


def test_shipped_plda_loads_with_the_expected_shapes():
    model = load_plda()
    assert model.mean.shape == (EMBEDDING_DIM,)
    assert model.transform.shape == (PLDA_DIMS, EMBEDDING_DIM)
    assert model.phi.shape == (PLDA_DIMS,)
    assert np.all(model.phi > 0) and np.all(np.diff(model.phi) <= 0)  # largest first
    assert np.isfinite(model.transform).all()


def test_plda_whitens_within_and_diagonalises_between_speakers():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (40, 8))
    labels = np.repeat(np.arange(40), 30)
    x = centres[labels] + rng.normal(0, 1, (labels.size, 8)) @ rng.normal(0, 1, (8, 8))
    model = train_plda(x, labels, 8)
    y = model.project(x)
    within = np.cov((y - np.stack([y[labels == k].mean(0) for k in range(40)])[labels]).T, bias=True)
    assert np.allclose(within, np.eye(8), atol=1e-6)


def speakers_in_turns(rng: np.random.Generator, phi: np.ndarray, turns: list[tuple[int, int]]) -> np.ndarray:
    """PLDA-space windows: each speaker a mean drawn from the between-speaker prior, unit noise."""
    means = rng.normal(0, np.sqrt(phi), (max(s for s, _ in turns) + 1, phi.size))
    return np.concatenate([means[s] + rng.normal(0, 1, (n, phi.size)) for s, n in turns])


def test_vbx_merges_an_oversplit_start_into_the_true_speakers():
    rng = np.random.default_rng(1)
    phi = np.linspace(30, 3, 12)
    turns = [(0, 12), (1, 9), (2, 14), (0, 8), (1, 10), (2, 7)]
    x = speakers_in_turns(rng, phi, turns)
    truth = np.concatenate([np.full(n, s) for s, n in turns])
    start = (truth * 2 + (np.arange(truth.size) % 2)).astype(int)  # each speaker split in two
    result = vbx(x, phi, initial_gamma(start, 5.0), loop_prob=0.8, fa=0.3, fb=10.0)
    found = np.argmax(result.gamma, axis=1)
    assert np.unique(found).size == 3
    assert all(np.unique(found[truth == s]).size == 1 for s in range(3))
    assert np.all(np.diff(result.elbo) > -1e-6)  # variational Bayes never lowers its bound


def test_count_method_is_typed_validated_and_round_trips_to_yaml():
    config = TranscribeConfig(diarize=DiarizeConfig(enabled=True, count_method="ahc", vbx_fb=12.0))
    assert TranscribeConfig.from_yaml_text(config.to_yaml()) == config
    assert TranscribeConfig().diarize.count_method == "vbx"
    with pytest.raises(ConfigError, match="count_method"):
        TranscribeConfig.from_yaml_text("diarize:\n  enabled: true\n  count_method: spectral\n")
    for bad in ({"vbx_loop_prob": 1.0}, {"vbx_fa": 0.0}, {"vbx_fb": -1.0}, {"count_method": "bic"}):
        with pytest.raises(ValueError, match="vbx|count_method"):
            DiarizeConfig(enabled=True, **bad)
