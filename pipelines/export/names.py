"""Output names for exported files: one unique name per input, always inside the output folder.

Names keep the inputs' folder structure below their common folder and drop the audio extension
(`calls/a.wav` -> `calls/a`). Where that would give two inputs the same output file (`a.wav` and
`a.mp3`, or `a.wav`'s channel 0 and a file called `a.ch0.mp3`), those inputs keep their extension
(`a.wav`, `a.mp3`); a clash left after that (possible only with keys that differ in `.`/`..`
components) gets a short hash of the input path. Object keys are data, not paths: a `..` or `.`
component becomes `__`/`_`, so no key can climb out of the output folder. Inputs from local disks
and from S3 in one dataset are kept apart under `local/` and `s3/`.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict

from models.common.storage import is_s3, strip_scheme


def output_names(suffixes: dict[str, list[str]]) -> dict[str, str]:
    """{input path: relative output stem}; `suffixes` lists the endings each input's files get
    after the stem (`""`, `".ch0"`, `".conversation"`, ...), so clashes are judged on real files."""
    mixed = len({is_s3(p) for p in suffixes}) > 1
    parts = {p: _components(p, mixed) for p in suffixes}
    relative = _below_common_folder(parts)
    stems = {p: "/".join([*c[:-1], os.path.splitext(c[-1])[0] or c[-1]]) for p, c in relative.items()}
    for p in _clashing(stems, suffixes):
        stems[p] = "/".join(relative[p])  # keep the extension
    for p in _clashing(stems, suffixes):
        stems[p] += "-" + hashlib.sha256(p.encode()).hexdigest()[:8]
    return stems


def _components(path: str, mixed: bool) -> list[str]:
    if is_s3(path):
        scheme, key = "s3", strip_scheme(path)
    else:
        scheme, key = "local", os.path.abspath(strip_scheme(path))
    safe = ["_" * len(c) if c in (".", "..") else c for c in key.split("/") if c]
    return ([scheme] if mixed else []) + (safe or ["unnamed"])


def _below_common_folder(parts: dict[str, list[str]]) -> dict[str, list[str]]:
    folders = [c[:-1] for c in parts.values()]
    common = 0
    if folders:
        shortest = min(folders, key=len)
        while common < len(shortest) and all(f[common] == shortest[common] for f in folders):
            common += 1
    return {p: c[common:] for p, c in parts.items()}


def _clashing(stems: dict[str, str], suffixes: dict[str, list[str]]) -> set[str]:
    owners: dict[str, set[str]] = defaultdict(set)
    for path, stem in stems.items():
        for suffix in suffixes[path]:
            owners[stem + suffix].add(path)
    return {p for paths in owners.values() if len(paths) > 1 for p in paths}
