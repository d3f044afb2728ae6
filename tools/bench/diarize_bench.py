"""Diarization benchmarks (`voxray bench --scenarios diarize-quality,diarize-overhead,diarize-memory`).

- diarize-quality: first the evaluation set (tools/bench/diarize_evalset.py: 60 mixes of
  2-6 speakers, split by speaker into dev and test, built with espeak-ng and ffmpeg into a cache
  folder on first use): per split, mean DER (collar 0.25 s, overlap skipped), mean DER with
  overlap scored, mean JER and the share of mixes whose speaker count is right, then every mix.
  Then the 2-, 3- and 4-speaker unit-test fixtures through the real pipeline (Ray, tiny.en, word
  timestamps): cpWER against plain WER, and DER from the diarizer's own turns on the same audio.
- diarize-overhead: the long-form recording through the pipeline with and without --diarize.
- diarize-memory: peak RSS of a fresh process that diarizes a quarter-hour and a 3-hour
  recording end to end (decode block by block, VAD, embeddings, clustering): what one
  preparation task plus the per-recording clustering hold at most.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import soundfile as sf

from models.common.audio import SAMPLE_RATE
from pipelines.config import DiarizeConfig, TranscribeConfig

FIXTURES = Path("tests/data/speakers")
RECORDINGS = ("two_speakers", "three_speakers", "four_speakers")


def bench_diarize_evalset(cfg, measurement) -> list:  # noqa: ANN001 (BenchConfig, Measurement)
    """Dev and test summaries (labelled), then every mix, of the default diarizer on the evaluation set."""
    from tools.bench.diarize_eval import evaluate, summarise
    from tools.bench.diarize_evalset import build, default_cache_root

    folder = build(default_cache_root())
    config = TranscribeConfig(diarize=DiarizeConfig(enabled=True))
    started = time.perf_counter()
    scores = evaluate(folder, config)
    wall = time.perf_counter() - started
    audio = {split: sum(s.duration_s for s in scores if s.split == split) for split in ("dev", "test")}
    total = sum(audio.values())
    out = [
        measurement("diarize", f"eval set {split} split: means of {row['mixes']} mixes", audio[split],
                    wall * audio[split] / total, extra=row)
        for split, row in summarise(scores).items()
    ]  # fmt: skip
    for s in scores:
        extra = {"ref_speakers": s.reference_speakers, "hyp_speakers": s.hypothesis_speakers, "der": s.der,
                 "der_overlap": s.der_overlap, "jer": s.jer}  # fmt: skip
        out.append(measurement("diarize", f"eval {s.name}", s.duration_s, wall * s.duration_s / total, extra=extra))
    return out


def bench_diarize_quality(cfg, measurement) -> list:  # noqa: ANN001 (BenchConfig, Measurement)
    from models.common.config import ModelConfig
    from pipelines.batch.run import iter_transcripts
    from pipelines.decode import decode_audio
    from pipelines.listing import SourceFile
    from pipelines.quality.diarization import der, load_reference, score_transcript
    from tools.bench.offline_speakers import diarize_audio

    config = TranscribeConfig(
        model=ModelConfig(word_timestamps=True, beam_size=cfg.beam_size, compute_type=cfg.compute_type),
        diarize=DiarizeConfig(enabled=True),
    )
    paths = [str(FIXTURES / f"{name}.opus") for name in RECORDINGS]
    started = time.perf_counter()
    rows = {Path(r["path"]).stem: r for r in iter_transcripts([SourceFile(p) for p in paths], config, "bench")}
    wall = time.perf_counter() - started
    out = []
    for name in RECORDINGS:
        ref = load_reference(FIXTURES / f"{name}.json")
        turns = diarize_audio(decode_audio(str(FIXTURES / f"{name}.opus")).samples[0], config)
        cpwer, plain = score_transcript(ref, rows[name])
        out.append(
            measurement(
                "diarize",
                f"{name} (pipeline, tiny.en, words)",
                rows[name]["duration_s"],
                wall / len(RECORDINGS),
                wer=cpwer,
                extra={
                    "der": round(der(ref["turns"], turns), 4),
                    "ref_speakers": len(ref["speakers"]),
                    "hyp_speakers": len(rows[name]["speakers"] or []),
                    "turn_speakers": len({t.speaker for t in turns}),
                    "cpwer": round(cpwer, 4),
                    "plain_wer": round(plain, 4),
                },
            )
        )
    return out


def bench_diarize_overhead(cfg, measurement, path: Path) -> list:  # noqa: ANN001
    """Long-form RTFx with and without --diarize: the long scenario's recording, one run after the other."""
    from models.common.config import ModelConfig
    from pipelines.batch.run import iter_transcripts
    from pipelines.listing import SourceFile

    base = TranscribeConfig(model=ModelConfig(beam_size=cfg.beam_size, compute_type=cfg.compute_type))
    out = []
    for name, config in (("voxray", base), ("voxray --diarize", replace(base, diarize=DiarizeConfig(enabled=True)))):
        started = time.perf_counter()
        (row,) = list(iter_transcripts([SourceFile(str(path))], config, "bench"))
        wall = time.perf_counter() - started
        out.append(
            measurement(
                "diarize", f"{name}, {cfg.long_minutes:g} min", row["duration_s"], wall,
                extra={"speakers": len(row["speakers"] or []), "status": row["status"]},
            )
        )  # fmt: skip
    return out


_CHILD = """
import os, resource, sys, time
import numpy as np
from pipelines.config import DiarizeConfig, TranscribeConfig
from pipelines.decode import AudioStream
from tools.bench.offline_speakers import diarize_stream
from pipelines.windows import BLOCK_SAMPLES
t = time.perf_counter()
with open(sys.argv[1], 'rb') as f, AudioStream(f) as stream:
    config = TranscribeConfig(diarize=DiarizeConfig(enabled=True))
    turns = diarize_stream((b[0] for b in stream.blocks(BLOCK_SAMPLES)), config)
status = open('/proc/self/status').read() if os.path.exists('/proc/self/status') else ''
hwm = [line.split()[1] for line in status.splitlines() if line.startswith('VmHWM:')]
peak_kb = int(hwm[0]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(turns), len({x.speaker for x in turns}), peak_kb, time.perf_counter() - t)
"""


def bench_diarize_memory(cfg, measurement, work: Path) -> list:  # noqa: ANN001
    """Peak RSS (VmHWM) of a fresh process diarizing a 0.25 h and a `memory_hours` recording."""
    from pipelines.decode import decode_audio

    base = decode_audio(str(FIXTURES / "four_speakers.opus")).samples[0]
    out = []
    for hours in sorted({0.25, cfg.memory_hours}):
        path = work / f"speakers-{hours}.flac"
        samples = int(hours * 3600 * SAMPLE_RATE)
        with sf.SoundFile(path, "w", SAMPLE_RATE, 1, format="FLAC") as sink:
            written = 0
            while written < samples:
                piece = base[: samples - written]
                sink.write(piece)
                written += piece.shape[0]
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent.parent,
        )
        path.unlink()
        turns, speakers, peak_kb, wall = result.stdout.split()
        out.append(
            measurement(
                "diarize", f"diarize one recording, peak RSS, {hours:g} h", samples / SAMPLE_RATE, float(wall),
                extra={"peak_rss_mb": round(int(peak_kb) / 1024), "speakers": int(speakers), "turns": int(turns)},
            )
        )  # fmt: skip
    return out
