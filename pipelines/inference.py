"""GPU (or CPU) stage: an actor pool running the model over batches of windows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from models.common.audio import N_FRAMES
from models.languages import check_language
from models.registry import n_mels_of, resolve_model
from pipelines.assemble import PIECE_SCHEMA, split_window
from pipelines.config import TranscribeConfig


def model_input(config: TranscribeConfig) -> tuple[int, bool]:
    """(mel bins, needs_audio): what the preparation stage must produce for this model."""
    if config.model.backend == "torch":
        from models.whisper_torch import model_info

        return model_info(config.model.model, config.storage)
    return n_mels_of(resolve_model(config.model.model, config.storage)), False


def model_folder(config: TranscribeConfig) -> Path | None:
    """The configured model's local folder (None: a hub id that the torch backend downloads itself)."""
    if config.model.backend == "torch":
        from models.whisper_torch import resolve_torch_model

        source = Path(resolve_torch_model(config.model.model, config.storage))
        return source if source.is_dir() else None
    return resolve_model(config.model.model, config.storage)


def check_model_language(config: TranscribeConfig, language: str | None) -> None:
    """UnsupportedLanguageError unless the configured model knows `language` (None: detection).

    Called where a run starts or a request arrives: Whisper's decoder would otherwise fail on an
    unknown language token inside an actor, or an English-only model would silently answer in English.
    """
    if language is None:
        return
    folder = model_folder(config)
    if folder is not None:
        check_language(folder, language, config.model.model)


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
        self.backend = load_backend(config, threads)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
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
        return pa.Table.from_pylist(pieces, schema=PIECE_SCHEMA)
