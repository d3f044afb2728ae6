"""The anchor voxray is measured against: a plain faster-whisper script, run as a process of its own.

What a user would write instead of voxray: a `WhisperModel.transcribe` loop over the files (short
clips), or faster-whisper's `BatchedInferencePipeline` (long recordings). `voxray bench` times this
script and `voxray transcribe` as whole processes on the same files, model, beam size and compute
type, so start-up, model loading and everything else a user waits for is in both numbers.

    python -m tools.bench.anchor {loop|batched} --model DIR --out texts.json FILE...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench.anchor")
    p.add_argument("mode", choices=["loop", "batched"])
    p.add_argument("files", nargs="+")
    p.add_argument("--model", required=True, help="a CTranslate2 Whisper folder")
    p.add_argument("--out", required=True, type=Path, help="JSON file: {path: text}")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--compute-type", default="int8")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--language", default="en")
    args = p.parse_args(argv)

    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model = WhisperModel(args.model, device=args.device, compute_type=args.compute_type)
    texts = {}
    if args.mode == "loop":
        for path in args.files:
            segments, _ = model.transcribe(path, beam_size=args.beam_size, language=args.language)
            texts[path] = "".join(s.text for s in segments).strip()
    else:
        pipeline = BatchedInferencePipeline(model)
        for path in args.files:
            segments, _ = pipeline.transcribe(
                path, batch_size=args.batch_size, beam_size=args.beam_size, language=args.language
            )
            texts[path] = "".join(s.text for s in segments).strip()
    args.out.write_text(json.dumps(texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
