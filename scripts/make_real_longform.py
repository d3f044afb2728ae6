"""Build a long recording of real speech for `voxray bench --long-file`, with a reference per utterance.

    python scripts/make_real_longform.py UTTERANCE_DIR OUT.wav [--gap 0.3] [--limit N]

`voxray bench --long-file UTTERANCE_DIR` does the same by itself; this keeps the recording (and
OUT.json beside it: `segments` with text, start_s, end_s) for other uses, e.g. `voxray transcribe`
and the faster-whisper anchor by hand. How utterances are joined and where references come from:
tools/bench/longform.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tools.bench.longform import DENSE_GAP_S, join_utterances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--gap", type=float, default=DENSE_GAP_S, help="seconds of silence between utterances")
    parser.add_argument("--limit", type=int, default=0, help="at most this many utterances (0: all)")
    args = parser.parse_args()
    segments = join_utterances(args.folder, args.out, args.gap, args.limit)
    args.out.with_suffix(".json").write_text(json.dumps({"file": args.out.name, "segments": segments}, indent=1))
    print(f"{args.out}: {len(segments)} utterances, {segments[-1]['end_s']:.1f} s")


if __name__ == "__main__":
    main()
