"""GPU (or CPU) stage: an actor pool running the model over batches of windows."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa

from models.common.audio import N_FRAMES
from models.common.profile import StageTimes
from models.registry import n_mels_of, resolve_model
from pipelines.assemble import PIECE_SCHEMA, split_window
from pipelines.config import TranscribeConfig


def model_input(config: TranscribeConfig) -> tuple[int, bool]:
    """(mel bins, needs_audio): what the preparation stage must produce for this model."""
    if config.model.backend == "torch":
        from models.whisper_torch import model_info

        return model_info(config.model.model, config.storage)
    return n_mels_of(resolve_model(config.model.model, config.storage)), False


def load_backend(config: TranscribeConfig, threads: int) -> Any:
    if config.model.backend == "torch":
        from models.whisper_torch import TorchBackend, resolve_torch_model

        return TorchBackend(resolve_torch_model(config.model.model, config.storage), config.model, threads=threads)
    model_dir = resolve_model(config.model.model, config.storage)
    from models.whisper_ct2 import CT2Whisper

    return CT2Whisper(model_dir, config.model, threads=threads)


class TranscribeWindows:
    """Ray Data callable class: `__init__` loads the model once per actor, `__call__` runs a batch."""

    def __init__(self, config: TranscribeConfig, threads: int) -> None:
        self.times = StageTimes()
        with self.times.stage("actor:model load"):
            self.backend = load_backend(config, threads)
        self.idle_since = time.perf_counter()

    def __call__(self, batch: pa.Table) -> pa.Table:
        started = time.perf_counter()
        self.times.add("actor:waiting for input", started - self.idle_since)
        cpu = time.process_time()
        pieces = self._transcribe(batch)
        self.times.merge(getattr(self.backend, "times", StageTimes()))
        if hasattr(self.backend, "times"):
            self.backend.times = StageTimes()
        self.idle_since = time.perf_counter()
        self.times.add("actor:busy", self.idle_since - started, time.process_time() - cpu)
        if pieces:
            pieces[0]["profile"] = self.times.drain()
        return pa.Table.from_pylist(pieces, schema=PIECE_SCHEMA)

    def _transcribe(self, batch: pa.Table) -> list[dict[str, Any]]:
        rows = batch.to_pylist()
        for row in rows:
            if row.get("profile"):
                self.times.merge(StageTimes.from_json(row["profile"]))
        with_audio = [r for r in rows if r["features"] is not None or r.get("audio") is not None]
        started = time.perf_counter()
        results = []
        if with_audio and getattr(self.backend, "needs_audio", False):
            results = self.backend.transcribe_audio([np.frombuffer(r["audio"], dtype=np.float32) for r in with_audio])
        elif with_audio:
            features = np.stack(
                [np.frombuffer(r["features"], dtype=np.float32).reshape(r["n_mels"], N_FRAMES) for r in with_audio]
            )
            results = self.backend.transcribe_windows(features, [r["duration_s"] for r in with_audio])
        per_window = (time.perf_counter() - started) / max(1, len(with_audio))
        by_row = dict(zip((id(r) for r in with_audio), results, strict=True))
        pieces = []
        for row in rows:
            result = by_row.get(id(row))
            pieces.extend(
                split_window(
                    row["placements"],
                    result.segments if result else [],
                    result.language if result else None,
                    result.language_probability if result else None,
                    per_window if result else 0.0,
                )
            )
        return pieces
