"""Benchmarks: voxray against faster-whisper on the same files, model, beam size and machine, in one run.

Scenarios (each prints audio seconds per wall second, RTFx, and WER where references exist):
- short: many 2-8 s clips; anchor = faster-whisper's per-file `WhisperModel.transcribe` loop.
- long: one recording tiled to an hour or more; anchor = `BatchedInferencePipeline` at its best batch size.
- stages: what each CPU stage (decode, VAD, features) delivers per core, to size CPU pools for GPUs.
- timestamps: segment boundaries against the known sentence positions of a built recording.
- memory: peak RSS of the CPU stage over a multi-hour recording.
- small-job: `make demo`'s six samples, whole processes, default engine and Ray against the loop.
- distill: improve's teacher (Whisper base) against its student (tiny.en) on the same short clips.
Ray starts before the clock runs (a cluster is long-lived); its start-up time is reported apart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from models.common.audio import SAMPLE_RATE
from models.common.config import ModelConfig
from pipelines.config import ChunkingConfig, ComputeConfig, TranscribeConfig
from pipelines.decode import decode_audio
from pipelines.quality.wer import corpus_wer


@dataclass(frozen=True)
class BenchConfig:
    short_dir: Path = Path("tests/data/speech")
    short_count: int = 200
    # A folder of utterances (joined 0.3 s apart: real, dense speech) or a recording with its
    # segments JSON beside it; tiled to `long_minutes` in all, split into `long_recordings` files.
    long_file: Path = Path("tests/data/realspeech")
    long_minutes: float = 60.0
    long_recordings: int = 8
    # The `timestamps` scenario: a recording built from sentences at known positions.
    timestamps_file: Path = Path("tests/data/long/meeting.wav")
    anchor_batch_sizes: tuple[int, ...] = (8, 16)
    beam_size: int = 5
    # The same CTranslate2 compute type on both sides; int8 is what both default to on CPU.
    compute_type: str = "int8"
    memory_hours: float = 3.0
    overhead_files: int = 100_000
    # The `short-sets` scenario: a folder of clip sets (scripts/make_clip_sets.py); None builds them.
    short_sets: Path | None = None
    # auto: what voxray and faster-whisper pick (a GPU where there is one); cuda also samples GPU use.
    device: str = "auto"
    scenarios: tuple[str, ...] = ("short-process", "long-process", "short", "long", "stages", "timestamps", "memory")
    out: Path = Path("bench-results")


@dataclass
class Measurement:
    scenario: str
    system: str
    audio_s: float
    wall_s: float
    wer: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def rtfx(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s else 0.0


def run_benchmarks(cfg: BenchConfig) -> list[Measurement]:
    cfg.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="voxray-bench-"))
    results: list[Measurement] = []
    try:
        if "memory" in cfg.scenarios:
            # First, while this process is small: it is cheap, and a large parent is what once
            # inflated the children's peaks (ru_maxrss; bench_memory now reads VmHWM).
            results += bench_memory(cfg, work)
        for workload in ("short", "long"):
            if f"{workload}-process" in cfg.scenarios:
                results += bench_process(cfg, work, workload)
        if {"short", "long"} & set(cfg.scenarios):
            results.append(_start_ray())
        if "short" in cfg.scenarios:
            results += bench_short(cfg, work)
        if "long" in cfg.scenarios:
            results += bench_long(cfg, work)
        if "small-job" in cfg.scenarios:
            from tools.bench.bench_smalljob import bench_small_job

            results += bench_small_job(cfg, work, Measurement)
        if "short-sets" in cfg.scenarios:
            from tools.bench.bench_shortsets import bench_short_sets

            results += bench_short_sets(cfg, work, Measurement)
        if "distill" in cfg.scenarios:
            from tools.bench.bench_distill import bench_distill

            results.append(_start_ray())
            results += bench_distill(cfg, work, Measurement)
        if "overhead" in cfg.scenarios:
            results += bench_overhead(cfg, work)
        if "stages" in cfg.scenarios:
            results += bench_stages(cfg, work)
        if "timestamps" in cfg.scenarios:
            results += bench_timestamps(cfg)
        results += _bench_diarization(cfg, work)
        if "redact-quality" in cfg.scenarios:
            from tools.bench.bench_redaction import bench_redact_quality

            results.append(_start_ray())
            results += bench_redact_quality(cfg, Measurement)
        if "elastic" in cfg.scenarios:
            from tools.bench.bench_elastic import bench_elastic

            results += bench_elastic(cfg, Measurement, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (cfg.out / "results.json").write_text(
        json.dumps([dict(asdict(m), rtfx=m.rtfx) for m in results], indent=2, default=str)
    )
    plot(results, cfg.out / "bench.png")
    return results


def _bench_diarization(cfg: BenchConfig, work: Path) -> list[Measurement]:
    from tools.bench import diarize_bench

    out: list[Measurement] = []
    if "diarize-memory" in cfg.scenarios:
        out += diarize_bench.bench_diarize_memory(cfg, Measurement, work)
    if {"diarize-quality", "diarize-overhead"} & set(cfg.scenarios):
        out.append(_start_ray())
    if "diarize-quality" in cfg.scenarios:
        out += diarize_bench.bench_diarize_evalset(cfg, Measurement)
        out += diarize_bench.bench_diarize_quality(cfg, Measurement)
    if "diarize-overhead" in cfg.scenarios:
        out += diarize_bench.bench_diarize_overhead(cfg, Measurement, build_long(cfg, work)[0][0])
    return out


def _start_ray() -> Measurement:
    import ray

    started = time.perf_counter()
    if not ray.is_initialized():
        ray.init(logging_level="warning", include_dashboard=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return Measurement("setup", "ray.init", 0.0, time.perf_counter() - started)


def _anchor_model(compute_type: str, device: str = "auto"):  # noqa: ANN202 (faster_whisper.WhisperModel)
    from faster_whisper import WhisperModel

    from models.common.config import StorageConfig
    from models.registry import resolve_model

    path = resolve_model("tiny.en", StorageConfig())
    return WhisperModel(str(path), device=device, compute_type=compute_type, cpu_threads=os.cpu_count() or 1)


def _voxray(files: list[Path], config: TranscribeConfig) -> tuple[dict[str, str], float]:
    from pipelines.batch.run import iter_transcripts
    from pipelines.listing import SourceFile

    started = time.perf_counter()
    texts = {
        row["path"]: row["text"]
        for row in iter_transcripts([SourceFile(str(f.resolve())) for f in files], config, "bench")
    }
    return texts, time.perf_counter() - started


def short_clips(cfg: BenchConfig, work: Path) -> tuple[list[Path], dict[str, str], float]:
    """The short-clip workload: the manifest's clips repeated to `short_count` files, references, audio s."""
    clips = [json.loads(line) for line in (cfg.short_dir / "manifest.jsonl").read_text().splitlines() if line]
    folder = work / "short"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    files, refs, audio_s = [], {}, 0.0
    for i in range(cfg.short_count):
        clip = clips[i % len(clips)]
        src = cfg.short_dir / clip["path"]
        dst = folder / f"{i:05d}{src.suffix}"
        shutil.copyfile(src, dst)
        files.append(dst)
        refs[str(dst.resolve())] = clip["text"]
        audio_s += float(clip.get("duration_s") or decode_audio(str(src)).samples.shape[-1] / SAMPLE_RATE)
    return files, refs, audio_s


def bench_process(cfg: BenchConfig, work: Path, workload: str) -> list[Measurement]:
    """Whole processes, as a user times them: `voxray transcribe` with its defaults against a plain
    faster-whisper script (tools/bench/anchor.py) on the same files, model, beam and compute type.

    Short clips: the anchor is a `WhisperModel.transcribe` loop. Long recordings: its
    `BatchedInferencePipeline` (batch 8, its defaults). Each process starts cold: imports, Ray start
    (voxray starts its own local Ray), model load and writing the output are all in the wall time.
    """
    from models.common.config import StorageConfig
    from models.registry import resolve_model

    if workload == "short":
        files, refs, audio_s = short_clips(cfg, work)
        mode = "loop"
    else:
        recordings = build_long(cfg, work)
        files, mode = [path for path, _, _ in recordings], "batched"
        refs = {str(path.resolve()): reference for path, reference, _ in recordings}
        audio_s = sum(seconds for _, _, seconds in recordings)
    order = list(refs)
    model = str(resolve_model("tiny.en", StorageConfig()))
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, RAY_ADDRESS="local", PYTHONPATH=str(repo))
    device = [] if cfg.device == "auto" else ["--device", cfg.device]
    texts_path = work / f"anchor-{workload}.json"
    anchor_cmd = [sys.executable, "-m", "tools.bench.anchor", mode, "--model", model, "--out", str(texts_path)]
    anchor_cmd += ["--beam-size", str(cfg.beam_size), "--compute-type", cfg.compute_type, *device]
    anchor_s, gpu = _timed([*anchor_cmd, *order], env, cfg.device)
    anchor = json.loads(texts_path.read_text())
    label = "faster-whisper per-file loop" if mode == "loop" else "faster-whisper batched (batch 8)"
    anchor_wer = corpus_wer([refs[p] for p in order], [anchor.get(p, "") for p in order])
    out = [Measurement(f"{workload}-process", f"{label}, whole process", audio_s, anchor_s, anchor_wer, extra=gpu)]
    dest = work / f"voxray-{workload}"
    folder = str(files[0].parent)
    voxray_cmd = [sys.executable, "-m", "jobs.cli", "transcribe", folder, "--output", str(dest), "--overwrite"]
    voxray_cmd += ["--beam-size", str(cfg.beam_size), "--compute-type", cfg.compute_type, "--language", "en", *device]
    voxray_s, gpu = _timed(voxray_cmd, env, cfg.device)
    import pyarrow.dataset as pads

    rows = {r["path"]: r["text"] or "" for r in pads.dataset(str(dest), format="parquet").to_table().to_pylist()}
    voxray_wer = corpus_wer([refs[p] for p in order], [rows.get(p, "") for p in order])
    name = "voxray transcribe (defaults), whole process"
    out.append(Measurement(f"{workload}-process", name, audio_s, voxray_s, voxray_wer, extra=gpu))
    return out


def _timed(cmd: list[str], env: dict[str, str], device: str) -> tuple[float, dict]:
    """Wall seconds of a process, and the GPU's utilisation over its run when it uses one."""
    sampler = GpuSampler() if device == "cuda" else None
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    return wall, (sampler.stop() if sampler else {})


class GpuSampler:
    """Samples `nvidia-smi` every 0.2 s in a thread; `stop()` gives the mean and busy share of utilisation."""

    def __init__(self, interval_s: float = 0.2) -> None:
        import threading

        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)
        self._thread.start()

    def _run(self, interval_s: float) -> None:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        while not self._stop.wait(interval_s):
            try:
                out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout.split()
            except (OSError, subprocess.TimeoutExpired):
                return
            if out:
                self.samples.append(float(out[0]))

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        if not self.samples:
            return {"gpu_util_mean_pct": None}
        busy = sum(s >= 50 for s in self.samples) / len(self.samples)
        return {"gpu_util_mean_pct": round(sum(self.samples) / len(self.samples), 1), "gpu_busy_share": round(busy, 2)}


def bench_short(cfg: BenchConfig, work: Path) -> list[Measurement]:
    files, refs, audio_s = short_clips(cfg, work)
    order = list(refs)
    model = _anchor_model(cfg.compute_type, cfg.device)
    started = time.perf_counter()
    anchor = {
        str(f.resolve()): "".join(s.text for s in model.transcribe(str(f), beam_size=cfg.beam_size, language="en")[0])
        for f in files
    }
    anchor_s = time.perf_counter() - started
    del model
    base = TranscribeConfig(
        model=ModelConfig(beam_size=cfg.beam_size, device=cfg.device, compute_type=cfg.compute_type)
    )
    out = [
        Measurement(
            "short",
            "faster-whisper per-file loop",
            audio_s,
            anchor_s,
            corpus_wer([refs[p] for p in order], [anchor[p] for p in order]),
        )
    ]
    for name, config in (
        ("voxray (default: packs short clips)", base),
        ("voxray --no-pack", replace(base, chunking=ChunkingConfig(pack_short_clips=False))),
    ):
        texts, wall = _voxray(files, config)
        out.append(
            Measurement(
                "short", name, audio_s, wall, corpus_wer([refs[p] for p in order], [texts.get(p, "") for p in order])
            )
        )
    return out


def long_base(cfg: BenchConfig, work: Path) -> tuple[np.ndarray, str]:
    """One pass of the long workload's audio (16 kHz mono) and its reference text."""
    if cfg.long_file.is_dir():
        from tools.bench.longform import join_utterances

        joined = work / "utterances.wav"
        meta = work / "utterances.json"
        if not meta.exists():
            meta.write_text(json.dumps(join_utterances(cfg.long_file, joined)))
        sentences, source = json.loads(meta.read_text()), joined
    else:
        beside = cfg.long_file.with_suffix(".json")
        data = json.loads((beside if beside.exists() else cfg.long_file.parent / "segments.json").read_text())
        sentences, source = (data["segments"] if isinstance(data, dict) else data), cfg.long_file
    return decode_audio(str(source)).samples[0], " ".join(s["text"] for s in sentences)


def build_long(cfg: BenchConfig, work: Path) -> list[tuple[Path, str, float]]:
    """The long workload: `long_recordings` files of the base audio tiled, `long_minutes` in all.

    Each is (path, reference text, audio seconds). The files sit alone in one folder, which is
    what `voxray transcribe` is pointed at.
    """
    base, reference = long_base(cfg, work)
    per_file = cfg.long_minutes * 60 * SAMPLE_RATE / max(1, cfg.long_recordings)
    repeats = max(1, int(np.ceil(per_file / base.shape[0])))
    folder = work / "long"
    folder.mkdir(exist_ok=True)
    out = []
    for i in range(max(1, cfg.long_recordings)):
        path = folder / f"long-{i:02d}.flac"
        with FlacWriter(path) as sink:
            for _ in range(repeats):
                sink.write(base)
        out.append((path, " ".join([reference] * repeats), repeats * base.shape[0] / SAMPLE_RATE))
    return out


def bench_long(cfg: BenchConfig, work: Path) -> list[Measurement]:
    """faster-whisper's batched pipeline against voxray, both with its defaults and like for like.

    BatchedInferencePipeline decodes text only by default (one segment per VAD chunk, no
    temperature fallback); so does voxray's default on long recordings (with the fallback for
    windows that fail Whisper's guards). `--sentence-timestamps` decodes Whisper's sentence
    timestamps and seeks where Whisper stops early: more work for finer output, measured against
    the anchor's own timestamped mode.
    """
    from faster_whisper import BatchedInferencePipeline

    recordings = build_long(cfg, work)
    paths = [path for path, _, _ in recordings]
    order = [str(path.resolve()) for path in paths]
    references = [reference for _, reference, _ in recordings]
    audio_s = sum(seconds for _, _, seconds in recordings)
    pipeline = BatchedInferencePipeline(_anchor_model(cfg.compute_type, cfg.device))

    def anchor(batch_size: int, without_timestamps: bool, name: str) -> Measurement:
        started = time.perf_counter()
        texts = []
        for path in paths:
            segments, _ = pipeline.transcribe(
                str(path),
                batch_size=batch_size,
                beam_size=cfg.beam_size,
                language="en",
                without_timestamps=without_timestamps,
            )
            texts.append("".join(s.text for s in segments))
        return Measurement("long", name, audio_s, time.perf_counter() - started, corpus_wer(references, texts))

    out = [anchor(b, True, f"faster-whisper batched (batch {b})") for b in cfg.anchor_batch_sizes]
    best_batch = cfg.anchor_batch_sizes[int(np.argmin([m.wall_s for m in out]))]
    out.append(anchor(best_batch, False, f"faster-whisper batched (batch {best_batch}, timestamps)"))
    model_cfg = ModelConfig(beam_size=cfg.beam_size, device=cfg.device, compute_type=cfg.compute_type)
    compute = ComputeConfig(batch_size=best_batch)
    for name, model_config in (
        (f"voxray (default, batch {best_batch})", model_cfg),
        (
            f"voxray --without-timestamps, one temperature (batch {best_batch})",
            replace(model_cfg, without_timestamps=True, temperatures=(0.0,)),
        ),
        (f"voxray --sentence-timestamps (batch {best_batch})", replace(model_cfg, without_timestamps=False)),
    ):
        texts, wall = _voxray(paths, TranscribeConfig(model=model_config, compute=compute))
        wer = corpus_wer(references, [texts.get(p, "") for p in order])
        out.append(Measurement("long", name, audio_s, wall, wer))
    return out


def _per_core(name: str, audio_s: float, fn: Callable[[], object]) -> Measurement:
    started = time.process_time()
    fn()
    return Measurement(
        "stages",
        name,
        audio_s,
        time.process_time() - started,
        extra={"unit": "audio s per CPU-second (one core)"},
    )


def bench_stages(cfg: BenchConfig, work: Path) -> list[Measurement]:
    """CPU seconds per audio second of each CPU stage, on a 10-minute tiling of the long file."""
    import torch

    from models.common.audio import N_SAMPLES
    from models.features import LogMel
    from pipelines.windows import speech_spans

    torch.set_num_threads(1)
    base = long_base(cfg, work)[0]
    audio = np.tile(base, max(1, int(600 * SAMPLE_RATE // base.shape[0])))
    audio_s = audio.shape[0] / SAMPLE_RATE
    with tempfile.TemporaryDirectory() as tmp:
        flac, mp3 = Path(tmp) / "a.flac", Path(tmp) / "a.mp3"
        with FlacWriter(flac) as out:
            out.write(audio)
        out = [_per_core("decode flac", audio_s, lambda: decode_audio(str(flac)))]
        if shutil.which("ffmpeg"):
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(flac), str(mp3)], check=True)
            out.append(_per_core("decode mp3", audio_s, lambda: decode_audio(str(mp3))))
    out.append(_per_core("VAD (Silero)", audio_s, lambda: speech_spans(audio, ChunkingConfig())))
    logmel = LogMel()
    out.append(
        _per_core(
            "log-mel features",
            audio_s,
            lambda: [logmel(audio[i : i + N_SAMPLES]) for i in range(0, audio.shape[0], N_SAMPLES)],
        )
    )
    return out


def bench_timestamps(cfg: BenchConfig) -> list[Measurement]:
    """Segment starts/ends against the true sentence boundaries of the built recording."""
    from pipelines.batch.run import iter_transcripts
    from pipelines.listing import SourceFile

    truth = json.loads((cfg.timestamps_file.parent / "segments.json").read_text())
    sentences = truth["segments"] if isinstance(truth, dict) else truth
    started = time.perf_counter()
    # Sentence timestamps: what this scenario measures (long recordings default to one per window).
    config = TranscribeConfig(model=ModelConfig(without_timestamps=False))
    rows = list(iter_transcripts([SourceFile(str(cfg.timestamps_file.resolve()))], config, "bench"))
    wall = time.perf_counter() - started
    segments = rows[0]["segments"]
    errors = []
    for sentence in sentences:
        overlaps = [min(s["end"], sentence["end_s"]) - max(s["start"], sentence["start_s"]) for s in segments]
        if not overlaps or max(overlaps) <= 0:
            errors.append(float("inf"))
            continue
        best = segments[int(np.argmax(overlaps))]
        errors.append(max(abs(best["start"] - sentence["start_s"]), abs(best["end"] - sentence["end_s"])))
    finite = [e for e in errors if np.isfinite(e)]
    return [
        Measurement(
            "timestamps",
            "voxray segment boundaries",
            rows[0]["duration_s"] or 0.0,
            wall,
            extra={
                "sentences": len(sentences),
                "matched": len(finite),
                "median_error_s": float(np.median(finite)) if finite else None,
                "max_error_s": float(max(finite)) if finite else None,
                "within_0.5s": sum(e <= 0.5 for e in finite),
            },
        )
    ]


# Python lines that set `peak_kb` to this process's peak RSS. VmHWM, not ru_maxrss: Linux carries the
# parent's peak RSS across fork and exec into ru_maxrss, so a child of a large bench process would
# report the parent's size.
PEAK_RSS_KB = (
    "import os, resource\n"
    "status = open('/proc/self/status').read() if os.path.exists('/proc/self/status') else ''\n"
    "hwm = [line.split()[1] for line in status.splitlines() if line.startswith('VmHWM:')]\n"
    "peak_kb = int(hwm[0]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss"
)


def bench_overhead(cfg: BenchConfig, work: Path) -> list[Measurement]:
    """The machinery's rate at archive scale: listing, preparation tasks, assembly and writing, with no
    model work. `overhead_files` unreadable 200-byte files (each must still get its error row) go
    through `voxray transcribe` in a fresh process; files per second and the driver's peak RSS."""
    folder = work / "overhead"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(cfg.overhead_files):
        (folder / f"{i:07d}.wav").write_bytes(rng.bytes(200))
    dest = work / "overhead-out"
    code = (
        "import time\nfrom jobs.cli import main\nt = time.perf_counter()\n"
        f"code = main(['transcribe', {str(folder)!r}, '--output', {str(dest)!r}, '--profile'])\n"
        "wall = time.perf_counter() - t\n"
        f"{PEAK_RSS_KB}\n"
        "print('BENCH', code, peak_kb, wall)\n"
    )
    env = dict(os.environ, RAY_ADDRESS="local", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    # The rate depends on what else the machine runs: the load average goes with the numbers.
    load_before = os.getloadavg()[0]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    load_after = os.getloadavg()[0]
    _, exit_code, peak_kb, wall = next(line for line in result.stdout.splitlines() if line.startswith("BENCH")).split()
    ray_start = next(
        (float(line.split()[2]) for line in result.stdout.splitlines() if line.startswith("driver:ray start")), 0.0
    )
    import pyarrow.dataset as pads

    table = pads.dataset(str(dest), format="parquet").to_table(columns=["path", "status"])
    rows = table.num_rows
    # Every input exactly once, each with its error: the rate counts only if nothing was lost.
    distinct = len(set(table.column("path").to_pylist()))
    errors = table.column("status").to_pylist().count("error")
    shutil.rmtree(folder)
    shutil.rmtree(dest)
    return [
        Measurement(
            "overhead",
            f"voxray transcribe, {cfg.overhead_files} unreadable files",
            0.0,
            float(wall),
            extra={
                "rows": rows,
                "distinct_paths": distinct,
                "error_rows": errors,
                "exit_code": int(exit_code),
                "files_per_s": round(cfg.overhead_files / float(wall), 1),
                "files_per_s_after_ray_start": round(cfg.overhead_files / max(1e-9, float(wall) - ray_start), 1),
                "driver_peak_rss_mb": round(int(peak_kb) / 1024),
                "load_avg_1min": f"{load_before:.1f}-{load_after:.1f}",
            },
        )
    ]


def bench_memory(cfg: BenchConfig, work: Path) -> list[Measurement]:
    """Peak RSS of one CPU preparation task (a fresh process) over a quarter-hour and a long recording.

    Bounded memory means the two peaks are close: the long recording streams through in blocks.
    """
    base = long_base(cfg, work)[0]
    out = []
    for hours in sorted({0.25, cfg.memory_hours}):
        path = work / f"hours-{hours}.flac"
        samples = int(hours * 3600 * SAMPLE_RATE)
        with FlacWriter(path) as sink:
            written = 0
            while written < samples:
                piece = base[: samples - written]
                sink.write(piece)
                written += piece.shape[0]
        code = (
            "import time, pyarrow as pa\n"
            "from pipelines.batch.prepare import prepare_windows\nfrom pipelines.config import TranscribeConfig\n"
            "t = time.perf_counter(); n = 0\n"
            f"for table in prepare_windows(pa.table({{'path': [{str(path)!r}], 'size': [None]}}),"
            " config=TranscribeConfig(), n_mels=80):\n    n += table.num_rows\n"
            f"{PEAK_RSS_KB}\n"
            "print(n, peak_kb, time.perf_counter() - t)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        path.unlink()
        windows, maxrss_kb, wall = result.stdout.split()
        out.append(
            Measurement(
                "memory",
                f"prepare task, peak RSS, {hours:g} h",
                samples / SAMPLE_RATE,
                float(wall),
                extra={"windows": int(windows), "peak_rss_mb": round(int(maxrss_kb) / 1024), "hours": hours},
            )
        )
    return out


def render_table(results: list[Measurement]) -> str:
    lines = [f"{'scenario':<11} {'system':<58} {'audio s':>9} {'wall s':>8} {'RTFx':>8} {'WER %':>6}  extra"]
    for m in results:
        wer_text = f"{100 * m.wer:6.2f}" if m.wer is not None else "     -"
        extra = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in m.extra.items())
        lines.append(
            f"{m.scenario:<11} {m.system:<58} {m.audio_s:9.1f} {m.wall_s:8.2f} {m.rtfx:8.1f} {wer_text}  {extra}"
        )
    for scenario in ("short-process", "long-process", "short", "long"):
        rows = [m for m in results if m.scenario == scenario]
        anchors = [m for m in rows if m.system.startswith("faster-whisper")]
        if not anchors:
            continue
        # The anchor: faster-whisper with its own defaults, at its best batch size.
        anchor = max((m for m in anchors if "timestamps" not in m.system), key=lambda m: m.rtfx, default=None)
        for m in (m for m in rows if m.system.startswith("voxray")):
            # Like for like: the anchor run whose timestamp setting matches this voxray run.
            same = [a for a in anchors if ("timestamps" in a.system) == ("without-timestamps" not in m.system)]
            like = max(same, key=lambda a: a.rtfx, default=None)
            references = [anchor] if anchor is not None else []
            if like is not None and like is not anchor:
                references.append(like)
            for reference in references:
                lines.append(
                    f"{scenario}: {m.system} / {reference.system} = {m.rtfx / reference.rtfx:.2f}x RTFx, "
                    f"WER {100 * ((m.wer or 0) - (reference.wer or 0)):+.2f} points"
                )
    return "\n".join(lines)


def plot(results: list[Measurement], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [m for m in results if m.scenario in ("short", "long")]
    if not rows:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [f"{m.scenario}: {m.system}" for m in rows]
    colors = ["tab:gray" if m.system.startswith("faster") else "tab:blue" for m in rows]
    axes[0].barh(labels, [m.rtfx for m in rows], color=colors)
    axes[0].set_xlabel("RTFx (audio s / wall s, higher is better)")
    axes[1].barh(labels, [100 * (m.wer or 0) for m in rows], color=colors)
    axes[1].set_xlabel("WER % (lower is better)")
    axes[1].set_yticks([])
    fig.suptitle("voxray vs faster-whisper, same model, beam size and machine")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class FlacWriter:
    """A mono 16 kHz FLAC file written block by block, with PyAV (soundfile is a test-only dependency)."""

    def __init__(self, path: Path) -> None:
        import av

        self._av = av
        self.container = av.open(str(path), "w", format="flac")
        self.stream = self.container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")

    def write(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)[None, :]
        frame = self._av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def __enter__(self) -> FlacWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        for packet in self.stream.encode(None):  # flush the encoder
            self.container.mux(packet)
        self.container.close()
