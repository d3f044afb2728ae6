"""What a Ray Data pipeline is waiting for, in words: nodes lost, resources free, each operator's state."""

from __future__ import annotations

from typing import Any

import ray


def alive_nodes() -> list[dict[str, Any]]:
    """The cluster's live nodes that can run work (Ray's `ray.nodes()` entries)."""
    return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]


def describe_wait(ds: Any, nodes_at_start: int) -> str:
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
    parts += _operator_states(ds)
    hint = (
        "model actors of a lost node restart only where there is room for them; "
        "rerun to finish (nightly resumes after its last commit), or raise compute.stall_timeout_s"
    )
    return "waiting for:\n  " + "\n  ".join(parts) + f"\n{hint}"


def _operator_states(ds: Any) -> list[str]:
    """Ray Data's summary of each operator, as its debug log prints it. Private API: best effort."""
    try:
        from ray.data._internal.execution.streaming_executor_state import format_op_state_summary

        executor = ds._current_executor
        topology, manager = executor._topology, executor._resource_manager
        return [f"{op.name}: {format_op_state_summary(state, manager, verbose=True)}" for op, state in topology.items()]
    except Exception as exc:  # a Ray upgrade may move these; the rest of the message still helps
        return [f"(Ray Data's operator state unavailable: {type(exc).__name__})"]
