"""Run a real `voxray transcribe` on a Ray whose memory monitor kills a preparation worker.

`python -m tests.oom TARGET LOG transcribe ARGS...` starts a local Ray of its own with the memory
monitor armed (`RAY_memory_usage_threshold` 2 GiB above what the machine uses now, checked every
100 ms) and a worker setup hook (`install`): every preparation of an input appends a line to LOG,
and the first preparation of the file named TARGET allocates memory, 32 MB at a time, until the
node is past the threshold and Ray's memory monitor kills its worker. That allocation is the fault
we inject (no real input makes preparation allocate without bound: decoding is bounded on
purpose); the kill, Ray's retry and voxray's rows are real. At the end it prints the workers the
raylet logged as killed for memory, as `oom-killed preparation N others M`. The product only runs
the hook Ray is given; nothing here is in its import path.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

TARGET_ENV = "VOXRAY_TEST_OOM_TARGET"  # file name whose first preparation allocates until killed
LOG_ENV = "VOXRAY_TEST_PREPARE_LOG"  # one line per preparation attempt: "pid path"
THRESHOLD_ENV = "VOXRAY_TEST_OOM_THRESHOLD"  # the monitor's threshold, in bytes of node memory used
# Room above the memory in use when Ray starts, for Ray itself and the model actor, before the
# monitor fires. The machine is shared: other processes' memory moves while the test runs, so the
# allocation aims at the threshold as it stands, not at a fixed size.
HEADROOM_BYTES = 2 * 1024**3
CHUNK_BYTES = 32 * 1024**2
# Past the threshold by this much for GRACE_S, the monitor has failed to kill us: give up
# (MemoryError: the test fails, naming it). CAP_BYTES bounds what this test may hold at all.
OVERSHOOT_BYTES = 512 * 1024**2
GRACE_S = 10.0
CAP_BYTES = 3 * 1024**3
# How the raylet logs each worker its memory monitor kills (Ray 2.60).
KILLED = "Selected to kill: "


def node_memory() -> tuple[int, int]:
    """(total, used) bytes as Ray's monitor counts them without a cgroup limit: MemTotal - MemAvailable."""
    lines = Path("/proc/meminfo").read_text().splitlines()
    meminfo = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in lines}
    return meminfo["MemTotal"], meminfo["MemTotal"] - meminfo["MemAvailable"]


def threshold_bytes(headroom: int = HEADROOM_BYTES) -> int:
    total, used = node_memory()
    return min(int(0.95 * total), used + headroom)


def allocate_until_killed(threshold: int) -> None:
    held: list[bytearray] = []
    over_since: float | None = None
    while sum(len(c) for c in held) < CAP_BYTES:
        if node_memory()[1] < threshold + OVERSHOOT_BYTES:
            held.append(bytearray(b"\1") * CHUNK_BYTES)  # written, so resident: not calloc's lazy zero pages
            over_since = None
        elif over_since is None:
            over_since = time.monotonic()
        elif time.monotonic() - over_since > GRACE_S:
            break
        time.sleep(0.02)
    raise MemoryError(f"the memory monitor did not kill this worker (holding {len(held) * CHUNK_BYTES >> 20} MB)")


def install() -> None:
    """Ray's worker_process_setup_hook: log each preparation; the target's first one allocates."""
    from pipelines.batch import clips

    target, log = os.environ[TARGET_ENV], Path(os.environ[LOG_ENV])
    first = log.with_suffix(".allocated")
    original = clips.Loader.load

    def load(self: clips.Loader, path: str, size: int | None) -> Iterator:
        with log.open("a") as f:
            f.write(f"{os.getpid()} {path}\n")
        if Path(path).name == target and not first.exists():
            first.touch()
            allocate_until_killed(int(os.environ[THRESHOLD_ENV]))
        yield from original(self, path, size)

    clips.Loader.load = load


def main(argv: list[str]) -> int:
    import ray

    from jobs.cli import main as voxray

    target, log, *cli = argv
    total, _ = node_memory()
    threshold = threshold_bytes()
    os.environ.update(RAY_memory_usage_threshold=f"{threshold / total:.4f}", RAY_memory_monitor_refresh_ms="100")
    env = {TARGET_ENV: target, LOG_ENV: log, THRESHOLD_ENV: str(threshold)}
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"worker_process_setup_hook": "tests.oom.install", "env_vars": env},
    )
    session = Path(ray._private.worker._global_node.get_session_dir_path())  # no public API names it
    try:
        code = voxray(cli)
    finally:
        ray.shutdown()
    killed = [line for line in _raylet_log_lines(session) if line.startswith(KILLED)]
    preparation = sum("task name=MapBatches(prepare_windows)" in line for line in killed)
    print(f"oom-killed preparation {preparation} others {len(killed) - preparation}", flush=True)
    return code


def _raylet_log_lines(session: Path) -> Iterator[str]:
    for path in (session / "logs").glob("raylet*.out"):
        yield from path.read_text(errors="replace").splitlines()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
