"""A model registry: versioned model folders under one root (local or s3://) and a `current` pointer.

    ROOT/versions/v0001-3fa2c1/  model files + report.json + .complete
    ROOT/versions/v0002-9b07de/
    ROOT/CURRENT.json            {"version": "v0002-9b07de", "history": ["v0001-3fa2c1", "v0002-9b07de"]}

A version folder is complete before anything points at it: locally it is written under a hidden
temporary name and renamed into place; on S3 (no rename) its `.complete` marker is written last
and versions without it are ignored. The pointer is one small object replaced in one step
(`os.replace` locally, one PUT on S3), so a reader sees the old pointer or the new one, never a
mix. `history` is the order versions became current; a rollback drops its last entry. Versions
are never deleted. Two publishers racing on S3: both versions are written, the last pointer
write wins (S3 has no compare-and-swap here); the loser's version stays listed, unreferenced.

`voxray transcribe --model registry:ROOT` (and nightly, serve, eval) resolves to the current
version (models.registry).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.common.config import StorageConfig
from models.common.storage import filesystem, is_s3, strip_scheme

REGISTRY_PREFIX = "registry:"
POINTER = "CURRENT.json"
VERSIONS = "versions"
REPORT = "report.json"
COMPLETE = ".complete"
_VERSION = re.compile(r"^v(\d{4,})-[0-9a-f]{6}$")


class RegistryError(RuntimeError):
    pass


@dataclass(frozen=True)
class Pointer:
    version: str
    history: tuple[str, ...] = field(default_factory=tuple)


class ModelRegistry:
    """Versions and the current pointer of one registry root."""

    def __init__(self, root: str, storage: StorageConfig | None = None) -> None:
        self.root = root.rstrip("/") if is_s3(root) else str(Path(root).expanduser().resolve())
        self.storage = storage or StorageConfig()
        self.fs = filesystem(self.root, self.storage)
        self._base = strip_scheme(self.root) if is_s3(self.root) else self.root

    def path(self, *parts: str) -> str:
        """A location under the root, as voxray names it (an s3:// URL or a local path)."""
        return "/".join([self.root, *parts])

    def _key(self, *parts: str) -> str:
        return "/".join([self._base, *parts])

    def pointer(self) -> Pointer | None:
        key = self._key(POINTER)
        if not self.fs.exists(key):
            return None
        data = json.loads(self.fs.cat_file(key))
        return Pointer(version=data["version"], history=tuple(data.get("history", [data["version"]])))

    def current(self) -> str | None:
        """The current version's folder (s3:// URL or local path), or None when nothing is published."""
        pointer = self.pointer()
        return self.path(VERSIONS, pointer.version) if pointer else None

    def versions(self) -> list[str]:
        """Complete versions, oldest first."""
        prefix = self._key(VERSIONS)
        if not self.fs.exists(prefix):
            return []
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(prefix, detail=False)]
        done = [n for n in names if _VERSION.match(n) and self.fs.exists(self._key(VERSIONS, n, COMPLETE))]
        return sorted(done, key=lambda n: int(_VERSION.match(n).group(1)))

    def report(self, version: str) -> dict[str, Any]:
        return json.loads(self.fs.cat_file(self._key(VERSIONS, version, REPORT)))

    def check_writable(self) -> None:
        """RegistryError naming the root when a file cannot be written there (checked before any work)."""
        probe = self._key(f".write-probe-{uuid.uuid4().hex[:8]}")
        try:
            self.fs.makedirs(self._base, exist_ok=True)
            self.fs.pipe_file(probe, b"voxray")
            self.fs.rm_file(probe)  # our own probe, written a line above
        except Exception as exc:  # local OSError, S3 ClientError/PermissionError ...: all mean "cannot write"
            raise RegistryError(f"registry {self.root} is not writable: {exc}") from exc

    def publish(self, folder: Path, report: dict[str, Any]) -> str:
        """Copy `folder` in as a new version with `report`, then make it current; returns the version."""
        existing = self.versions()
        number = int(_VERSION.match(existing[-1]).group(1)) + 1 if existing else 1
        version = f"v{number:04d}-{uuid.uuid4().hex[:6]}"
        report = {**report, "version": version}
        if is_s3(self.root):
            self._upload(folder, version, report)
        else:
            self._copy_local(folder, version, report)
        previous = self.pointer()
        history = (*previous.history, version) if previous else (version,)
        self._write_pointer(Pointer(version, history))
        return version

    def rollback(self) -> str:
        """Point back at the version current before this one; returns it."""
        pointer = self.pointer()
        if pointer is None or len(pointer.history) < 2:
            raise RegistryError(f"registry {self.root} has no earlier version to roll back to")
        history = pointer.history[:-1]
        self._write_pointer(Pointer(history[-1], history))
        return history[-1]

    def _copy_local(self, folder: Path, version: str, report: dict[str, Any]) -> None:
        versions = Path(self._key(VERSIONS))
        versions.mkdir(parents=True, exist_ok=True)
        partial = versions / f".partial-{version}"
        shutil.copytree(folder, partial)
        (partial / REPORT).write_text(json.dumps(report, indent=2), encoding="utf-8")
        (partial / COMPLETE).write_text(version, encoding="utf-8")
        _fsync_tree(partial)
        os.rename(partial, versions / version)  # atomic; fails rather than merge into an existing folder

    def _upload(self, folder: Path, version: str, report: dict[str, Any]) -> None:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.fs.put_file(str(path), self._key(VERSIONS, version, path.relative_to(folder).as_posix()))
        self.fs.pipe_file(self._key(VERSIONS, version, REPORT), json.dumps(report, indent=2).encode())
        self.fs.pipe_file(self._key(VERSIONS, version, COMPLETE), version.encode())  # last: the version is whole

    def _write_pointer(self, pointer: Pointer) -> None:
        if not self.fs.exists(self._key(VERSIONS, pointer.version, COMPLETE)):
            raise RegistryError(f"refusing to point {self.root} at incomplete version {pointer.version}")
        data = json.dumps({"version": pointer.version, "history": list(pointer.history)}, indent=2).encode()
        if is_s3(self.root):
            self.fs.pipe_file(self._key(POINTER), data)  # one PUT: readers see the old or the new object
            return
        tmp = Path(self._key(f".{POINTER}.{uuid.uuid4().hex[:8]}"))
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._key(POINTER))


def _fsync_tree(folder: Path) -> None:
    """Flush the copied files before the rename publishes them (a crash must not leave empty files)."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def current_version(spec: str, storage: StorageConfig) -> str:
    """`registry:ROOT` -> the current version's folder; FileNotFoundError when there is none."""
    root = spec[len(REGISTRY_PREFIX) :]
    current = ModelRegistry(root, storage).current()
    if current is None:
        raise FileNotFoundError(f"model registry {root} has no current version ({POINTER} missing)")
    return current
