"""An input's units (the mix, or each channel): clips kept in memory, long recordings streamed.

A recording of one block (`windows.clip_or_blocks`) is a clip: its units wait in memory until the
task plans all its clips together (packing.plan_clips) and `clip_windows` renders them. A longer
recording streams block by block through VAD (`LongformWindower`), so memory stays bounded and its
windows reach the actor pool while the rest is still being decoded; its last window carries the
final metadata and `last_window`. A file that cannot be read or decoded becomes one placement
without features and with its `error`, so it reaches the output once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from pipelines.batch.read import error_message, open_audio
from pipelines.batch.records import FileMeta, Window, placement
from pipelines.batch.rows import WindowMaker
from pipelines.config import TranscribeConfig
from pipelines.decode import AudioStream
from pipelines.windows import BLOCK_SAMPLES, LongformWindower, Stretch, clip_or_blocks, render, with_final


@dataclass
class Unit:
    """One channel (or the mix) of one input while it is prepared."""

    file: FileMeta
    audio: np.ndarray | None = field(default=None, repr=False)
    prepare_s: float = 0.0
    windows_done: int = 0
    held: Window | None = field(default=None, repr=False)


class Loader:
    """Decodes inputs into clip units (windowed later, with packing) or streamed window records."""

    def __init__(self, config: TranscribeConfig, maker: WindowMaker) -> None:
        self.config, self.maker, self.times = config, maker, maker.times

    def load(self, path: str, size: int | None) -> Iterator[Unit | Window]:
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

    def _load(self, path: str, size: int | None) -> Iterator[Unit | Window]:
        started = time.perf_counter()
        units: list[Unit] = []
        try:
            with open_audio(path, size, self.config, self.times) as stream:
                split = self.config.decode.channels == "split"
                known = FileMeta(path, None, size, None, stream.source_sample_rate, stream.source_channels)
                units = [Unit(replace(known, channel=c if split else None)) for c in range(stream.n_channels)]
                clip, blocks = clip_or_blocks(stream.blocks(BLOCK_SAMPLES))
                if clip is None:
                    yield from self._stream(units, blocks, stream, started)
                    return
                for unit in units:
                    unit.audio = clip[0 if unit.file.channel is None else unit.file.channel]
                    unit.file = replace(unit.file, file_duration_s=stream.duration_s)
                    unit.prepare_s = (time.perf_counter() - started) / len(units)
                yield from units
        except Exception as exc:  # whatever goes wrong with one file becomes that file's error row
            error = error_message(exc)
            if not units:
                # Failed before its channels were known: one row for the file.
                yield self._closing(Unit(FileMeta(path, None, size, error=error)), time.perf_counter() - started)
            for unit in units:
                # Every channel gets its row, also those that had produced no window yet.
                unit.file = replace(unit.file, error=error)
                yield self._closing(unit, unit.prepare_s)

    def _stream(
        self, units: list[Unit], blocks: Iterator[np.ndarray], stream: AudioStream, started: float
    ) -> Iterator[Window]:
        windowers = [LongformWindower(self.config.chunking) for _ in units]
        for block, final in with_final(blocks):
            for unit, windower, channel_audio in zip(units, windowers, block, strict=True):
                yield from self._feed(unit, windower, channel_audio, final)
        elapsed = (time.perf_counter() - started) / len(units)
        for unit in units:
            unit.file = replace(unit.file, file_duration_s=stream.duration_s)
            yield self._closing(unit, elapsed)

    def _feed(self, unit: Unit, windower: LongformWindower, audio: np.ndarray, final: bool) -> Iterator[Window]:
        with self.times.stage("prepare:vad+windows"):
            windows = list(windower.feed(audio, final))
        for window in windows:
            speakers, share = self.maker.speakers(window.audio, window.stretches)
            placements = [
                placement(unit.file, unit.windows_done, -1, s, prepare_s=unit.prepare_s + share, speaker_windows=w)
                for s, w in zip(window.stretches, speakers, strict=True)
            ]
            record = self.maker.window(window.audio, placements)
            unit.windows_done += 1
            if unit.held is not None:
                yield unit.held
            unit.held = record

    def _closing(self, unit: Unit, prepare_s: float) -> Window:
        """The last window of a streamed unit: it carries the final metadata and `last_window`."""
        unit.prepare_s = prepare_s
        if unit.held is None:
            # No speech at all (or an error before any window): one row without features.
            return self.maker.window(
                None, [placement(unit.file, unit.windows_done, -1, None, last=True, prepare_s=prepare_s)]
            )
        held, unit.held = unit.held, None
        final = [replace(p, file=unit.file, prepare_s=prepare_s, last_window=True) for p in held.placements]
        return replace(held, placements=tuple(final))


def clip_windows(clips: list[Unit], windows: list[list[Stretch]], maker: WindowMaker) -> Iterator[Window]:
    """Window records for planned windows over `clips` (stretch units index it), and one for each clip without any."""
    counts = [0] * len(clips)
    for window in windows:
        for i in {s.unit for s in window}:
            counts[i] += 1
    for i, unit in enumerate(clips):
        if counts[i] == 0:
            # A clip with no speech: still exactly one row downstream.
            yield maker.window(None, [placement(unit.file, 0, 1, None, prepare_s=unit.prepare_s)])
    for window in windows:
        started = time.perf_counter()
        audio = None
        try:
            audio = render(window, [u.audio for u in clips])
            record = maker.window(audio)
        except Exception as exc:  # the window's clips get their error rows through it
            audio, record = None, maker.window(None)
            for i in {s.unit for s in window}:
                clips[i].file = replace(clips[i].file, error=error_message(exc))
        share = (time.perf_counter() - started) / len(window)
        speakers, speaker_share = maker.speakers(audio, window) if audio is not None else ([None] * len(window), 0.0)
        index_in_unit = {s.unit: clips[s.unit].windows_done for s in window}
        placements = []
        for s, found in zip(window, speakers, strict=True):
            unit = clips[s.unit]
            unit.prepare_s += share
            placements.append(
                placement(
                    unit.file,
                    index_in_unit[s.unit],
                    counts[s.unit],
                    s,
                    prepare_s=unit.prepare_s + speaker_share,
                    speaker_windows=found,
                )
            )
        for i in index_in_unit:
            clips[i].windows_done += 1
        yield replace(record, placements=tuple(placements))
