"""Per-recording step: cluster one recording's speaker windows into speakers, then into turns.

Average-linkage agglomerative clustering on cosine distance (scikit-learn), stopped at a distance
threshold when the number of speakers is not given, so the count is estimated; with
--num-speakers (or a --min/--max range the estimate falls outside of) it is cut at that count.
At most `max_cluster_windows` windows, evenly spread over the recording, are clustered; every
window then joins its nearest speaker centroid, so memory stays bounded on long recordings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.config import DiarizeConfig


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int  # a cluster id; alignment renames them in order of first appearance


def _agglomerate(x: np.ndarray, n_clusters: int | None, threshold: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=n_clusters,
        distance_threshold=None if n_clusters else threshold,
        metric="cosine",
        linkage="average",
    )
    return model.fit_predict(x)


def _centroids(x: np.ndarray, labels: np.ndarray, keep: list[int]) -> np.ndarray:
    c = np.stack([x[labels == k].mean(axis=0) for k in keep])
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)


def cluster_speakers(embeddings: np.ndarray, cfg: DiarizeConfig) -> np.ndarray:
    """A speaker id (0..k-1) per embedding row."""
    n = embeddings.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    sample = np.unique(np.linspace(0, n - 1, min(n, cfg.max_cluster_windows)).round().astype(int))
    x = embeddings[sample]
    m = x.shape[0]
    if cfg.num_speakers is not None:
        labels = _agglomerate(x, min(cfg.num_speakers, m), cfg.threshold) if cfg.num_speakers > 1 else np.zeros(m, int)
        keep = sorted(set(labels.tolist()))
    else:
        labels = _agglomerate(x, None, cfg.threshold)
        counts = np.bincount(labels)
        keep = [k for k in range(counts.size) if counts[k] >= max(2, cfg.min_cluster_share * m)] or [
            int(np.argmax(counts))
        ]
        low, high = cfg.min_speakers or 1, cfg.max_speakers or m
        if not low <= len(keep) <= high:
            target = min(max(len(keep), low), high, m)
            labels = _agglomerate(x, target, cfg.threshold) if target > 1 else np.zeros(m, int)
            keep = sorted(set(labels.tolist()))
    centroids = _centroids(x, labels, keep)
    return np.argmax(embeddings @ centroids.T, axis=1)


def speaker_turns(starts: np.ndarray, ends: np.ndarray, labels: np.ndarray) -> list[Turn]:
    """Windows (sorted by start) -> turns: overlapping windows split their overlap at its middle."""
    turns: list[Turn] = []
    n = starts.shape[0]
    for i in range(n):
        start = starts[i] if i == 0 or ends[i - 1] <= starts[i] else (starts[i] + ends[i - 1]) / 2
        end = ends[i] if i == n - 1 or starts[i + 1] >= ends[i] else (ends[i] + starts[i + 1]) / 2
        speaker = int(labels[i])
        if turns and turns[-1].speaker == speaker and start - turns[-1].end < 1e-6:
            turns[-1] = Turn(turns[-1].start, float(end), speaker)
        else:
            turns.append(Turn(float(start), float(end), speaker))
    return turns


def diarize_windows(windows: list[dict], cfg: DiarizeConfig) -> list[Turn]:
    """`speaker_windows` entries of one recording (any order) -> its speaker turns."""
    if not windows:
        return []
    ordered = sorted(windows, key=lambda w: (w["start"], w["end"]))
    embeddings = np.stack([np.frombuffer(w["embedding"], dtype=np.float32) for w in ordered])
    labels = cluster_speakers(embeddings, cfg)
    starts = np.array([w["start"] for w in ordered], dtype=np.float64)
    ends = np.array([w["end"] for w in ordered], dtype=np.float64)
    return speaker_turns(starts, ends, labels)
