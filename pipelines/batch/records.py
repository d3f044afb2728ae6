"""The records that pass between the batch stages, and their Arrow types: the one place their keys are spelled.

prepare (CPU tasks) -> Window rows -> infer (actor pool) -> Piece rows -> assemble (driver).
A Window holds Placements: stretches of one input (a file, or one channel of it) copied to offsets
inside one 30-second model window. Every placement and piece carries its input's FileMeta, so a
piece alone says which row it belongs to. Records are frozen; Ray Data moves Arrow tables, and a
table is converted column by column, once per table (`windows_table`, `windows_of`, `pieces_table`,
`pieces_of`), never row by row: preparation is the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa

from models.common.audio import SAMPLE_RATE
from models.common.schema import SEGMENT_TYPE
from pipelines.speakers.embed import SPEAKER_WINDOW_TYPE
from pipelines.windows import Stretch

Key = tuple[str, int | None]


@dataclass(frozen=True, slots=True)
class FileMeta:
    """What is known of one input before the model runs: preparation fills it in, it travels with
    every placement and piece of the input, and assembly copies it into the input's row."""

    path: str
    channel: int | None = None  # None in --channels mix
    size_bytes: int | None = None
    file_duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """A stretch of one input at an offset in a model window, in seconds."""

    file: FileMeta
    window_index: int  # of this input's windows
    n_windows: int  # -1 while a streamed recording's window count is not known yet; see `last_window`
    last_window: bool
    window_offset_s: float = 0.0  # from the window's start
    source_start_s: float = 0.0  # from the recording's start
    length_s: float = 0.0
    prepare_s: float = 0.0  # this input's preparation time so far
    # With --diarize: speaker embeddings over this placement's speech (pipelines/speakers).
    speaker_windows: tuple[dict[str, Any], ...] | None = None

    @property
    def key(self) -> Key:
        return (self.file.path, self.file.channel)

    @property
    def end_s(self) -> float:
        """Where the stretch ends in window time."""
        return self.window_offset_s + self.length_s

    def overlap(self, start: float, end: float) -> float:
        """Seconds of window time [start, end] inside this placement (negative: the gap between them)."""
        return min(end, self.end_s) - max(start, self.window_offset_s)

    def distance(self, t: float) -> float:
        return (
            0.0 if self.window_offset_s <= t <= self.end_s else min(abs(t - self.window_offset_s), abs(t - self.end_s))
        )

    def through(self, t: float) -> float:
        """Window time -> recording time through this placement, clamped inside it."""
        offset = min(max(t - self.window_offset_s, 0.0), self.length_s)
        return round(self.source_start_s + offset, 3)


def placement(
    file: FileMeta,
    window_index: int,
    n_windows: int,
    stretch: Stretch | None,
    *,
    last: bool = False,
    prepare_s: float = 0.0,
    speaker_windows: Sequence[dict[str, Any]] | None = None,
) -> Placement:
    """The placement of a planned stretch (samples) in window `window_index` of `n_windows`.

    None: a placement without audio, for an input with no window (silence, an error), so it still
    reaches assembly. Batch preparation, online serving and the speaker benchmark all build theirs here.
    """
    return Placement(
        file,
        window_index,
        n_windows,
        last or (n_windows > 0 and window_index == n_windows - 1),
        stretch.window_offset / SAMPLE_RATE if stretch else 0.0,
        stretch.source_start / SAMPLE_RATE if stretch else 0.0,
        stretch.length / SAMPLE_RATE if stretch else 0.0,
        prepare_s,
        None if speaker_windows is None else tuple(speaker_windows),
    )


@dataclass(frozen=True, slots=True)
class Window:
    """One model window: its log-mel features (or its audio, for models that read audio) and placements."""

    placements: tuple[Placement, ...]
    features: bytes | None = None  # float32 (n_mels, 3000), C order; None when there is no audio
    audio: bytes | None = None  # float32 16 kHz samples, for models that read audio (CTC)
    n_mels: int = 0
    duration_s: float = 0.0

    @property
    def has_audio(self) -> bool:
        return self.features is not None or self.audio is not None

    def mels(self, frames: int) -> np.ndarray:
        return np.frombuffer(self.features, dtype=np.float32).reshape(self.n_mels, frames)


@dataclass(frozen=True, slots=True)
class Piece:
    """What the model made of one input's placements in one window, in the recording's time."""

    file: FileMeta
    window_index: int
    n_windows: int
    last_window: bool
    language: str | None
    language_probability: float | None
    segments: tuple[dict[str, Any], ...]  # SEGMENT_TYPE
    processing_s: float
    speaker_windows: tuple[dict[str, Any], ...] | None = None

    @property
    def key(self) -> Key:
        return (self.file.path, self.file.channel)


FILE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("path", pa.string()),
    pa.field("channel", pa.int32()),
    pa.field("size_bytes", pa.int64()),
    pa.field("file_duration_s", pa.float64()),
    pa.field("sample_rate", pa.int32()),
    pa.field("channels", pa.int32()),
    pa.field("error", pa.string()),
)
if tuple(f.name for f in FILE_FIELDS) != tuple(f.name for f in fields(FileMeta)):
    raise ImportError("FILE_FIELDS and FileMeta disagree")

_SPEAKERS = pa.list_(SPEAKER_WINDOW_TYPE)
# Each record's own columns after its FileMeta's (Placement, Piece) or on their own (Window).
_PLACEMENT_COLUMNS = [
    ("window_index", pa.int32()),
    ("n_windows", pa.int32()),
    ("last_window", pa.bool_()),
    ("window_offset_s", pa.float64()),
    ("source_start_s", pa.float64()),
    ("length_s", pa.float64()),
    ("prepare_s", pa.float64()),
    ("speaker_windows", _SPEAKERS),
]
PLACEMENT_TYPE = pa.struct([*FILE_FIELDS, *_PLACEMENT_COLUMNS])
_WINDOW_COLUMNS = [
    ("features", pa.binary()),
    ("audio", pa.binary()),
    ("n_mels", pa.int32()),
    ("duration_s", pa.float64()),
]
# Stage times of the task since its previous output (models.common.profile), on one row per table.
PROFILE = "profile"
WINDOW_SCHEMA = pa.schema([*_WINDOW_COLUMNS, ("placements", pa.list_(PLACEMENT_TYPE)), (PROFILE, pa.string())])
_PIECE_COLUMNS = [
    ("window_index", pa.int32()),
    ("n_windows", pa.int32()),
    ("last_window", pa.bool_()),
    ("language", pa.string()),
    ("language_probability", pa.float32()),
    ("segments", pa.list_(SEGMENT_TYPE)),
    ("processing_s", pa.float64()),
    ("speaker_windows", _SPEAKERS),
]
PIECE_SCHEMA = pa.schema([*FILE_FIELDS, *_PIECE_COLUMNS, (PROFILE, pa.string())])


def _file_arrays(records: Sequence[Placement] | Sequence[Piece]) -> list[pa.Array]:
    return [pa.array([getattr(r.file, f.name) for r in records], f.type) for f in FILE_FIELDS]


def _own_arrays(records: Sequence[Any], columns: list[tuple[str, pa.DataType]]) -> list[pa.Array]:
    return [pa.array([getattr(r, name) for r in records], kind) for name, kind in columns]


def _profile_array(n: int, profile: str | None) -> pa.Array:
    return pa.array([profile] + [None] * (n - 1) if n else [], pa.string())


def windows_table(windows: Sequence[Window], profile: str | None = None) -> pa.Table:
    """Window rows as one table; `profile` rides on its first row."""
    flat = [p for w in windows for p in w.placements]
    structs = pa.StructArray.from_arrays(
        _file_arrays(flat) + _own_arrays(flat, _PLACEMENT_COLUMNS), fields=list(PLACEMENT_TYPE)
    )
    offsets = pa.array(np.cumsum([0] + [len(w.placements) for w in windows]), pa.int32())
    arrays = _own_arrays(windows, _WINDOW_COLUMNS)
    arrays += [pa.ListArray.from_arrays(offsets, structs), _profile_array(len(windows), profile)]
    return pa.Table.from_arrays(arrays, schema=WINDOW_SCHEMA)


def _columns(array: pa.Array | pa.ChunkedArray) -> list[list[Any]]:
    """The Python values of each child of a struct array (slices and chunks respected)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return [child.to_pylist() for child in array.flatten()]


def _files(columns: list[list[Any]]) -> list[FileMeta]:
    return [FileMeta(*values) for values in zip(*columns[: len(FILE_FIELDS)], strict=True)]


def _with_tuples(values: list[Any]) -> list[Any]:
    return [None if v is None else tuple(v) for v in values]


def placements_of(array: pa.Array | pa.ChunkedArray) -> list[Placement]:
    """Placements from an Arrow array of PLACEMENT_TYPE."""
    columns = _columns(array)
    columns[-1] = _with_tuples(columns[-1])
    own = zip(*columns[len(FILE_FIELDS) :], strict=True)
    return [Placement(f, *values) for f, values in zip(_files(columns), own, strict=True)]


def windows_of(table: pa.Table) -> tuple[list[Window], list[str]]:
    """A table of WINDOW_SCHEMA as Window records, and the profiles its rows carried."""
    lists = table.column("placements").combine_chunks()
    flat = placements_of(lists.flatten())
    ends = np.cumsum(lists.value_lengths().to_numpy(zero_copy_only=False)).tolist()
    groups = [tuple(flat[start:end]) for start, end in zip([0, *ends][:-1], ends, strict=True)]
    own = [table.column(name).to_pylist() for name, _ in _WINDOW_COLUMNS]
    windows = [Window(g, *values) for g, values in zip(groups, zip(*own, strict=True), strict=True)]
    return windows, [p for p in table.column(PROFILE).to_pylist() if p]


def pieces_table(pieces: Sequence[Piece], profile: str | None = None) -> pa.Table:
    """Piece rows as one table; `profile` rides on its first row."""
    arrays = _file_arrays(pieces) + _own_arrays(pieces, _PIECE_COLUMNS)
    return pa.Table.from_arrays([*arrays, _profile_array(len(pieces), profile)], schema=PIECE_SCHEMA)


def pieces_of(table: pa.Table) -> tuple[list[Piece], list[str]]:
    """A table of PIECE_SCHEMA as Piece records, and the profiles its rows carried."""
    columns = [table.column(f.name).to_pylist() for f in FILE_FIELDS]
    columns += [table.column(name).to_pylist() for name, _ in _PIECE_COLUMNS]
    segments = len(FILE_FIELDS) + [n for n, _ in _PIECE_COLUMNS].index("segments")
    columns[segments] = _with_tuples(columns[segments])
    columns[-1] = _with_tuples(columns[-1])
    own = zip(*columns[len(FILE_FIELDS) :], strict=True)
    pieces = [Piece(f, *values) for f, values in zip(_files(columns), own, strict=True)]
    return pieces, [p for p in table.column(PROFILE).to_pylist() if p]
