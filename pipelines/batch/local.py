"""The small-job engine: the batch path's own stages called in the driver's process, without Ray.

A handful of local files took 4x the plain faster-whisper loop as a whole process, and most of
it was Ray's: its start (GCS, raylet, workers), the workers' start-up and imports, and its
shutdown at exit (docs/performance.md "Small jobs"). Such a job has one preparation task and one
model batch or two in the Ray path, so nothing runs in parallel there anyway. Here the same callables run
on the same batches, one after the other: `prepare_windows` on the files of one preparation task,
`TranscribeWindows` on the windows in batches of the planned size. Rows are the Ray path's, byte
for byte (tests/test_engine.py), except what differs between any two runs (run id, times).
"""

from __future__ import annotations

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
from pipelines.batch.prepare import prepare_windows
from pipelines.batch.records import FileMeta, Piece, pieces_of
from pipelines.config import OptionError, TranscribeConfig
from pipelines.listing import SourceFile

Engine = Literal["ray", "local"]
# `ray.init()` with no address joins the cluster `ray start` last started here (Ray writes this file).
RAY_CURRENT_CLUSTER = "/tmp/ray/ray_current_cluster"


def choose_engine(files: list[SourceFile], config: TranscribeConfig, per_task: int) -> Engine:
    """`compute.engine` resolved for this job: `auto` is local only for a small job that asks nothing of Ray.

    Small: every file is local and all fit in one preparation task (`per_task` files), where the
    Ray path prepares them together and has no parallelism to offer. Ray is used whenever it is
    already running in this process (a test session, `serve`), RAY_ADDRESS is set (`local` too: an
    explicit request for Ray), a `ray start` cluster on this machine would be joined, or a Ray-only
    option is set. `local` is refused (OptionError) where it cannot give the Ray path's rows.
    """
    if config.compute.engine == "local":
        _check_local(files, config, per_task)
        return "local"
    if config.compute.engine == "ray" or ray_only_options(config) or _ray_wanted():
        return "ray"
    small = len(files) <= per_task and all("://" not in f.path for f in files)
    return "local" if small else "ray"


def _check_local(files: list[SourceFile], config: TranscribeConfig, per_task: int) -> None:
    needs_ray = ray_only_options(config)
    if needs_ray:
        raise OptionError(f"--engine local runs without Ray, and {', '.join(needs_ray)} need Ray: drop them")
    if os.environ.get("RAY_ADDRESS", "local") != "local":
        raise OptionError("--engine local runs without Ray, but RAY_ADDRESS names a cluster to join: unset it")
    if len(files) > per_task:
        # Clips are packed with those of their preparation task; more tasks would group them
        # otherwise than Ray Data does, and packed transcripts would differ from the Ray path's.
        raise OptionError(
            f"--engine local takes one preparation task of files ({per_task}; --files-per-task), got "
            f"{len(files)}: use --engine ray"
        )


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
) -> Iterator[dict[str, Any]]:
    """Transcript rows for `files` as the Ray path gives them (`pipelines.batch.run._transcript_rows`).

    Every file of a preparation task is complete once its windows are through the model; should
    one not be, it still gets its row, an error row, as in the Ray path.
    """
    plan = plan_cluster(config, {"CPU": local_cpus(), "GPU": _gpus(config)})
    assembler = Assembler(config.model.model, run_id, config.fingerprint(model.identity), config.diarize)
    started = time.perf_counter()
    for table in local_batches(files, config, model, plan.ray_batch_size, _threads(plan)):
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
    files: list[SourceFile], config: TranscribeConfig, model: ResolvedModel, batch_size: int | None, threads: int
) -> Iterator[pa.Table]:
    """Piece tables, as the Ray path's model stage yields them, for `files` prepared as one task.

    The Ray path hands each prepared table (up to WINDOWS_PER_OUTPUT windows) to the model as it
    is (`batch_size` None, CPUs), or gathers the windows in order, `batch_size` at a time.
    """
    infer = TranscribeWindows(config, model, threads)
    rows = [{"path": f.path, "size": f.size} for f in files]
    prepared = list(
        prepare_windows(pa.Table.from_pylist(rows), config=config, n_mels=model.n_mels, needs_audio=model.needs_audio)
    )
    if batch_size is not None:
        windows = pa.concat_tables(prepared)
        prepared = [windows.slice(offset, batch_size) for offset in range(0, windows.num_rows, batch_size)]
    # On a terminal, a bar as the Ray path's (Ray Data's) shows; in a log, nothing.
    total = sum(t.num_rows for t in prepared)
    with tqdm(total=total, desc="Transcribe", unit="window", disable=not sys.stderr.isatty()) as bar:
        for table in prepared:
            yield infer(table)
            bar.update(table.num_rows)


def local_cpus() -> int:
    """The CPUs this process may use (its affinity), which is what a local Ray counts on Linux."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _gpus(config: TranscribeConfig) -> int:
    """GPUs this process can use, as a local Ray would count them (none asked for: none looked for)."""
    if config.model.device == "cpu":
        return 0
    import ctranslate2

    return ctranslate2.get_cuda_device_count()


def _threads(plan: ClusterPlan) -> int:
    """Threads for the one in-process model: on CPUs, what the Ray plan's actors have between them."""
    return plan.threads_per_actor if plan.use_gpu else plan.threads_per_actor * plan.num_actors
