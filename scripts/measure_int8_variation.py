"""How much tiny.en's int8 WER moves when nothing meaningful changes: the margin for int8 WER tests.

faster-whisper (the anchor) transcribes the speech fixtures with int8, beam 5, language en: once
as is, then N times with log-mel features nudged by one float32 ulp in a random 0.1% of their
values (seeded), about the size of the differences between two correct feature implementations.
Prints each run's corpus WER and the largest spread. tests/test_pipeline.py compares voxray's
int8 WER with faster-whisper's on the same clips within this spread.

    python scripts/measure_int8_variation.py [--trials 6]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from models.common.config import StorageConfig
from models.registry import resolve_model
from pipelines.quality.wer import corpus_wer

SPEECH = Path(__file__).resolve().parent.parent / "tests" / "data" / "speech"


class NudgedFeatures:
    """faster-whisper's feature extractor, with one-ulp nudges in a seeded 0.1% of the values."""

    def __init__(self, inner, seed: int) -> None:  # noqa: ANN001 (faster_whisper FeatureExtractor)
        self._inner, self._rng = inner, np.random.default_rng(seed)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._inner, name)

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
        features = self._inner(*args, **kwargs)
        mask = self._rng.random(features.shape) < 0.001
        return np.where(mask, np.nextafter(features, np.inf, dtype=features.dtype), features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    clips = [json.loads(line) for line in (SPEECH / "manifest.jsonl").read_text().splitlines() if line.strip()]
    refs = [c["text"] for c in clips]
    model = WhisperModel(
        str(resolve_model("tiny.en", StorageConfig())), device="cpu", compute_type="int8", cpu_threads=2
    )
    exact = model.feature_extractor
    wers = []
    for trial in range(args.trials + 1):
        model.feature_extractor = exact if trial == 0 else NudgedFeatures(exact, seed=trial)
        hyps = [
            "".join(s.text for s in model.transcribe(str(SPEECH / c["path"]), beam_size=5, language="en")[0])
            for c in clips
        ]
        wers.append(corpus_wer(refs, hyps))
        print(f"{'exact' if trial == 0 else f'nudged seed {trial}'}: WER {100 * wers[-1]:.2f}%", flush=True)
    print(f"int8 WER spread over {len(wers)} runs: {100 * (max(wers) - min(wers)):.2f} points "
          f"(min {100 * min(wers):.2f}%, max {100 * max(wers):.2f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
