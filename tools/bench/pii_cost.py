"""Redaction's share of the time on short clips, in wall time and in CPU seconds.

The target (issue 20): redaction's share of the wall time on 200 short clips at most 10%. On a
machine others load, wall time says little, so this also counts CPU seconds: those of every
process of this run (the driver, Ray's own processes and its workers, read from /proc while they
live), for transcription and for the redaction stage apart. It takes the first CLIPS clips of the
corpus splits named (tools/bench/pii_corpus.py; espeak-ng the first time), transcribes them as
`--redact` does (word timestamps), then runs voxray's redaction stage on those rows as
`--redact pii --redact-audio DIR` runs it after assembly (pipelines/redaction/stream.py: Ray CPU
tasks, text and audio copies). The redacted copies are not scored here (pii_cached does that):

    PYTHONPATH=$PWD RAY_ADDRESS=local python -m tools.bench.pii_cost [--clips 200] [--splits dev5,fresh2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from models.common.config import ModelConfig, StorageConfig
from pipelines.config import TranscribeConfig
from pipelines.redaction.entities import PII
from pipelines.redaction.settings import RedactConfig
from tools.bench.bench_redaction import SEED, cache_folder
from tools.bench.pii_corpus import build_utterances, synthesize

TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.25


def _stat(pid: int) -> tuple[int, float, str] | None:
    """(parent pid, user + system CPU seconds, start tick) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, fields[19]


class TreeCpu:
    """CPU seconds of this process and all its descendants, sampled while they live (a worker
    that exits between two samples loses at most SAMPLE_S of its time)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, str], float] = {}
        self._base = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeCpu:
        self.sample()
        self._base = sum(self._seen.values())  # what the driver spent before (imports)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def total(self) -> float:
        return sum(self._seen.values()) - self._base

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def sample(self) -> None:
        stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p))) is not None}
        mine, grown = {os.getpid()}, True
        while grown:
            more = {pid for pid, (parent, _, _) in stats.items() if parent in mine} - mine
            mine |= more
            grown = bool(more)
        for pid in mine:
            _, cpu, started = stats[pid]
            self._seen[(pid, started)] = cpu


def _clips(splits: list[str], count: int) -> Path:
    """A folder with copies of the first `count` clips of `splits`, in corpus order (copies: the
    input listing does not follow links out of its folder)."""
    audio = cache_folder() / "audio"
    synthesize(build_utterances(SEED), audio)
    chosen = [u for u in build_utterances(SEED) if u.split in splits][:count]
    folder = Path(tempfile.mkdtemp(prefix="pii-cost-"))
    for u in chosen:
        shutil.copyfile(audio / u.split / f"{u.id}.wav", folder / f"{u.id}.wav")
    return folder


def measure(clips: Path, work: Path) -> dict[str, float]:
    from pipelines.batch.run import run_transcription

    model = ModelConfig(word_timestamps=True, beam_size=5, compute_type="int8")
    with TreeCpu() as cpu:
        started = time.perf_counter()
        run_transcription([str(clips)], str(work / "plain"), TranscribeConfig(model=model))
        transcribe_wall = time.perf_counter() - started
        transcribe_cpu = cpu.total()
        rows: list[dict[str, Any]] = pq.read_table(work / "plain").to_pylist()
    return {
        "clips": len(rows),
        "audio_s": sum(r["duration_s"] or 0.0 for r in rows),
        "transcribe_wall": transcribe_wall,
        "transcribe_cpu": transcribe_cpu,
        **stage(rows, work),
    }


def stage(rows: list[dict[str, Any]], work: Path) -> dict[str, float]:
    """Wall and CPU seconds (the whole process tree) of voxray's redaction stage on `rows`."""
    from pipelines.batch.run import ensure_ray
    from pipelines.redaction.stream import redact_stream

    ensure_ray()
    redact = RedactConfig(entities=PII, audio_dir=str(work / "redacted-audio"))
    with TreeCpu() as cpu:
        started = time.perf_counter()
        out = list(redact_stream(iter(rows), redact, StorageConfig()))
        wall = time.perf_counter() - started
    if not rows or len(out) != len(rows) or any(r["status"] != "ok" for r in out):
        raise RuntimeError(f"{len(rows)} clips transcribed, {len(out)} redacted: rows lost or failed")
    return {"redact_wall": wall, "redact_cpu": cpu.total()}


def in_process(rows: list[dict[str, Any]], work: Path) -> dict[str, float]:
    """CPU seconds of text redaction and of the audio copies in this process, after one row that
    loads the analyzer (what a worker pays once): the work itself, without Ray or start-up."""
    from pipelines.redaction.audio import write_redacted_audio
    from pipelines.redaction.presidio import redact_row

    redact = RedactConfig(entities=PII, audio_dir=str(work / "in-process-audio"))
    started = time.process_time()
    redact_row(rows[0], redact)
    load = time.process_time() - started
    started = time.process_time()
    redacted = [redact_row(r, redact) for r in rows]
    text = time.process_time() - started
    started = time.process_time()
    for r in redacted:
        write_redacted_audio([r], redact, StorageConfig())
    return {"load_cpu": load, "text_cpu": text, "audio_cpu": time.process_time() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--splits", default="dev5,fresh2", help="corpus splits to take the clips from")
    parser.add_argument("--plain", type=Path, help="transcripts of an earlier run: in-process costs only")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pii-cost-work-"))
    if args.plain:
        c = in_process(pq.read_table(args.plain).to_pylist(), work)
        costs = f"analyzer load {c['load_cpu']:.1f} CPU s, text {c['text_cpu']:.1f}, copies {c['audio_cpu']:.1f}"
        print(f"in one process: {costs}")
        m = stage(pq.read_table(args.plain).to_pylist(), work)
        print(f"redaction stage (Ray tasks): {m['redact_wall']:.1f} s wall, {m['redact_cpu']:.1f} CPU s")
        return
    folder = _clips(args.splits.split(","), args.clips)
    m = measure(folder, work)
    print(f"transcripts: {work / 'plain'} (--plain to measure redaction alone on them again)")
    wall = m["transcribe_wall"] + m["redact_wall"]
    cpu = m["transcribe_cpu"] + m["redact_cpu"]
    print(f"{m['clips']:.0f} clips, {m['audio_s']:.0f} s of audio")
    print(f"transcription: {m['transcribe_wall']:.1f} s wall, {m['transcribe_cpu']:.1f} CPU s")
    print(
        f"redaction stage (text + audio copies, Ray tasks): {m['redact_wall']:.1f} s wall, {m['redact_cpu']:.1f} CPU s"
    )
    print(
        f"redaction's share: wall {100 * m['redact_wall'] / wall:.1f}%, CPU {100 * m['redact_cpu'] / cpu:.1f}% "
        "(the product overlaps the two, so the wall share is an upper bound)"
    )


if __name__ == "__main__":
    main()
