"""Build the diarization evaluation set (tools/bench/diarize_evalset.py) and, with --score, score it.

The set is not committed: it is built from tests/data/realspeech, tests/data/voices and espeak-ng
voices into a cache folder (`voxray bench --scenarios diarize-quality` builds the same one). Needs
Debian's espeak-ng and ffmpeg.

    python scripts/make_diarization_evalset.py [--root ~/.cache/voxray] [--score] [--splits dev] [--given-count]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipelines.config import DiarizeConfig, TranscribeConfig
from tools.bench.diarize_eval import evaluate, summarise
from tools.bench.diarize_evalset import build, default_cache_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_cache_root())
    parser.add_argument("--score", action="store_true", help="diarize every mix with the defaults and score it")
    parser.add_argument("--splits", default="dev,test", help="which splits to score (tune on dev only)")
    parser.add_argument("--given-count", action="store_true", help="give each mix its true speaker count")
    args = parser.parse_args()
    folder = build(args.root)
    print(folder)
    if args.score:
        config = TranscribeConfig(diarize=DiarizeConfig(enabled=True))
        scores = evaluate(folder, config, tuple(args.splits.split(",")), given_count=args.given_count)
        for s in scores:
            print(f"{s.name:<28} {s.reference_speakers} -> {s.hypothesis_speakers}  DER {s.der:.3f}  "
                  f"with overlap {s.der_overlap:.3f}  JER {s.jer:.3f}")  # fmt: skip
        print(json.dumps(summarise(scores), indent=1))


if __name__ == "__main__":
    main()
