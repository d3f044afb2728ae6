"""`voxray bench --scenarios elastic`: node loss, replacement, joining and SIGTERM on real `ray start` nodes.

Each case runs the same job on a fresh cluster of 1-CPU nodes on this machine (pipelines.quality.
local_cluster), the driver in this process, and reports rows (ok, duplicated, missing), wall time,
and how the run ended. The loss case is judged against what the capacity left needs:
`t_loss + (1 - done_at_loss) * one_node_s` (the one-node time of the whole job), target <= 1.5x.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipelines.config import ComputeConfig, TranscribeConfig
from tools.bench.local_cluster import LocalCluster, Node

CASES = ("one-node", "two-nodes", "lose-node", "replace-node", "join-node", "sigterm-node")
# Worker processes whose presence on a node shows it runs the job's work.
WORK_MARKERS = (b"ray::MapBatches", b"ray::MapWorker")
# A Python worker process, idle or not (an idle one is titled "ray::IDLE").
WORKER_MARKER = b"ray::"


@dataclass
class Outcome:
    case: str
    wall_s: float
    files: int
    ok: int = 0
    duplicated: int = 0
    missing: int = 0
    ended: str = "finished"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    """One job on one cluster, with events (kill, add) fired at given times from a timer thread."""

    cluster: LocalCluster
    files: list[Any]
    config: TranscribeConfig
    rows: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    timers: list[threading.Timer] = field(default_factory=list)
    # Set once the job's driver has exited: a fault or join timed after that would race the teardown.
    driver_exited: threading.Event = field(default_factory=threading.Event)

    def at(self, delay_s: float, action: Callable[[], None]) -> None:
        """`action` at `delay_s` into the run, unless the run has ended by then."""
        timer = threading.Timer(delay_s, lambda: None if self.driver_exited.is_set() else action())
        self.timers.append(timer)
        timer.start()

    def run(self, case: str) -> Outcome:
        """The job as its own driver process on the cluster (as `voxray transcribe` runs), its rows
        streamed back one line each, so that the rows done at a loss are known."""
        spec = {"paths": [f.path for f in self.files], "config": self.config.to_dict()}
        self.started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.bench.bench_elastic", json.dumps(spec)],
            env={**self.cluster.env, "PYTHONPATH": os.pathsep.join(sys.path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ended = "no end line"
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "ROW":
                status, _, path = rest.partition(" ")
                self.rows.append({"status": status, "path": path})
            elif kind == "END":
                ended = rest
        proc.wait()
        self.driver_exited.set()
        wall = time.monotonic() - self.started
        for timer in self.timers:
            timer.cancel()
        ok = Counter(r["path"] for r in self.rows if r["status"] == "ok")
        return Outcome(
            case,
            wall,
            len(self.files),
            ok=len(ok),
            duplicated=sum(n - 1 for n in ok.values()),
            missing=len({f.path for f in self.files} - set(ok)),
            ended=f"{ended} (exit {proc.returncode})",
            extra=self.notes,
        )

    def lose(self, node: Node, sig: int = 9) -> None:
        self.notes.update(lost_at_s=round(time.monotonic() - self.started, 1), done_at_loss=len(self.rows))
        node.kill(sig)

    def join(self, cpus: float = 1) -> None:
        joined = time.monotonic()
        node = self.cluster.add_node(cpus)
        # Where the time to first work goes: `ray start` until its runtime is up, then its first
        # Python worker process, then the first task or actor of the job running there.
        self.notes.update(joined_at_s=round(joined - self.started, 1), ray_start_s=round(time.monotonic() - joined, 1))
        threading.Thread(target=self._first_work, args=(node, joined), daemon=True).start()

    def _first_work(self, node: Node, joined: float) -> None:
        while time.monotonic() - joined < 600 and node.alive():
            titles = [_title(pid) for pid in node.tree()]
            if "first_worker_s" not in self.notes and any(t.startswith(WORKER_MARKER) for t in titles):
                self.notes["first_worker_s"] = round(time.monotonic() - joined, 1)
            if any(t.startswith(m) for t in titles for m in WORK_MARKERS):
                self.notes["work_after_join_s"] = round(time.monotonic() - joined, 1)
                return
            time.sleep(0.5)


def _title(pid: int) -> bytes:
    """A process's command line as its title shows it (Ray's workers retitle themselves)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def run_elastic(files: list[Any], config: TranscribeConfig, cases: tuple[str, ...] = CASES) -> list[Outcome]:
    """The cases in order; later ones time their faults from the first two's wall times."""
    config = replace(config, compute=replace(config.compute, stall_timeout_s=config.compute.stall_timeout_s or 300))
    out: dict[str, Outcome] = {}
    for case in cases:
        one = out["one-node"].wall_s if "one-node" in out else None
        two = out["two-nodes"].wall_s if "two-nodes" in out else (one or 60.0)
        with LocalCluster(head_cpus=1) as cluster:
            run = _Run(cluster, files, config)
            worker = cluster.add_node(1) if case not in ("one-node", "join-node") else None
            if case in ("lose-node", "replace-node", "sigterm-node") and worker is not None:
                signal_no = 15 if case == "sigterm-node" else 9
                run.at(0.4 * two, lambda r=run, w=worker, s=signal_no: r.lose(w, s))
            if case == "replace-node":
                run.at(0.4 * two + 10, run.join)
            if case == "join-node":
                run.at(0.3 * (one or two), run.join)
            out[case] = run.run(case)
        if case == "lose-node" and one:
            _judge_loss(out[case], one)
    return list(out.values())


def _judge_loss(outcome: Outcome, one_node_s: float) -> None:
    """What the capacity left needs: the time until the loss, then the rest of the job on one node."""
    lost_at = outcome.extra.get("lost_at_s")
    if lost_at is None:
        return
    left = 1 - outcome.extra["done_at_loss"] / outcome.files
    needed = lost_at + left * one_node_s
    outcome.extra.update(needed_s=round(needed, 1), ratio=round(outcome.wall_s / needed, 2))


def elastic_config() -> TranscribeConfig:
    """One file per preparation task, so that work is spread and a loss cuts tasks in flight."""
    return TranscribeConfig(compute=ComputeConfig(files_per_task=2))


# Clips per case (fewer with --short-count): enough for a loss to land mid-job on 1-CPU nodes, few
# enough for a 2-core machine.
ELASTIC_FILES = 48


def bench_elastic(cfg: Any, measurement: type, work: Path) -> list[Any]:
    """The `elastic` scenario for tools.bench.benchmark: one Measurement per case."""
    import shutil

    from models.common.config import StorageConfig
    from pipelines.listing import list_sources

    clips = sorted(p for p in Path(cfg.short_dir).glob("*.wav"))
    folder = work / "elastic"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(min(cfg.short_count, ELASTIC_FILES)):
        shutil.copy(clips[i % len(clips)], folder / f"{i:03d}_{clips[i % len(clips)].name}")
    files = list_sources([str(folder)], StorageConfig())
    results = []
    for o in run_elastic(files, elastic_config()):
        extra = {"files": o.files, "ok": o.ok, "duplicated": o.duplicated, "missing": o.missing, "ended": o.ended}
        results.append(measurement(f"elastic-{o.case}", "voxray", 0.0, o.wall_s, extra={**extra, **o.extra}))
    return results


def _drive(spec: dict[str, Any]) -> None:
    """The driver process of one case: rows out as `ROW status path` lines, then `END how`."""
    from models.common.config import StorageConfig
    from pipelines.batch.run import iter_transcripts
    from pipelines.batch.watchdog import StalledError
    from pipelines.listing import list_sources

    config = TranscribeConfig.from_dict(spec["config"])
    files = list_sources(spec["paths"], StorageConfig())
    try:
        for row in iter_transcripts(files, config, "bench-elastic"):
            print(f"ROW {row['status']} {row['path']}", flush=True)
    except StalledError as exc:
        print(f"END stalled: {str(exc).splitlines()[0]}", flush=True)
        raise SystemExit(4) from None
    print("END finished", flush=True)


if __name__ == "__main__":
    _drive(json.loads(sys.argv[1]))
