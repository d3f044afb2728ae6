"""Storage faults for real (issue 25, item 1): SeaweedFS SIGKILLed mid-run and restarted seconds later.

Every outage here is a real one: the S3 server process is killed, its port refuses connections,
and it comes back on the same port with the same data. No mock stands in for an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.common.config import StorageConfig
from models.common.retry import (
    EXIT_STORAGE_UNAVAILABLE,
    TRANSIENT_PREFIX,
    StorageUnavailableError,
    call_with_retries,
    is_transient,
    storage_unavailable,
)
from models.common.storage import arrow_filesystem, filesystem
from pipelines.store.table import TranscriptTable
from tests.outage import build_table, count_paths, parquet_rows, run_with_outage, upload_copies
from tests.s3server import S3ServerError, SeaweedS3, find_weed

SPEECH = sorted((Path(__file__).parent / "data" / "speech").glob("*.wav"))
# The end-to-end outages stay longer than the S3 clients' own attempts (botocore's standard mode
# spans up to ~15 s), so voxray's retries are what rides them out: 12 s down plus a restart of a few
# seconds. (They were 3 s down plus a 10-20 s restart, most of it weed's raft election timeout,
# now 1 s: tests/s3server.py.)
OUTAGE_DOWN_S = 12.0


@pytest.fixture(scope="module")
def s3() -> Iterator[SeaweedS3]:
    """A server of this module's own: its tests kill it."""
    try:
        find_weed()
    except S3ServerError as exc:
        pytest.skip(str(exc))
    with SeaweedS3() as server:
        yield server


def _storage(s3: SeaweedS3, **kwargs: float) -> StorageConfig:
    return StorageConfig(
        s3_endpoint=s3.endpoint_url, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key, **kwargs
    )


def _outage(s3: SeaweedS3, down_s: float) -> threading.Thread:
    """Kill the server now and start it again `down_s` later, in the background."""
    s3.kill()

    def back() -> None:
        time.sleep(down_s)
        s3.restart()

    thread = threading.Thread(target=back)
    thread.start()
    return thread


def test_storage_config_retry_settings_round_trip_and_are_validated() -> None:
    from models.common.config import ConfigError, dataclass_from_dict, to_plain

    config = StorageConfig(retry_deadline_s=30.0, retry_backoff_s=0.25, s3_max_attempts=3, s3_read_timeout_s=20.0)
    data = to_plain(config.__dict__)
    assert dataclass_from_dict(StorageConfig, data) == config
    for key, bad in (("retry_deadline_s", -1), ("s3_max_attempts", 0), ("s3_connect_timeout_s", 0)):
        with pytest.raises(ConfigError, match=key):
            dataclass_from_dict(StorageConfig, {key: bad})


def test_the_secret_key_is_in_no_repr_and_no_config_error() -> None:
    from models.common.config import ConfigError, dataclass_from_dict

    secret = "s3cr3t-never-shown"
    config = StorageConfig(s3_access_key="id", s3_secret_key=secret)
    assert secret not in repr(config) and "id" in repr(config)
    with pytest.raises(ConfigError) as wrong:
        dataclass_from_dict(StorageConfig, {"s3_secret_key": 123456789})
    assert "s3_secret_key" in str(wrong.value) and "123456789" not in str(wrong.value)


def test_refused_connection_is_transient_missing_object_is_not(s3: SeaweedS3) -> None:
    fs = filesystem("s3://x/y", _storage(s3))
    s3.make_bucket("kinds")
    with pytest.raises(FileNotFoundError) as missing:
        fs.open("kinds/nothing-here", "rb")
    assert not is_transient(missing.value)
    # A port nobody listens on: a real refused connection, as during an outage.
    dead = StorageConfig(s3_endpoint="http://127.0.0.1:9", s3_access_key="k", s3_secret_key="s", s3_max_attempts=1)
    with pytest.raises(Exception) as refused:
        filesystem("s3://x/y", dead).open("kinds/a", "rb")
    assert is_transient(refused.value), repr(refused.value)
    fs_arrow, _ = arrow_filesystem("s3://kinds/a", dead)
    with pytest.raises(OSError) as arrow_refused:
        fs_arrow.open_input_file("kinds/a")
    assert is_transient(arrow_refused.value), repr(arrow_refused.value)


def test_read_and_write_ride_out_a_server_restart(s3: SeaweedS3) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    s3.make_bucket("restart")
    s3.client().put_object(Bucket="restart", Key="clip", Body=b"audio bytes")
    # One attempt per client request: the outage (2 s down, then a restart of a few seconds) is ridden
    # out by voxray's own retries, counted below, not by the clients' attempts (botocore's span up to
    # ~15 s); a restart used to take 10-20 s more (weed's raft election: tests/s3server.py).
    storage = _storage(s3, retry_deadline_s=120.0, retry_backoff_s=0.2, s3_max_attempts=1)
    fs = filesystem("s3://restart/clip", storage)
    arrow, _ = arrow_filesystem("s3://restart/t.parquet", storage)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(seconds)

    thread = _outage(s3, down_s=2.0)
    try:
        data = call_with_retries(lambda: fs.cat_file("restart/clip"), storage, "reading clip", sleep=sleep)
        table = pa.table({"a": [1, 2]})
        write = lambda: pq.write_table(table, "restart/t.parquet", filesystem=arrow)  # noqa: E731
        call_with_retries(write, storage, "writing", sleep=sleep)
    finally:
        thread.join()
    assert pauses, "the read met no outage: nothing was retried"
    assert data == b"audio bytes"
    assert pq.read_table("restart/t.parquet", filesystem=arrow).num_rows == 2


def test_an_outage_longer_than_the_deadline_is_a_clear_transient_error(s3: SeaweedS3) -> None:
    s3.make_bucket("longer")
    storage = _storage(s3, retry_deadline_s=1.0, retry_backoff_s=0.2, s3_max_attempts=1, s3_connect_timeout_s=1.0)
    fs = filesystem("s3://longer/clip", storage)
    s3.kill()
    try:
        with pytest.raises(StorageUnavailableError) as failed:
            call_with_retries(lambda: fs.cat_file("longer/clip"), storage, "reading s3://longer/clip")
    finally:
        s3.restart()
    message = str(failed.value)
    assert message.startswith(TRANSIENT_PREFIX) and "reading s3://longer/clip" in message
    assert "retry_deadline_s=1" in message and storage_unavailable(message)
    assert s3.secret_key not in message


@pytest.mark.slow
def test_transcribe_s3_to_s3_killed_server_loses_and_duplicates_nothing(s3: SeaweedS3, tmp_path: Path) -> None:
    source = upload_copies(s3, SPEECH, "outage-audio", copies=1)
    s3.make_bucket("outage-out")
    dest = "s3://outage-out/transcripts"
    # The secret key both in the environment (s3.env()) and in the config: it must show up nowhere.
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  s3_access_key: {s3.access_key}\n  s3_secret_key: {s3.secret_key}\n")
    args = ["transcribe", source, "--output", dest, "--config", str(config)]
    run = run_with_outage(s3, args, kill_after_s=8, down_s=OUTAGE_DOWN_S)
    assert s3.secret_key not in run.output
    assert run.killed_at_s is not None, f"the run ended before the outage:\n{run.output[-2000:]}"
    # Either every read rode out the outage, or the run says so and exits 75 (never 0 with rows lost).
    rows = parquet_rows(s3, dest)
    unavailable = [r for r in rows if storage_unavailable(r["error"])]
    assert run.code == (EXIT_STORAGE_UNAVAILABLE if unavailable else 0), run.output[-3000:]
    if run.code:
        again = [*args, "--overwrite"]
        rerun = run_with_outage(s3, again, kill_after_s=None, down_s=0)
        assert rerun.code == 0, rerun.output[-3000:]
        rows = parquet_rows(s3, dest)
    distinct, duplicated, statuses = count_paths(rows)
    assert (distinct, duplicated, len(rows)) == (len(SPEECH), 0, len(SPEECH))
    assert statuses == {"ok": len(SPEECH)}
    assert s3.secret_key not in repr(parquet_rows(s3, dest, columns=None))


@pytest.mark.slow
def test_nightly_killed_server_then_rerun_gives_every_input_exactly_once(s3: SeaweedS3) -> None:
    source = upload_copies(s3, SPEECH, "nightly-audio", copies=1)
    s3.make_bucket("nightly-out")
    dest = "s3://nightly-out/table"
    args = ["nightly", source, "--output", dest, "--commit-every", "4"]
    first = run_with_outage(s3, args, kill_after_s=8, down_s=OUTAGE_DOWN_S)
    assert first.killed_at_s is not None, f"the run ended before the outage:\n{first.output[-2000:]}"
    assert first.code in (0, EXIT_STORAGE_UNAVAILABLE), first.output[-3000:]
    second = run_with_outage(s3, args, kill_after_s=None, down_s=0)
    assert second.code == 0, second.output[-3000:]
    rows = TranscriptTable(dest, _storage(s3)).read(columns=["path", "status", "error"]).to_pylist()
    distinct, duplicated, statuses = count_paths(rows)
    assert (distinct, duplicated, len(rows)) == (len(SPEECH), 0, len(SPEECH))
    assert statuses == {"ok": len(SPEECH)}, [r["error"] for r in rows if r["error"]]


@pytest.mark.slow
def test_read_and_status_of_a_delta_table_on_s3_exit_0_every_time(s3: SeaweedS3) -> None:
    """A few runs here; scripts/exit_codes.py runs 20 of each command (docs/faults.md)."""
    s3.make_bucket("exits")
    dest = "s3://exits/table"
    build_table(s3, dest, commits=8, rows=20)
    for command in (["read", dest, "--columns", "path,text"], ["read", dest], ["status", dest]):
        run = run_with_outage(s3, command, kill_after_s=None, down_s=0)
        assert run.code == 0, run.output[-2000:]
        assert command[0] == "status" or run.output.count("\n") >= 160


def test_reads_and_writes_through_a_network_that_resets_replies(s3: SeaweedS3) -> None:
    """tests/faultproxy.py resets a third of the replies mid-way (TCP RST): every byte still arrives whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.faultproxy import FaultProxy

    s3.make_bucket("resets")
    blobs = {f"clip{i}": bytes([i]) * (50_000 + i) for i in range(8)}
    for key, blob in blobs.items():
        s3.client().put_object(Bucket="resets", Key=key, Body=blob)
    with FaultProxy(s3.ports["s3"], reset_rate=0.3, seed=1) as proxy:
        storage = StorageConfig(
            s3_endpoint=proxy.url, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key, retry_backoff_s=0.1
        )
        fs = filesystem("s3://resets/x", storage)
        got = {key: call_with_retries(lambda k=key: fs.cat_file(f"resets/{k}"), storage, key) for key in blobs}
        arrow, _ = arrow_filesystem("s3://resets/t.parquet", storage)
        table = pa.table({"a": list(range(1000))})
        for i in range(3):
            path = f"resets/t{i}.parquet"
            call_with_retries(lambda p=path: pq.write_table(table, p, filesystem=arrow), storage, path)
        resets = proxy.stats["resets"]
    assert got == blobs
    direct, _ = arrow_filesystem("s3://resets/t.parquet", _storage(s3))
    assert all(pq.read_table(f"resets/t{i}.parquet", filesystem=direct).equals(table) for i in range(3))
    assert resets > 0, proxy.stats


@pytest.mark.parametrize("command", ["nightly", "transcribe"])
def test_unreachable_storage_exits_75_with_a_one_line_message(command: str, tmp_path: Path, capsys) -> None:
    """Storage that stays unreachable past the deadline: exit 75 (EX_TEMPFAIL), no traceback, no secret."""
    from jobs.cli import main

    storage = "storage:\n  s3_endpoint: http://127.0.0.1:9\n  s3_access_key: k\n  s3_secret_key: hidden-secret-value\n"
    storage += "  retry_deadline_s: 1\n  retry_backoff_s: 0.2\n  s3_max_attempts: 1\n  s3_connect_timeout_s: 1\n"
    config = tmp_path / "config.yaml"
    if command == "nightly":
        config.write_text("transcribe:\n" + "".join(f"  {line}\n" for line in storage.splitlines()))
        args = ["nightly", "s3://nowhere/audio/", "--output", "s3://nowhere/table", "--config", str(config)]
    else:
        config.write_text(storage)
        args = ["transcribe", "s3://nowhere/audio/", "--output", "s3://nowhere/out", "--config", str(config)]
    assert main(args) == EXIT_STORAGE_UNAVAILABLE
    err = capsys.readouterr().err
    assert "storage unreachable" in err and "Traceback" not in err and "hidden-secret-value" not in err
