"""Does packing cost a clip its words? Each clip alone against random groupings of the same clips.

Runs the pipeline's preparation and model stage in this process (tools/bench/packing.py),
with the default model (tiny.en), and prints per grouping: corpus WER alone and packed, the worst
per-file rise, the files that lost words of their alone transcript, and model CPU seconds per
stage (fallback temperatures, clips decoded alone). References: a folder's manifest.jsonl
(path, text); a file without one is scored against its own transcript alone.

    python scripts/packing_safety.py FOLDER... [--groupings 4] [--seed 0] [--copies] [--whole-windows]
        [--fallback window]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from pathlib import Path

from models.common.audio import SAMPLE_RATE
from pipelines.config import TranscribeConfig
from pipelines.listing import AUDIO_EXTENSIONS
from tools.bench.packing import PackedDecoder, compare, load_clips, random_groups


def references(folders: list[Path]) -> dict[str, str]:
    out = {}
    for folder in folders:
        manifest = folder / "manifest.jsonl"
        for line in manifest.read_text().splitlines() if manifest.exists() else []:
            entry = json.loads(line)
            out[str(folder / entry["path"])] = entry["text"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--groupings", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--copies", action="store_true", help="add a byte copy of every third file")
    p.add_argument(
        "--fallback",
        choices=["split", "window"],
        default="split",
        help="split: a packed window failing Whisper's guards at t=0 has its clips decoded alone (voxray's); "
        "window: the whole window goes through the temperature ladder (before issue 21), for comparison",
    )
    p.add_argument(
        "--whole-windows",
        action="store_true",
        help="decode each packed window as one sequence and repair it (before issue 21's clip decoding)",
    )
    args = p.parse_args()
    paths = sorted(f for d in args.folders for f in d.iterdir() if f.suffix.lower() in AUDIO_EXTENSIONS)
    refs = references(args.folders)
    work = Path(tempfile.mkdtemp(prefix="packing-"))
    if args.copies:
        for f in paths[::3]:
            shutil.copyfile(f, work / f"copy-{f.name}")
            if str(f) in refs:
                refs[str(work / f"copy-{f.name}")] = refs[str(f)]
        paths += sorted(work.iterdir())
    clips = load_clips(paths)
    decoder = PackedDecoder(TranscribeConfig().validated())
    alone = decoder.transcripts(clips, [[i] for i in range(len(clips))])
    decoder.model.backend.decodes_clips = not args.whole_windows
    if args.fallback == "window":
        backend = decoder.model.backend
        split = backend.transcribe_windows
        backend.transcribe_windows = lambda f, d, modes=None, single=None: split(f, d, modes, None)
    print(f"{len(clips)} clips alone: {decoder.times.to_json()}")
    rng = random.Random(args.seed)
    lengths = [p.length if p else 0 for p in decoder.placements(clips)]
    gap = int(decoder.config.chunking.pack_gap_s * SAMPLE_RATE)
    for g in range(args.groupings):
        decoder.times.drain()
        groups = random_groups(lengths, rng, gap)
        packed = decoder.transcripts(clips, groups)
        r = compare(clips, refs, alone, packed, len(groups))
        print(f"grouping {g}: {len(groups)} windows  WER alone {r.wer_alone:.4f} packed {r.wer_packed:.4f}  "
              f"worst file +{r.worst_file_delta:.3f}  lost {r.words_lost}")  # fmt: skip
        print(f"    {decoder.times.to_json()}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
