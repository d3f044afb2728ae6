"""Diarize one recording in this process, cut into windows exactly as the batch pipeline cuts it.

For quality measurements and the memory benchmark: the same VAD windows (`recording_windows`, the
planner batch preparation uses), the same embedder and clustering as
`voxray transcribe --diarize`, without the speech model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from pipelines.speakers.cluster import Turn, diarize_windows
from pipelines.speakers.embed import SpeakerEmbedder
from pipelines.speakers.settings import DiarizeConfig
from pipelines.windows import StreamedWindow, blocks_of, recording_windows


class RunSettings(Protocol):
    """What this module reads of a pipelines.config.TranscribeConfig (not imported: see settings.py)."""

    @property
    def diarize(self) -> DiarizeConfig: ...
    @property
    def chunking(self) -> Any: ...  # ChunkingConfig: windows are cut exactly as the ASR cuts them


def model_windows(blocks: Iterator[np.ndarray], config: RunSettings) -> Iterator[StreamedWindow]:
    """The model windows (audio, stretches) of a mono recording arriving in blocks of BLOCK_SAMPLES."""
    return recording_windows(blocks, config.chunking)


def stream_windows(blocks: Iterator[np.ndarray], config: RunSettings) -> list[dict]:
    """One recording's speaker windows, as the preparation tasks compute them."""
    embedder = SpeakerEmbedder(config.diarize, config.chunking)
    windows: list[dict] = []
    for window in model_windows(blocks, config):
        windows += [w for found in embedder(window.audio, window.stretches) for w in found]
    return windows


def diarize_stream(blocks: Iterator[np.ndarray], config: RunSettings) -> list[Turn]:
    """Speaker turns of one recording; memory: a block, a window, and the embeddings."""
    return diarize_windows(stream_windows(blocks, config), config.diarize)


def diarize_audio(mono: np.ndarray, config: RunSettings) -> list[Turn]:
    return diarize_stream(blocks_of(mono), config)
