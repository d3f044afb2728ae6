"""A two-covariance PLDA model of speaker embeddings: what VBx clustering scores windows with.

Two-covariance PLDA (Ioffe 2006; Kenny 2010) models an embedding as a speaker's mean plus
within-speaker noise, both Gaussian: between-speaker covariance B, within-speaker covariance W.
One linear map turns W into the identity and B into a diagonal (the generalised eigenproblem
B v = phi W v), so in its space the dimensions are independent and each has a between-speaker
variance phi_i against a within-speaker variance of 1: the form VBx takes (Landini et al., 2022,
"Bayesian HMM clustering of x-vector sequences (VBx) in speaker diarization", and BUT's
reference implementation, github.com/BUTSpeechFIT/VBx). A PCA to `dim` dimensions first keeps
the estimate stable with a few hundred speakers.

The shipped parameters (plda_resemblyzer.npz, a few KB) are trained by
scripts/train_speaker_plda.py on the diarization evaluation set's dev split only (every window
labelled with its speaker): no test voice is in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The model for the bundled encoder's embeddings (models/speaker_resemblyzer.py).
RESEMBLYZER_PLDA = Path(__file__).with_name("plda_resemblyzer.npz")
# PCA dimensions of the shipped model. Dev split, PLDA trained on the other half of its mixes,
# counts right of 120 over 32 settings of VBx each: 16 dims 94-102, 20 99-103, 24 96-104, 32
# 95-101; the first 24 PLDA dimensions of a 64-dimensional PCA: 91 (where 24 gave 103).
PLDA_DIMS = 24


@dataclass(frozen=True)
class Plda:
    mean: np.ndarray  # (D,) subtracted from every embedding first
    transform: np.ndarray  # (d, D): within-speaker covariance -> identity, between -> diag(phi)
    phi: np.ndarray  # (d,) between-speaker variances, largest first

    def project(self, x: np.ndarray) -> np.ndarray:
        """Embeddings (n, D) -> PLDA space (n, d)."""
        return (x - self.mean) @ self.transform.T


def load_plda(path: Path = RESEMBLYZER_PLDA) -> Plda:
    with np.load(path) as data:
        return Plda(mean=data["mean"], transform=data["transform"], phi=data["phi"])


def save_plda(model: Plda, path: Path) -> None:
    np.savez_compressed(
        path,
        mean=model.mean.astype(np.float32),
        transform=model.transform.astype(np.float32),
        phi=model.phi.astype(np.float32),
    )


def _scatter(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Between-class (of the class means, each class weighing the same) and pooled within-class covariances."""
    classes = np.unique(labels)
    means = np.stack([x[labels == c].mean(axis=0) for c in classes])
    within = sum(np.cov(x[labels == c].T, bias=True) * np.sum(labels == c) for c in classes) / x.shape[0]
    return np.cov(means.T, bias=True), within


def train_plda(x: np.ndarray, labels: np.ndarray, dim: int) -> Plda:
    """Fit PLDA to embeddings `x` (n, D) of known speakers `labels` (n,), in `dim` PCA dimensions."""
    from scipy.linalg import eigh

    mean = x.mean(axis=0)
    centred = x - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    pca = vt[:dim]
    between, within = _scatter(centred @ pca.T, labels)
    phi, vectors = eigh(between, within)  # vectors.T @ within @ vectors = I
    order = np.argsort(phi)[::-1]
    return Plda(mean=mean, transform=vectors[:, order].T @ pca, phi=np.maximum(phi[order], 1e-6))
