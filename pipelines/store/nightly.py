"""The nightly archive run: list, compute the to-do list from DEST's log, transcribe, commit in units.

Rows stream out of `iter_transcripts` as files complete; every `commit_every` completed inputs
become one commit (pipelines/store/commit.py). A crash loses at most the uncommitted unit, and the next
run's to-do list no longer holds what was committed. The run record in `_voxray/runs/` is
rewritten after every commit, so `voxray status` shows progress and what a killed run got done.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models.common.config import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    dataclass_from_dict,
    yaml_mapping_from_file,
    yaml_mapping_from_text,
)
from models.common.ids import new_run_id
from pipelines.assemble import rows_to_table
from pipelines.config import TranscribeConfig
from pipelines.listing import SourceFile, list_sources
from pipelines.store.commit import DEADLETTER, DEADLETTER_DIR, CommitStore, utcnow
from pipelines.store.incremental import (
    FAILED,
    OK,
    QUARANTINED,
    InputKey,
    deadletter_table,
    file_complete,
    outcome,
    plan_todo,
)


@dataclass(frozen=True)
class NightlyConfig:
    """Everything a nightly run needs; round-trips to YAML (see nightly.example.yaml)."""

    sources: tuple[str, ...] = ()
    output: str | None = None
    # Inputs per commit: the most work a crash can cost, and the number of files per commit.
    commit_every: PositiveInt = 100
    # Runs in which a failing input is tried before it goes to the dead-letter table.
    max_attempts: PositiveInt = 3
    retranscribe_on_config_change: bool = False
    # Price of one node-hour (any currency), for the estimated cost per audio hour.
    price_per_node_hour: NonNegativeFloat = 0.0
    # Compact a date partition once it holds this many small files (0: never).
    compact_min_files: NonNegativeInt = 16
    # Staging files of dead runs and superseded files are deleted once older than this.
    gc_grace_s: NonNegativeFloat = 6 * 3600.0
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "transcribe"}
        data["sources"] = list(self.sources)
        data["transcribe"] = self.transcribe.to_dict()
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NightlyConfig:
        return dataclass_from_dict(cls, data)

    @classmethod
    def from_yaml_text(cls, text: str) -> NightlyConfig:
        return cls.from_dict(yaml_mapping_from_text(text))

    @classmethod
    def from_yaml_file(cls, path: str | Path) -> NightlyConfig:
        return cls.from_dict(yaml_mapping_from_file(path))


@dataclass
class RunRecord:
    run_id: str
    started_at: str
    status: str = "running"
    heartbeat_at: str | None = None
    finished_at: str | None = None
    model: str = ""
    config_fingerprint: str = ""
    listed: int = 0
    todo: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    committed_inputs: int = 0
    ok: int = 0
    failed: int = 0
    quarantined: int = 0
    commits: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    nodes: float = 1.0
    price_per_node_hour: NonNegativeFloat = 0.0
    compacted: int = 0
    error: str | None = None

    @property
    def rtfx(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def node_hours(self) -> float:
        return self.wall_s / 3600 * self.nodes

    @property
    def cost_per_audio_hour(self) -> float | None:
        if self.audio_s <= 0:
            return None
        return self.node_hours * self.price_per_node_hour / (self.audio_s / 3600)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(rtfx=self.rtfx, node_hours=self.node_hours, cost_per_audio_hour=self.cost_per_audio_hour)
        return data

    def render(self) -> str:
        cost = self.cost_per_audio_hour
        return (
            f"run {self.run_id}: {self.status}\n"
            f"listed: {self.listed}  to do: {self.todo} {dict(sorted(self.reasons.items()))}\n"
            f"committed: {self.committed_inputs} in {self.commits} commit(s)  ok: {self.ok}  "
            f"failed: {self.failed}  quarantined: {self.quarantined}\n"
            f"audio: {self.audio_s / 3600:.3f} h  wall: {self.wall_s:.1f} s  RTFx: {self.rtfx:.1f}  "
            f"node-hours: {self.node_hours:.4f}" + (f"  cost/audio hour: {cost:.4f}" if cost is not None else "")
        )


def run_nightly(config: NightlyConfig, *, run_id: str | None = None) -> RunRecord:
    if not config.output:
        raise ValueError("no output: pass --output DEST or set `output` in the config")
    if not config.sources:
        raise ValueError("no sources: pass SOURCE arguments or set `sources` in the config")
    tconfig = config.transcribe
    started = time.perf_counter()
    run_id = run_id or new_run_id()
    store = CommitStore(config.output, tconfig.storage)
    store.recover(current_run=run_id, grace_s=config.gc_grace_s)
    key = InputKey(version="", model=tconfig.model.model, fingerprint=tconfig.fingerprint())
    listed = list_sources(list(config.sources), tconfig.storage)
    todo = plan_todo(
        listed,
        store.state.inputs,
        key,
        max_attempts=config.max_attempts,
        retranscribe_on_config_change=config.retranscribe_on_config_change,
    )
    record = RunRecord(
        run_id=run_id,
        started_at=utcnow(),
        heartbeat_at=utcnow(),
        model=key.model,
        config_fingerprint=key.fingerprint,
        listed=len(listed),
        todo=len(todo.files),
        reasons=dict(todo.reasons),
        price_per_node_hour=config.price_per_node_hour,
    )
    store.write_run(record.to_dict())
    runner = _UnitCommitter(store, config, key, record, started)
    try:
        runner.run(todo.files)
        if config.compact_min_files > 0:
            record.compacted = len(store.compact(run_id, min_files=config.compact_min_files))
        record.status = "finished"
        store.drop_staging(run_id)
    except BaseException as exc:
        record.status = "failed"
        record.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        runner.beat(final=True)
    return record


class _UnitCommitter:
    """Collects rows into completed inputs and commits them `commit_every` at a time."""

    def __init__(self, store: CommitStore, config: NightlyConfig, key: InputKey, record: RunRecord, t0: float):
        self.store = store
        self.config = config
        self.key = key
        self.record = record
        self.t0 = t0
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.unit: list[tuple[SourceFile, list[dict[str, Any]]]] = []
        self.done: set[str] = set()
        self.metrics = None
        self.node_samples: list[float] = []

    def run(self, files: list[SourceFile]) -> None:
        if not files:
            return  # nothing new: no Ray, no model (importing Ray Data alone takes seconds)
        from pipelines.transcribe import iter_transcripts

        by_path = {f.path: f for f in files}
        for row in iter_transcripts(files, self.config.transcribe, self.record.run_id):
            self._metrics().row(row)
            path = row["path"]
            if path in self.done:
                continue  # a retried task must not make an input count twice
            rows = self.pending.setdefault(path, [])
            rows.append(row)
            if file_complete(rows):
                self.done.add(path)
                self.unit.append((by_path[path], self.pending.pop(path)))
                if len(self.unit) >= self.config.commit_every:
                    self.commit()
        for path, rows in self.pending.items():
            self.unit.append((by_path[path], rows))
        self.pending = {}
        self.commit()

    def commit(self) -> None:
        if not self.unit:
            return
        record = self.record
        name = f"u{record.commits:05d}"
        txn = self.store.transaction(record.run_id, name)
        state = self.store.state
        previous = {f.path: state.inputs.get(f.path) for f, _ in self.unit}
        # A new version (or configuration) of an input replaces its old transcript, never joins it.
        txn.remove_inputs({p for p, e in previous.items() if e and e.get("file")})
        ok_rows = [r for f, rows in self.unit for r in rows if all(x["status"] == OK for x in rows)]
        data_rel = None
        if ok_rows:
            date = time.strftime("%Y-%m-%d", time.gmtime())
            data_rel = txn.stage(rows_to_table(ok_rows), f"date={date}", f"part-{record.run_id}-{name}.parquet")
        entries = [
            outcome(f, rows, previous[f.path], self.key, self.config.max_attempts, data_rel) for f, rows in self.unit
        ]
        dead = [e for e in entries if e["status"] == QUARANTINED]
        if dead:
            table = deadletter_table(dead, record.run_id)
            dead_rel = txn.stage(table, DEADLETTER_DIR, f"part-{record.run_id}-{name}.parquet", DEADLETTER)
            # Pointing at its dead letter lets a later fixed upload of the file take that row away.
            for e in dead:
                e["file"] = dead_rel
        txn.add_inputs(entries)
        txn.commit()
        self._metrics().commit()
        for e in entries:
            record.committed_inputs += 1
            record.ok += e["status"] == OK
            record.failed += e["status"] == FAILED
            record.quarantined += e["status"] == QUARANTINED
            record.audio_s += e["audio_s"]
        record.commits += 1
        self.unit = []
        self.beat()

    def beat(self, final: bool = False) -> None:
        record = self.record
        record.wall_s = time.perf_counter() - self.t0
        # Autoscaling changes the node count during a run: bill the mean of the samples taken.
        self.node_samples.append(_alive_nodes())
        record.nodes = sum(self.node_samples) / len(self.node_samples)
        record.heartbeat_at = utcnow()
        if final:
            record.finished_at = record.heartbeat_at
        self.store.write_run(record.to_dict())

    def _metrics(self):
        if self.metrics is None:
            from pipelines.metrics import RunMetrics

            self.metrics = RunMetrics("nightly")
        return self.metrics


def _alive_nodes() -> float:
    """Nodes in the Ray cluster now (1 when Ray never started: nothing to do ran on this machine)."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return 1.0
    return float(sum(1 for n in ray.nodes() if n.get("Alive")))
