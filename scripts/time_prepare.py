"""Time the preparation stage (read, decode, VAD, packing, log-mel) in this process, without Ray.

Run from a checkout with PYTHONPATH pointing at it; compare two trees by running this script with
each in turn, alternating, on the same inputs (a loaded machine makes absolute times meaningless):

    PYTHONPATH=$PWD python scripts/time_prepare.py --repeat 3 --digest out.json tests/data/speech tests/data/long

Prints the best wall and CPU times over the repeats and writes a digest of every window row (features
hash, placements without timings) so that two trees can be shown to prepare the same windows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import pyarrow as pa

AUDIO = {".wav", ".flac", ".mp3", ".opus", ".m4a", ".ogg"}
FILES_PER_TASK = 8


def _prepare_windows():  # noqa: ANN202 (either tree's UDF)
    try:
        from pipelines.batch.prepare import prepare_windows
    except ImportError:  # a tree from before pipelines/batch/
        from pipelines.prepare import prepare_windows
    return prepare_windows


def digest(table: pa.Table) -> list[dict]:
    out = []
    for row in table.to_pylist():
        timeless = ("prepare_s", "speaker_windows")
        placements = [{k: v for k, v in p.items() if k not in timeless} for p in row["placements"]]
        out.append(
            {
                "features": hashlib.sha1(row["features"]).hexdigest() if row["features"] else None,
                "duration_s": row["duration_s"],
                "placements": placements,
                "speakers": [_speakers(p.get("speaker_windows")) for p in row["placements"]],
            }
        )
    return out


def _speakers(windows: list[dict] | None) -> str | None:
    if windows is None:
        return None
    return hashlib.sha1(repr([(w["start"], w["end"], w["embedding"]) for w in windows]).encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--digest", type=Path)
    parser.add_argument("--diarize", action="store_true", help="with speaker embeddings")
    parser.add_argument("--split", action="store_true", help="--channels split")
    args = parser.parse_args()
    from pipelines.config import DecodeConfig, DiarizeConfig, TranscribeConfig

    files = sorted(p for d in args.inputs for p in (d.rglob("*") if d.is_dir() else [d]) if p.suffix in AUDIO)
    prepare_windows = _prepare_windows()
    config = TranscribeConfig(
        decode=DecodeConfig(channels="split" if args.split else "mix"), diarize=DiarizeConfig(enabled=args.diarize)
    )
    tasks = [files[i : i + FILES_PER_TASK] for i in range(0, len(files), FILES_PER_TASK)]
    batches = [pa.Table.from_pylist([{"path": str(p), "size": p.stat().st_size} for p in t]) for t in tasks]
    best, best_cpu, rows = float("inf"), float("inf"), []
    for _ in range(args.repeat):
        started, cpu = time.perf_counter(), time.process_time()
        tables = [t for b in batches for t in prepare_windows(b, config=config, n_mels=80)]
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        rows = [r for t in tables for r in digest(t)]
    # CPU time counts this process's threads only, so other work on a loaded machine moves it less.
    summary = {"files": len(files), "windows": len(rows), "best_s": round(best, 3), "best_cpu_s": round(best_cpu, 3)}
    print(json.dumps(summary))
    if args.digest:
        args.digest.write_text(json.dumps(rows, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
