"""How the pipeline sizes its actor pool from the cluster's resources (pure)."""

from __future__ import annotations

import pytest

from models.common.config import ModelConfig
from pipelines.config import ComputeConfig, TranscribeConfig
from pipelines.transcribe import CPU_BATCH_SIZE, GPU_BATCH_SIZE, plan_cluster


def test_gpu_cluster_gets_one_actor_per_gpu() -> None:
    plan = plan_cluster(TranscribeConfig(), {"CPU": 64, "GPU": 8})
    assert (plan.use_gpu, plan.num_actors, plan.batch_size) == (True, 8, GPU_BATCH_SIZE)


def test_two_core_machine_runs_an_actor_per_core_and_leaves_room_for_preparation() -> None:
    # An actor pool that reserves every CPU starves the preparation tasks and the job hangs.
    plan = plan_cluster(TranscribeConfig(), {"CPU": 2})
    assert not plan.use_gpu and (plan.num_actors, plan.threads_per_actor) == (2, 1)
    assert plan.num_actors * plan.actor_cpus <= 2 - ComputeConfig().prepare_cpus
    assert plan.batch_size == CPU_BATCH_SIZE


def test_big_cpu_node_keeps_an_eighth_for_preparation() -> None:
    plan = plan_cluster(TranscribeConfig(), {"CPU": 32})
    assert plan.num_actors * plan.actor_cpus <= 32 - 4
    # Four threads per actor: eight model copies, every core busy.
    assert (plan.num_actors, plan.threads_per_actor) == (8, 4)


def test_one_cpu_still_schedules_preparation() -> None:
    plan = plan_cluster(TranscribeConfig(), {"CPU": 1})
    assert plan.num_actors == 1 and plan.actor_cpus <= 1 - ComputeConfig().prepare_cpus


def test_cpu_device_ignores_gpus_and_overrides_win() -> None:
    config = TranscribeConfig(model=ModelConfig(device="cpu"), compute=ComputeConfig(num_actors=3, batch_size=4))
    plan = plan_cluster(config, {"CPU": 16, "GPU": 2})
    assert (plan.use_gpu, plan.num_actors, plan.batch_size) == (False, 3, 4)


def test_cuda_without_gpus_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no GPUs"):
        plan_cluster(TranscribeConfig(model=ModelConfig(device="cuda")), {"CPU": 4})
