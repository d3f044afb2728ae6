"""`voxray improve`: the model registry, the pseudo-label filters, the gate, and the loop's refusals.

The registry tests use real folders and the real SeaweedFS S3 server; the loop tests use real Ray,
the bundled tiny.en and the packaged Whisper base as the teacher.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from pathlib import Path

import pytest

from models.common.config import StorageConfig
from models.registry import ModelNotFoundError, bundled_model_path, model_identity, resolve_model
from models.versions import COMPLETE, POINTER, ModelRegistry, RegistryError
from tests.fixtures_ray import ray_local  # noqa: F401

DATA = Path(__file__).parent / "data"


def _model_folder(tmp_path: Path, name: str, payload: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"payload": payload}))
    (folder / "model.bin").write_bytes(payload.encode() * 100)
    return folder


def test_registry_publishes_versions_moves_current_and_rolls_back(tmp_path: Path) -> None:
    registry = ModelRegistry(str(tmp_path / "reg"))
    assert registry.pointer() is None and registry.versions() == []
    with pytest.raises(ModelNotFoundError, match="no current version"):
        resolve_model(f"registry:{tmp_path / 'reg'}", StorageConfig())
    first = registry.publish(_model_folder(tmp_path, "a", "one"), {"wer": 0.5})
    second = registry.publish(_model_folder(tmp_path, "b", "two"), {"wer": 0.2})
    assert registry.versions() == [first, second]
    assert registry.report(second) == {"wer": 0.2, "version": second}
    spec = f"registry:{tmp_path / 'reg'}"
    assert resolve_model(spec, StorageConfig()) == Path(registry.current())
    assert json.loads((resolve_model(spec, StorageConfig()) / "config.json").read_text()) == {"payload": "two"}
    promoted = model_identity(spec, StorageConfig())
    assert registry.rollback() == first
    assert Path(registry.current()).name == first
    assert model_identity(spec, StorageConfig()) != promoted
    with pytest.raises(RegistryError, match="no earlier version"):
        registry.rollback()
    # The rolled-back version stays on disk: versions are never deleted.
    assert (tmp_path / "reg" / "versions" / second / COMPLETE).exists()


def test_pointer_never_names_a_partial_version(tmp_path: Path) -> None:
    """Readers polling during publishes always find a complete folder behind the pointer."""
    registry = ModelRegistry(str(tmp_path / "reg"))
    registry.publish(_model_folder(tmp_path, "seed", "seed"), {})
    big = _model_folder(tmp_path, "big", "x" * 2000)
    seen: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            current = Path(registry.current())
            assert (current / COMPLETE).exists() and (current / "model.bin").stat().st_size > 0
            seen.append(current.name)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(5):
            registry.publish(big, {})
    finally:
        stop.set()
        reader.join()
    assert len(set(seen)) >= 2
    # A crashed publish leaves only a hidden partial folder, which is never listed.
    (tmp_path / "reg" / "versions" / ".partial-v0099-abcdef").mkdir()
    assert len(registry.versions()) == 6


def test_registry_refuses_an_unwritable_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RegistryError, match=str(blocker)):
        ModelRegistry(str(blocker / "reg")).check_writable()


def test_fingerprint_follows_the_registry_pointer(tmp_path: Path) -> None:
    from pipelines.config import TranscribeConfig

    tiny = bundled_model_path()
    registry = ModelRegistry(str(tmp_path / "reg"))
    registry.publish(tiny, {"base": True})
    config = TranscribeConfig.from_dict({"model": {"model": f"registry:{tmp_path / 'reg'}"}})
    before = config.fingerprint()
    registry.publish(tiny, {"base": False})
    after = config.fingerprint()
    registry.rollback()
    assert before != after and config.fingerprint() == before


@pytest.mark.slow
def test_registry_on_s3(s3_env, tmp_path: Path) -> None:
    s3_env.make_bucket("models")
    storage = StorageConfig()
    root = "s3://models/flywheel"
    registry = ModelRegistry(root, storage)
    registry.check_writable()
    first = registry.publish(_model_folder(tmp_path, "a", "one"), {"n": 1})
    second = registry.publish(_model_folder(tmp_path, "b", "two"), {"n": 2})
    # An upload that died before its marker: listed by S3, never by the registry.
    s3_env.client().put_object(Bucket="models", Key="flywheel/versions/v0003-abcdef/model.bin", Body=b"half")
    assert registry.versions() == [first, second]
    local = resolve_model(f"registry:{root}", storage, cache_dir=tmp_path / "cache")
    assert json.loads((local / "config.json").read_text()) == {"payload": "two"}
    assert registry.rollback() == first
    pointer = json.loads(s3_env.client().get_object(Bucket="models", Key=f"flywheel/{POINTER}")["Body"].read())
    assert pointer == {"version": first, "history": [first]}
    assert registry.report(second)["n"] == 2


# --- filters and gate (pure) ----------------------------------------------------------------------


def _row(path: str, text: str, *, status: str = "ok", duration: float = 3.0, **segment: float) -> dict:
    seg = {"start": 0.0, "end": duration, "avg_logprob": -0.2, "no_speech_prob": 0.01, "flagged": False, **segment}
    return {"path": path, "status": status, "text": text, "duration_s": duration, "segments": [seg]}


def test_filters_count_each_removal_under_its_first_reason() -> None:
    from pipelines.improve import filters

    sentence = "please add Roamshield to my Veltrix Fiber account"
    teacher = [
        _row("ok", sentence),
        _row("broken", "", status="error", duration=0.0),
        _row("short", sentence, duration=0.2),
        _row("empty", "", segments=[]),
        _row("flagged", sentence, flagged=True),
        _row("silence", sentence, no_speech_prob=0.9),
        _row("unsure", sentence, avg_logprob=-1.5),
        _row("loop", " ".join(["the plan the plan"] * 20)),
        _row("disagree", sentence),
        _row("orphan", sentence),
    ]
    production = {r["path"]: {**r, "status": "ok", "text": sentence} for r in teacher if r["path"] != "orphan"}
    production["disagree"]["text"] = "ich möchte bitte einen Vertrag kündigen"
    production["loop"]["text"] = teacher[7]["text"]
    result = filters.select(teacher, production, filters.FilterConfig())
    assert [k.path for k in result.kept] == ["ok"] and result.seen == 10
    expected = {
        filters.UNREADABLE: 1,
        filters.NO_PRODUCTION: 1,
        filters.TOO_SHORT: 1,
        filters.NO_TEXT: 1,
        filters.FLAGGED: 1,
        filters.NO_SPEECH: 1,
        filters.LOW_LOGPROB: 1,
        filters.REPETITIVE: 1,
        filters.DISAGREE: 1,
    }
    assert {k: v for k, v in result.removed.items() if v} == expected
    # Domain words the production model misses are not disagreement: that gap is what the teacher adds.
    assert filters.disagreement(sentence, "please add roam shield to my velvet fiber account") <= 0.6


def test_gate_promotes_only_a_better_dev_wer_within_the_regression_margin() -> None:
    from pipelines.improve.gate import GateConfig, Scores, decide

    cfg = GateConfig()
    assert decide(Scores(0.40, 0.10), Scores(0.15, 0.105), cfg).promote
    worse_dev = decide(Scores(0.40, 0.10), Scores(0.40, 0.10), cfg)
    assert not worse_dev.promote and "dev WER" in worse_dev.reasons[0]
    regressed = decide(Scores(0.40, 0.10), Scores(0.15, 0.12), cfg)
    assert not regressed.promote and "regression WER 12.0%" in regressed.reasons[0]
    assert not decide(Scores(0.40, 0.10), Scores(float("nan"), 0.10), cfg).promote


def test_the_ladder_promotes_the_lowest_dev_wer_that_passes_the_regression_bound() -> None:
    """Scores recorded from the 240-clip run's gate (docs/finetune.md, "The mix ladder")."""
    from pipelines.improve.gate import GateConfig, Scores, choose

    current = Scores(0.707, 0.135)
    ladder = {1.0: Scores(0.308, 0.191), 0.8: Scores(0.374, 0.142), 0.6: Scores(0.445, 0.135)}
    mix, decision = choose(current, ladder, GateConfig())
    assert mix == 0.8 and decision.promote and decision.reasons[0].startswith("mix 0.8, the lowest dev WER of 2")
    # Equal dev WERs: the lower mix, closer to the current model.
    assert choose(current, {1.0: Scores(0.3, 0.13), 0.6: Scores(0.3, 0.13)}, GateConfig())[0] == 0.6
    # None passes: nothing promoted, every candidate's reasons named by its mix.
    mix, decision = choose(current, {1.0: Scores(0.308, 0.191), 0.6: Scores(0.72, 0.13)}, GateConfig())
    assert mix is None and not decision.promote
    assert [r.split(":")[0] for r in decision.reasons] == ["mix 1", "mix 0.6"]


def test_the_ladder_verdict_reports_every_rung_and_the_promoted_one() -> None:
    from pipelines.improve.gate import GateConfig, Scores
    from pipelines.improve.run import Rung, ladder_verdict

    current = Scores(0.707, 0.135)
    ladder = {
        m: Rung(m, Path(f"/c/mix{m:g}"), s) for m, s in ((1.0, Scores(0.308, 0.191)), (0.8, Scores(0.374, 0.142)))
    }
    shown, decision, report = ladder_verdict(current, ladder, GateConfig())
    assert decision.promote and shown.mix == 0.8 and report["mix"] == 0.8
    assert [(r["mix"], r["passes"], r["dev"]) for r in report["ladder"]] == [(1.0, False, 0.308), (0.8, True, 0.374)]
    json.dumps(report)  # the report is written as JSON
    shown, decision, report = ladder_verdict(current, {1.0: ladder[1.0]}, GateConfig())
    assert not decision.promote and shown.mix == 1.0 and report["mix"] is None  # reported: the lowest dev WER


# --- the loop ---------------------------------------------------------------------------------------


def _noise_clips(folder: Path, seed: int = 0) -> list[Path]:
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, level in enumerate((0.05, 0.3)):
        path = folder / f"noise-{i}.wav"
        sf.write(path, (level * rng.standard_normal(16000 * 4)).astype("float32"), 16000)
        paths.append(path)
    return paths


@pytest.mark.slow
def test_a_bad_archive_is_never_promoted(ray_local, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    """Noise, silence, other languages and undecodable files: counted, filtered out, nothing trained or promoted."""
    from jobs.cli import main

    archive = tmp_path / "archive"
    _noise_clips(archive)
    for name in ("silence.wav", "empty.wav", "not_audio.wav", "truncated.mp3", "zero_length.wav"):
        shutil.copy(DATA / "bad" / name, archive / name)
    for name in ("de_termin.flac", "es_conteo.flac", "fr_bonjour_monde.flac", "zh_jishu.flac"):
        shutil.copy(DATA / "languages" / name, archive / name)
    summary = tmp_path / "summary.json"
    registry = tmp_path / "reg"
    argv = ["improve", str(archive), "--registry", str(registry), "--work", str(tmp_path / "work")]
    argv += ["--hotwords", "Veltrix Roamshield", "--summary", str(summary), "--min-kept", "4"]
    assert main(argv) == 0
    result = json.loads(summary.read_text())
    assert result["promoted"] is False and result["model"] is None
    assert result["clips_seen"] == 11 and result["clips_kept"] < 4
    removed = result["report"]["removed"]
    assert removed["unreadable"] >= 3  # not audio, truncated, zero length (empty and silence may decode)
    assert sum(removed.values()) + result["clips_kept"] == 11
    # Where the time went: both archive passes ran and were timed; nothing was trained.
    phases = result["report"]["phases"]
    assert set(phases) == {"teacher", "production"} and all(s > 0 for s in phases.values())
    assert "not promoted" in capsys.readouterr().out
    # The registry holds the seed only, and registry:DIR resolves to it (tiny.en's files).
    versions = ModelRegistry(str(registry)).versions()
    assert len(versions) == 1
    seeded = resolve_model(f"registry:{registry}", StorageConfig())
    assert (seeded / "model.bin").stat().st_size == (bundled_model_path() / "model.bin").stat().st_size


@pytest.mark.slow
def test_transcribe_accepts_a_registry_as_its_model(ray_local, tmp_path: Path) -> None:  # noqa: F811
    import pyarrow.dataset as pads

    from jobs.cli import main

    registry = ModelRegistry(str(tmp_path / "reg"))
    registry.publish(bundled_model_path(), {"base": True})
    out = tmp_path / "out"
    clip = DATA / "speech" / "01_quick_brown_fox.wav"
    assert main(["transcribe", str(clip), "-o", str(out), "--model", f"registry:{tmp_path / 'reg'}"]) == 0
    rows = pads.dataset(str(out), format="parquet").to_table().to_pylist()
    assert rows[0]["status"] == "ok" and "lazy dog" in rows[0]["text"].lower()
    # The run pinned the registry's current version once: every actor loaded it, and rows name it.
    from models.registry import pin_version

    pinned = pin_version(f"registry:{tmp_path / 'reg'}", StorageConfig())
    assert pinned.startswith(str(tmp_path / "reg")) and rows[0]["model"] == pinned


def test_wrong_options_are_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from jobs.cli import main

    clip = DATA / "speech" / "01_quick_brown_fox.wav"
    base = ["improve", str(clip), "--registry", str(tmp_path / "reg")]
    assert main([*base, "--teacher", str(tmp_path / "no-such-model")]) == 2
    assert "--teacher" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["improve", str(clip), "--registry", str(blocker / "reg")]) == 2
    assert f"registry {blocker / 'reg'} is not writable" in capsys.readouterr().err
    assert main([*base, "--eval", str(tmp_path / "missing.jsonl")]) == 2
    assert "--eval" in capsys.readouterr().err
    for mix in ("0", "1.5", "nan"):
        assert main([*base, "--mix", mix]) == 2
        assert "--mix must be above 0 and at most 1" in capsys.readouterr().err
    assert main([*base, "--mix", "1", "0.6", "1"]) == 2
    assert "--mix values must differ" in capsys.readouterr().err
    for option in ("--distill", "--distill-domain", "--l2sp"):
        assert main([*base, option, "-0.5"]) == 2
        assert f"{option} must be at least 0, not -0.5" in capsys.readouterr().err
    assert main([*base, "--general", str(tmp_path / "no-such-folder")]) == 2
    assert "--general: not found" in capsys.readouterr().err
    for option, value, why in (
        ("--epochs", "0", "at least 1, not 0"),
        ("--batch-size", "0", "at least 1, not 0"),
        ("--lr", "0", "above 0, not 0.0"),
        ("--lr", "nan", "above 0, not nan"),
        ("--min-avg-logprob", "0.2", "below 0"),
        ("--min-avg-logprob", "nan", "below 0"),
        ("--max-disagreement", "0", "above 0"),
        ("--max-disagreement", "nan", "above 0"),
    ):
        assert main([*base, option, value]) == 2
        assert f"{option} must be {why}" in capsys.readouterr().err
    assert not (tmp_path / "reg" / "versions").exists()  # nothing was seeded
    assert main(["improve", "--rollback", str(tmp_path / "reg")]) == 2


def test_a_rerun_finds_the_same_training_run_and_new_labels_a_new_one(tmp_path: Path) -> None:
    """Resume after a crash relies on the run name: same model, labels and settings -> same name."""
    from pipelines.improve.filters import Labelled
    from pipelines.improve.train import TrainSettings, _named_settings, run_name, write_manifest

    tiny = str(bundled_model_path())
    train = write_manifest(tmp_path / "train.jsonl", [Labelled("/a.wav", "hello there", 1.0)])
    val = write_manifest(tmp_path / "val.jsonl", [{"path": "/b.wav", "text": "bye"}])
    name = run_name(tiny, train, val, TrainSettings(), StorageConfig())
    assert run_name(tiny, train, val, TrainSettings(), StorageConfig()) == name
    assert run_name(tiny, train, val, TrainSettings(lr=1e-4), StorageConfig()) != name
    # A setting added later (L2-SP) changes the name only when set: older runs still resume.
    assert run_name(tiny, train, val, TrainSettings(l2sp=0.0), StorageConfig()) == name
    assert run_name(tiny, train, val, TrainSettings(l2sp=0.1), StorageConfig()) != name
    assert run_name(tiny, train, val, TrainSettings(freeze_embeddings=False), StorageConfig()) == name
    assert run_name(tiny, train, val, TrainSettings(freeze_embeddings=True), StorageConfig()) != name
    # Distillation (on by default since it was added) names a run only when on: a run started with
    # it off, before the flag existed, still resumes with --distill 0.
    off = TrainSettings(distill_general=0.0, distill_domain=0.0)
    assert not {"distill_general", "distill_domain"} & set(_named_settings(off))
    assert TrainSettings().distill_general > 0
    assert run_name(tiny, train, val, off, StorageConfig()) != name
    for key in ("distill_general", "distill_domain"):
        assert run_name(tiny, train, val, dataclasses.replace(off, **{key: 1.0}), StorageConfig()) != run_name(
            tiny, train, val, off, StorageConfig()
        )
    # Clips marked general (only when distilling) are flagged in the manifest; none marked: bytes unchanged.
    before = train.read_bytes()
    write_manifest(train, [Labelled("/a.wav", "hello there", 1.0)], frozenset())
    assert train.read_bytes() == before
    write_manifest(
        train, [Labelled("/a.wav", "hello there", 1.0), Labelled("/g.wav", "hi", 1.0)], frozenset({"/g.wav"})
    )
    assert [json.loads(line).get("general") for line in train.read_text().splitlines()] == [None, True]
    write_manifest(train, [Labelled("/a.wav", "hello their", 1.0)])
    assert run_name(tiny, train, val, TrainSettings(), StorageConfig()) != name


def test_filter_options_set_the_keep_criteria_and_unset_ones_keep_the_defaults(tmp_path: Path) -> None:
    from jobs.cli import build_parser
    from jobs.improve import _checked
    from pipelines.improve.filters import FilterConfig

    base = ["improve", str(DATA / "speech" / "01_quick_brown_fox.wav"), "--registry", str(tmp_path / "reg")]

    def filters(*extra: str) -> FilterConfig:
        cfg, _ = _checked(build_parser().parse_args([*base, *extra]), StorageConfig())
        return cfg.filters

    assert filters() == FilterConfig()
    assert filters("--min-avg-logprob", "-0.5") == FilterConfig(min_avg_logprob=-0.5)
    both = filters("--min-avg-logprob", "-0.4", "--max-disagreement", "0.6")
    assert (both.min_avg_logprob, both.max_disagreement, both.max_no_speech_prob) == (-0.4, 0.6, 0.6)
