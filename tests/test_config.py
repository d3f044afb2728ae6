from __future__ import annotations

import pytest

from jobs.cli import build_parser
from jobs.options import config_from_args
from models.common.config import ClipInput, ConfigError, ModelConfig, StorageConfig
from pipelines.batch.packing import packs_short_clips
from pipelines.config import ChunkingConfig, ComputeConfig, DecodeConfig, DiarizeConfig, TranscribeConfig


def test_yaml_round_trip_keeps_every_field() -> None:
    config = TranscribeConfig(
        model=ModelConfig(
            model="large-v3",
            beam_size=2,
            temperatures=(0.0, 0.5),
            language="de",
            fallback="sample",
            clip_input=ClipInput(splice="prefix", silence=0.0, forced_start=False),
        ),
        chunking=ChunkingConfig(pack_short_clips=True, vad="on"),
        storage=StorageConfig(s3_endpoint="http://127.0.0.1:9000"),
        compute=ComputeConfig(actor_resources=(("voxray_inference", 1.0),)),
    )
    assert TranscribeConfig.from_yaml_text(config.to_yaml()) == config
    assert TranscribeConfig.from_yaml_text(
        "compute:\n  actor_resources: {voxray_inference: 1}\n"
    ).compute.actor_resources == (("voxray_inference", 1),)


def test_partial_yaml_uses_defaults() -> None:
    config = TranscribeConfig.from_yaml_text("model:\n  beam_size: 1\n")
    assert config.model.beam_size == 1
    assert config.model.model == TranscribeConfig().model.model


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="beam"):
        TranscribeConfig.from_yaml_text("model:\n  beam: 1\n")


def test_fingerprint_ignores_cluster_settings_but_not_model_settings() -> None:
    base = TranscribeConfig()
    assert base.fingerprint() == TranscribeConfig.from_dict({"compute": {"batch_size": 64}}).fingerprint()
    assert base.fingerprint() != TranscribeConfig(model=ModelConfig(beam_size=1)).fingerprint()
    # How short clips are decoded changes transcripts, so it is in the fingerprint.
    window = TranscribeConfig.from_yaml_text("model:\n  clip_input: {splice: window}\n")
    span = TranscribeConfig.from_yaml_text("model:\n  clip_input: {splice: span}\n")
    assert window.model.clip_input == ClipInput(splice="window")
    assert len({base.fingerprint(), window.fingerprint(), span.fingerprint()}) == 3
    # Own encoder passes (the default) leave nothing to share a window for: no packing unless asked for.
    own = TranscribeConfig.from_yaml_text("model:\n  clip_input: {splice: own}\n")
    assert base == own and not packs_short_clips(base) and packs_short_clips(span)
    assert packs_short_clips(
        TranscribeConfig.from_yaml_text("model:\n  clip_input: {splice: own}\nchunking:\n  pack_short_clips: true\n")
    )


def test_text_only_decoding_cannot_be_combined_with_packing_or_the_torch_backend() -> None:
    text_only = ModelConfig(without_timestamps=True)
    assert TranscribeConfig.from_yaml_text(TranscribeConfig(model=text_only).to_yaml()).model.without_timestamps
    with pytest.raises(ValueError, match="timestamps"):
        TranscribeConfig(model=text_only, chunking=ChunkingConfig(pack_short_clips=True))
    with pytest.raises(ValueError, match="ct2"):
        TranscribeConfig(model=ModelConfig(without_timestamps=True, backend="torch"))


def test_fingerprint_changes_when_the_model_behind_a_path_is_replaced(tmp_path) -> None:
    # Same --model path, new weights: transcripts of the old model must not pass for the new one's.
    import os
    import shutil

    from models.common.config import StorageConfig
    from models.registry import resolve_model

    folder = tmp_path / "model"
    shutil.copytree(resolve_model("tiny.en", StorageConfig()), folder)
    config = TranscribeConfig(model=ModelConfig(model=str(folder)))
    before = config.fingerprint()
    assert config.fingerprint() == before  # stable while nothing changes
    weights = folder / "model.bin"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # another model of the same size ...
    weights.write_bytes(bytes(data))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # ... written later
    assert config.fingerprint() != before
    config_json = folder / "config.json"
    changed = config.fingerprint()
    config_json.write_text(config_json.read_text() + "\n")  # a changed model configuration
    assert config.fingerprint() != changed


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("model:\n  device: gpu\n", r"model\.device must be one of 'auto', 'cpu', 'cuda', got 'gpu'"),
        ("model:\n  temperatures: 0.5\n", r"model\.temperatures must be a list"),
        ("model:\n  temperatures: [0.0, -0.2]\n", r"model\.temperatures\[1\] must be >= 0"),
        ("model:\n  beam_size: '5'\n", r"model\.beam_size must be an integer"),
        ("model:\n  fallback: random\n", r"model\.fallback must be one of 'beam', 'sample', got 'random'"),
        ("model:\n  clip_input: {splice: middle}\n", r"model\.clip_input\.splice must be one of 'span', 'prefix'"),
        ("model:\n  beam_size: 0\n", r"model\.beam_size must be >= 1"),
        ("model:\n  word_timestamps: 'yes'\n", r"model\.word_timestamps must be true or false"),
        ("model:\n  compute_type: int4\n", r"model\.compute_type must be one of"),
        ("decode:\n  channels: stereo\n", r"decode\.channels must be one of 'mix', 'split'"),
        ("chunking:\n  vad_threshold: 1.5\n", r"chunking\.vad_threshold must be >= 0 and <= 1"),
        ("compute:\n  batch_size: 0\n", r"compute\.batch_size must be >= 1"),
        ("compute:\n  actor_resources: {gpu_node: many}\n", r"compute\.actor_resources\[0\]\[1\] must be a number"),
        ("model: tiny.en\n", r"model must be a mapping of ModelConfig keys"),
        ("- model\n", r"must hold a mapping of settings"),
    ],
)
def test_wrong_types_and_values_are_refused_at_load_naming_the_key(yaml_text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TranscribeConfig.from_yaml_text(yaml_text)


def test_yaml_text_and_yaml_files_are_separate_entry_points(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  beam_size: 2\n")
    assert TranscribeConfig.from_yaml_file(path).model.beam_size == 2
    assert TranscribeConfig.from_yaml_file(str(path)).model.beam_size == 2
    # A path given as text is text: it is not opened, and it is not a mapping of settings.
    with pytest.raises(ConfigError, match="mapping"):
        TranscribeConfig.from_yaml_text(str(path))
    with pytest.raises(ConfigError, match="cannot read config file"):
        TranscribeConfig.from_yaml_file(tmp_path / "missing.yaml")


def test_nightly_config_is_validated_too() -> None:
    from pipelines.store.nightly import NightlyConfig

    with pytest.raises(ConfigError, match=r"commit_every must be >= 1"):
        NightlyConfig.from_yaml_text("commit_every: 0\n")
    with pytest.raises(ConfigError, match=r"transcribe\.model\.device must be one of"):
        NightlyConfig.from_yaml_text("transcribe:\n  model:\n    device: gpu\n")
    with pytest.raises(ConfigError, match=r"sources must be a list"):
        NightlyConfig.from_yaml_text("sources: s3://bucket/calls/\n")


def test_wrong_flags_exit_2_naming_the_option(tmp_path, capsys) -> None:
    from jobs.cli import main

    config = tmp_path / "run.yaml"
    config.write_text("model:\n  device: gpu\n")
    for argv, message in [
        (["--config", str(config)], "model.device"),
        (["--beam-size", "0"], "model.beam_size must be >= 1"),
        (["--batch-size", "0"], "compute.batch_size must be >= 1"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["transcribe", str(tmp_path), "--output", str(tmp_path / "out"), *argv])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_nightly_flags_apply_on_top_of_its_yaml_file(tmp_path) -> None:
    from jobs.cli import build_parser
    from jobs.nightly import nightly_config_from_args

    path = tmp_path / "nightly.yaml"
    path.write_text("commit_every: 7\ntranscribe:\n  model:\n    beam_size: 2\n    language: en\n")
    args = build_parser().parse_args(["nightly", "in/", "--output", "out/", "--config", str(path), "--beam-size", "3"])
    config = nightly_config_from_args(args)
    assert (config.commit_every, config.sources, config.output) == (7, ("in/",), "out/")
    assert (config.transcribe.model.beam_size, config.transcribe.model.language) == (3, "en")


def test_long_recordings_decode_text_only_unless_finer_timing_is_asked_for() -> None:
    assert TranscribeConfig().text_only_long_form
    assert not TranscribeConfig(model=ModelConfig(without_timestamps=False)).text_only_long_form
    assert not TranscribeConfig(model=ModelConfig(word_timestamps=True)).text_only_long_form
    assert not TranscribeConfig(diarize=DiarizeConfig(enabled=True)).text_only_long_form
    assert not TranscribeConfig(decode=DecodeConfig(channels="split")).text_only_long_form
    assert not TranscribeConfig(model=ModelConfig(backend="torch")).text_only_long_form
    # Short clips keep the timestamps that packing splits them by.
    assert packs_short_clips(TranscribeConfig(model=ModelConfig(clip_input=ClipInput(splice="span"))))


def test_timing_flags_reach_the_config_and_exclude_each_other(capsys) -> None:
    parser = build_parser()
    sentence = parser.parse_args(["transcribe", "x.wav", "--output", "o", "--sentence-timestamps"])
    assert config_from_args(sentence).model.without_timestamps is False
    plain = parser.parse_args(["transcribe", "x.wav", "--output", "o"])
    assert config_from_args(plain).model.without_timestamps is None
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["transcribe", "x.wav", "--output", "o", "--sentence-timestamps", "--without-timestamps"])
    assert exit_info.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_every_model_option_sets_a_config_field_and_each_flag_reaches_it() -> None:
    import dataclasses

    from jobs.options import OPTIONS

    options = [o for group in OPTIONS.values() for o in group if o.target]
    sections = {f.name: f.type for f in dataclasses.fields(TranscribeConfig)}
    for opt in options:
        section, name = opt.target.split(".")
        assert name in {f.name for f in dataclasses.fields(getattr(TranscribeConfig(), section))}, opt.names
    assert len(sections) == len({o.target.split(".")[0] for o in options})  # every section has its flags
    # A few flags, one per section, land in their field (the generic override, not a hand mapping).
    argv = ["--beam-size", "3", "--channels", "split", "--vad", "on", "--num-actors", "2", "--s3-endpoint", "http://e",
            "--redact", "SSN", "--diarize", "--language", "auto"]  # fmt: skip
    config = config_from_args(build_parser().parse_args(["transcribe", "x.wav", "--output", "o", *argv]))
    assert (config.model.beam_size, config.decode.channels, config.chunking.vad) == (3, "split", "on")
    assert (config.compute.num_actors, config.storage.s3_endpoint) == (2, "http://e")
    assert config.redact.entities == ("SSN",) and config.model.word_timestamps  # --redact turns words on
    assert config.diarize.enabled and config.model.language is None


def test_the_fallback_is_deterministic_by_default_and_sampling_is_a_flag(capsys) -> None:
    parser = build_parser()
    assert config_from_args(parser.parse_args(["transcribe", "x.wav", "--output", "o"])).model.fallback == "beam"
    sampled = parser.parse_args(["transcribe", "x.wav", "--output", "o", "--fallback", "sample"])
    assert config_from_args(sampled).model.fallback == "sample"
    with pytest.raises(SystemExit):
        parser.parse_args(["transcribe", "x.wav", "--output", "o", "--fallback", "random"])
    assert "--fallback" in capsys.readouterr().err
