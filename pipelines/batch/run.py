"""Assembly of the batch pipeline on Ray Data, and the driver loop that writes transcripts.

list (driver) -> prepare: read, decode, VAD, features (CPU tasks) -> model (actor pool, GPU or CPU)
-> assemble (driver, streaming: only unfinished files are held) -> Parquet.
Transcript rows are small (text), so the driver gathering them costs little even for millions of
files, and it lets a run commit its output in bounded units.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import ray

from models.common.audio import N_FRAMES, N_SAMPLES
from models.common.ids import new_run_id
from models.common.profile import StageTimes
from models.common.retry import call_with_retries, storage_unavailable
from models.common.schema import STATUS_ERROR, STATUS_OK
from models.resolved import ResolvedModel, resolve
from pipelines.batch.assemble import Assembler
from pipelines.batch.cluster import ClusterPlan, plan_cluster
from pipelines.batch.console import console_is_quiet, quiet_ray_console, ray_log_level, without_actor_constructor_note
from pipelines.batch.infer import TranscribeWindows
from pipelines.batch.local import Engine, choose_engine, local_cpus, local_rows, task_tables
from pipelines.batch.packing import without_cross_language_packing
from pipelines.batch.prepare import prepare_windows
from pipelines.batch.records import FileMeta, Piece, pieces_of
from pipelines.batch.rows import WINDOWS_PER_OUTPUT
from pipelines.batch.sinks import SinkFactory, parquet_sink
from pipelines.batch.watchdog import watched
from pipelines.config import TranscribeConfig
from pipelines.listing import SourceFile, list_sources

# Files per preparation task, when not configured. A Ray task costs milliseconds to schedule and
# start, so one file per task caps an archive of small files at tens of files per second; packing
# also needs several clips in one task. An upper bound keeps a task's memory and the delay before
# its first windows small. Recordings longer than a few minutes gain nothing from packing, so they
# may go one per task, for parallelism.
# Clips are packed only with the others of their task, so bigger tasks pack tighter (200 clips of
# 2-6 s: 38 windows in tasks of 13 files, 33 in tasks of 32), but on 2 cores tasks of 32 were
# slower as a whole (45.9 and 46.4 s against 38.9 and 43.6 s): the model waited longer for the
# first windows and the last. So packing does not raise the minimum.
MIN_FILES_PER_TASK = 8
MAX_FILES_PER_TASK = 256
LONG_FILE_BYTES = 8 * 1024**2
# Rows the driver hands to metrics and the sink at a time (one timing and one metrics update each).
WRITE_CHUNK_ROWS = 500
# Aim for this many tasks per preparation slot, so that the slots stay busy to the end of the input.
TASKS_PER_SLOT = 4
# Read by the raylet when it starts workers (Ray's default is 15).
WORKER_NICENESS_ENV = "RAY_worker_niceness"


@dataclass
class RunSummary:
    run_id: str
    files: int = 0
    rows: int = 0
    ok: int = 0
    failed: int = 0
    # Failed rows whose file could not be read or written because storage stayed unreachable.
    unavailable: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    written: list[str] = field(default_factory=list)
    profile: StageTimes = field(default_factory=StageTimes)

    @property
    def rtfx(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0

    def add(self, row: dict[str, Any]) -> None:
        self.rows += 1
        if row["status"] == STATUS_OK:
            self.ok += 1
            self.audio_s += row["duration_s"] or 0.0
        else:
            self.failed += 1
            self.unavailable += storage_unavailable(row.get("error"))

    def render(self) -> str:
        return (
            f"files: {self.files}  rows: {self.rows}  ok: {self.ok}  failed: {self.failed}\n"
            f"audio: {self.audio_s / 3600:.3f} h ({self.audio_s:.1f} s)  wall: {self.wall_s:.1f} s  "
            f"RTFx: {self.rtfx:.1f}"
        )


def files_per_task(files: list[SourceFile], config: TranscribeConfig, cpus: float) -> int:
    """How many files one preparation task takes: configured, or from the file count and the CPUs."""
    if config.compute.files_per_task:
        return config.compute.files_per_task
    slots = max(1, int(cpus / config.compute.prepare_cpus))
    sizes = [f.size for f in files if f.size is not None]
    long_files = bool(sizes) and sum(sizes) / len(sizes) > LONG_FILE_BYTES
    low = 1 if long_files else MIN_FILES_PER_TASK
    return max(low, min(MAX_FILES_PER_TASK, math.ceil(len(files) / (TASKS_PER_SLOT * slots))))


def block_bytes(model: ResolvedModel) -> int:
    """Ray Data's target block size for prepared windows: a full table leaves whole, and at once.

    By default Ray Data gathers what a task yields into blocks of up to 128 MiB before passing them
    on, so a long recording's windows reached the model only when its whole preparation task had
    finished (the actor waited 5 s on a 13-minute recording). It passes a block on once its buffer
    reaches the target, and slices one of 1.5 times the target or more: at 4 MiB, a table of
    WINDOWS_PER_OUTPUT log-mel windows (8 x 80 x 3000 x 4 bytes = 7.7 MB) went on as 5 + 3 windows,
    and the model stage takes each table as one batch (ClusterPlan.gather_batches). A target of one
    window less than a full table does neither; small rows (error rows, pieces) still travel together.
    """
    window = N_SAMPLES if model.needs_audio else model.n_mels * N_FRAMES
    return (WINDOWS_PER_OUTPUT - 1) * window * np.dtype(np.float32).itemsize


def ensure_ray(dashboard: bool = False, verbose: bool = False, worker_logs: bool = True) -> None:
    """Join the cluster RAY_ADDRESS (or the last `ray start`) names, or start a local one for this run.

    A local Ray started here is this process's alone, so it is set up for throughput on one
    machine: no dashboard (its processes took about 1.4 s of start-up and a tenth of a core on
    2 cores; Serve keeps it, for `serve status`), and workers at the driver's priority. Ray starts
    workers at nice 15 by default, which let any other work on the machine take the model's cores
    (measured: a 13-minute recording took 57 s next to one niced background process, 33 s with
    workers at nice 0). Joining a running cluster leaves its settings alone. Ray's own warnings
    reach the console only when `verbose` (pipelines/batch/console.py). Without `worker_logs`, what
    Ray's workers and actors print stays in their log files (`improve`: Ray Train's controller and
    placement-group cleaner printed over 300 lines a run) unless `verbose`.
    """
    if ray.is_initialized():
        return
    quiet_ray_console(verbose)
    os.environ.setdefault(WORKER_NICENESS_ENV, "0")
    address = os.environ.get("RAY_ADDRESS") or None
    ray.init(
        address=address,
        include_dashboard=dashboard,
        logging_level=ray_log_level(verbose),
        log_to_driver=worker_logs or verbose,
    )


def build_dataset(
    files: list[SourceFile],
    config: TranscribeConfig,
    plan: ClusterPlan,
    model: ResolvedModel,
    per_task: int = MIN_FILES_PER_TASK,
) -> ray.data.Dataset:
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = sys.stderr.isatty()
    ctx.target_max_block_size = block_bytes(model)
    # One block per preparation task, so that each task prepares (and packs) exactly its group.
    ds = ray.data.from_arrow(task_tables(files, per_task))
    ds = ds.map_batches(
        prepare_windows,
        batch_size=per_task,
        batch_format="pyarrow",
        fn_kwargs={"config": config, "n_mels": model.n_mels, "needs_audio": model.needs_audio},
        num_cpus=plan.prepare_cpus,
    )
    resources: dict[str, Any] = {"num_gpus": 1} if plan.use_gpu else {}
    if config.compute.actor_resources:
        resources["resources"] = dict(config.compute.actor_resources)
    return ds.map_batches(
        TranscribeWindows,
        fn_constructor_kwargs={"config": config, "model": model, "threads": plan.threads_per_actor},
        batch_size=plan.ray_batch_size,
        batch_format="pyarrow",
        compute=plan.pool(),
        num_cpus=plan.actor_cpus,
        **resources,
    )


def iter_transcripts(
    files: list[SourceFile],
    config: TranscribeConfig,
    run_id: str,
    times: StageTimes | None = None,
    model: ResolvedModel | None = None,
) -> Iterator[dict[str, Any]]:
    """Transcript rows for `files`, each exactly once, as they complete (not in input order).

    `times` collects where the time went: the driver's own stages and those every task and actor
    reported with its output (models.common.profile). `model`: `config.model` already resolved
    (models.resolved); else it is resolved here, once for the run.
    """
    if not files:
        return
    times = times if times is not None else StageTimes()
    if model is None:
        with times.stage("driver:model resolution"):
            model = resolve(config.model, config.storage)
    model.check_resolves(config.model)
    config = without_cross_language_packing(_pinned_model(config, model), model)
    if engine(files, config) == "local":
        rows = local_rows(files, config, model, run_id, times, files_per_task(files, config, local_cpus()))
    else:
        rows = _transcript_rows(files, config, model, run_id, times)
    if config.redact.enabled:
        from pipelines.redaction.stream import redact_stream

        rows = redact_stream(rows, config.redact, config.storage)
    yield from rows


def engine(files: list[SourceFile], config: TranscribeConfig) -> Engine:
    """Where this job's stages run: on Ray, or in this process (pipelines/batch/local.py).

    OptionError where `--engine local` cannot run the job as the Ray path would.
    """
    return choose_engine(files, config)


def _pinned_model(config: TranscribeConfig, model: ResolvedModel) -> TranscribeConfig:
    """`registry:ROOT` pinned to the version resolved for the whole run (rows name that version)."""
    pinned = model.name
    return config if pinned == config.model.model else replace(config, model=replace(config.model, model=pinned))


def _transcript_rows(
    files: list[SourceFile], config: TranscribeConfig, model: ResolvedModel, run_id: str, times: StageTimes
) -> Iterator[dict[str, Any]]:
    # Here, not at the top: it imports Ray Data (1 s), which a job run in-process never needs.
    from pipelines.batch.cluster_state import ExecutorProbe, alive_nodes, describe_wait

    with times.stage("driver:ray start"):
        ensure_ray()
    config.check_model(model.needs_audio)
    resources = ray.cluster_resources()
    nodes = alive_nodes()
    plan = plan_cluster(config, resources, [n["Resources"]["CPU"] for n in nodes])
    assembler = Assembler(config.model.model, run_id, config.fingerprint(model.identity), config.diarize)
    per_task = files_per_task(files, config, resources.get("CPU", 1))
    probe = ExecutorProbe(ray.data.DataContext.get_current())
    ds = build_dataset(files, config, plan, model, per_task)
    probe.watch(ds)
    batches = watched(
        lambda: ds.iter_batches(batch_size=None, batch_format="pyarrow"),
        config.compute.stall_timeout_s,
        lambda: describe_wait(probe, len(nodes)),
        on_stall=probe.stop,
        activity=probe.tasks_finished,
    )
    # Ray Data creates the pool's actors when execution starts: its ray#53727 line is printed
    # then (once per process), so a quiet run filters fd 2 until the first results are out.
    pool_start = contextlib.ExitStack()
    pool_start.enter_context(without_actor_constructor_note(console_is_quiet()))
    with pool_start:
        yield from _assembled(batches, assembler, times, first=pool_start.close)
    for path, channel in assembler.incomplete:
        # Should not happen; if it does, the file must still show up, and say why.
        lost = Piece(FileMeta(path, channel), 0, 1, True, None, None, (), 0.0)
        yield {
            **assembler.row([lost]),
            "status": STATUS_ERROR,
            "error": "internal error: some windows of this file were lost; rerun to retry",
        }


def _assembled(
    batches: Iterator[Any], assembler: Assembler, times: StageTimes, first: Callable[[], None]
) -> Iterator[dict[str, Any]]:
    """Rows of the files whose windows are all in; `first()` once the first batch is out."""
    waited: float | None = time.perf_counter()
    for batch in batches:
        if waited is not None:
            first()
            times.add("driver:until first results", time.perf_counter() - waited)
            waited = None
        # Timed per batch, not per piece: at archive scale the clock reads cost more than assembly.
        wall, cpu = time.perf_counter(), time.process_time()
        pieces, profiles = pieces_of(batch)
        for profile in profiles:
            times.merge(StageTimes.from_json(profile))
        rows = [row for piece in pieces for row in assembler.add(piece)]
        times.add("driver:assembly", time.perf_counter() - wall, time.process_time() - cpu, len(pieces))
        yield from rows


def run_transcription(
    sources: list[str],
    dest: str,
    config: TranscribeConfig,
    *,
    mode: str = "error",
    run_id: str | None = None,
    sink: SinkFactory | None = None,
    model: ResolvedModel | None = None,
) -> RunSummary:
    """`voxray transcribe`: every listed file -> exactly one row (per channel in split mode) in DEST.

    `sink` makes where rows go once the inputs are listed (jobs/ chooses: a Delta table is
    pipelines/store's); by default a Parquet folder at DEST, `mode` error, overwrite or append.
    `model`: `config.model` already resolved by the caller (models.resolved); else resolved here.
    """
    started = time.perf_counter()
    run_id = run_id or new_run_id()
    times = StageTimes()
    if model is None:
        with times.stage("driver:model resolution"):
            model = resolve(config.model, config.storage)  # once per run: actors load what this found
    config.check_model(model.needs_audio)  # before listing, and before DEST is touched
    with times.stage("driver:listing"):
        files = call_with_retries(lambda: list_sources(sources, config.storage), config.storage, "listing")
    engine(files, config)  # an engine that cannot run this job is refused before DEST is touched
    out = (sink or parquet_sink(dest, config.storage, mode))(files, run_id)
    summary = RunSummary(run_id=run_id, files=len(files), profile=times)
    metrics = None
    for chunk in _chunks(iter_transcripts(files, config, run_id, times, model), WRITE_CHUNK_ROWS):
        if metrics is None and ray.is_initialized():  # Ray is up once rows flow, unless run in-process
            from pipelines.metrics import RunMetrics

            metrics = RunMetrics("transcribe")
        if metrics is not None:
            metrics.rows(chunk)
        for row in chunk:
            summary.add(row)
        with times.stage("driver:write"):
            for row in chunk:
                out.add(row)
    with times.stage("driver:write"):
        summary.written = out.close()
    summary.wall_s = time.perf_counter() - started
    return summary


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Rows in lists of up to `size`, the last one shorter."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
