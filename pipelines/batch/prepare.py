"""CPU stage: read bytes, decode, plan windows, compute features. Runs as Ray tasks.

One input row per file; output rows are model windows (features plus where each stretch of audio
came from). Clips (up to one block) are decoded whole and may be packed together; longer
recordings stream block by block through VAD, so memory stays bounded and their windows flow to
the actor pool while the rest is still being decoded. A file that cannot be read or decoded
becomes one placement without features and with its `error`, so it reaches the output once; such
featureless placements of one task share a row (MAX_EMPTY_PLACEMENTS).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from models.common.audio import SAMPLE_RATE
from models.common.profile import StageTimes
from models.common.schema import FILE_FIELDS
from pipelines.batch.read import open_audio
from pipelines.config import TranscribeConfig
from pipelines.decode import AudioStream, DecodeError
from pipelines.speakers.embed import SPEAKER_WINDOW_TYPE, SpeakerEmbedder
from pipelines.windows import BLOCK_SAMPLES, LongformWindower, Placement, pack_windows, plan_unit, render

if TYPE_CHECKING:
    from models.features import LogMel

PLACEMENT_TYPE = pa.struct(
    [
        *FILE_FIELDS,
        ("window_index", pa.int32()),
        # -1 while a streamed recording's window count is not known yet; see `last_window`.
        ("n_windows", pa.int32()),
        ("last_window", pa.bool_()),
        ("window_offset_s", pa.float64()),
        ("source_start_s", pa.float64()),
        ("length_s", pa.float64()),
        ("prepare_s", pa.float64()),
        # With --diarize: speaker embeddings over this placement's speech (pipelines/speakers).
        ("speaker_windows", pa.list_(SPEAKER_WINDOW_TYPE)),
    ]
)

WINDOW_SCHEMA = pa.schema(
    [
        ("features", pa.binary()),  # float32 (n_mels, 3000), C order; null when there is no audio
        ("audio", pa.binary()),  # float32 16 kHz samples, for models that read audio (CTC) instead
        ("n_mels", pa.int32()),
        ("duration_s", pa.float64()),
        ("placements", pa.list_(PLACEMENT_TYPE)),
        # Stage times of the task since its previous output (models.common.profile), on one row per table.
        ("profile", pa.string()),
    ]
)

# Windows leave in small tables so that one long recording's windows spread over the actor pool.
WINDOWS_PER_OUTPUT = 8
# Inputs with no audio to transcribe (unreadable, silent) travel together as one featureless row per
# task, up to this many placements: one row for the model stage to pass through, not one per file.
# Row by row, an archive of small bad files cost a model batch, a Ray block and a driver round trip
# per handful of files, and that (not decoding) capped it at tens of files per second.
MAX_EMPTY_PLACEMENTS = 1024


@dataclass
class _Unit:
    """One channel (or the mix) of one file."""

    path: str
    channel: int | None
    meta: dict
    audio: np.ndarray | None = None
    windows_done: int = 0
    held: dict | None = field(default=None, repr=False)


def prepare_windows(
    batch: pa.Table, *, config: TranscribeConfig, n_mels: int, needs_audio: bool = False
) -> Iterator[pa.Table]:
    """Ray Data UDF: a batch of file rows -> tables of window rows (features, or audio for CTC models)."""
    preparer = _Preparer(config, n_mels, needs_audio)
    clips: list[_Unit] = []
    for row in batch.to_pylist():
        for item in preparer.load(row["path"], row.get("size")):
            if isinstance(item, _Unit):
                clips.append(item)
            else:
                preparer.add(item)
            yield from preparer.drain()
    preparer.windows_for_clips(clips)
    yield from preparer.drain(everything=True)


def rows_for_windows(
    clips: list[tuple[str, np.ndarray]], windows: list[list[Placement]], config: TranscribeConfig, n_mels: int
) -> list[dict]:
    """Window rows for decoded clips (path, 16 kHz mono audio) grouped as the caller planned.

    For measuring and testing packing under other groupings than `pack_windows`'s
    (tools/bench/packing.py); a clip in no window gets its featureless row, as in a job.
    """
    preparer = _Preparer(config, n_mels)
    units = []
    for path, audio in clips:
        meta = {"size_bytes": None, "file_duration_s": audio.shape[0] / SAMPLE_RATE, "sample_rate": SAMPLE_RATE,
                "channels": 1, "error": None, "prepare_s": 0.0}  # fmt: skip
        units.append(_Unit(path, None, meta, audio))
    preparer.add_windows(units, windows)
    preparer._send_empty()
    return preparer.rows


class _Preparer:
    def __init__(self, config: TranscribeConfig, n_mels: int, needs_audio: bool = False) -> None:
        self.config = config
        self.n_mels = n_mels
        self.needs_audio = needs_audio
        self.embedder = SpeakerEmbedder(config.diarize, config.chunking) if config.diarize.enabled else None
        self.rows: list[dict] = []
        # Placements of featureless rows, gathered into one row (see MAX_EMPTY_PLACEMENTS).
        self._empty: list[dict] = []
        self._empty_keys: set[tuple[str, int | None]] = set()
        self.times = StageTimes()

    def add(self, row: dict) -> None:
        """A window row to send: rows with audio as they are, featureless ones gathered into one."""
        if row["features"] is not None or row["audio"] is not None:
            self.rows.append(row)
            return
        for placement in row["placements"]:
            key = (placement["path"], placement["channel"])
            # The model stage makes one piece per (file, channel) of a row: a key may appear once.
            if key in self._empty_keys or len(self._empty) >= MAX_EMPTY_PLACEMENTS:
                self._send_empty()
            self._empty.append(placement)
            self._empty_keys.add(key)

    def _send_empty(self) -> None:
        if self._empty:
            self.rows.append(self._window_row(None, self._empty))
            self._empty, self._empty_keys = [], set()

    def drain(self, everything: bool = False) -> Iterator[pa.Table]:
        if everything:
            self._send_empty()
        while len(self.rows) >= WINDOWS_PER_OUTPUT or (everything and self.rows):
            chunk, self.rows = self.rows[:WINDOWS_PER_OUTPUT], self.rows[WINDOWS_PER_OUTPUT:]
            chunk[0] = dict(chunk[0], profile=self.times.drain())
            yield pa.Table.from_pylist(chunk, schema=WINDOW_SCHEMA)

    def load(self, path: str, size: int | None) -> Iterator[_Unit | dict]:
        """Clip units (windowed later, with packing) or finished window rows of a long recording."""
        with self._decode_time():
            yield from self._load(path, size)

    @contextmanager
    def _decode_time(self) -> Iterator[None]:
        """Time in `load` not spent reading, in VAD or in features is decoding (FFmpeg runs lazily)."""
        others = ("prepare:read", "prepare:vad+windows", "prepare:features")
        wall, cpu = time.perf_counter(), time.process_time()
        before = [(self.times.wall.get(k, 0.0), self.times.cpu.get(k, 0.0)) for k in others]
        try:
            yield
        finally:
            after = [(self.times.wall.get(k, 0.0), self.times.cpu.get(k, 0.0)) for k in others]
            spent_wall = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
            spent_cpu = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
            self.times.add(
                "prepare:decode",
                time.perf_counter() - wall - spent_wall,
                time.process_time() - cpu - spent_cpu,
            )

    def _load(self, path: str, size: int | None) -> Iterator[_Unit | dict]:
        started = time.perf_counter()
        meta = {
            "size_bytes": size,
            "file_duration_s": None,
            "sample_rate": None,
            "channels": None,
            "error": None,
            "prepare_s": 0.0,
        }
        units: list[_Unit] = []
        try:
            with open_audio(path, size, self.config, self.times) as stream:
                meta.update(sample_rate=stream.source_sample_rate, channels=stream.source_channels)
                split = self.config.decode.channels == "split"
                units = [_Unit(path, c if split else None, dict(meta)) for c in range(stream.n_channels)]
                blocks = stream.blocks(BLOCK_SAMPLES)
                first = next(blocks)
                second = next(blocks, None)
                if second is None:
                    for unit in units:
                        unit.audio = first[0 if unit.channel is None else unit.channel]
                        unit.meta.update(
                            file_duration_s=stream.duration_s,
                            prepare_s=(time.perf_counter() - started) / len(units),
                        )
                    yield from units
                    return
                yield from self._stream(units, _chain(first, second, blocks), stream, started)
        except Exception as exc:  # whatever goes wrong with one file becomes that file's error row
            meta.update(error=_message(exc), prepare_s=time.perf_counter() - started)
            if not units:
                # Failed before its channels were known: one row for the file.
                yield self._closing_row(_Unit(path, None, meta), meta)
            for unit in units:
                # Every channel gets its row, also those that had produced no window yet.
                yield self._closing_row(unit, dict(unit.meta, error=meta["error"]))

    def _stream(
        self, units: list[_Unit], blocks: Iterator[np.ndarray], stream: AudioStream, started: float
    ) -> Iterator[dict]:
        windowers = [LongformWindower(self.config.chunking) for _ in units]
        previous: np.ndarray | None = None
        for block in blocks:
            if previous is not None:
                yield from self._feed(units, windowers, previous, final=False)
            previous = block
        yield from self._feed(units, windowers, previous, final=True)
        elapsed = (time.perf_counter() - started) / len(units)
        for unit in units:
            final_meta = dict(unit.meta, file_duration_s=stream.duration_s, prepare_s=elapsed)
            yield self._closing_row(unit, final_meta)

    def _feed(
        self, units: list[_Unit], windowers: list[LongformWindower], block: np.ndarray, final: bool
    ) -> Iterator[dict]:
        for unit, windower, channel_audio in zip(units, windowers, block, strict=True):
            with self.times.stage("prepare:vad+windows"):
                windows = list(windower.feed(channel_audio, final))
            for window in windows:
                placements = [placement_row(unit, unit.windows_done, -1, p) for p in window.placements]
                self._speakers(window.audio, placements)
                row = self._window_row(window.audio, placements)
                unit.windows_done += 1
                if unit.held is not None:
                    yield unit.held
                unit.held = row

    def _closing_row(self, unit: _Unit, final_meta: dict) -> dict:
        """The last row of a streamed unit: it carries the final metadata and `last_window`."""
        unit.meta = final_meta
        if unit.held is None:
            # No speech at all (or an error before any window): one row without features.
            return self._window_row(None, [placement_row(unit, unit.windows_done, -1, None, last=True)])
        row, unit.held = unit.held, None
        row["placements"] = [dict(p, **final_meta, last_window=True) for p in row["placements"]]
        return row

    def _window_row(self, audio: np.ndarray | None, placements: list[dict]) -> dict:
        """A window row: log-mel features for Whisper, or the audio itself for models that read audio."""
        features = None
        if audio is not None and not self.needs_audio:
            with self.times.stage("prepare:features"):
                # The filter bank (and torch) loads at the first window with audio, not per task:
                # a task of unreadable or silent files never pays for the import.
                features = _logmel(self.n_mels)(audio).tobytes()
        return {
            "features": features,
            "audio": audio.astype(np.float32, copy=False).tobytes() if audio is not None and self.needs_audio else None,
            "n_mels": self.n_mels,
            "duration_s": 0.0 if audio is None else audio.shape[0] / SAMPLE_RATE,
            "placements": placements,
        }

    def windows_for_clips(self, clips: list[_Unit]) -> None:
        windows: list[list[Placement]] = []
        for i, unit in enumerate(clips):
            started = time.perf_counter()
            try:
                with self.times.stage("prepare:vad+windows"):
                    windows.extend(plan_unit(unit.audio, i, self.config.chunking))
            except Exception as exc:  # this clip's error row (it gets no window below)
                unit.meta["error"] = _message(exc)
            unit.meta["prepare_s"] += time.perf_counter() - started
        if self.config.packs_short_clips:
            with self.times.stage("prepare:vad+windows"):
                windows = pack_windows(windows, self.config.chunking)
        self.add_windows(clips, windows)

    def add_windows(self, clips: list[_Unit], windows: list[list[Placement]]) -> None:
        """Rows for planned windows over `clips` (placement units index it), and one for each clip without any."""
        counts = [0] * len(clips)
        for window in windows:
            for i in {p.unit for p in window}:
                counts[i] += 1
        for i, unit in enumerate(clips):
            if counts[i] == 0:
                # A clip with no speech: still exactly one row downstream.
                self.add(self._window_row(None, [placement_row(unit, 0, 1, None)]))
        for window in windows:
            started = time.perf_counter()
            audio = None
            try:
                audio = render(window, [u.audio for u in clips])
                row = self._window_row(audio, [])
            except Exception as exc:  # the window's clips get their error rows through it
                audio, row = None, self._window_row(None, [])
                for i in {p.unit for p in window}:
                    clips[i].meta["error"] = _message(exc)
            share = (time.perf_counter() - started) / len(window)
            index_in_unit = {p.unit: clips[p.unit].windows_done for p in window}
            placements = []
            for p in window:
                clips[p.unit].meta["prepare_s"] += share
                placements.append(placement_row(clips[p.unit], index_in_unit[p.unit], counts[p.unit], p))
            for i in index_in_unit:
                clips[i].windows_done += 1
            if audio is not None:
                self._speakers(audio, placements)
            self.add(dict(row, placements=placements))

    def _speakers(self, audio: np.ndarray, placements: list[dict]) -> None:
        """With --diarize: speaker embeddings for each placement, timed into its preparation share."""
        if self.embedder is None:
            return
        started = time.perf_counter()
        with self.times.stage("prepare:speaker embeddings"):
            self.embedder(audio, placements)
        share = (time.perf_counter() - started) / max(1, len(placements))
        for p in placements:
            p["prepare_s"] += share


def placement_row(unit: _Unit, window_index: int, n_windows: int, p: Placement | None, last: bool = False) -> dict:
    """The placement record of a stretch of `unit` in a window (None: a featureless row for it)."""
    return {
        "path": unit.path,
        "channel": unit.channel,
        "window_index": window_index,
        "n_windows": n_windows,
        "last_window": last or (n_windows > 0 and window_index == n_windows - 1),
        "window_offset_s": p.window_offset / SAMPLE_RATE if p else 0.0,
        "source_start_s": p.source_start / SAMPLE_RATE if p else 0.0,
        "length_s": p.length / SAMPLE_RATE if p else 0.0,
        **unit.meta,
    }


@functools.lru_cache(maxsize=4)
def _logmel(n_mels: int) -> LogMel:
    # One filter bank per worker process, not per task: tasks are small and many. Imported here so
    # that the driver, which only refers to this module's functions, never imports torch.
    from models.features import LogMel

    return LogMel(n_mels)


def _chain(first: np.ndarray, second: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield second
    yield from rest


def _message(exc: BaseException) -> str:
    if isinstance(exc, (DecodeError, OSError)) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
