"""The nightly archive run: list, plan from the table, transcribe, commit in units, compact.

Rows stream out of `iter_transcripts` as files complete; every `commit_every` completed inputs
become one Delta commit (pipelines/store/table.py). A crash loses at most the uncommitted unit,
and the next run's to-do list no longer holds what was committed. Each commit carries the run's
record (counts, audio, wall time, cost) in its commit info, so `voxray status` reads runs from
the table's own history; a run also commits a marker when it starts and when it ends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from models.common.config import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    YamlConfig,
)
from models.common.ids import new_run_id
from models.common.retry import call_with_retries, storage_unavailable
from models.resolved import ResolvedModel, resolve
from pipelines.config import TranscribeConfig
from pipelines.listing import SourceFile, list_sources
from pipelines.store.incremental import (
    FAILED,
    OK,
    QUARANTINED,
    REDO,
    InputKey,
    file_complete,
    outcome_rows,
    plan_todo,
    reason_for,
)
from pipelines.store.state import InputState
from pipelines.store.table import PhaseHook, TranscriptTable

RUN_KEY = "voxray.run"


@dataclass(frozen=True)
class NightlyConfig(YamlConfig):
    """Everything a nightly run needs; round-trips to YAML (see nightly.example.yaml)."""

    sources: tuple[str, ...] = ()
    output: str | None = None
    # Inputs per commit: the most work a crash can cost, and the number of files per commit.
    commit_every: PositiveInt = 100
    # Runs in which a failing input is tried before it is quarantined (the dead letter).
    max_attempts: PositiveInt = 3
    retranscribe_on_config_change: bool = False
    # Price of one node-hour (any currency), for the estimated cost per audio hour.
    price_per_node_hour: NonNegativeFloat = 0.0
    # Delta OPTIMIZE a date partition once it holds this many files (0: never).
    compact_min_files: NonNegativeInt = 16
    # After the run, VACUUM files superseded more than this many hours ago (None: leave to `voxray vacuum`).
    vacuum_retention_hours: NonNegativeFloat | None = None
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)

    def __post_init__(self) -> None:
        if self.commit_every < 1:
            raise ValueError(f"commit_every must be at least 1, got {self.commit_every}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.vacuum_retention_hours is not None and self.vacuum_retention_hours < 0:
            raise ValueError(f"vacuum_retention_hours must be >= 0, got {self.vacuum_retention_hours}")


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
    # Failed inputs whose file could not be read because storage stayed unreachable (retried next run).
    unavailable: int = 0
    # Inputs another writer committed first (the same object version): dropped, not duplicated.
    skipped: int = 0
    commits: int = 0
    conflicts: int = 0
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

    def metadata(self) -> dict[str, str]:
        """The record as Delta commit info (string values), read back by `voxray status`."""
        return {RUN_KEY: json.dumps(self.to_dict(), default=str)}

    def render(self) -> str:
        cost = self.cost_per_audio_hour
        return (
            f"run {self.run_id}: {self.status}\n"
            f"listed: {self.listed}  to do: {self.todo} {dict(sorted(self.reasons.items()))}\n"
            f"committed: {self.committed_inputs} in {self.commits} commit(s)  ok: {self.ok}  "
            f"failed: {self.failed}  quarantined: {self.quarantined}  skipped: {self.skipped}  "
            f"conflicts: {self.conflicts}"
            + (f"  storage unavailable: {self.unavailable}" if self.unavailable else "")
            + "\n"
            f"audio: {self.audio_s / 3600:.3f} h  wall: {self.wall_s:.1f} s  RTFx: {self.rtfx:.1f}  "
            f"node-hours: {self.node_hours:.4f}" + (f"  cost/audio hour: {cost:.4f}" if cost is not None else "")
        )


def utcnow() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def run_nightly(config: NightlyConfig, *, run_id: str | None = None, on_phase: PhaseHook | None = None) -> RunRecord:
    """One nightly run; `on_phase` is called at each of table.PHASES (the crash tests pause there)."""
    if not config.output:
        raise ValueError("no output: pass --output DEST or set `output` in the config")
    if not config.sources:
        raise ValueError("no sources: pass SOURCE arguments or set `sources` in the config")
    tconfig = config.transcribe
    started = time.perf_counter()
    run_id = run_id or new_run_id()
    # Once, here: the fingerprint's model identity and the weights the actors load are the same
    # version even if the registry is promoted mid-run (and an s3:// model is listed once);
    # before the table is touched, so a missing model leaves DEST as it was.
    model = resolve(tconfig.model, tconfig.storage)
    table = TranscriptTable(config.output, tconfig.storage, on_phase=on_phase)
    table.open(create=True)  # refuses foreign files, the old format and other tables, touching nothing
    key = InputKey(model=tconfig.model.model, fingerprint=tconfig.fingerprint(model.identity))
    listed = call_with_retries(lambda: list_sources(list(config.sources), tconfig.storage), tconfig.storage, "listing")
    states = table.input_states()
    todo = plan_todo(
        listed, states, key, max_attempts=config.max_attempts,
        retranscribe_on_config_change=config.retranscribe_on_config_change,
    )  # fmt: skip
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
    table.commit_marker(run_id, 0, {**record.metadata(), "voxray.unit": "start"})
    runner = _UnitCommitter(table, config, key, record, started, states, model)
    try:
        runner.run(todo.files)
        if config.compact_min_files > 0:
            record.compacted = table.compact(config.compact_min_files)
        if config.vacuum_retention_hours is not None:
            table.vacuum(config.vacuum_retention_hours)
        record.status = "finished"
    except BaseException as exc:
        record.status = "failed"
        record.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        runner.finish()
    return record


class _UnitCommitter:
    """Collects rows into completed inputs and commits them `commit_every` at a time."""

    def __init__(
        self,
        table: TranscriptTable,
        config: NightlyConfig,
        key: InputKey,
        record: RunRecord,
        t0: float,
        states: dict[str, InputState],
        model: ResolvedModel,
    ) -> None:
        self.model = model
        self.table = table
        self.config = config
        self.key = key
        self.record = record
        self.t0 = t0
        self.states = states
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.unit: list[tuple[SourceFile, list[dict[str, Any]]]] = []
        self.done: set[str] = set()
        self.metrics = None
        self.node_samples: list[float] = []

    def run(self, files: list[SourceFile]) -> None:
        if not files:
            return  # nothing new: no Ray, no model (importing Ray Data alone takes seconds)
        from pipelines.batch.run import iter_transcripts

        by_path = {f.path: f for f in files}
        try:
            rows = iter_transcripts(files, self.config.transcribe, self.record.run_id, model=self.model)
            self._collect(rows, by_path)
        except Exception:
            # A stalled or failed pipeline: the inputs that did finish are committed, so that the
            # next run resumes after them; the unfinished ones are simply not in the table.
            self.commit()
            raise
        for path, rows in self.pending.items():
            self.unit.append((by_path[path], rows))
        self.pending = {}
        self.commit()

    def _collect(self, stream: Iterator[dict[str, Any]], by_path: dict[str, SourceFile]) -> None:
        for row in stream:
            self.table.reached("transcribing")
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

    def commit(self) -> None:
        if not self.unit:
            return
        record = self.record
        unit = self.unit
        outcomes: dict[str, str] = {}

        def build(states: dict[str, InputState]) -> list[dict[str, Any]]:
            outcomes.clear()
            rows: list[dict[str, Any]] = []
            for f, file_rows in unit:
                prev = states.get(f.path)
                # Another writer may have committed this input since we planned: then it is done.
                if (
                    prev is not None
                    and reason_for(
                        f, prev, self.key, self.config.max_attempts, self.config.retranscribe_on_config_change
                    )
                    not in REDO
                    and (prev.model, prev.fingerprint) == (self.key.model, self.key.fingerprint)
                ):
                    continue
                status, out = outcome_rows(f, file_rows, prev, self.config.max_attempts)
                outcomes[f.path] = status
                rows.extend(out)
            return rows

        def metadata(rows: list[dict[str, Any]]) -> dict[str, str]:
            self._tick()
            return _with_unit(record, outcomes, rows).metadata()

        result = self.table.commit_unit(record.run_id, record.commits + 1, build, self.states, metadata=metadata)
        self._metrics().commit()
        record.conflicts += result.retries
        record.skipped += len(unit) - len(outcomes)
        if result.version is not None:
            _count(record, outcomes, result.rows)
            record.commits += 1
        self.unit = []

    def finish(self) -> None:
        """The run's last word in the table's history (finished or failed), then a checkpoint."""
        self._tick()
        self.record.finished_at = self.record.heartbeat_at
        try:
            self.table.commit_marker(
                self.record.run_id, self.record.commits + 1, {**self.record.metadata(), "voxray.unit": "end"}
            )
            self.table.checkpoint()
        except Exception as exc:  # the run's own outcome matters more than its summary
            print(f"voxray: could not record the run's end in the table: {exc}", file=sys.stderr)

    def _tick(self) -> None:
        record = self.record
        record.wall_s = time.perf_counter() - self.t0
        # Autoscaling changes the node count during a run: bill the mean of the samples taken.
        self.node_samples.append(_alive_nodes())
        record.nodes = sum(self.node_samples) / len(self.node_samples)
        record.heartbeat_at = utcnow()

    def _metrics(self):
        if self.metrics is None:
            from pipelines.metrics import RunMetrics

            self.metrics = RunMetrics("nightly")
        return self.metrics


def _count(record: RunRecord, outcomes: dict[str, str], rows: list[dict[str, Any]]) -> None:
    for status in outcomes.values():
        record.committed_inputs += 1
        record.ok += status == OK
        record.failed += status == FAILED
        record.quarantined += status == QUARANTINED
    record.unavailable += len(
        {r["path"] for r in rows if outcomes.get(r["path"]) == FAILED and storage_unavailable(r["error"])}
    )
    record.audio_s += sum(r["duration_s"] or 0.0 for r in rows if outcomes.get(r["path"]) == OK)


def _with_unit(record: RunRecord, outcomes: dict[str, str], rows: list[dict[str, Any]]) -> RunRecord:
    """The run record as it will be once this unit is committed (what its commit info says)."""
    after = dataclasses.replace(record, reasons=dict(record.reasons))
    _count(after, outcomes, rows)
    after.commits += 1
    return after


def _alive_nodes() -> float:
    """Nodes in the Ray cluster now (1 when Ray never started: nothing to do ran on this machine)."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return 1.0
    return float(sum(1 for n in ray.nodes() if n.get("Alive")))


def runs_from_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run's latest record from the table's commit infos, oldest run first."""
    latest: dict[str, dict[str, Any]] = {}
    for commit in history:  # newest first
        try:
            run = json.loads(commit.get(RUN_KEY) or "{}")
        except ValueError:
            continue  # a commit info someone else wrote
        if isinstance(run, dict) and run.get("run_id"):
            latest.setdefault(run["run_id"], run)
    return sorted(latest.values(), key=lambda r: (r.get("started_at") or "", r["run_id"]))
