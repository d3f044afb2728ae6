"""How the pipeline sizes its actor pool from the cluster's resources (pure)."""

from __future__ import annotations

import pytest

from models.common.config import ModelConfig
from pipelines.batch.cluster import CPU_BATCH_SIZE, GPU_BATCH_SIZE, plan_cluster
from pipelines.config import ComputeConfig, TranscribeConfig


def test_gpu_cluster_gets_one_actor_per_gpu() -> None:
    plan = plan_cluster(TranscribeConfig(), {"CPU": 64, "GPU": 8})
    assert (plan.use_gpu, plan.num_actors, plan.batch_size) == (True, 8, GPU_BATCH_SIZE)
    assert plan.ray_batch_size == GPU_BATCH_SIZE  # Ray Data wants an explicit batch size for GPUs


def test_two_core_machine_runs_an_actor_per_core_and_leaves_room_for_preparation() -> None:
    # An actor pool that reserves every CPU starves the preparation tasks and the job hangs.
    plan = plan_cluster(TranscribeConfig(), {"CPU": 2})
    assert not plan.use_gpu and (plan.num_actors, plan.threads_per_actor) == (2, 1)
    assert plan.num_actors * plan.actor_cpus <= 2 - ComputeConfig().prepare_cpus
    assert plan.batch_size == CPU_BATCH_SIZE
    # Each prepared table goes to an actor as it comes: no waiting for a full batch (issue 27).
    assert plan.ray_batch_size is None


def test_big_cpu_node_runs_eight_four_thread_actors_and_keeps_room_for_preparation() -> None:
    plan = plan_cluster(TranscribeConfig(), {"CPU": 32})
    # Four threads per actor: eight model copies, every core busy.
    assert (plan.num_actors, plan.threads_per_actor) == (8, 4)
    # A ninth actor must not fit (Ray packs actors while they fit, and the pool may grow): then
    # the node keeps about a tenth of its CPUs for preparation: six tasks at once.
    assert 9 * plan.actor_cpus > 32 and 32 - 8 * plan.actor_cpus >= 6 * plan.prepare_cpus
    assert plan.prepare_cpus == ComputeConfig().prepare_cpus


def test_one_cpu_still_schedules_preparation() -> None:
    plan = plan_cluster(TranscribeConfig(), {"CPU": 1})
    assert plan.num_actors == 1 and plan.actor_cpus + plan.prepare_cpus <= 1
    assert 2 * plan.actor_cpus > 1  # a second actor never takes the preparation task's room


def test_each_node_keeps_room_for_a_preparation_task_beside_a_full_load_of_actors() -> None:
    """Issue 27: two 1-CPU nodes with a 0.75-CPU actor each had 0.5 CPU free in all, but 0.25 on
    each node, and the 0.5-CPU preparation task fit nowhere: the job hung before any node was lost."""
    for nodes in ([1, 1], [1, 1, 1], [2, 2], [4, 16], [16, 16, 16], [3, 5]):
        plan = plan_cluster(TranscribeConfig(), {"CPU": sum(nodes)}, nodes)
        for cpus in nodes:
            full = int(cpus / plan.actor_cpus)  # actors Ray could place on this node
            assert full >= 1 and cpus - full * plan.actor_cpus >= plan.prepare_cpus > 0, (nodes, plan)
        assert plan.actor_cpus != plan.prepare_cpus  # differing requests: no fusion (ray#54433)
        assert plan.num_actors == sum(int(c / plan.actor_cpus) for c in nodes)


def test_pool_keeps_the_planned_size_and_grows_only_when_asked() -> None:
    pool = plan_cluster(TranscribeConfig(), {"CPU": 2}, [1, 1]).pool()
    assert (pool.min_size, pool.initial_size, pool.max_size) == (2, 2, 2)
    growing = TranscribeConfig(compute=ComputeConfig(max_actors=6))
    pool = plan_cluster(growing, {"CPU": 2}, [1, 1]).pool()
    assert (pool.min_size, pool.initial_size, pool.max_size) == (2, 2, 6)
    fixed = plan_cluster(TranscribeConfig(compute=ComputeConfig(num_actors=3)), {"CPU": 8}).pool()
    assert (fixed.min_size, fixed.initial_size, fixed.max_size) == (3, 3, 3)


def test_cpu_device_ignores_gpus_and_overrides_win() -> None:
    config = TranscribeConfig(model=ModelConfig(device="cpu"), compute=ComputeConfig(num_actors=3, batch_size=4))
    plan = plan_cluster(config, {"CPU": 16, "GPU": 2})
    assert (plan.use_gpu, plan.num_actors, plan.batch_size, plan.ray_batch_size) == (False, 3, 4, 4)


def test_cuda_without_gpus_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no GPUs"):
        plan_cluster(TranscribeConfig(model=ModelConfig(device="cuda")), {"CPU": 4})


@pytest.mark.parametrize("n_mels, needs_audio", [(80, False), (128, False), (0, True)])
def test_a_full_table_of_windows_leaves_preparation_as_one_block_at_once(n_mels: int, needs_audio: bool) -> None:
    # Ray Data passes a block on once it reaches the target and slices blocks of 1.5x the target.
    from models.resolved import ResolvedModel
    from pipelines.batch.rows import WINDOWS_PER_OUTPUT
    from pipelines.batch.run import block_bytes

    model = ResolvedModel("m", "m", "ct2", None, (), "id", n_mels, needs_audio, False)
    window = (480_000 if needs_audio else n_mels * 3000) * 4
    target = block_bytes(model)
    assert target <= (WINDOWS_PER_OUTPUT - 1) * window < WINDOWS_PER_OUTPUT * window < 1.5 * target
