"""How much tiny.en int8 transcripts move with batch composition (which windows share a model call).

Each clip is decoded alone (one clip per window) through the pipeline's model stage in-process
(tools/bench/packing.py), in batches of 8 in the given order, in N shuffled orders (other
neighbours in each batch), and one window per call. Prints, per run, how many clips' transcripts
differ from the first run and the corpus WER. A rerun of the same job batches the same windows
together, so it gives the same text (tests/test_packing.py); a different job may not.

    python scripts/measure_batch_composition.py FOLDER... [--orders 3]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from pipelines.config import TranscribeConfig
from pipelines.listing import AUDIO_EXTENSIONS
from pipelines.quality.wer import corpus_wer
from tools.bench.packing import PackedDecoder, load_clips

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packing_safety import references  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--orders", type=int, default=3)
    args = p.parse_args()
    paths = sorted(f for d in args.folders for f in d.iterdir() if f.suffix.lower() in AUDIO_EXTENSIONS)
    refs = references(args.folders)
    clips = load_clips(paths)
    decoder = PackedDecoder(TranscribeConfig().validated())
    scored = [c.path for c in clips if c.path in refs]
    order = list(range(len(clips)))
    runs: list[tuple[str, dict[str, str]]] = [
        ("given order, batches of 8", decoder.transcripts(clips, [[i] for i in order]))
    ]
    rng = random.Random(0)
    for k in range(args.orders):
        rng.shuffle(order)
        runs.append((f"shuffled order {k}, batches of 8", decoder.transcripts(clips, [[i] for i in order])))
    single = PackedDecoder(TranscribeConfig().validated(), batch=1)
    runs.append(("one window per call", single.transcripts(clips, [[i] for i in range(len(clips))])))
    first = runs[0][1]
    for name, texts in runs:
        changed = sum(texts[c.path] != first[c.path] for c in clips)
        wer = corpus_wer([refs[p] for p in scored], [texts[p] for p in scored]) if scored else float("nan")
        print(f"{name:<34} clips changed {changed}/{len(clips)}  WER {100 * wer:.2f}%")


if __name__ == "__main__":
    main()
