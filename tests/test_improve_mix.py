"""WiSE-FT weight interpolation (`voxray improve --mix`) on real, small transformers Whisper checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from pipelines.improve.interpolate import WEIGHTS, interpolate_weights


def _whisper(folder: Path, seed: int, d_model: int = 16) -> Path:
    """A randomly initialised two-layer Whisper written as transformers writes any checkpoint."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(seed)
    config = WhisperConfig(
        vocab_size=64,
        d_model=d_model,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=8,
        max_target_positions=8,
        decoder_start_token_id=1,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    WhisperForConditionalGeneration(config).save_pretrained(folder)
    return folder


def test_mix_lerps_every_tensor_and_writes_a_loadable_checkpoint(tmp_path: Path) -> None:
    from transformers import WhisperForConditionalGeneration

    base, tuned = _whisper(tmp_path / "base", 0), _whisper(tmp_path / "tuned", 1)
    b, t = load_file(str(base / WEIGHTS)), load_file(str(tuned / WEIGHTS))
    assert any(not torch.equal(b[k], t[k]) for k in b)  # two different models
    for mix in (0.0, 0.25, 1.0):
        out = interpolate_weights(base, tuned, mix, tmp_path / f"mix-{mix}")
        m = load_file(str(out / WEIGHTS))
        assert m.keys() == t.keys()
        for name, tensor in m.items():
            torch.testing.assert_close(tensor, b[name] + mix * (t[name] - b[name]))
    # The result is a whole checkpoint: config and weights load back into transformers.
    model = WhisperForConditionalGeneration.from_pretrained(tmp_path / "mix-0.25")
    name = "model.decoder.layers.0.fc1.weight"
    expected = 0.75 * b[name] + 0.25 * t[name]
    torch.testing.assert_close(model.state_dict()[name], expected)
    assert not list(tmp_path.glob("*.partial"))  # staging folders are renamed into place


def test_mix_refuses_different_architectures_and_out_of_range_weights(tmp_path: Path) -> None:
    base, other = _whisper(tmp_path / "base", 0), _whisper(tmp_path / "wide", 1, d_model=32)
    with pytest.raises(ValueError, match="shape"):
        interpolate_weights(base, other, 0.5, tmp_path / "out")
    with pytest.raises(ValueError, match="between 0 and 1"):
        interpolate_weights(base, base, 1.5, tmp_path / "out")
    assert not (tmp_path / "out").exists()
