"""Where the time goes: wall and CPU seconds per named stage, summed over every process of a run.

Each process (a preparation task, a model actor, the driver) keeps a `StageTimes`, and the times
travel with the data to the driver as a small JSON string in a `profile` column, so a profile needs
no side channel and costs a few clock reads per stage. CPU seconds are the whole process's
(`time.process_time`), which includes the threads CTranslate2 and FFmpeg start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageTimes:
    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - wall, time.process_time() - cpu)

    def add(self, name: str, wall_s: float, cpu_s: float = 0.0, calls: int = 1) -> None:
        self.wall[name] = self.wall.get(name, 0.0) + wall_s
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu_s
        self.calls[name] = self.calls.get(name, 0) + calls

    def merge(self, other: StageTimes) -> None:
        for name in other.wall:
            self.add(name, other.wall[name], other.cpu.get(name, 0.0), other.calls.get(name, 0))

    def to_json(self) -> str | None:
        """Compact JSON, or None when nothing was timed (the common case for most rows)."""
        if not self.wall:
            return None
        return json.dumps({k: [round(self.wall[k], 6), round(self.cpu[k], 6), self.calls[k]] for k in self.wall})

    @classmethod
    def from_json(cls, text: str | None) -> StageTimes:
        out = cls()
        for name, (wall, cpu, calls) in (json.loads(text) if text else {}).items():
            out.add(name, wall, cpu, calls)
        return out

    def drain(self) -> str | None:
        """The times so far as JSON, and start again from zero (each time is reported once)."""
        text = self.to_json()
        self.wall, self.cpu, self.calls = {}, {}, {}
        return text

    def render(self, total_wall_s: float | None = None) -> str:
        """A table: stage, wall seconds (summed over processes), CPU seconds, calls, share of the run."""
        lines = [f"{'stage':<34}{'wall s':>10}{'cpu s':>10}{'calls':>8}{'% of run':>10}"]
        for name in sorted(self.wall, key=_order):
            share = f"{100 * self.wall[name] / total_wall_s:9.1f}%" if total_wall_s else ""
            lines.append(f"{name:<34}{self.wall[name]:>10.2f}{self.cpu[name]:>10.2f}{self.calls[name]:>8}{share:>10}")
        return "\n".join(lines)


# Stages in the order data meets them; the prefix before ':' names the kind of process.
STAGE_ORDER = (
    "driver:ray start",
    "driver:listing",
    "driver:model resolution",
    "driver:until first results",
    "prepare:read",
    "prepare:decode",
    "prepare:vad+windows",
    "prepare:features",
    "actor:model load",
    "actor:waiting for input",
    "actor:busy",
    "model:encode",
    "model:language id",
    "model:decode",
    "model:seek encode",
    "model:seek decode",
    "model:seek windows",
    "model:word alignment",
    "driver:assembly",
    "driver:write",
)


def _order(name: str) -> tuple[int, str]:
    base = name.split(" t=", 1)[0]  # decode rounds are named per fallback temperature
    return (STAGE_ORDER.index(base) if base in STAGE_ORDER else len(STAGE_ORDER), name)
