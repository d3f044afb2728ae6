"""Train the PLDA model that VBx clustering scores speaker windows with (pipelines/speakers/plda_resemblyzer.npz).

Training data: the diarization evaluation set's dev split only (tools/bench/diarize_evalset.py;
no test voice is in it), each window labelled with the one speaker who covers it (windows across a
change of speaker or in overlap are left out). A class is one speaker in one mix: VBx compares
windows of one recording, so the within-speaker variation it needs is a speaker's own inside one
channel, not across channels. Building the set needs espeak-ng and ffmpeg; embedding its 120 dev
mixes takes a few CPU minutes.

    python scripts/train_speaker_plda.py [--root ~/.cache/voxray] [--out pipelines/speakers/plda_resemblyzer.npz]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pipelines.config import DiarizeConfig, TranscribeConfig
from pipelines.speakers.plda import PLDA_DIMS, RESEMBLYZER_PLDA, save_plda, train_plda
from tools.bench.diarize_eval import mix_windows, window_speakers
from tools.bench.diarize_evalset import build, default_cache_root


def training_set(folder: Path, split: str = "dev") -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the split's single-speaker windows and a class per (mix, speaker) with two windows or more."""
    config = TranscribeConfig(diarize=DiarizeConfig(enabled=True))
    rows, names = [], []
    for entry in json.loads((folder / "index.json").read_text()):
        if entry["split"] != split:
            continue
        meta = json.loads((folder / f"{entry['name']}.json").read_text())
        windows = mix_windows(folder / f"{entry['name']}.flac", config)
        for window, speaker in zip(windows, window_speakers(windows, meta["turns"]), strict=True):
            if speaker is not None:
                rows.append(np.frombuffer(window["embedding"], dtype=np.float32))
                names.append(f"{entry['name']}|{speaker}")
    _, labels = np.unique(names, return_inverse=True)
    keep = np.bincount(labels)[labels] >= 2
    return np.stack(rows)[keep].astype(np.float64), labels[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_cache_root())
    parser.add_argument("--out", type=Path, default=RESEMBLYZER_PLDA)
    args = parser.parse_args()
    x, labels = training_set(build(args.root))
    model = train_plda(x, labels, PLDA_DIMS)
    save_plda(model, args.out)
    print(f"{args.out}: {x.shape[0]} windows, {labels.max() + 1} speakers-in-mixes, {PLDA_DIMS} dimensions")
    print("between-speaker variances:", np.round(model.phi[:8], 2).tolist(), "...")


if __name__ == "__main__":
    main()
