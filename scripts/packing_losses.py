"""Where packing costs a clip its words, and what `packing.incomplete_clip` catches (issue 21 item 1).

For one clip set (scripts/make_clip_sets.py), in this process with the pipeline's own preparation
and model stage (tools/bench/packing.py):
- each clip alone (what `--no-pack` does), cached in `--cache` (it does not change with packing);
- the clips packed as the pipeline packs them: tasks of 8 files in path order, `pack_windows`;
  every packed clip's own decoding is recorded before any clip is decoded alone.
Then per clip the reference words its alone transcript gets right and its packed decoding deletes
(as `voxray bench --scenarios short-sets` counts them), with what the detector sees (words per
second of the clip's VAD span, how much of the span its segments cover, the largest compression
ratio of a segment, whether the decoding stopped short), and totals: lost before the detector,
lost after it (a flagged clip takes its alone transcript), clips flagged, packed words gained
(reference words alone deletes that the packed decoding gets right: the same jitter the other way),
and the words lost by the packed run's own transcripts (its flagged clips decoded alone).

    python scripts/packing_losses.py SET_FOLDER --cache DIR [--quiet]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pipelines.batch.packing import incomplete_clip, pack_windows
from pipelines.config import TranscribeConfig
from pipelines.listing import AUDIO_EXTENSIONS
from pipelines.quality.wer import normalize
from pipelines.windows import Stretch, plan_unit
from tools.bench.bench_shortsets import _deleted, _hit
from tools.bench.packing import Clip, PackedDecoder, load_clips

# Files per preparation task for a job of a few hundred short clips (pipelines/batch/run.py).
TASK_FILES = 8


def pipeline_groups(clips: list[Clip], config: TranscribeConfig) -> list[list[int]]:
    """The clips' windows as the pipeline packs them: tasks of TASK_FILES files, then pack_windows."""
    groups: list[list[int]] = []
    for first in range(0, len(clips), TASK_FILES):
        windows: list[list[Stretch]] = []
        for i in range(first, min(first + TASK_FILES, len(clips))):
            windows += plan_unit(clips[i].audio, i, config.chunking)
        groups += [list(dict.fromkeys(s.unit for s in w)) for w in pack_windows(windows, config.chunking)]
    return groups


def record_clip_decodes(decoder: PackedDecoder) -> dict[str, dict[str, Any]]:
    """Per packed clip (by path): its placement and its own decoding, before any decode alone."""
    model, backend = decoder.model, decoder.model.backend
    recorded: dict[str, dict[str, Any]] = {}
    calls: list[list[Any]] = []
    transcribe_clips, decode_by_clip = backend.transcribe_clips, model._decode_by_clip

    def clips_call(features: Any, spans: Any, decoding: Any = None) -> Any:
        calls.append(transcribe_clips(features, spans, decoding))
        return calls[-1]

    def by_clip(windows: list[Any]) -> Any:
        placed = [p for w in windows for p in w.placements]
        pieces = decode_by_clip(windows)
        for p, r in zip(placed, calls[-1] if placed else [], strict=True):
            recorded[p.file.path] = {"placement": p, "segments": r.segments, "failed": r.failed}
        return pieces

    backend.transcribe_clips, model._decode_by_clip = clips_call, by_clip
    return recorded


def clip_row(ref: str, alone: str, clip: dict[str, Any] | None, final: str, guard: float) -> dict[str, Any]:
    """One clip's counts; `final` is its transcript from the packed run (flagged clips decoded alone)."""
    r, a = normalize(ref), normalize(alone)
    packed = final
    row: dict[str, Any] = {"flagged": False}
    if clip is not None:
        p, segments = clip["placement"], clip["segments"]
        packed = " ".join(s["text"] for s in segments)
        spans = [(max(s["start"], p.window_offset_s), min(s["end"], p.end_s)) for s in segments]
        row = {
            "flagged": clip["failed"] or incomplete_clip(p, segments, guard),
            "stopped_short": clip["failed"],
            "words_per_s": round(len(packed.split()) / p.length_s, 2),
            "covered": round(sum(max(0.0, hi - lo) for lo, hi in spans) / p.length_s, 2),
            "max_compression": round(max((s["compression_ratio"] for s in segments), default=0.0), 2),
        }
    k = normalize(packed)
    after = a if row["flagged"] else k
    row["lost"] = len(_hit(r, a) & _deleted(r, k))
    row["lost_after"] = len(_hit(r, a) & _deleted(r, after))
    row["gained_after"] = len(_hit(r, after) & _deleted(r, a))
    row["lost_final"] = len(_hit(r, a) & _deleted(r, normalize(final)))
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("--cache", type=Path, required=True, help="folder for the alone transcripts")
    p.add_argument("--quiet", action="store_true", help="totals only")
    args = p.parse_args()
    entries = [json.loads(line) for line in (args.folder / "manifest.jsonl").read_text().splitlines() if line]
    refs = {str(args.folder / e["path"]): e["text"] for e in entries}
    paths = sorted(f for f in args.folder.iterdir() if f.suffix.lower() in AUDIO_EXTENSIONS)
    clips = load_clips(paths)
    config = TranscribeConfig().validated()
    decoder = PackedDecoder(config)
    cache = args.cache / f"alone-{args.folder.parent.name}-{args.folder.name}.json"
    if not cache.exists():
        args.cache.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(decoder.transcripts(clips, [[i] for i in range(len(clips))])))
    alone = json.loads(cache.read_text())
    recorded = record_clip_decodes(decoder)
    cpu = time.process_time()
    packed = decoder.transcripts(clips, pipeline_groups(clips, config))
    cpu = time.process_time() - cpu
    guard = config.model.compression_ratio_threshold
    rows = {
        c.path: clip_row(
            refs.get(c.path, ""), alone.get(c.path, ""), recorded.get(c.path), packed.get(c.path, ""), guard
        )
        for c in clips
    }
    for path, row in rows.items():
        if (row["lost"] or row["flagged"]) and not args.quiet:
            print(Path(path).name, row)
    total = {
        k: sum(r[k] for r in rows.values()) for k in ("lost", "lost_after", "gained_after", "flagged", "lost_final")
    }
    files = {k: sum(r[k] > 0 for r in rows.values()) for k in ("lost", "lost_after", "gained_after", "lost_final")}
    print(f"{args.folder}: {len(recorded)} of {len(clips)} clips packed, packed run {cpu:.1f} CPU-s")
    print(f"  words lost {total['lost']} in {files['lost']} files -> after the detector {total['lost_after']} in "
          f"{files['lost_after']} files; flagged (decoded alone) {total['flagged']}; packed gains "
          f"{total['gained_after']} words in {files['gained_after']} files")  # fmt: skip
    print(f"  the packed run's own transcripts (flagged clips decoded alone from the packed features): "
          f"{total['lost_final']} words lost in {files['lost_final']} files")  # fmt: skip


if __name__ == "__main__":
    main()
