"""Window planning: cut recordings into (at most) 30-second model windows.

Pure compute. A window is a list of stretches, each of one file's channel copied to an offset
inside the window (pipelines/batch/records.py turns them into placements, in seconds). The same
mechanism serves three cases:
- a short clip: one placement from its first to its last speech (VAD), or the whole clip;
- a long recording: Silero VAD speech spans packed back to back (silence dropped, as faster-whisper's
  batched pipeline does), each window at most 30 s, so one file's windows spread over the pool;
- packing: several short clips in one window, separated by `gap` of silence (pipelines/batch/packing.py).

`recording_windows` is the one "clip or long recording?" planner: batch preparation, online
serving and the speaker benchmark cut the same audio into the same windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

from models.common.audio import N_SAMPLES, SAMPLE_RATE
from models.common.config import NonNegativeFloat, NonNegativeInt, PositiveFloat, Probability

VadMode = Literal["auto", "on", "off"]


@dataclass(frozen=True)
class ChunkingConfig:
    """How recordings are cut into model windows (VAD, packing): the `chunking:` section of a config."""

    # auto: VAD only for recordings longer than one 30 s window (short clips go whole, like Whisper).
    vad: VadMode = "auto"
    # Pack several short clips into one 30 s window (with silence between them). None (auto): on
    # wherever segments are split back by Whisper's timestamps (the ct2 backend with timestamps).
    pack_short_clips: bool | None = None
    pack_gap_s: NonNegativeFloat = 1.0
    # A clip longer than this is never packed; it gets a window of its own. 20 s saved a fifth of
    # the model CPU on the held-out `prose` set but cost 0.5-1.4 WER points there (docs/performance.md);
    # the dev set has no clip over 7 s to choose by, so the earlier value stays.
    pack_max_clip_s: PositiveFloat = 12.0
    vad_threshold: Probability = 0.5
    vad_min_silence_ms: NonNegativeInt = 160


@dataclass(frozen=True)
class Stretch:
    """A stretch of one unit's audio at an offset in a window, in samples."""

    unit: int  # index of the (file, channel) unit in the preparing task
    window_offset: int  # samples from the window start
    source_start: int  # samples from the recording start
    length: int  # samples


def speech_spans(audio: np.ndarray, cfg: ChunkingConfig) -> list[tuple[int, int]]:
    # Imported here: faster_whisper's package import pulls in CTranslate2 and PyAV, and the
    # driver, which only reads ChunkingConfig, never runs VAD.
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        threshold=cfg.vad_threshold,
        max_speech_duration_s=N_SAMPLES / SAMPLE_RATE,
        min_silence_duration_ms=cfg.vad_min_silence_ms,
    )
    return [(s["start"], s["end"]) for s in get_speech_timestamps(audio, options)]


def plan_unit(audio: np.ndarray, unit: int, cfg: ChunkingConfig) -> list[list[Stretch]]:
    """Windows for one unit on its own. An empty list means: no speech at all."""
    n = audio.shape[0]
    if cfg.vad == "off" or (cfg.vad == "auto" and n <= N_SAMPLES):
        if n > N_SAMPLES:
            return [[Stretch(unit, 0, s, min(N_SAMPLES, n - s))] for s in range(0, n, N_SAMPLES)]
        if cfg.vad == "off":
            return [[Stretch(unit, 0, 0, n)]]
        spans = speech_spans(audio, cfg)
        if not spans:
            # Whisper invents words on silence ("you", "thank you"); VAD is the cheap guard.
            return []
        # One stretch from the first to the last speech: leading and trailing silence would
        # otherwise pull Whisper's first timestamp to 0.0 (and let it hallucinate at the ends).
        return [[Stretch(unit, 0, spans[0][0], spans[-1][1] - spans[0][0])]]
    windows: list[list[Stretch]] = []
    current: list[Stretch] = []
    filled = 0
    for start, end in speech_spans(audio, cfg):
        length = min(end - start, N_SAMPLES)
        if current and filled + length > N_SAMPLES:
            windows.append(current)
            current, filled = [], 0
        current.append(Stretch(unit, filled, start, length))
        filled += length
    if current:
        windows.append(current)
    return windows


def render(window: list[Stretch], units: list[np.ndarray]) -> np.ndarray:
    """The window's audio: placements copied to their offsets, silence elsewhere."""
    end = max(p.window_offset + p.length for p in window)
    audio = np.zeros(end, dtype=np.float32)
    for p in window:
        audio[p.window_offset : p.window_offset + p.length] = units[p.unit][p.source_start : p.source_start + p.length]
    return audio


# A recording is decoded and voice-detected in blocks of this length, so memory per worker stays
# bounded (a few blocks of float32 audio) whatever the recording's length.
BLOCK_SAMPLES = 60 * SAMPLE_RATE
# A speech span ending this close to a block's end may continue in the next block: it is carried.
_CARRY_MARGIN = 2 * SAMPLE_RATE


@dataclass(frozen=True)
class StreamedWindow:
    stretches: list[Stretch]  # unit 0; source_start absolute in the recording
    audio: np.ndarray


class LongformWindower:
    """Windows of VAD speech spans from a recording that arrives block by block.

    Spans are packed back to back into windows of at most 30 s, like `plan_unit` does for a
    recording in memory. The last span of a block is held back (with its audio) until the next
    block shows where it ends, so memory stays at about one block plus one window.
    """

    def __init__(self, cfg: ChunkingConfig) -> None:
        self.cfg = cfg
        self._carry = np.zeros(0, dtype=np.float32)
        self._carry_start = 0
        self._parts: list[tuple[Stretch, np.ndarray]] = []
        self._filled = 0

    def feed(self, block: np.ndarray, final: bool) -> list[StreamedWindow]:
        chunk = np.concatenate([self._carry, block]) if self._carry.size else block
        spans = speech_spans(chunk, self.cfg)
        if final:
            keep_from = chunk.shape[0]
        elif spans and spans[-1][1] >= chunk.shape[0] - _CARRY_MARGIN:
            keep_from = spans.pop()[0]
        else:
            keep_from = max(spans[-1][1] if spans else 0, chunk.shape[0] - _CARRY_MARGIN)
        done: list[StreamedWindow] = []
        for start, end in spans:
            length = min(end - start, N_SAMPLES)
            if self._parts and self._filled + length > N_SAMPLES:
                done.append(_join(self._parts))
                self._parts, self._filled = [], 0
            placement = Stretch(0, self._filled, self._carry_start + start, length)
            self._parts.append((placement, chunk[start : start + length]))
            self._filled += length
        self._carry = chunk[keep_from:].copy()
        self._carry_start += keep_from
        if final and self._parts:
            done.append(_join(self._parts))
            self._parts, self._filled = [], 0
        return done


def _join(parts: list[tuple[Stretch, np.ndarray]]) -> StreamedWindow:
    return StreamedWindow([p for p, _ in parts], np.concatenate([a for _, a in parts]).astype(np.float32))


Block = TypeVar("Block")


def blocks_of(mono: np.ndarray) -> Iterator[np.ndarray]:
    """A recording in memory as the decoder delivers one: blocks of BLOCK_SAMPLES (at least one)."""
    return (mono[i : i + BLOCK_SAMPLES] for i in range(0, max(1, mono.shape[0]), BLOCK_SAMPLES))


def clip_or_blocks(blocks: Iterator[Block]) -> tuple[Block | None, Iterator[Block]]:
    """Clip or long recording? (the clip, nothing) for audio of one block, else (None, all its blocks).

    A clip is planned in memory (`plan_unit`; in a batch task it may be packed with others); a
    longer recording streams through `LongformWindower`, so memory stays at about one block.
    """
    first = next(blocks, None)
    if first is None:
        return None, iter(())
    second = next(blocks, None)
    if second is None:
        return first, iter(())
    return None, _chain(first, second, blocks)


def with_final(blocks: Iterator[Block]) -> Iterator[tuple[Block, bool]]:
    """Each block, and whether it is the last one."""
    previous = next(blocks, None)
    if previous is None:
        return
    for block in blocks:
        yield previous, False
        previous = block
    yield previous, True


def recording_windows(blocks: Iterator[np.ndarray], cfg: ChunkingConfig) -> Iterator[StreamedWindow]:
    """The windows of one mono recording arriving in blocks of BLOCK_SAMPLES, clip or long."""
    clip, rest = clip_or_blocks(blocks)
    if clip is not None:
        for window in plan_unit(clip, 0, cfg):
            yield StreamedWindow(window, render(window, [clip]))
        return
    windower = LongformWindower(cfg)
    for block, final in with_final(rest):
        yield from windower.feed(block, final)


def _chain(first: Block, second: Block, rest: Iterator[Block]) -> Iterator[Block]:
    yield first
    yield second
    yield from rest
