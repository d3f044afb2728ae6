"""The commit protocol on a local folder: staging is invisible, records are the atomic step, compaction."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from models.common.config import StorageConfig
from pipelines.assemble import rows_to_table
from pipelines.store.commit import COMMITS_DIR, STAGING_DIR, CommitStore, committed_files, read_committed

STORAGE = StorageConfig()


def rows(*paths: str, text: str = "hello") -> pa.Table:
    now = dt.datetime.now(dt.timezone.utc)
    return rows_to_table(
        [
            {"path": p, "status": "ok", "text": f"{text} {p}", "segments": [], "duration_s": 1.0, "transcribed_at": now}
            for p in paths
        ]
    )


def commit_unit(store: CommitStore, run: str, unit: str, paths: list[str], *, publish: bool = True) -> str:
    txn = store.transaction(run, unit)
    rel = txn.stage(rows(*paths), "date=2024-01-01", f"part-{run}-{unit}.parquet")
    txn.add_inputs({"path": p, "version": "v1", "status": "ok", "file": rel} for p in paths)
    txn.commit(publish=publish)
    return rel


def data_files(dest: Path) -> list[Path]:
    return sorted(p for p in dest.rglob("*.parquet") if STAGING_DIR not in p.parts)


def test_staged_files_are_invisible_until_the_record_is_written(tmp_path):
    dest = tmp_path / "out"
    store = CommitStore(str(dest), STORAGE)
    txn = store.transaction("run1", "u0")
    txn.stage(rows("a", "b"), "date=2024-01-01", "part-run1-u0.parquet")
    # Written, not committed: no reader sees it, not even one that globs the data folders.
    assert committed_files(str(dest), STORAGE) == []
    assert read_committed(str(dest), STORAGE).num_rows == 0
    assert data_files(dest) == []
    txn.add_inputs([{"path": "a", "status": "ok"}, {"path": "b", "status": "ok"}])
    txn.commit()
    files = committed_files(str(dest), STORAGE)
    assert [Path(f).relative_to(dest).as_posix() for f in files] == ["date=2024-01-01/part-run1-u0.parquet"]
    assert sorted(read_committed(str(dest), STORAGE)["path"].to_pylist()) == ["a", "b"]
    # The published file is exactly the committed one, and nothing remains in staging.
    assert data_files(dest) == [Path(files[0])]
    assert not list((dest / STAGING_DIR).rglob("*.parquet"))


def test_a_crash_before_the_commit_record_leaves_nothing_visible_and_recovery_deletes_it(tmp_path):
    dest = tmp_path / "out"
    commit_unit(CommitStore(str(dest), STORAGE), "run1", "u0", ["a"])
    # Run 2 dies after writing its data file, before its commit record: simulate by never committing.
    dying = CommitStore(str(dest), STORAGE).transaction("run2", "u0")
    dying.stage(rows("b"), "date=2024-01-01", "part-run2-u0.parquet")
    assert read_committed(str(dest), STORAGE)["path"].to_pylist() == ["a"]
    # The next run (run3) sees run2 is not alive (no running run record) and deletes its staging.
    report = CommitStore(str(dest), STORAGE).recover(current_run="run3", grace_s=0)
    assert report["staged_deleted"] == 1
    assert not list((dest / STAGING_DIR).rglob("*.parquet"))
    assert read_committed(str(dest), STORAGE)["path"].to_pylist() == ["a"]


def test_a_live_runs_staging_survives_recovery(tmp_path):
    dest = tmp_path / "out"
    store = CommitStore(str(dest), STORAGE)
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    store.write_run({"run_id": "busy", "status": "running", "started_at": now, "heartbeat_at": now})
    store.transaction("busy", "u0").stage(rows("x"), "date=2024-01-01", "part-busy-u0.parquet")
    assert store.recover(current_run="other", grace_s=3600)["staged_deleted"] == 0
    assert len(list((dest / STAGING_DIR).rglob("*.parquet"))) == 1


def test_a_crash_between_record_and_publish_is_read_from_staging_then_rolled_forward(tmp_path):
    dest = tmp_path / "out"
    rel = commit_unit(CommitStore(str(dest), STORAGE), "run1", "u0", ["a", "b"], publish=False)
    assert data_files(dest) == []  # the writer died before moving the file
    assert sorted(read_committed(str(dest), STORAGE)["path"].to_pylist()) == ["a", "b"]
    report = CommitStore(str(dest), STORAGE).recover(current_run="run2", grace_s=0)
    assert report["rolled_forward"] == 1
    assert data_files(dest) == [dest / rel]
    assert sorted(read_committed(str(dest), STORAGE)["path"].to_pylist()) == ["a", "b"]


def test_commit_records_are_small_json_naming_files_and_inputs(tmp_path):
    dest = tmp_path / "out"
    commit_unit(CommitStore(str(dest), STORAGE), "run1", "u0", ["a"])
    commit_unit(CommitStore(str(dest), STORAGE), "run1", "u1", ["b"])
    names = sorted(p.name for p in (dest / COMMITS_DIR).iterdir())
    assert names == ["00000000-run1-u0.json", "00000001-run1-u1.json"]
    record = json.loads((dest / COMMITS_DIR / names[1]).read_text())
    assert record["seq"] == 1
    assert [f["path"] for f in record["files"]] == ["date=2024-01-01/part-run1-u1.parquet"]
    assert record["files"][0]["rows"] == 1
    assert [i["path"] for i in record["inputs"]] == ["b"]


def test_rewriting_an_input_replaces_its_row_instead_of_adding_one(tmp_path):
    dest = tmp_path / "out"
    store = CommitStore(str(dest), STORAGE)
    commit_unit(store, "run1", "u0", ["a", "b"])
    txn = store.transaction("run2", "u0")
    txn.remove_inputs({"a"})
    rel = txn.stage(rows("a", text="new"), "date=2024-01-02", "part-run2-u0.parquet")
    txn.add_inputs([{"path": "a", "version": "v2", "status": "ok", "file": rel}])
    txn.commit()
    table = read_committed(str(dest), STORAGE)
    assert sorted(zip(table["path"].to_pylist(), table["text"].to_pylist(), strict=True)) == [
        ("a", "new a"),
        ("b", "hello b"),
    ]
    # b moved to the rewritten file: the state still knows where every input's row is.
    state = CommitStore(str(dest), STORAGE).refresh()
    assert set(state.files) == {state.inputs["a"]["file"], state.inputs["b"]["file"]}


def test_compaction_replaces_small_files_atomically_and_then_old_files_are_collected(tmp_path):
    dest = tmp_path / "out"
    for i in range(5):
        commit_unit(CommitStore(str(dest), STORAGE), "run1", f"u{i}", [f"f{i}a", f"f{i}b"])
    before = sorted(read_committed(str(dest), STORAGE)["path"].to_pylist())
    store = CommitStore(str(dest), STORAGE)
    assert store.compact("run2", min_files=6) == []  # below the threshold: nothing happens
    [record] = store.compact("run2", min_files=5)
    assert record["kind"] == "compact" and len(record["supersedes"]) == 5
    files = committed_files(str(dest), STORAGE)
    assert len(files) == 1 and pq.read_metadata(files[0]).num_rows == 10
    assert sorted(read_committed(str(dest), STORAGE)["path"].to_pylist()) == before
    state = CommitStore(str(dest), STORAGE).refresh()
    assert {e["file"] for e in state.inputs.values()} == {record["files"][0]["path"]}
    # The superseded files stay on disk for readers that listed them a moment ago, until the grace ends.
    assert len(data_files(dest)) == 6
    assert CommitStore(str(dest), STORAGE).recover("run3", grace_s=3600)["orphans_deleted"] == 0
    time.sleep(0.05)
    assert CommitStore(str(dest), STORAGE).recover("run3", grace_s=0)["orphans_deleted"] == 5
    assert data_files(dest) == [Path(files[0])]


def test_duckdb_reads_exactly_the_committed_files(tmp_path):
    dest = tmp_path / "out"
    commit_unit(CommitStore(str(dest), STORAGE), "run1", "u0", ["a", "b"])
    CommitStore(str(dest), STORAGE).transaction("run2", "u0").stage(rows("c"), "date=2024-01-01", "part-x.parquet")
    files = committed_files(str(dest), STORAGE)
    with duckdb.connect() as connection:
        count = connection.execute("select count(*) from read_parquet(?)", [files]).fetchall()[0][0]
    assert count == 2
