from __future__ import annotations

import pytest

from models.common.config import ModelConfig, StorageConfig
from pipelines.config import ChunkingConfig, ComputeConfig, TranscribeConfig


def test_yaml_round_trip_keeps_every_field() -> None:
    config = TranscribeConfig(
        model=ModelConfig(model="large-v3", beam_size=2, temperatures=(0.0, 0.5), language="de"),
        chunking=ChunkingConfig(pack_short_clips=True, vad="on"),
        storage=StorageConfig(s3_endpoint="http://127.0.0.1:9000"),
        compute=ComputeConfig(actor_resources=(("voxray_inference", 1.0),)),
    )
    assert TranscribeConfig.from_yaml(config.to_yaml()) == config
    assert TranscribeConfig.from_yaml(
        "compute:\n  actor_resources: {voxray_inference: 1}\n"
    ).compute.actor_resources == (("voxray_inference", 1),)


def test_partial_yaml_uses_defaults() -> None:
    config = TranscribeConfig.from_yaml("model:\n  beam_size: 1\n")
    assert config.model.beam_size == 1
    assert config.model.model == TranscribeConfig().model.model


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="beam"):
        TranscribeConfig.from_yaml("model:\n  beam: 1\n")


def test_fingerprint_ignores_cluster_settings_but_not_model_settings() -> None:
    base = TranscribeConfig()
    assert base.fingerprint() == TranscribeConfig.from_dict({"compute": {"batch_size": 64}}).fingerprint()
    assert base.fingerprint() != TranscribeConfig(model=ModelConfig(beam_size=1)).fingerprint()


def test_text_only_decoding_cannot_be_combined_with_packing_or_the_torch_backend() -> None:
    text_only = ModelConfig(without_timestamps=True)
    assert TranscribeConfig.from_yaml(TranscribeConfig(model=text_only).to_yaml()).model.without_timestamps
    with pytest.raises(ValueError, match="timestamps"):
        TranscribeConfig(model=text_only, chunking=ChunkingConfig(pack_short_clips=True))
    with pytest.raises(ValueError, match="ct2"):
        TranscribeConfig(model=ModelConfig(without_timestamps=True, backend="torch"))
