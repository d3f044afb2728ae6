"""The Delta table store without Ray: commits, the idempotency token, two writers, refusals,
VACUUM, OPTIMIZE, time travel, and reading it with other engines. Local folder and real S3 (SeaweedFS).

Rows here are made by hand (the store does not care how a transcript was made); the nightly job
with real transcription is in tests/test_nightly.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jobs.cli import main
from models.common.config import StorageConfig
from pipelines.listing import list_sources
from pipelines.store.reader import read_committed
from pipelines.store.state import with_store_columns
from pipelines.store.table import FILE_PREFIX, TABLE_NAME, StoreError, TranscriptTable

NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.timezone.utc)


def rows(*paths: str, text: str = "hello", version: str = "v1") -> list[dict]:
    made = [
        {"path": p, "status": "ok", "text": f"{text} {p}", "segments": [], "duration_s": 1.0, "transcribed_at": NOW,
         "model": "tiny.en", "config_fingerprint": "fp"}
        for p in paths
    ]  # fmt: skip
    return with_store_columns(made, version=version, attempts=0, quarantined=False)


def texts(dest: str, **kwargs) -> dict[str, str]:
    table = read_committed(dest, **kwargs)
    pairs = list(zip(table["path"].to_pylist(), table["text"].to_pylist(), strict=True))
    assert len(pairs) == len({p for p, _ in pairs}), f"a path has two rows: {sorted(pairs)}"
    return dict(pairs)


@pytest.fixture(params=["local", "s3"])
def dest(request, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "table")
    s3 = request.getfixturevalue("s3_env")
    bucket = s3.make_bucket("store-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:10])
    return f"s3://{bucket}/table"


def test_a_new_version_replaces_the_row_and_a_retried_commit_is_a_no_op(tmp_path, capsys):
    dest = str(tmp_path / "table")
    table = TranscriptTable(dest)
    table.open(create=True)
    states = table.input_states()
    first = table.commit_unit("run1", 1, lambda _: rows("a", "b"), states)
    # The same unit of the same run again (its answer was lost, say): the token makes it a no-op.
    again = table.commit_unit("run1", 1, lambda _: rows("a", "b", text="twice"), states)
    assert (first.version, again.version) == (1, None)
    assert DeltaTable(dest).version() == 1
    second = table.commit_unit("run2", 1, lambda _: rows("a", text="new", version="v2"), states)
    assert texts(dest) == {"a": "new a", "b": "hello b"}
    assert {p: (s.version, len(s.files)) for p, s in table.input_states().items()} == {"a": ("v2", 1), "b": ("v1", 1)}
    # What the caller's state says after its own commits is what a fresh read says.
    assert {p: s.files for p, s in states.items()} == {p: s.files for p, s in table.input_states().items()}
    # Time travel: the version before the replacement, by number and by time.
    assert texts(dest, as_of=first.version) == {"a": "hello a", "b": "hello b"}
    assert main(["read", dest, "--as-of", str(first.version), "--columns", "path,text"]) == 0
    assert sorted(json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()) == ["hello a", "hello b"]
    stamp = DeltaTable(dest).history(1)[0]["timestamp"]  # ms of the newest commit
    assert second.version is not None and texts(dest, as_of=dt.datetime.fromtimestamp(stamp / 1000, dt.timezone.utc))
    assert main(["read", dest, "--as-of", "yesterday"]) == 2


def test_two_writers_from_one_version_never_give_a_path_two_rows(dest):
    """Writer B planned from the same table version as A; A commits first. B's commit conflicts
    (the writer fence), B reads the table again, drops what A committed, and commits the rest."""
    a, b = TranscriptTable(dest), TranscriptTable(dest)
    a.open(create=True)
    b.open(create=True)
    states_a, states_b = a.input_states(), b.input_states()
    assert a.commit_unit("A", 1, lambda _: rows("x", "y", text="A"), states_a).retries == 0
    seen: list[set[str]] = []

    def build_b(states) -> list[dict]:
        seen.append(set(states))
        return rows(*[p for p in ("y", "z") if p not in states], text="B")  # skip what is committed

    result = b.commit_unit("B", 1, build_b, states_b)
    assert result.retries == 1 and seen == [set(), {"x", "y"}]
    assert texts(dest) == {"x": "A x", "y": "A y", "z": "B z"}
    # B's files of the failed attempt were never visible, and B deleted them (they were its own).
    live = {Path(u).name for u in DeltaTable(dest, storage_options=b.options).file_uris()}
    ours = {Path(i.path).name for i in _files(b) if Path(i.path).name.startswith(FILE_PREFIX)}
    assert ours == live


def _files(table: TranscriptTable) -> list:
    import pyarrow.fs as pafs

    infos = table.fs.get_file_info(pafs.FileSelector(table.root, recursive=True))
    return [i for i in infos if i.is_file and "_delta_log" not in i.path]


def _snapshot(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_a_foreign_or_old_dest_is_refused_and_left_byte_for_byte(tmp_path, speech_dir, capsys):
    foreign = tmp_path / "spark-output"
    (foreign / "date=2024-01-01").mkdir(parents=True)
    pa_table = pa.table({"path": ["x"], "text": ["spark"]})
    import pyarrow.parquet as pq

    pq.write_table(pa_table, foreign / "date=2024-01-01" / "part-00000-abc.snappy.parquet")
    (foreign / "_SUCCESS").write_text("")
    old = tmp_path / "old-voxray"
    (old / "_voxray" / "commits").mkdir(parents=True)
    (old / "_voxray" / "commits" / "00000000-run-u0.json").write_text("{}")
    (old / "date=2024-01-01").mkdir()
    (old / "date=2024-01-01" / "part-run-u0.parquet").write_bytes(b"PAR1")
    other = tmp_path / "other-delta"
    write_deltalake(str(other), pa_table)
    before = {d: _snapshot(d) for d in (foreign, old, other)}

    source = str(speech_dir / "01_quick_brown_fox.wav")
    for dest, message in ((foreign, "not a voxray Delta table"), (old, "old commit-record format"),
                          (other, "voxray did not create")):  # fmt: skip
        assert main(["nightly", source, "--output", str(dest)]) == 2
        assert message in capsys.readouterr().err
        assert main(["transcribe", source, "--output", str(dest), "--format", "delta"]) == 2
        assert message in capsys.readouterr().err
        assert main(["vacuum", str(dest), "--retention-hours", "0"]) == 2
        capsys.readouterr()
    assert {d: _snapshot(d) for d in (foreign, old, other)} == before
    with pytest.raises(StoreError, match="Start a new table"):
        TranscriptTable(str(old)).open(create=True)


def test_vacuum_deletes_superseded_and_own_uncommitted_files_never_foreign_ones(tmp_path):
    dest = tmp_path / "table"
    table = TranscriptTable(str(dest))
    table.open(create=True)
    states = table.input_states()
    table.commit_unit("run1", 1, lambda _: rows("a", "b"), states)
    table.commit_unit("run2", 1, lambda _: rows("a", text="new", version="v2"), states)
    partition = dest / "date=2026-11-25"
    orphan = partition / f"{FILE_PREFIX}killed-u00001-0000-2026-11-25.parquet"  # a killed run's unit
    orphan.write_bytes(next(partition.glob(f"{FILE_PREFIX}run2*")).read_bytes())
    foreign = partition / "part-00000-copied-by-someone.parquet"
    foreign.write_bytes(orphan.read_bytes())
    (dest / "notes.txt").write_text("mine, not voxray's")
    assert texts(str(dest)) == {"a": "new a", "b": "hello b"}  # the orphan is invisible
    superseded = {f"date=2026-11-25/{p.name}" for p in partition.glob(f"{FILE_PREFIX}run1*")}

    kept = table.vacuum(24)  # everything is younger than a day: nothing goes
    assert kept == {"removed": [], "orphans": []}
    done = table.vacuum(0)
    assert set(done["removed"]) == superseded and [Path(p).name for p in done["orphans"]] == [orphan.name]
    assert not orphan.exists() and foreign.exists() and (dest / "notes.txt").exists()
    assert texts(str(dest)) == {"a": "new a", "b": "hello b"}


def test_optimize_compacts_a_partition_into_one_file_keeping_every_row(tmp_path):
    dest = str(tmp_path / "table")
    table = TranscriptTable(dest)
    table.open(create=True)
    states = table.input_states()
    for unit, paths in enumerate((["a", "b"], ["c"], ["d", "e"]), start=1):
        table.commit_unit("run1", unit, lambda _, paths=paths: rows(*paths), states)
    before = texts(dest)
    assert table.compact(min_files=4) == 0 and len(DeltaTable(dest).file_uris()) == 3
    assert table.compact(min_files=3) == 1
    assert len(DeltaTable(dest).file_uris()) == 1 and texts(dest) == before
    assert DeltaTable(dest).history(1)[0]["operation"] == "OPTIMIZE"
    # The state the next run plans from follows the compaction.
    assert {f for s in table.input_states().values() for f in s.files} == {
        Path(DeltaTable(dest).file_uris()[0]).relative_to(Path(dest)).as_posix()
    }


def test_polars_pandas_and_duckdb_read_exactly_the_committed_rows(dest):
    table = TranscriptTable(dest)
    table.open(create=True)
    states = table.input_states()
    table.commit_unit("run1", 1, lambda _: rows("a", "b"), states)
    table.commit_unit("run2", 1, lambda _: rows("b", text="new", version="v2"), states)
    expected = [("a", "hello a"), ("b", "new b")]
    options = table.options

    frame = pl.read_delta(table.uri, storage_options=options or None, columns=["path", "text"])
    assert sorted(frame.iter_rows()) == expected
    pandas = DeltaTable(table.uri, storage_options=options).to_pandas(columns=["path", "text"])
    assert sorted(pandas.itertuples(index=False, name=None)) == expected
    # DuckDB 2.0's delta extension is not on PyPI (see docs/nightly.md): DuckDB scans deltalake's
    # Arrow dataset, which lists only the files of the current version.
    dataset = DeltaTable(table.uri, storage_options=options).to_pyarrow_dataset()  # noqa: F841 (used by SQL)
    with duckdb.connect() as con:
        got = con.execute("select path, text from dataset order by path").fetchall()
    assert got == expected


def test_manifest_entries_get_a_version_from_a_stat_and_the_size_limit(tmp_path, speech_dir):
    clip = tmp_path / "clip.wav"
    clip.write_bytes((speech_dir / "01_quick_brown_fox.wav").read_bytes())
    manifest = tmp_path / "list.csv"
    manifest.write_text("path\nclip.wav\nmissing.wav\n")
    listed = {f.path: f for f in list_sources([str(manifest)], StorageConfig())}
    entry = listed[str(clip)]
    assert entry.size == clip.stat().st_size and entry.mtime is not None
    assert listed[str(tmp_path / "missing.wav")].size is None  # its row will say why it failed
    clip.write_bytes(clip.read_bytes() + b"\0" * 100)  # the object is modified: a new version
    assert list_sources([str(manifest)], StorageConfig())[0].version() != entry.version()
    # The size is known before reading, so the decode stage's limit refuses it without a byte read.
    from models.common.profile import StageTimes
    from pipelines.batch.read import open_audio
    from pipelines.config import DecodeConfig, TranscribeConfig
    from pipelines.decode import DecodeError

    small = TranscribeConfig(decode=DecodeConfig(max_bytes=100))
    with pytest.raises(DecodeError, match="exceeds the limit"):
        open_audio(entry.path, entry.size, small, StageTimes())


def test_a_log_without_a_version_is_a_table_being_created(tmp_path):
    # Two writers starting at once on S3: the second saw the first's _delta_log before its
    # version 0 and refused DEST as foreign (a full-suite run of the two-writer nightly test).
    # The empty log folder stands in for that moment; a foreign table is still refused by name.
    (tmp_path / "dest" / "_delta_log").mkdir(parents=True)
    table = TranscriptTable(str(tmp_path / "dest"))
    assert table.open(create=True).metadata().name == TABLE_NAME
    (tmp_path / "other" / "_delta_log").mkdir(parents=True)
    (tmp_path / "other" / "notes.txt").write_text("not ours")
    with pytest.raises(StoreError, match="not a voxray Delta table"):
        TranscriptTable(str(tmp_path / "other")).open(create=True)
