"""Diarize one recording in this process, cut into windows exactly as the batch pipeline cuts it.

For quality measurements and the memory benchmark: the same VAD windows (`plan_unit` for clips,
`LongformWindower` block by block for longer recordings), the same embedder and clustering as
`voxray transcribe --diarize`, without the speech model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from models.common.audio import SAMPLE_RATE
from pipelines.speakers.cluster import Turn, diarize_windows
from pipelines.speakers.embed import SpeakerEmbedder
from pipelines.speakers.settings import DiarizeConfig
from pipelines.windows import BLOCK_SAMPLES, LongformWindower, plan_unit, render


class RunSettings(Protocol):
    """What this module reads of a pipelines.config.TranscribeConfig (not imported: see settings.py)."""

    @property
    def diarize(self) -> DiarizeConfig: ...
    @property
    def chunking(self) -> Any: ...  # ChunkingConfig: windows are cut exactly as the ASR cuts them


def _placements(audio: np.ndarray, offsets: list[tuple[int, int, int]]) -> list[dict]:
    return [
        {"window_offset_s": o / SAMPLE_RATE, "source_start_s": s / SAMPLE_RATE, "length_s": n / SAMPLE_RATE}
        for o, s, n in offsets
    ]


def model_windows(blocks: Iterator[np.ndarray], config: RunSettings) -> Iterator[tuple[np.ndarray, list[dict]]]:
    """(window audio, placements) for a mono recording arriving in blocks of BLOCK_SAMPLES."""
    first = next(blocks, None)
    if first is None:
        return
    second = next(blocks, None)
    if second is None:
        for window in plan_unit(first, 0, config.chunking):
            offsets = [(p.window_offset, p.source_start, p.length) for p in window]
            yield render(window, [first]), _placements(first, offsets)
        return
    windower = LongformWindower(config.chunking)
    pending = [first, second]
    while pending:
        block = pending.pop(0)
        if not pending:
            nxt = next(blocks, None)
            if nxt is not None:
                pending.append(nxt)
        for window in windower.feed(block, final=not pending):
            offsets = [(p.window_offset, p.source_start, p.length) for p in window.placements]
            yield window.audio, _placements(window.audio, offsets)


def stream_windows(blocks: Iterator[np.ndarray], config: RunSettings) -> list[dict]:
    """One recording's speaker windows, as the preparation tasks compute them."""
    embedder = SpeakerEmbedder(config.diarize, config.chunking)
    windows: list[dict] = []
    for audio, placements in model_windows(blocks, config):
        embedder(audio, placements)
        windows += [w for p in placements for w in p["speaker_windows"]]
    return windows


def diarize_stream(blocks: Iterator[np.ndarray], config: RunSettings) -> list[Turn]:
    """Speaker turns of one recording; memory: a block, a window, and the embeddings."""
    return diarize_windows(stream_windows(blocks, config), config.diarize)


def audio_blocks(mono: np.ndarray) -> Iterator[np.ndarray]:
    return (mono[i : i + BLOCK_SAMPLES] for i in range(0, mono.shape[0], BLOCK_SAMPLES))


def diarize_audio(mono: np.ndarray, config: RunSettings) -> list[Turn]:
    return diarize_stream(audio_blocks(mono), config)
