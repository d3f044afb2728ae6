"""A Ray cluster of several `ray start` nodes on this machine, for fault tests and the elastic bench.

Each node is a real `ray start --block` process tree with its own free ports; the cluster keeps its
own temp dir, so it never touches another Ray on the machine (no `ray stop`). A node is killed the
way a reclaimed machine dies: every process of its tree at once (the raylet starts workers in
process groups of their own, so killing the group would leave them behind), or SIGTERM first, as a
spot notice would.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
# Loss of a node is noticed after period x threshold (Ray's defaults: 5 s x 5); a preempted
# machine's peers should not wait half a minute to reschedule its work.
FAST_HEALTH_CHECK = '{"health_check_period_ms": 1000, "health_check_failure_threshold": 5}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_args() -> list[str]:
    """Every port a node binds, free now, so that nodes of other clusters never collide with ours."""
    names = (
        "node-manager-port",
        "object-manager-port",
        "metrics-export-port",
        "dashboard-agent-grpc-port",
        "dashboard-agent-listen-port",
        "runtime-env-agent-port",
    )
    # Worker ports 0: each worker binds one the system picks.
    return [*(f"--{name}={free_port()}" for name in names), "--min-worker-port=0", "--max-worker-port=0"]


@dataclass
class Node:
    name: str
    proc: subprocess.Popen
    log: Path

    def tree(self) -> list[int]:
        """The node's process ids: `ray start` and all its descendants (raylet, GCS, workers)."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # The command name (field 2) may hold spaces and parentheses: split after its end.
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        tree, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process of the node, all read first, as a machine that goes away would."""
        for pid in self.tree():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class LocalCluster:
    """`with LocalCluster() as c: c.add_node(1); os.environ["RAY_ADDRESS"] = c.address`."""

    head_cpus: float = 1
    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vxe-", dir="/tmp")))
    nodes: list[Node] = field(default_factory=list)
    address: str = ""
    # Token authentication, as a production cluster runs, with a token of this cluster's own.
    token: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def env(self) -> dict[str, str]:
        """The environment a process needs to join this cluster (a driver, or a node)."""
        return {**os.environ, "RAY_ADDRESS": self.address, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    def __enter__(self) -> LocalCluster:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        self._start(
            "head",
            [
                "--head",
                f"--port={port}",
                f"--num-cpus={self.head_cpus}",
                "--include-dashboard=false",
                f"--ray-client-server-port={free_port()}",
                f"--temp-dir={self.temp_dir}",
                f"--system-config={FAST_HEALTH_CHECK}",
            ],
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for node in reversed(self.nodes):
            node.kill()
        for node in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.proc.wait(timeout=10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def add_node(self, cpus: float, resources: str | None = None) -> Node:
        args = [f"--address={self.address}", f"--num-cpus={cpus}"]
        if resources:
            args.append(f"--resources={resources}")
        return self._start(f"worker{len(self.nodes)}", args)

    def _start(self, name: str, args: list[str]) -> Node:
        log = self.temp_dir / f"{name}.log"
        out = open(log, "wb")  # noqa: SIM115 - the node outlives this call
        env = {**self.env, "RAY_ADDRESS": ""}
        proc = subprocess.Popen(
            [RAY, "start", "--block", "--disable-usage-stats", *_port_args(), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        node = Node(name, proc, log)
        self.nodes.append(node)
        self._wait_ready(node)
        return node

    def _wait_ready(self, node: Node, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not node.alive():
                raise RuntimeError(f"ray start {node.name} exited: {node.log.read_text()[-2000:]}")
            if b"Ray runtime started" in node.log.read_bytes():
                return
            time.sleep(0.2)
        raise TimeoutError(f"ray start {node.name} not ready in {timeout} s")

    def ray_data_logs(self) -> list[Path]:
        return sorted(self.temp_dir.glob("session_*/logs/ray-data/*.log"))
