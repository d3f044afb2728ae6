"""Exactly one row per input when Ray retries a task (issue 11, item 7) or restarts a model actor.

A preparation worker is killed for real (SIGKILL) while it streams the windows of a long
recording; Ray re-runs the task, which sends the windows it had already sent again. The
transcript must still hold each input exactly once, ok. A model actor killed the same way is
restarted by Ray from its constructor arguments (Ray Data's, in the object store: ray#53727) and
its task retried.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ray._private.state import actors as actor_table

from pipelines.batch.run import iter_transcripts
from pipelines.config import ComputeConfig, TranscribeConfig
from pipelines.listing import SourceFile
from tests.fixtures_ray import ray_local  # noqa: F401
from tests.realspeech import build_recording, utterance_files

pytestmark = pytest.mark.slow


def own_processes() -> Iterator[tuple[int, str]]:
    """(pid, command line) of this test's descendants only: Ray's workers, never anyone else's."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    mine: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - mine
        mine |= frontier
    for pid in mine:
        try:
            with open(f"/proc/{pid}/cmdline") as cmdline:
                yield pid, cmdline.read().replace("\0", " ").strip()
        except OSError:
            continue


def kill_long_running(killed: list[int], busy_for_s: float, give_up_s: float, is_busy: Callable[[str], bool]) -> None:
    """SIGKILL the first worker whose title has shown `busy` work for `busy_for_s` (the long file)."""
    first_seen: dict[int, float] = {}
    deadline = time.monotonic() + give_up_s
    while time.monotonic() < deadline:
        now = time.monotonic()
        busy = {pid for pid, title in own_processes() if title.startswith("ray::") and is_busy(title)}
        first_seen = {pid: first_seen.get(pid, now) for pid in busy}
        for pid, since in first_seen.items():
            if now - since >= busy_for_s:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.1)


def test_each_input_once_when_a_preparation_worker_is_killed(ray_local, tmp_path: Path):  # noqa: F811
    # About twenty minutes (the utterances 16 times over): preparation runs at hundreds of audio
    # seconds per second, so a shorter recording is prepared before the killer can see its task.
    build_recording(tmp_path / "long.wav", utterance_files() * 16, gap_s=(0.3, 0.8))
    files = [str(tmp_path / "long.wav"), *(str(p) for p in utterance_files()[:3])]
    killed: list[int] = []
    preparing = lambda title: "prepare_windows" in title  # noqa: E731
    killer = threading.Thread(target=kill_long_running, args=(killed, 1.0, 120.0, preparing), daemon=True)
    killer.start()
    config = TranscribeConfig(compute=ComputeConfig(files_per_task=1))
    rows = list(iter_transcripts([SourceFile(p) for p in files], config, "test"))
    killer.join()
    assert killed, "no preparation task ran long enough to be killed"
    assert Counter(r["path"] for r in rows) == Counter(files)
    assert all(r["status"] == "ok" for r in rows), [(r["path"], r["error"]) for r in rows]


def test_a_killed_model_actor_restarts_and_each_input_is_once(ray_local, tmp_path: Path):  # noqa: F811
    # A recording of several windows keeps an actor in one task long enough for the killer to see it.
    build_recording(tmp_path / "long.wav", utterance_files() * 2, gap_s=(0.3, 0.8))
    files = [str(tmp_path / "long.wav"), str(utterance_files()[0])]
    killed: list[int] = []
    transcribing = lambda title: "TranscribeWindows" in title and title.endswith(".submit")  # noqa: E731
    killer = threading.Thread(target=kill_long_running, args=(killed, 1.0, 120.0, transcribing), daemon=True)
    killer.start()
    config = TranscribeConfig(compute=ComputeConfig(files_per_task=1, batch_size=2))
    rows = list(iter_transcripts([SourceFile(p) for p in files], config, "test"))
    killer.join()
    assert killed, "no model actor ran a task long enough to be killed"
    assert Counter(r["path"] for r in rows) == Counter(files)
    assert all(r["status"] == "ok" for r in rows), [(r["path"], r["error"]) for r in rows]
    # Ray's own actor table (the state API needs the dashboard, which these tests' Ray has not).
    restarts = [a["NumRestarts"] for a in actor_table().values() if "TranscribeWindows" in a["ActorClassName"]]
    assert max(restarts) >= 1, restarts  # the killed actor came back; its arguments were still there


# Serial: its monitor fires at the machine's memory in use + 2 GiB, which a test beside it could reach.
@pytest.mark.serial
def test_each_input_once_when_the_memory_monitor_kills_a_preparation_worker(tmp_path: Path):
    # A real `voxray transcribe` on its own Ray with the memory monitor armed; the first preparation
    # of oom.wav allocates until Ray's monitor SIGKILLs its worker (tests/oom.py says why that
    # allocation is injected). Ray retries the task: every input must still get one ok row.
    import subprocess
    import sys

    import pyarrow.parquet as pq

    audio = tmp_path / "in"
    audio.mkdir()
    clips = utterance_files()[:3]
    for clip in clips[:2]:
        (audio / clip.name).write_bytes(clip.read_bytes())
    (audio / "oom.wav").write_bytes(clips[2].read_bytes())
    config = tmp_path / "config.yaml"
    config.write_text("compute:\n  files_per_task: 1\n")
    log, out = tmp_path / "prepare.log", tmp_path / "out"
    args = ["oom.wav", str(log), "transcribe", str(audio), "--output", str(out), "--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "RAY_ADDRESS": "local"}
    command = [sys.executable, "-m", "tests.oom", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    killed = next(line.split() for line in done.stdout.splitlines() if line.startswith("oom-killed"))
    assert int(killed[2]) >= 1, f"no preparation worker was killed for memory: {killed}"
    # Retries, counted: each preparation attempt logged its file; oom.wav's first one never finished.
    attempts = Counter(Path(line.split(" ", 1)[1]).name for line in log.read_text().splitlines())
    assert attempts["oom.wav"] >= 2, attempts
    rows = [row for part in sorted(out.rglob("*.parquet")) for row in pq.read_table(part).to_pylist()]
    assert Counter(Path(r["path"]).name for r in rows) == Counter(p.name for p in audio.iterdir())
    assert all(r["status"] == "ok" for r in rows), [(r["path"], r["error"]) for r in rows]
