"""CPU stage: read bytes, decode, plan windows, compute features. Runs as Ray tasks.

One input row per file; output rows are model windows (records.Window: features plus where each
stretch of audio came from). Clips are decoded whole and planned together, packed where packing
is on (packing.py); longer recordings stream block by block (clips.py). Window records leave in
small tables (rows.Outbox), featureless ones of a task together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pyarrow as pa

from models.common.audio import SAMPLE_RATE
from pipelines.batch.clips import Loader, Unit, clip_windows
from pipelines.batch.packing import plan_clips
from pipelines.batch.records import FileMeta, Window
from pipelines.batch.rows import Outbox, WindowMaker
from pipelines.config import TranscribeConfig
from pipelines.windows import Stretch


def prepare_windows(
    batch: pa.Table, *, config: TranscribeConfig, n_mels: int, needs_audio: bool = False
) -> Iterator[pa.Table]:
    """Ray Data UDF: a batch of file rows -> tables of window rows (features, or audio for CTC models)."""
    maker = WindowMaker(config, n_mels, needs_audio)
    loader, out = Loader(config, maker), Outbox(maker)
    clips: list[Unit] = []
    for row in batch.to_pylist():
        for item in loader.load(row["path"], row.get("size")):
            if isinstance(item, Unit):
                clips.append(item)
            else:
                out.add(item)
            yield from out.drain()
    windows, outcomes = plan_clips([u.audio for u in clips], config, maker.times)
    for unit, (seconds, error) in zip(clips, outcomes, strict=True):
        unit.prepare_s += seconds
        if error is not None:
            unit.file = replace(unit.file, error=error)
    for window in clip_windows(clips, windows, maker):
        out.add(window)
    yield from out.drain(everything=True)


def rows_for_windows(
    clips: list[tuple[str, np.ndarray]], windows: list[list[Stretch]], config: TranscribeConfig, n_mels: int
) -> list[Window]:
    """Window records for decoded clips (path, 16 kHz mono audio) grouped as the caller planned.

    For measuring and testing packing under other groupings than `pack_windows`'s
    (tools/bench/packing.py); a clip in no window gets its featureless row, as in a job.
    """
    maker = WindowMaker(config, n_mels)
    out = Outbox(maker)
    units = [
        Unit(FileMeta(path, None, None, audio.shape[0] / SAMPLE_RATE, SAMPLE_RATE, 1), audio) for path, audio in clips
    ]
    for window in clip_windows(units, windows, maker):
        out.add(window)
    out.send_empty()
    return out.windows
