"""Fine-tuning with Ray Train: two DDP workers on CPU (gloo), checkpoints, and resume.

The model is a tiny randomly initialised Whisper (d_model 64, 2 layers) with tiny.en's real
tokenizer, so the data path (Ray Data decode + log-mel + tokenisation) and the training loop are
the real ones while each step costs milliseconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures_ray import ray_local  # noqa: F401

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from models.common.config import StorageConfig
    from models.ct2_import import load_tokenizer, write_checkpoint
    from models.registry import resolve_model

    ct2_dir = resolve_model("tiny.en", StorageConfig())
    ct2_config = json.loads((ct2_dir / "config.json").read_text())
    config = WhisperConfig(
        vocab_size=51864,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        decoder_start_token_id=50257,
        bos_token_id=50257,
        eos_token_id=50256,
        pad_token_id=50256,
        suppress_tokens=ct2_config["suppress_ids"],
        begin_suppress_tokens=ct2_config["suppress_ids_begin"],
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    dest = tmp_path_factory.mktemp("tiny_whisper")
    return write_checkpoint(model, load_tokenizer(ct2_dir), {"alignment_heads": [[1, 0]]}, dest)


def _manifest(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps({"path": r["path"], "text": r["text"]}) + "\n" for r in rows))
    return str(path)


@pytest.mark.slow
@pytest.mark.serial  # two Ray Train workers take both cores; it timed out once beside two other trainings
def test_ddp_two_workers_checkpoint_and_resume_on_exactly_the_seeded_batches(
    ray_local,  # noqa: F811
    tiny_whisper,
    speech_manifest,
    tmp_path,
):
    # One stop and one resume of a two-worker run covers what two tests each paid two Ray Train
    # runs for (DDP checkpoints, and resume on exactly the batches an uninterrupted run trains on).
    from models.common.config import StorageConfig
    from pipelines.training.checkpoint import UNVALIDATED_WER, load_training_state
    from pipelines.training.data import canonical_rows, epoch_examples, epoch_indices, training_dataset
    from pipelines.training.finetune import FinetuneConfig, RunSpec, _examples_stage, run_finetune
    from pipelines.training.model import batches as training_batches
    from pipelines.training.model import load_model
    from pipelines.training.worker import _digest

    wavs = [r for r in speech_manifest if r["path"].endswith(".wav")]
    # 2 workers x 0.5 CPU + data actors at 0.25 CPU fit the 2-CPU test cluster.
    spec = RunSpec(
        train=_manifest(tmp_path / "train.jsonl", list(reversed(wavs[:4]))),
        val=_manifest(tmp_path / "val.jsonl", wavs[4:6]),
        storage=str(tmp_path / "runs"),
        name="tiny",
        num_workers=2,
        cpus_per_worker=0.5,
        data_cpus=0.25,
    )
    base = {"model": str(tiny_whisper), "batch_size": 1, "lr": 1e-3, "warmup_steps": 1, "checkpoint_every": 1}
    # 4 clips over 2 workers at batch 1: 2 optimizer steps per epoch. Stopped at the end of epoch
    # 0's batches, before its validation, then resumed into epoch 2: the resumed run skips all of
    # epoch 0's batches, validates epoch 0, trains epoch 1 and one batch of epoch 2.
    stopped = run_finetune(FinetuneConfig(**base, epochs=3, max_steps=2, spec_augment=True), spec)
    assert (stopped.steps, stopped.resumed_at) == (2, None)
    assert stopped.latest_checkpoint is not None
    state = load_training_state(Path(stopped.latest_checkpoint) / "state.pt")
    assert (state["state"]["step"], state["state"]["epoch"], state["state"]["batches_in_epoch"]) == (2, 0, 2)

    # The same storage and name again, allowed to go further: it continues from step 2.
    resumed = run_finetune(FinetuneConfig(**base, epochs=3, max_steps=5, spec_augment=True), spec)
    assert (resumed.resumed_at, resumed.steps) == (2, 5)

    # What rank 0 of an uninterrupted run trains on: epochs 0 and 1 (2 batches each), then epoch
    # 2's first, in the order the seed gives each epoch (the manifest's own order does not matter).
    cfg = FinetuneConfig(**base)
    rows = canonical_rows(training_dataset(spec.train, StorageConfig()))
    stage, kwargs = _examples_stage(str(tiny_whisper), StorageConfig(), cfg)
    expected = ""
    for epoch, count in ((0, 2), (1, 2), (2, 1)):
        examples = epoch_examples(rows, epoch_indices(rows.num_rows, cfg.seed, epoch, 0, 2), stage, kwargs, 0.25)
        for _, batch in zip(range(count), training_batches(examples, cfg, "whisper"), strict=False):
            expected = _digest(expected, batch)
    assert stopped.data_digest not in ("", expected)
    assert resumed.data_digest == expected

    # Epochs 0 and 1 were validated, both during the resumed run: the best WER is a validation's
    # number, as its checkpoint recorded it (not the placeholder of unvalidated checkpoints).
    assert resumed.best_wer is not None and 0.0 <= resumed.best_wer < UNVALIDATED_WER
    assert resumed.best_checkpoint is not None
    best_state = torch.load(Path(resumed.best_checkpoint) / "state.pt", weights_only=False)
    assert best_state["state"]["best_wer"] == pytest.approx(resumed.best_wer)
    model, kind = load_model(str(Path(resumed.latest_checkpoint) / "model"))
    assert kind == "whisper"
    # Training moved the weights away from the random initialisation, by what 5 AdamW steps at
    # lr 1e-3 can move them: most tensors changed, none by more than a few steps of lr (a reload
    # that re-randomised or lost the weights would fail one side or the other).
    original, _ = load_model(str(tiny_whisper))
    deltas = [
        float((a - b).abs().max())
        for a, b in zip(model.state_dict().values(), original.state_dict().values(), strict=True)
        if a.is_floating_point()
    ]
    assert sum(d > 0 for d in deltas) >= 0.5 * len(deltas)
    assert max(deltas) <= 4 * base["lr"] * 3
    # Checkpoints kept: Ray Train keeps the num_to_keep best by val_wer and, on top of them, the
    # latest (its CheckpointManager never deletes the latest). Here that is the two validated epoch
    # ends and step 5; every unvalidated checkpoint before step 5, from either run, is gone.
    kept = {p.name for p in (tmp_path / "runs" / "tiny").iterdir() if p.is_dir() and p.name.startswith("checkpoint_")}
    assert {Path(resumed.best_checkpoint).name, Path(resumed.latest_checkpoint).name} <= kept
    assert len(kept) == spec.num_to_keep + 1


class _RunsCodeWhenUnpickled:
    """A pickle payload: unpickling it creates `marker` (any callable could run instead)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_training_state_is_loaded_as_weights_only(tmp_path: Path) -> None:
    import pickle

    from pipelines.training.checkpoint import load_training_state, save_training_state
    from pipelines.training.model import linear_schedule

    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    scheduler = linear_schedule(optimizer, 1, 4)
    scheduler.step()
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    state = {"step": 1, "epoch": 0, "batches_in_epoch": 1, "best_wer": None, "baseline_wer": 0.5, "resumed_at": None}
    save_training_state(tmp_path / "state.pt", optimizer, scheduler, scaler, state)
    saved = load_training_state(tmp_path / "state.pt")
    assert saved["state"] == state
    restored = torch.optim.AdamW(torch.nn.Linear(4, 2).parameters(), lr=1e-3)
    restored.load_state_dict(saved["optimizer"])
    assert torch.equal(restored.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert saved["scheduler"]["last_epoch"] == 1

    # A checkpoint planted on shared storage: loading it must not run its code.
    marker = tmp_path / "code-ran"
    torch.save({"state": _RunsCodeWhenUnpickled(marker)}, tmp_path / "planted.pt")
    with pytest.raises(pickle.UnpicklingError):
        load_training_state(tmp_path / "planted.pt")
    assert not marker.exists()


def test_epoch_order_is_seeded_per_epoch_and_split_evenly() -> None:
    from pipelines.training.data import epoch_indices

    n, world = 10, 3
    shares = [epoch_indices(n, seed=7, epoch=0, rank=r, world=world) for r in range(world)]
    assert [len(s) for s in shares] == [3, 3, 3]  # equal shares: every DDP worker steps as often
    assert len(set(np.concatenate(shares))) == 9  # no row twice in an epoch
    again = [epoch_indices(n, seed=7, epoch=0, rank=r, world=world) for r in range(world)]
    assert all(np.array_equal(a, b) for a, b in zip(shares, again, strict=True))  # same seed, same order
    epochs = [tuple(epoch_indices(n, seed=7, epoch=e, rank=0, world=1)) for e in range(4)]
    assert len(set(epochs)) == 4  # a new order every epoch
    assert tuple(epoch_indices(n, seed=8, epoch=0, rank=0, world=1)) != epochs[0]


@pytest.mark.slow
def test_finetune_options_on_the_command_line_are_checked_before_ray_starts(tiny_whisper, tmp_path, capsys) -> None:
    from jobs.cli import main

    manifest = _manifest(tmp_path / "m.jsonl", [{"path": "a.wav", "text": "a"}])
    common = ["finetune", "--model", str(tiny_whisper), "--train", manifest, "--val", manifest]
    common += ["--storage", str(tmp_path / "runs"), "--name", "n", "--seed", "3", "--weight-decay", "0.01"]
    for flags, message in [
        (["--language", "de"], "transcribes English only"),
        (["--epochs", "0"], "epochs must be >= 1"),
        (["--timestamp-share", "1.5"], "timestamp_share must be >= 0 and <= 1"),
    ]:
        assert main([*common, *flags]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_freezing_keeps_the_encoder_and_the_decoder_embeddings(tiny_whisper) -> None:
    from pipelines.training.model import load_model
    from pipelines.training.settings import FinetuneConfig
    from pipelines.training.worker import freeze

    model, kind = load_model(str(tiny_whisper))
    freeze(model, kind, FinetuneConfig(freeze_encoder=True, freeze_embeddings=True))
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trained and all(name.startswith("model.decoder.layers.") or "layer_norm" in name for name in trained)
    assert not model.get_output_embeddings().weight.requires_grad  # tied to embed_tokens


def test_l2sp_is_validated_round_trips_yaml_and_anchors_on_the_starting_weights(tiny_whisper) -> None:
    from pipelines.training.model import load_model
    from pipelines.training.settings import FinetuneConfig
    from pipelines.training.worker import _anchor

    cfg = FinetuneConfig(l2sp=0.1, freeze_encoder=True)
    assert FinetuneConfig.from_yaml_text(cfg.to_yaml()) == cfg
    with pytest.raises(ValueError, match="l2sp"):
        FinetuneConfig.from_dict({"l2sp": -1.0})
    model, _ = load_model(str(tiny_whisper))
    model.model.encoder.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    fresh = _anchor(model, str(tiny_whisper), resumed=False)
    with torch.no_grad():
        for p in trained:
            p.add_(0.5)  # the weights have moved, as a checkpoint's have when a run resumes
    resumed = _anchor(model, str(tiny_whisper), resumed=True)
    assert len(fresh) == len(resumed) == len(trained) > 0
    for p, start, reread in zip(trained, fresh, resumed, strict=True):
        torch.testing.assert_close(start, reread)  # both are the starting model's values
        assert not torch.equal(p, start)


def test_distillation_is_validated_round_trips_yaml_and_needs_the_general_flag(tmp_path, speech_manifest) -> None:
    from models.common.config import StorageConfig
    from pipelines.training.data import manifest_items
    from pipelines.training.settings import FinetuneConfig

    cfg = FinetuneConfig(distill_general=1.0, distill_domain=0.1, freeze_encoder=True)
    assert FinetuneConfig.from_yaml_text(cfg.to_yaml()) == cfg
    for key in ("distill_general", "distill_domain"):
        with pytest.raises(ValueError, match=key):
            FinetuneConfig.from_dict({key: -0.5})
    # The manifest's optional `general` column (JSON true, CSV text) reaches the training rows; absent: false.
    wavs = [r for r in speech_manifest if r["path"].endswith(".wav")][:3]
    manifest = tmp_path / "m.jsonl"
    rows = [{"path": wavs[0]["path"], "text": "a", "general": True}, {"path": wavs[1]["path"], "text": "b"}]
    rows.append({"path": wavs[2]["path"], "text": "c", "general": "false"})
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    flags = {r["text"]: r["general"] for r in manifest_items(str(manifest), StorageConfig())}
    assert flags == {"a": True, "b": False, "c": False}


def test_distilled_loss_is_the_label_loss_near_the_start_model_and_weights_each_clip(tiny_whisper) -> None:
    from pipelines.training.data import IGNORE_INDEX
    from pipelines.training.model import distillation, distilled_loss, load_model, loss
    from pipelines.training.settings import FinetuneConfig

    student, _ = load_model(str(tiny_whisper))
    frozen, _ = load_model(str(tiny_whisper))
    student.model.encoder.requires_grad_(False)
    torch.manual_seed(1)
    labels = torch.full((2, 224), IGNORE_INDEX)
    labels[:, :6] = torch.tensor([50362, 464, 3797, 318, 257, 50256])
    labels[1, 4:6] = IGNORE_INDEX  # the second clip's label is shorter
    batch = {"features": torch.randn(2, 80, 3000), "labels": labels, "general": torch.tensor([1.0, 0.0])}
    cpu = torch.device("cpu")
    cfg = FinetuneConfig(distill_general=1.0, distill_domain=0.25, freeze_encoder=True)
    plain = loss(student, batch, "whisper", cpu, None, None, True)
    # The student is still the start model: the distillation term is 0 and the loss is the label loss.
    torch.testing.assert_close(distilled_loss(student, frozen, batch, cfg, cpu, None, None), plain)
    with torch.no_grad():
        student.model.decoder.layer_norm.weight.mul_(20.0)  # the student has moved: sharper predictions
    moved = distilled_loss(student, frozen, batch, cfg, cpu, None, None)
    moved.backward()
    assert float(moved.detach()) > float(loss(student, batch, "whisper", cpu, None, None, True).detach()) + 0.01
    assert student.model.decoder.layers[0].fc1.weight.grad is not None
    assert student.model.encoder.layers[0].fc1.weight.grad is None  # the shared encoder stays frozen
    # Per clip: weight times the mean over its own label positions; padding positions count nowhere.
    logits, reference = torch.randn(2, 6, 10), torch.randn(2, 6, 10)
    cropped = labels[:, :6]
    one = distillation(logits, reference, cropped, torch.tensor([1.0, 0.0]))
    other = distillation(logits, reference, cropped, torch.tensor([0.0, 1.0]))
    both = distillation(logits, reference, cropped, torch.tensor([1.0, 0.25]))
    torch.testing.assert_close(both, one + 0.25 * other)
    torch.testing.assert_close(distillation(reference, reference, cropped, torch.ones(2)), torch.tensor(0.0))
    padded = reference.clone()
    padded[1, 4:] = 0.0  # a change at the second clip's padding positions changes nothing
    unweighted = distillation(logits, reference, cropped, torch.ones(2))
    torch.testing.assert_close(distillation(logits, padded, cropped, torch.ones(2)), unweighted)


def test_the_encoder_cache_encodes_each_clip_once_within_its_budget_and_changes_no_loss(tiny_whisper) -> None:
    from pipelines.training.data import IGNORE_INDEX
    from pipelines.training.model import EncoderCache, Validator, distilled_loss, load_model, loss
    from pipelines.training.settings import FinetuneConfig

    student, _ = load_model(str(tiny_whisper))
    frozen, _ = load_model(str(tiny_whisper))
    student.model.encoder.requires_grad_(False)
    encoder = student.model.encoder
    calls: list[int] = []
    encoder.register_forward_hook(lambda _m, _i, out: calls.append(out.last_hidden_state.shape[0]))
    torch.manual_seed(2)
    clips = torch.randn(3, 80, 3000)
    labels = torch.full((2, 224), IGNORE_INDEX)
    labels[:, :5] = torch.tensor([50362, 464, 3797, 318, 50256])
    cpu = torch.device("cpu")
    cfg = FinetuneConfig(distill_general=1.0, distill_domain=0.25, freeze_encoder=True)
    one_clip = encoder(clips[:1]).last_hidden_state
    cache = EncoderCache(budget_bytes=2 * one_clip.numel() * one_clip.element_size())  # room for two clips
    encoded: list[int] = []
    for rows in ([0, 1], [1, 0], [2, 0], [2, 1]):
        batch = {"features": clips[rows], "labels": labels, "general": torch.tensor([1.0, 0.0])}
        calls.clear()
        cached = distilled_loss(student, frozen, batch, cfg, cpu, None, None, cache=cache)
        encoded.append(sum(calls))
        torch.testing.assert_close(cached, distilled_loss(student, frozen, batch, cfg, cpu, None, None))
        plain = loss(student, batch, "whisper", cpu, None, None, True)
        torch.testing.assert_close(loss(student, batch, "whisper", cpu, None, None, True, cache=cache), plain)
    # Clips 0 and 1 were encoded once; clip 2, past the budget, each time it came.
    assert encoded == [2, 0, 1, 1]
    assert len(cache) == 2 and cache.used_bytes == cache.budget_bytes
    # Validation decodes from the cached outputs: the same tokens, no encoding of a cached clip.
    student.eval()
    batch = {"features": clips[:2].numpy()}
    calls.clear()
    from_cache = Validator(cfg, "whisper", str(tiny_whisper), 0, cache)._transcribe(student, batch, cpu)
    assert sum(calls) == 0
    assert from_cache == Validator(cfg, "whisper", str(tiny_whisper), 0)._transcribe(student, batch, cpu)
