"""How the pipeline uses a Ray cluster: model actors and preparation tasks sized per node."""

from __future__ import annotations

import math
from dataclasses import dataclass

import ray

from pipelines.batch.rows import WINDOWS_PER_OUTPUT
from pipelines.config import TranscribeConfig

# Windows per model call on CPUs: one table as preparation sends it (see ClusterPlan.gather_batches).
CPU_BATCH_SIZE = WINDOWS_PER_OUTPUT
# CPU model actors get one thread per this many CPUs of a node (one on up to 15 cores).
CPUS_PER_ACTOR_THREAD = 8
GPU_BATCH_SIZE = 32


@dataclass(frozen=True)
class ClusterPlan:
    use_gpu: bool
    num_actors: int
    threads_per_actor: int
    actor_cpus: float
    batch_size: int
    # CPUs each preparation task asks for: the configured share, or less where a node full of
    # model actors would otherwise have no room for one (see _cpu_shares).
    prepare_cpus: float = 0.5
    # The pool starts at the planned size and may grow onto nodes that join, up to max_actors. It
    # does not shrink below the planned size: Ray Data's autoscaler removed an actor that sat idle
    # while the first windows were prepared (Ray 2.60, two 1-CPU nodes), to start it again later.
    max_actors: int | None = None
    # Whether Ray Data gathers `batch_size` windows before it starts a model task (it must for GPUs,
    # and does for a configured batch size) or hands each prepared table (up to WINDOWS_PER_OUTPUT
    # windows) to an actor as it comes. Ray Data starts no task until a whole batch is queued or
    # its input has ended: on two loaded 1-CPU nodes, preparation finishing one file pair (one
    # window) every 15-30 s left both actors idle beside 2-7 queued windows for minutes (issue 27).
    gather_batches: bool = True

    @property
    def ray_batch_size(self) -> int | None:
        """`batch_size` for Ray Data's map_batches: None hands each prepared table on as it is."""
        return self.batch_size if self.gather_batches else None

    def pool(self) -> ray.data.ActorPoolStrategy:
        """Ray Data's autoscaling actor pool, from the planned size up to max_actors."""
        return ray.data.ActorPoolStrategy(
            min_size=self.num_actors,
            max_size=max(self.num_actors, self.max_actors or self.num_actors),
            max_tasks_in_flight_per_actor=2,
        )


# How far an actor's share is raised above the size at which one more actor would fit on a node.
ACTOR_MARGIN_CPUS = 0.05
# Ray's resource quantities have four decimals; shares are rounded to them so that sums stay exact.
RESOURCE_STEP = 1e-4


def plan_cluster(
    config: TranscribeConfig, resources: dict[str, float], node_cpus: list[float] | None = None
) -> ClusterPlan:
    """Automatic pool and batch sizes from the cluster's resources, overridable by config.

    `node_cpus`: each live node's CPUs (default: one node with all of `resources`). Ray places
    actors and tasks on single nodes, so shares are planned per node, not for the cluster's sum:
    two 1-CPU nodes each holding a 0.75-CPU actor had 0.5 CPU free in all but no room for a
    0.5-CPU preparation task on either, and the job hung before any node was lost (issue 27).
    """
    compute = config.compute
    cpus = max(1, int(resources.get("CPU", 1)))
    nodes = [c for c in (node_cpus or [cpus]) if c >= 1] or [cpus]
    gpus = int(resources.get("GPU", 0))
    use_gpu = config.model.device == "cuda" or (config.model.device == "auto" and gpus > 0)
    if use_gpu and gpus == 0:
        raise RuntimeError("--device cuda was asked for, but the Ray cluster has no GPUs")
    fixed = compute.num_actors
    if use_gpu:
        threads = compute.threads_per_actor or 4
        batch = compute.batch_size or GPU_BATCH_SIZE
        return ClusterPlan(True, fixed or gpus, threads, 1.0, batch, compute.prepare_cpus, compute.max_actors)
    # On CPUs, more actors with fewer threads each: CTranslate2's beam search keeps two threads of
    # one actor busy only part of the time (1.4 cores of 2), while two one-thread actors keep both
    # cores busy (measured on 2 cores: an hour of real speech 131 s -> 101 s, 200 short clips
    # 37.6 s -> 32.3 s). A few threads each on big nodes keep the number of model copies down.
    smallest = min(nodes)
    threads = compute.threads_per_actor or max(1, int(smallest) // CPUS_PER_ACTOR_THREAD)
    per_node = max(1, int(smallest) // threads)
    actor_cpus, prepare_cpus = _cpu_shares(nodes, threads, per_node, compute.prepare_cpus)
    actors = fixed or sum(int(c / actor_cpus) for c in nodes)
    batch = compute.batch_size or CPU_BATCH_SIZE
    gather = compute.batch_size is not None
    return ClusterPlan(False, actors, threads, actor_cpus, batch, prepare_cpus, compute.max_actors, gather)


def _cpu_shares(nodes: list[float], threads: int, per_node: int, prepare: float) -> tuple[float, float]:
    """(CPUs per model actor, CPUs per preparation task) such that every node keeps room to prepare.

    The actors' reservations leave about one CPU in eight of the smallest node (at least a
    preparation task's share) to reading, decoding and features: a pool that reserves every CPU
    starves the preparation tasks and the job hangs. Ray packs actors onto a node while they fit,
    and the pool grows onto nodes that join, so the guarantee must hold for a node *full* of
    actors: one actor more than planned must not fit on the smallest node, and what a full node
    of any size has left is what a preparation task may ask for. Then the pipeline makes progress
    on any one node that is left. Reservations are Ray's bookkeeping; threads use what is idle.
    """
    smallest = min(nodes)
    spare = max(prepare, smallest / 8)
    actor = min(float(threads), (smallest - spare) / per_node)
    if (per_node + 1) * actor <= smallest:
        actor = smallest / (per_node + 1) + ACTOR_MARGIN_CPUS
    actor = round(actor, 4)
    room = min(c - int(c / actor) * actor for c in nodes)
    return actor, math.floor(min(prepare, room) / RESOURCE_STEP) * RESOURCE_STEP
