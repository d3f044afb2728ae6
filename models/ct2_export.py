"""A (fine-tuned) transformers Whisper checkpoint -> a CTranslate2 folder that `voxray transcribe` loads.

CTranslate2's own converter does the work; we only choose what travels with the weights:
`tokenizer.json` (faster-whisper's tokenizer) and `preprocessor_config.json` (mel bins).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

# CTranslate2 quantisations a user may ask for (None keeps the checkpoint's float32 weights).
QUANTIZATIONS = ("int8", "int8_float16", "int8_float32", "int8_bfloat16", "float16", "bfloat16", "float32")
COPY_FILES = ("tokenizer.json", "preprocessor_config.json")


def export_ct2(src: Path | str, dest: Path | str, quantization: str | None = None, force: bool = False) -> Path:
    """Convert the checkpoint in `src` (local folder, or a Ray Train checkpoint folder holding one) to `dest`."""
    import ctranslate2

    if quantization is not None and quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; choose from {', '.join(QUANTIZATIONS)}")
    src, dest = checkpoint_folder(Path(src)), Path(dest)
    with tempfile.TemporaryDirectory() as staging:
        # The converter copies files by name from the model folder; preprocessor_config.json may only
        # exist inside processor_config.json (transformers 5 writes both), so stage what is missing.
        model_dir = _with_preprocessor_config(src, Path(staging))
        copy = [name for name in COPY_FILES if (model_dir / name).exists()]
        converter = ctranslate2.converters.TransformersConverter(str(model_dir), copy_files=copy)
        converter.convert(str(dest), quantization=quantization, force=force)
    return dest


def checkpoint_folder(path: Path) -> Path:
    """The folder holding config.json: `path` itself or its `model/` subfolder (our Ray Train checkpoints)."""
    for candidate in (path, path / "model"):
        if (candidate / "config.json").exists():
            return candidate
    raise FileNotFoundError(f"no transformers checkpoint (config.json) in {path} or {path / 'model'}")


def _with_preprocessor_config(src: Path, staging: Path) -> Path:
    if (src / "preprocessor_config.json").exists() or not (src / "processor_config.json").exists():
        return src
    processor = json.loads((src / "processor_config.json").read_text())
    if "feature_extractor" not in processor:
        return src
    staged = staging / "model"
    staged.mkdir()
    for item in src.iterdir():
        if item.is_file():
            (staged / item.name).symlink_to(item.resolve())
    (staged / "preprocessor_config.json").write_text(json.dumps(processor["feature_extractor"], indent=2))
    return staged
