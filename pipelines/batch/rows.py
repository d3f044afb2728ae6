"""Window rows out of the preparation stage: features (or audio), speaker embeddings, and tables.

`WindowMaker` turns a window's audio into its Window record; `Outbox` gathers records into the
tables a preparation task yields: small ones, so that one long recording's windows spread over
the actor pool, and featureless placements (unreadable or silent inputs) together in one row.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from models.common.audio import SAMPLE_RATE
from models.common.profile import StageTimes
from pipelines.batch.records import Key, Placement, Window, windows_table
from pipelines.config import TranscribeConfig
from pipelines.speakers.embed import SpeakerEmbedder
from pipelines.windows import Stretch

if TYPE_CHECKING:
    from models.features import LogMel

# Windows leave in small tables so that one long recording's windows spread over the actor pool.
WINDOWS_PER_OUTPUT = 8
# Inputs with no audio to transcribe (unreadable, silent) travel together as one featureless row per
# task, up to this many placements: one row for the model stage to pass through, not one per file.
# Row by row, an archive of small bad files cost a model batch, a Ray block and a driver round trip
# per handful of files, and that (not decoding) capped it at tens of files per second.
MAX_EMPTY_PLACEMENTS = 1024


class WindowMaker:
    """A window's audio -> its Window record (log-mel features for Whisper, audio for CTC models)."""

    def __init__(self, config: TranscribeConfig, n_mels: int, needs_audio: bool = False) -> None:
        self.n_mels = n_mels
        self.needs_audio = needs_audio
        self.embedder = SpeakerEmbedder(config.diarize, config.chunking) if config.diarize.enabled else None
        self.times = StageTimes()

    def window(self, audio: np.ndarray | None, placements: Sequence[Placement] = ()) -> Window:
        features = None
        if audio is not None and not self.needs_audio:
            with self.times.stage("prepare:features"):
                # The filter bank (and torch) loads at the first window with audio, not per task:
                # a task of unreadable or silent files never pays for the import.
                features = _logmel(self.n_mels)(audio).tobytes()
        return Window(
            tuple(placements),
            features,
            audio.astype(np.float32, copy=False).tobytes() if audio is not None and self.needs_audio else None,
            self.n_mels,
            0.0 if audio is None else audio.shape[0] / SAMPLE_RATE,
        )

    def speakers(self, audio: np.ndarray, stretches: Sequence[Stretch]) -> tuple[list[Any], float]:
        """With --diarize: each stretch's speaker windows, and each one's share of the time they took.

        Without: None for each, and no time.
        """
        if self.embedder is None:
            return [None] * len(stretches), 0.0
        started = time.perf_counter()
        with self.times.stage("prepare:speaker embeddings"):
            found = self.embedder(audio, stretches)
        return found, (time.perf_counter() - started) / max(1, len(stretches))


class Outbox:
    """Window records -> the tables a preparation task yields; featureless placements share a row."""

    def __init__(self, maker: WindowMaker) -> None:
        self.maker = maker
        self.windows: list[Window] = []
        self._empty: list[Placement] = []
        self._empty_keys: set[Key] = set()

    def add(self, window: Window) -> None:
        """A window to send: one with audio as it is, featureless ones gathered into one."""
        if window.has_audio:
            self.windows.append(window)
            return
        for placement in window.placements:
            # The model stage makes one piece per (file, channel) of a row: a key may appear once.
            if placement.key in self._empty_keys or len(self._empty) >= MAX_EMPTY_PLACEMENTS:
                self.send_empty()
            self._empty.append(placement)
            self._empty_keys.add(placement.key)

    def send_empty(self) -> None:
        if self._empty:
            self.windows.append(self.maker.window(None, self._empty))
            self._empty, self._empty_keys = [], set()

    def drain(self, everything: bool = False) -> Iterator[pa.Table]:
        if everything:
            self.send_empty()
        while len(self.windows) >= WINDOWS_PER_OUTPUT or (everything and self.windows):
            chunk, self.windows = self.windows[:WINDOWS_PER_OUTPUT], self.windows[WINDOWS_PER_OUTPUT:]
            yield windows_table(chunk, profile=self.maker.times.drain())


@functools.lru_cache(maxsize=4)
def _logmel(n_mels: int) -> LogMel:
    # One filter bank per worker process, not per task: tasks are small and many. Imported here so
    # that the driver, which only refers to this module's functions, never imports torch.
    from models.features import LogMel

    return LogMel(n_mels)
