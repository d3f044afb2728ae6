"""The progress watchdog: a pipeline that stops making progress ends with an error naming what it waited for."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.common.config import StorageConfig
from pipelines.batch.run import iter_transcripts
from pipelines.batch.watchdog import StalledError, watched
from pipelines.config import ComputeConfig, TranscribeConfig
from pipelines.listing import list_sources
from pipelines.store.nightly import NightlyConfig, run_nightly, runs_from_history
from pipelines.store.reader import read_committed
from pipelines.store.table import TranscriptTable
from tests.fixtures_ray import ray_local  # noqa: F401


def test_items_pass_through_and_slow_consumers_are_not_stalls() -> None:
    items = list(range(5))
    seen = []
    for item in watched(lambda: iter(items), 0.5, lambda: "nothing"):
        time.sleep(0.2)  # the consumer's own time does not count
        seen.append(item)
    assert seen == items


def test_a_silent_producer_is_a_stall_with_the_diagnosis() -> None:
    release = threading.Event()

    def stuck() -> Iterator[int]:
        yield 1
        release.wait(30)

    got = []
    started = time.monotonic()
    with pytest.raises(StalledError, match=r"no progress for 1 s; actors restarting: 1"):
        for item in watched(stuck, 1.0, lambda: "actors restarting: 1"):
            got.append(item)
    release.set()
    assert got == [1] and time.monotonic() - started < 10


def test_work_finishing_upstream_is_progress_too() -> None:
    """A first result slower than the limit is no stall while upstream tasks keep finishing."""
    finished = iter(range(100))

    def slow_first() -> Iterator[int]:
        time.sleep(2.5)
        yield 1

    assert list(watched(slow_first, 1.0, lambda: "", activity=lambda: next(finished))) == [1]


def test_the_producers_error_is_raised_in_the_consumer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("decode failed")

    with pytest.raises(ValueError, match="decode failed"):
        list(watched(failing, 5.0, lambda: ""))


def test_a_pipeline_waiting_for_resources_no_node_has_fails_naming_them(ray_local, speech_dir: Path) -> None:  # noqa: F811
    """A real stall, cheap and certain: the model actors ask for a resource no node offers, as a
    pool pinned to a node type that is gone would. The run ends within the timeout, names the
    pending actors, and loads no model."""
    files = list_sources([str(speech_dir)], TranscribeConfig().storage)[:2]
    config = TranscribeConfig(compute=ComputeConfig(actor_resources=(("voxray_gone", 1.0),), stall_timeout_s=5))
    started = time.monotonic()
    with pytest.raises(StalledError) as caught:
        list(iter_transcripts(files, config, "run-stalled"))
    message = str(caught.value)
    assert time.monotonic() - started < 60
    assert "no progress for 5 s" in message and "nodes: 1 alive" in message
    assert "TranscribeWindows" in message and "pending=" in message, message


@pytest.mark.slow
def test_a_stalled_nightly_run_fails_on_record_and_the_next_run_completes(
    ray_local,  # noqa: F811
    speech_manifest,
    tmp_path: Path,
) -> None:
    clips = [c["path"] for c in speech_manifest[:3]]
    src = tmp_path / "archive"
    src.mkdir()
    for clip in clips:
        (src / Path(clip).name).write_bytes(Path(clip).read_bytes())
    dest = str(tmp_path / "out")
    stuck = TranscribeConfig(compute=ComputeConfig(actor_resources=(("voxray_gone", 1.0),), stall_timeout_s=5))
    with pytest.raises(StalledError):
        run_nightly(NightlyConfig(sources=(str(src),), output=dest, transcribe=stuck))
    [failed] = runs_from_history(TranscriptTable(dest).history())
    assert failed["status"] == "failed" and "no progress for 5 s" in failed["error"]

    record = run_nightly(NightlyConfig(sources=(str(src),), output=dest))
    assert (record.todo, record.ok) == (3, 3)
    paths = read_committed(dest, StorageConfig())["path"].to_pylist()
    assert sorted(paths) == sorted(str(src / Path(c).name) for c in clips)


def test_a_stall_is_not_a_storage_outage() -> None:
    # A stalled run's message names its timeout; it must not pass for an outage to wait out (exit 75):
    # `voxray eval` once exited 75, "storage unreachable", after a stall on a loaded machine.
    from models.common.retry import is_transient
    from pipelines.batch.watchdog import StalledError

    assert not is_transient(StalledError("no progress for 300 s; compute.stall_timeout_s: timeout"))
    assert not is_transient(RuntimeError("the operation timed out"))
    assert is_transient(OSError("AWS Error NETWORK_CONNECTION during GetObject: curlCode: 7, timed out"))
