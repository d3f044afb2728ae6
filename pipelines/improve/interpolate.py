"""Weight-space interpolation between the starting model and its fine-tuned copy (WiSE-FT).

theta = (1 - mix) * base + mix * tuned, tensor by tensor, on the transformers weights before the
CTranslate2 export. Wortsman et al., "Robust fine-tuning of zero-shot models" (CVPR 2022): the
interpolated model keeps most of the fine-tuned model's gain on the target domain and most of the
base model's robustness elsewhere. Here the fine-tune learns the glossary's words from espeak-like
pseudo-labels and loses general real speech; `mix` trades one for the other without retraining.
"""

from __future__ import annotations

import shutil
from pathlib import Path

WEIGHTS = "model.safetensors"


def interpolate_weights(base: Path, tuned: Path, mix: float, dest: Path) -> Path:
    """A transformers folder at `dest`: `tuned`'s files with weights (1 - mix) * base + mix * tuned.

    ValueError when the two checkpoints do not hold the same tensors with the same shapes (not the
    same architecture), or when `mix` is outside [0, 1].
    """
    import torch
    from safetensors.torch import load_file, save_file

    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be between 0 and 1, not {mix}")
    base_w, tuned_w = load_file(str(Path(base) / WEIGHTS)), load_file(str(Path(tuned) / WEIGHTS))
    if base_w.keys() != tuned_w.keys():
        odd = sorted(base_w.keys() ^ tuned_w.keys())
        raise ValueError(f"{base} and {tuned} hold different tensors: {', '.join(odd[:5])}")
    mixed = {}
    for name, t in tuned_w.items():
        b = base_w[name]
        if b.shape != t.shape:
            raise ValueError(f"{name}: shape {tuple(b.shape)} in {base}, {tuple(t.shape)} in {tuned}")
        # float32 arithmetic: the base is often float16 (CTranslate2's tiny.en), the tuned float32.
        mixed[name] = torch.lerp(b.float(), t.float(), mix).to(t.dtype).contiguous()
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)  # our own staging folder from an interrupted attempt
    shutil.copytree(tuned, staging, ignore=shutil.ignore_patterns(WEIGHTS))
    save_file(mixed, str(staging / WEIGHTS), metadata={"format": "pt"})
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return dest
