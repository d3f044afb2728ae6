"""What a Ray Data pipeline is waiting for, in words: nodes lost, resources free, each operator's state."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import ray
from ray.data._internal.execution.execution_callback import ExecutionCallback


def alive_nodes() -> list[dict[str, Any]]:
    """The cluster's live nodes that can run work (Ray's `ray.nodes()` entries)."""
    return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]


class _RecordExecutor(ExecutionCallback):
    """Ray Data instantiates execution callbacks itself (and ships its context to workers), so the
    executors it starts are recorded here, by dataset id, for the probe of this process to find."""

    started: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()

    def before_execution_starts(self, executor: Any) -> None:
        _RecordExecutor.started[executor._dataset_id] = executor


class ExecutorProbe:
    """The Ray Data executor of one dataset: to describe it and to stop it after a stall."""

    def __init__(self, ctx: ray.data.DataContext) -> None:
        if _RecordExecutor not in ctx.custom_execution_callback_classes:
            ctx.custom_execution_callback_classes = [*ctx.custom_execution_callback_classes, _RecordExecutor]
        self.uuid: str | None = None

    def watch(self, ds: ray.data.Dataset) -> None:
        self.uuid = ds._uuid

    @property
    def executor(self) -> Any:
        found = [e for key, e in list(_RecordExecutor.started.items()) if self.uuid and self.uuid in key]
        return found[-1] if found else None

    def tasks_finished(self) -> int:
        """Tasks of the pipeline finished so far (0 before it starts); Ray Data's own metrics."""
        executor = self.executor
        try:
            return sum(op.metrics.num_tasks_finished for op in executor._topology) if executor else 0
        except Exception:  # a Ray upgrade may move these; then only finished windows count
            return 0

    def stop(self) -> None:
        """Shut the stalled execution down, releasing its actors (they may hold a GPU)."""
        executor = self.executor
        if executor is not None:
            with contextlib.suppress(Exception):  # the run fails anyway; the message matters more
                executor.shutdown(force=True)


def describe_wait(probe: ExecutorProbe, nodes_at_start: int) -> str:
    """Nodes, free resources, and Ray Data's own per-operator summary (tasks, actors restarting)."""
    nodes = ray.nodes()
    alive = [n for n in nodes if n.get("Alive")]
    free = ray.available_resources()
    total = ray.cluster_resources()
    parts = [
        f"nodes: {len(alive)} alive ({len(nodes) - len(alive)} gone; {nodes_at_start} at the start)",
        f"free: {free.get('CPU', 0):.2f} of {total.get('CPU', 0):.2f} CPU"
        + (f", {free.get('GPU', 0):.0f} of {total.get('GPU', 0):.0f} GPU" if total.get("GPU") else ""),
    ]
    parts += _operator_states(probe.executor)
    hint = (
        "model actors of a lost node restart only where there is room for them; "
        "rerun to finish (nightly resumes after its last commit), or raise compute.stall_timeout_s"
    )
    return "waiting for:\n  " + "\n  ".join(parts) + f"\n{hint}"


def _operator_states(executor: Any) -> list[str]:
    """Ray Data's summary of each operator, as its debug log prints it. Private API: best effort."""
    try:
        from ray.data._internal.execution.streaming_executor_state import format_op_state_summary

        topology, manager = executor._topology, executor._resource_manager
        return [f"{op.name}: {format_op_state_summary(state, manager, verbose=True)}" for op, state in topology.items()]
    except Exception as exc:  # a Ray upgrade may move these; the rest of the message still helps
        return [f"(Ray Data's operator state unavailable: {type(exc).__name__})"]
