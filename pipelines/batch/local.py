"""The in-process engine: the batch path's own stages called in the driver's process, without Ray.

A handful of local files took 4x the plain faster-whisper loop as a whole process, and most of
it was Ray's: its start (GCS, raylet, workers), the workers' start-up and imports, and its
shutdown at exit; a job of 60 short clips spent 16-19 CPU-seconds there, as much as its model
work (docs/performance.md "Small jobs" and "Jobs of tens of clips"). Here the same callables run
on the same groups of files and the same tables: `prepare_windows` on each preparation task's
files, in a thread, and `TranscribeWindows` in as many replicas as the Ray plan has model actors,
each in a thread. Rows are the Ray path's, byte for byte (tests/test_engine.py), except what
differs between any two runs (run id, times).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa
from tqdm import tqdm

from models.common.profile import StageTimes
from models.common.schema import STATUS_ERROR
from models.resolved import ResolvedModel
from pipelines.batch.assemble import Assembler
from pipelines.batch.cluster import ClusterPlan, plan_cluster
from pipelines.batch.infer import TranscribeWindows
from pipelines.batch.local_threads import threaded_map
from pipelines.batch.prepare import prepare_windows
from pipelines.batch.records import FileMeta, Piece, pieces_of
from pipelines.config import OptionError, TranscribeConfig
from pipelines.listing import SourceFile

Engine = Literal["ray", "local"]
# `ray.init()` with no address joins the cluster `ray start` last started here (Ray writes this file).
RAY_CURRENT_CLUSTER = "/tmp/ray/ray_current_cluster"


# Jobs up to this size run in-process by default (`auto`), where Ray's fixed cost is not repaid.
# Ray's start, its workers' and actors' start-up and imports, and its stop cost 16-19 CPU-seconds
# of a job of 30-60 short clips on 2 cores, a whole process 2-3 times the in-process engine's
# (docs/performance.md, "Jobs of tens of clips"); the in-process engine does the same preparation
# and model work with threads. Measured up to 200 clips (43 MB of WAV, FLAC and MP3); past that,
# Ray's parallel preparation, task retries and actor restarts are kept.
LOCAL_MAX_FILES = 200
LOCAL_MAX_BYTES = 64 * 1024**2


def choose_engine(files: list[SourceFile], config: TranscribeConfig) -> Engine:
    """`compute.engine` resolved for this job: `auto` is local for a job of local files up to
    LOCAL_MAX_FILES and LOCAL_MAX_BYTES that asks nothing of Ray.

    Ray is used whenever it is already running in this process (a test session, `serve`),
    RAY_ADDRESS is set (`local` too: an explicit request for Ray), a `ray start` cluster on this
    machine would be joined, or a Ray-only option is set. `local` is refused (OptionError) where it
    cannot give the Ray path's rows.
    """
    if config.compute.engine == "local":
        _check_local(config)
        return "local"
    if config.compute.engine == "ray" or ray_only_options(config) or _ray_wanted():
        return "ray"
    size = sum(f.size or 0 for f in files)
    small = len(files) <= LOCAL_MAX_FILES and size <= LOCAL_MAX_BYTES
    return "local" if small and all("://" not in f.path for f in files) else "ray"


def _check_local(config: TranscribeConfig) -> None:
    needs_ray = ray_only_options(config)
    if needs_ray:
        raise OptionError(f"--engine local runs without Ray, and {', '.join(needs_ray)} need Ray: drop them")
    if os.environ.get("RAY_ADDRESS", "local") != "local":
        raise OptionError("--engine local runs without Ray, but RAY_ADDRESS names a cluster to join: unset it")


def ray_only_options(config: TranscribeConfig) -> list[str]:
    """The options set in `config` that only the Ray path implements (actor pools and their resources)."""
    compute = config.compute
    named = {
        "--num-actors": compute.num_actors is not None,
        "--max-actors": compute.max_actors is not None,
        "compute.actor_resources": bool(compute.actor_resources),
    }
    return [name for name, is_set in named.items() if is_set]


def _ray_wanted() -> bool:
    ray = sys.modules.get("ray")  # not imported: not running (and importing it to ask costs 0.3 s)
    running = ray is not None and ray.is_initialized()
    return running or bool(os.environ.get("RAY_ADDRESS")) or os.path.exists(RAY_CURRENT_CLUSTER)


def local_rows(
    files: list[SourceFile],
    config: TranscribeConfig,
    model: ResolvedModel,
    run_id: str,
    times: StageTimes,
    per_task: int,
) -> Iterator[dict[str, Any]]:
    """Transcript rows for `files` as the Ray path gives them (`pipelines.batch.run._transcript_rows`).

    Every file of a preparation task is complete once its windows are through the model; should
    one not be, it still gets its row, an error row, as in the Ray path.
    """
    plan = plan_cluster(config, {"CPU": local_cpus(), "GPU": _gpus(config)})
    assembler = Assembler(config.model.model, run_id, config.fingerprint(model.identity), config.diarize)
    started = time.perf_counter()
    for table in local_batches(files, config, model, plan, per_task):
        if started is not None:
            times.add("driver:until first results", time.perf_counter() - started)
            started = None
        pieces, profiles = pieces_of(table)
        for profile in profiles:
            times.merge(StageTimes.from_json(profile))
        yield from (row for piece in pieces for row in assembler.add(piece))
    for path, channel in assembler.incomplete:
        lost = Piece(FileMeta(path, channel), 0, 1, True, None, None, (), 0.0)
        # The Ray path's words for it (pipelines/batch/run.py), so that rows stay alike.
        error = "internal error: some windows of this file were lost; rerun to retry"
        yield {**assembler.row([lost]), "status": STATUS_ERROR, "error": error}


def local_batches(
    files: list[SourceFile],
    config: TranscribeConfig,
    model: ResolvedModel,
    plan: ClusterPlan,
    per_task: int,
) -> Iterator[pa.Table]:
    """Piece tables, as the Ray path's model stage yields them, for `files` prepared in its tasks.

    As in the Ray path, the files are prepared in its groups (`task_tables`) while the model
    decodes what is already prepared: one thread prepares, and the plan's model actors are model
    replicas with the actors' threads, each in a thread of its own (CTranslate2 and the log-mel's
    torch release the GIL). Two one-thread replicas use two cores better than one two-thread
    model, as two one-thread actors do (pipelines/batch/cluster.py). The Ray path hands each
    prepared table (up to WINDOWS_PER_OUTPUT windows) to an actor as it is (`batch_size` None,
    CPUs), or gathers the windows in order, `batch_size` at a time.
    """
    groups = task_tables(files, per_task)
    prepared = _prepared(groups, config, model)
    # A job of one group (the six samples) is one packed window or two: one replica with all the
    # actors' threads (as this engine had before it took several groups), not a second model
    # load that would get nothing to decode. Three alternating runs each under load 10 could not
    # tell the two apart (4.1-4.4 CPU-s).
    replicas = 1 if plan.use_gpu else min(plan.num_actors, len(groups))
    threads = plan.threads_per_actor * (1 if plan.use_gpu else plan.num_actors // replicas)
    load = functools.partial(TranscribeWindows, config, model, threads)
    # On a terminal, a bar as the Ray path's (Ray Data's) shows; in a log, nothing.
    with tqdm(desc="Transcribe", unit="window", disable=not sys.stderr.isatty()) as bar:
        for table, windows in threaded_map(_batched(prepared, plan.ray_batch_size), load, replicas):
            yield table
            bar.update(windows)


def _prepared(groups: list[pa.Table], config: TranscribeConfig, model: ResolvedModel) -> Iterator[pa.Table]:
    """Each group's prepared tables, as its Ray task yields them, with the task's one torch thread.

    Ray starts a task of under one CPU with OMP_NUM_THREADS=1, so the log-mel there runs on one
    thread; here the models' threads have the other cores.
    """
    if not model.needs_audio:
        import torch

        torch.set_num_threads(1)
    for group in groups:
        yield from prepare_windows(group, config=config, n_mels=model.n_mels, needs_audio=model.needs_audio)


def task_tables(files: list[SourceFile], per_task: int) -> list[pa.Table]:
    """The input of each preparation task: the files in listing order, `per_task` at a time.

    Clips are packed with the others of their task, so a clip's words depend on its group; both
    engines prepare exactly these groups. Ray Data's own split of one list (`from_items` with a
    block count) gave other groups (60 files in tasks of 8: 8, 8, 8, 8, 8, 6, 8, 6).
    """
    rows = [{"path": f.path, "size": f.size} for f in files]
    schema = pa.schema([("path", pa.string()), ("size", pa.int64())])
    return [pa.Table.from_pylist(rows[i : i + per_task], schema=schema) for i in range(0, len(rows), per_task)]


def _batched(tables: Iterator[pa.Table], batch_size: int | None) -> Iterator[pa.Table]:
    """Each table as it comes (None), or their windows in order, `batch_size` at a time."""
    if batch_size is None:
        yield from tables
        return
    pending: list[pa.Table] = []
    for table in tables:
        pending.append(table)
        while sum(t.num_rows for t in pending) >= batch_size:
            windows = pa.concat_tables(pending)
            yield windows.slice(0, batch_size)
            pending = [windows.slice(batch_size)]
    if pending and sum(t.num_rows for t in pending):
        yield pa.concat_tables(pending)


def local_cpus() -> int:
    """The CPUs this process may use (its affinity), which is what a local Ray counts on Linux."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _gpus(config: TranscribeConfig) -> int:
    """GPUs this process can use, as a local Ray would count them (none asked for: none looked for)."""
    if config.model.device == "cpu":
        return 0
    import ctranslate2

    return ctranslate2.get_cuda_device_count()
