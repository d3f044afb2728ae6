"""CPU stage: read bytes, decode, plan windows, compute features. Runs as Ray tasks.

One input row per file; output rows are model windows (features plus where each stretch of audio
came from). A file that cannot be read or decoded becomes one window row without features and
with its `error`, so it still reaches the output exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipelines.config import TranscribeConfig
from pipelines.decode import SAMPLE_RATE, DecodedAudio, DecodeError, decode_audio
from pipelines.features import LogMel
from pipelines.storage import filesystem, is_s3, strip_scheme
from pipelines.windows import Placement, pack_windows, plan_unit, render

PLACEMENT_TYPE = pa.struct(
    [
        ("path", pa.string()),
        ("channel", pa.int32()),
        ("window_index", pa.int32()),
        ("n_windows", pa.int32()),
        ("window_offset_s", pa.float64()),
        ("source_start_s", pa.float64()),
        ("length_s", pa.float64()),
        ("size_bytes", pa.int64()),
        ("file_duration_s", pa.float64()),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("error", pa.string()),
        ("prepare_s", pa.float64()),
    ]
)

WINDOW_SCHEMA = pa.schema(
    [
        ("features", pa.binary()),  # float32 (n_mels, 3000), C order; null when there is no audio
        ("n_mels", pa.int32()),
        ("duration_s", pa.float64()),
        ("placements", pa.list_(PLACEMENT_TYPE)),
    ]
)

# Windows are emitted in small tables so that one long recording's windows spread over the pool.
WINDOWS_PER_OUTPUT = 8


@dataclass
class _Unit:
    path: str
    channel: int | None
    audio: np.ndarray | None
    meta: dict


def prepare_windows(batch: pa.Table, *, config: TranscribeConfig, n_mels: int) -> Iterator[pa.Table]:
    """Ray Data UDF: a batch of file rows -> tables of window rows."""
    logmel = LogMel(n_mels)
    units: list[_Unit] = []
    for row in batch.to_pylist():
        units.extend(_load(row["path"], row.get("size"), config))
    audio_units = [i for i, u in enumerate(units) if u.audio is not None]
    windows: list[list[Placement]] = []
    for i in audio_units:
        started = time.perf_counter()
        windows.extend(plan_unit(units[i].audio, i, config.chunking))
        units[i].meta["prepare_s"] += time.perf_counter() - started
    if config.chunking.pack_short_clips:
        windows = pack_windows(windows, config.chunking)
    counts = _count_windows(windows, len(units))
    seen = [0] * len(units)
    rows: list[dict] = []
    for i, unit in enumerate(units):
        if counts[i] == 0:
            # An error, or a recording with no speech: still exactly one row downstream.
            rows.append(_row(None, 0.0, n_mels, [_placement(unit, 0, 1, None)]))
    for window in windows:
        started = time.perf_counter()
        audio = render(window, [u.audio if u.audio is not None else np.zeros(0, np.float32) for u in units])
        features = logmel(audio)
        share = (time.perf_counter() - started) / len(window)
        index_in_unit = {p.unit: seen[p.unit] for p in window}
        placements = []
        for p in window:
            units[p.unit].meta["prepare_s"] += share
            placements.append(_placement(units[p.unit], index_in_unit[p.unit], counts[p.unit], p))
        for unit in index_in_unit:
            seen[unit] += 1
        rows.append(_row(features, audio.shape[0] / SAMPLE_RATE, n_mels, placements))
        if len(rows) >= WINDOWS_PER_OUTPUT:
            yield pa.Table.from_pylist(rows, schema=WINDOW_SCHEMA)
            rows = []
    if rows:
        yield pa.Table.from_pylist(rows, schema=WINDOW_SCHEMA)


def _count_windows(windows: list[list[Placement]], n_units: int) -> list[int]:
    counts = [0] * n_units
    for window in windows:
        for unit in {p.unit for p in window}:
            counts[unit] += 1
    return counts


def _row(features: np.ndarray | None, duration_s: float, n_mels: int, placements: list[dict]) -> dict:
    return {
        "features": None if features is None else features.astype(np.float32, copy=False).tobytes(),
        "n_mels": n_mels,
        "duration_s": duration_s,
        "placements": placements,
    }


def _placement(unit: _Unit, window_index: int, n_windows: int, p: Placement | None) -> dict:
    return {
        "path": unit.path,
        "channel": unit.channel,
        "window_index": window_index,
        "n_windows": n_windows,
        "window_offset_s": p.window_offset / SAMPLE_RATE if p else 0.0,
        "source_start_s": p.source_start / SAMPLE_RATE if p else 0.0,
        "length_s": p.length / SAMPLE_RATE if p else 0.0,
        **unit.meta,
    }


def _load(path: str, size: int | None, config: TranscribeConfig) -> list[_Unit]:
    """Read and decode one file into units (one, or one per channel in split mode)."""
    started = time.perf_counter()
    meta = {
        "size_bytes": size,
        "file_duration_s": None,
        "sample_rate": None,
        "channels": None,
        "error": None,
        "prepare_s": 0.0,
    }
    try:
        decoded = read_and_decode(path, size, config)
    except (DecodeError, OSError, ValueError, MemoryError, RuntimeError) as exc:
        meta.update(error=_message(exc), prepare_s=time.perf_counter() - started)
        return [_Unit(path, None, None, meta)]
    meta.update(
        file_duration_s=decoded.duration_s,
        sample_rate=decoded.source_sample_rate,
        channels=decoded.source_channels,
    )
    split = config.decode.channels == "split"
    units = []
    for channel, audio in enumerate(decoded.samples):
        share = dict(meta, prepare_s=(time.perf_counter() - started) / decoded.samples.shape[0])
        units.append(_Unit(path, channel if split else None, audio, share))
    return units


def read_and_decode(path: str, size: int | None, config: TranscribeConfig) -> DecodedAudio:
    if size == 0:
        raise DecodeError("empty file (0 bytes)")
    if size is not None and size > config.decode.max_bytes:
        raise DecodeError(f"object of {size} bytes exceeds the limit of {config.decode.max_bytes} bytes")
    fs = filesystem(path, config.storage)
    raw = strip_scheme(path) if is_s3(path) else path
    try:
        handle = fs.open(raw, "rb")
    except FileNotFoundError as exc:
        raise OSError(f"cannot read {path}: object not found (deleted after listing?)") from exc
    except PermissionError as exc:
        raise OSError(f"cannot read {path}: permission denied") from exc
    with handle:
        return decode_audio(
            handle,
            split_channels=config.decode.channels == "split",
            max_duration_s=config.decode.max_duration_s,
        )


def _message(exc: BaseException) -> str:
    if isinstance(exc, (DecodeError, OSError)) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
