"""Build the spoken-PII evaluation corpus (tools/bench/pii_corpus.py) with espeak-ng.

`voxray bench --scenarios redact-quality` builds it by itself into ~/.cache/voxray; this script is
for looking at it: WAVs and corpus.jsonl (text, type, split, voice, speed, the values) in --out.

Usage: python scripts/make_pii_corpus.py [--out DIR] [--seed 20]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from tools.bench.pii_corpus import build_utterances, synthesize


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("pii-corpus"))
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    utterances = build_utterances(args.seed)
    synthesize(utterances, args.out / "audio")
    counts = Counter((u.split, u.type) for u in utterances)
    for (split, kind), n in sorted(counts.items()):
        print(f"{split:<5} {kind:<20} {n}")
    print(f"{len(utterances)} utterances in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
