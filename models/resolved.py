"""A model resolved once: where its files are and what a run must know about it before loading it.

`--model` may name the bundled tiny.en, a local folder, an s3:// folder, `registry:ROOT` or a hub
id (models.registry). Working that out costs I/O: an s3:// folder is listed, a registry's pointer
is read, a CTranslate2 folder is imported for the torch backend. A run does it once, on its driver
(`resolve`), and hands the frozen `ResolvedModel` to every actor, which loads from it
(`local_folder`) without resolving the name again: so all actors load the same registry version
even if another is promoted meanwhile, and an s3:// model is listed once per run, not per actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models import registry
from models.common.audio import is_multilingual as vocab_is_multilingual
from models.common.config import ModelConfig, StorageConfig
from models.common.storage import CACHE_DIR, is_s3
from models.registry import BUNDLED_MODEL, ModelNotFoundError


@dataclass(frozen=True)
class ResolvedModel:
    spec: str  # as configured (`--model`)
    # What rows record and actors load: a registry's current version's folder, else `spec`.
    name: str
    backend: Literal["ct2", "torch"]
    # The files on the resolving node; None: a hub id the torch backend loads by name.
    folder: str | None
    # An s3:// folder's objects as (key, ETag or size), from the one listing: another node fetches
    # exactly these (a model replaced during the run is not mixed in).
    objects: tuple[tuple[str, str], ...]
    identity: str  # what the files are (models.registry.model_identity), for run fingerprints
    n_mels: int  # mel bins of its features; 0 for a model that reads audio
    needs_audio: bool  # a CTC model: reads audio, not log-mel features
    multilingual: bool

    def check_resolves(self, model: ModelConfig) -> None:
        """ValueError unless this record was resolved from `model` (a caller passing both must not mix them)."""
        if model.model not in (self.spec, self.name) or model.backend != self.backend:
            raise ValueError(f"model {model.model!r} ({model.backend}) was resolved as {self.spec!r} ({self.backend})")

    def local_folder(self, storage: StorageConfig, cache_dir: Path = CACHE_DIR) -> Path | None:
        """The model's folder on this node (None: a hub id), fetched here if the resolving node's copy is not."""
        if self.folder is not None and Path(self.folder).is_dir():
            return Path(self.folder)
        if self.objects:
            return registry.fetch_s3_objects(self.name, self.objects, storage, cache_dir)
        if self.folder is None:
            return None
        if self.name.startswith((".", "/", "~")):
            raise ModelNotFoundError(f"model folder not found on this node: {self.folder}")
        # The bundled model or a hub download: this node's own copy of the same name.
        return registry.resolve_model(self.name, storage, cache_dir)


def resolve(model: ModelConfig, storage: StorageConfig, cache_dir: Path = CACHE_DIR) -> ResolvedModel:
    """Work out `model.model` once: pin a registry, list and fetch an s3:// folder, read the model's facts.

    The registry's functions are called through its module, so that a test can count them
    (tests/test_model_resolution.py).
    """
    name = registry.pin_version(model.model, storage)
    objects = registry.list_s3_folder(name, storage) if is_s3(name) else ()
    if is_s3(name) and not objects:
        raise ModelNotFoundError(f"no model files under {name}")
    folder: Path | None
    if objects:
        folder = registry.fetch_s3_objects(name, objects, storage, cache_dir)
    elif model.backend == "torch" and not _has_files(name):
        folder = None  # a hub id: transformers downloads it (when online)
    else:
        folder = registry.resolve_model(name, storage, cache_dir)
    n_mels, needs_audio, multilingual = _torch_facts(folder, name) if model.backend == "torch" else _ct2_facts(folder)
    return ResolvedModel(
        spec=model.model,
        name=name,
        backend=model.backend,
        folder=None if folder is None else str(folder),
        objects=objects,
        identity=registry.s3_identity(objects) if objects else registry.local_identity(name),
        n_mels=n_mels,
        needs_audio=needs_audio,
        multilingual=multilingual,
    )


def _has_files(name: str) -> bool:
    """Whether `name` is files here (a folder, an s3:// folder, the bundled model), not a hub id."""
    local = Path(name).expanduser()
    return is_s3(name) or local.is_dir() or (name == BUNDLED_MODEL and registry.bundled_model_path() is not None)


def _ct2_facts(folder: Path | None) -> tuple[int, bool, bool]:
    if folder is None:
        raise ModelNotFoundError("a CTranslate2 model needs a folder")
    return registry.n_mels_of(folder), False, registry.is_multilingual(folder)


def _torch_facts(folder: Path | None, name: str) -> tuple[int, bool, bool]:
    """(mel bins, reads audio, multilingual) of a transformers model, from its config alone."""
    from transformers import AutoConfig

    from models.whisper_torch import is_ctc, transformers_folder

    source: Path | str = transformers_folder(folder) if folder is not None else name
    if is_ctc(source):
        return 0, True, False
    config = AutoConfig.from_pretrained(source)
    return int(getattr(config, "num_mel_bins", 80)), False, vocab_is_multilingual(int(config.vocab_size))
