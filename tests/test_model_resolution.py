"""A run works its model out once, on the driver, and its actors load what it found (issue 24).

Real parts: the real Ray local cluster, the bundled tiny.en behind a model registry or in the
SeaweedFS S3 server, real speech. The driver's resolutions are counted by wrapping the registry
functions every resolution goes through (in this process only). The actors run in other processes,
where nothing is counted, so each test takes away what a second resolution would need once the
driver has resolved: the registry's pointer, or the model's objects in S3. An actor that resolved
the name again would fail to load, and its windows would come back as error rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models import registry, versions
from models.common.config import ModelConfig, StorageConfig
from models.registry import bundled_model_path
from models.versions import POINTER, ModelRegistry
from pipelines.batch.run import run_transcription
from pipelines.config import TranscribeConfig
from tests.fixtures_ray import ray_local  # noqa: F401

CLIPS = sorted((Path(__file__).parent / "data" / "speech").glob("0[1-3]_*.wav"))


def _rows(dest: Path) -> list[dict]:
    import pyarrow.dataset as pads

    return pads.dataset(str(dest), format="parquet").to_table(columns=["path", "status", "model", "text"]).to_pylist()


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_a_run_resolves_a_registry_model_once_on_the_driver(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "reg"
    version_folder = ModelRegistry(str(root)).publish(bundled_model_path(), {"base": True})
    calls = {"resolve": 0, "pointer read": 0}
    pin_version, current_version = registry.pin_version, versions.current_version

    def counted_pin(spec: str, storage: StorageConfig) -> str:
        calls["resolve"] += 1  # the first step of every models.resolved.resolve
        return pin_version(spec, storage)

    def counted_current(spec: str, storage: StorageConfig) -> str:
        calls["pointer read"] += 1  # every resolution of registry:ROOT, by any code path
        current = current_version(spec, storage)
        # Away once read: a second resolution anywhere (driver or actor) finds no current version.
        (root / POINTER).rename(tmp_path / POINTER)
        return current

    monkeypatch.setattr(registry, "pin_version", counted_pin)
    monkeypatch.setattr(versions, "current_version", counted_current)
    from jobs.cli import main

    # Through the CLI, with --language: its start-up check and the run share the one resolution.
    args = [*map(str, CLIPS), "-o", str(tmp_path / "out"), "--model", f"registry:{root}", "--language", "en"]
    assert main(["transcribe", *args]) == 0
    rows = _rows(tmp_path / "out")
    assert [r["status"] for r in rows] == ["ok"] * len(CLIPS), rows
    assert calls == {"resolve": 1, "pointer read": 1}
    assert {r["model"] for r in rows} == {str(root / "versions" / version_folder)}
    assert "close the window" in " ".join(r["text"].lower() for r in rows)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_an_s3_model_is_listed_once_per_run(
    s3_env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3_env.make_bucket("resolution")
    s3_env.upload_dir(bundled_model_path(), "resolution", "tiny-en")
    listings = {"count": 0}
    list_s3_folder, fetch_s3_objects = registry.list_s3_folder, registry.fetch_s3_objects

    def counted_listing(spec: str, storage: StorageConfig) -> tuple[tuple[str, str], ...]:
        listings["count"] += 1
        return list_s3_folder(spec, storage)

    def fetch_then_remove(spec: str, objects: tuple[tuple[str, str], ...], *args: object) -> Path:
        folder = fetch_s3_objects(spec, objects, *args)
        # The test's own objects, removed once this node has its copy: an actor listing or
        # fetching the model again would find nothing there.
        client = s3_env.client()
        for key, _ in objects:
            client.delete_object(Bucket="resolution", Key=key.split("/", 1)[1])
        return folder

    monkeypatch.setattr(registry, "list_s3_folder", counted_listing)
    monkeypatch.setattr(registry, "fetch_s3_objects", fetch_then_remove)
    config = TranscribeConfig(model=ModelConfig(model="s3://resolution/tiny-en"))
    summary = run_transcription([str(c) for c in CLIPS], str(tmp_path / "out"), config)
    rows = _rows(tmp_path / "out")
    assert summary.ok == len(CLIPS) == len(rows), rows
    assert listings["count"] == 1
    assert s3_env.client().list_objects_v2(Bucket="resolution").get("KeyCount", 0) == 0  # removed: not re-fetched
    assert {r["model"] for r in rows} == {"s3://resolution/tiny-en"}


def test_the_resolved_model_travels_to_actors_as_one_frozen_record() -> None:
    import dataclasses
    import pickle

    from models.resolved import resolve

    model = resolve(ModelConfig(), StorageConfig())
    assert pickle.loads(pickle.dumps(model)) == model
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.name = "other"  # type: ignore[misc]
    assert (model.n_mels, model.needs_audio, model.multilingual) == (80, False, False)
    assert model.local_folder(StorageConfig()) == Path(model.folder) == bundled_model_path()


def test_both_backends_implement_the_backend_protocol() -> None:
    import inspect

    from models.backend import Backend
    from models.whisper_ct2 import CT2Whisper
    from models.whisper_torch import TorchBackend

    for cls in (CT2Whisper, TorchBackend):
        for method in ("transcribe_windows", "transcribe_audio"):
            ours = inspect.signature(getattr(cls, method)).parameters
            assert list(ours) == list(inspect.signature(getattr(Backend, method)).parameters), (cls, method)
    loaded = CT2Whisper(bundled_model_path(), ModelConfig(), threads=1)
    for attribute in Backend.__annotations__:
        assert hasattr(loaded, attribute), attribute


def test_a_run_refuses_a_resolved_model_of_another_config(tmp_path: Path) -> None:
    from models.resolved import resolve
    from pipelines.batch.run import iter_transcripts
    from pipelines.listing import SourceFile

    tiny = resolve(ModelConfig(), StorageConfig())
    other = TranscribeConfig(model=ModelConfig(model=str(tmp_path)))
    with pytest.raises(ValueError, match="was resolved as 'tiny.en'"):
        next(iter_transcripts([SourceFile(str(CLIPS[0]))], other, "mixed", model=tiny))


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_a_nightly_run_resolves_once_for_its_fingerprint_and_its_actors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before, nightly worked out the model's identity for its fingerprint and the run resolved it
    # again: a promotion in between would have fingerprinted one version and transcribed another.
    from jobs.cli import main

    root = tmp_path / "reg"
    version_folder = ModelRegistry(str(root)).publish(bundled_model_path(), {"base": True})
    reads = {"pointer read": 0}
    current_version = versions.current_version

    def counted_current(spec: str, storage: StorageConfig) -> str:
        reads["pointer read"] += 1
        current = current_version(spec, storage)
        (root / POINTER).rename(tmp_path / POINTER)  # a second resolution anywhere would fail
        return current

    monkeypatch.setattr(versions, "current_version", counted_current)
    table = tmp_path / "table"
    assert main(["nightly", *map(str, CLIPS[:2]), "-o", str(table), "--model", f"registry:{root}"]) == 0
    assert reads == {"pointer read": 1}
    from deltalake import DeltaTable

    rows = DeltaTable(str(table)).to_pyarrow_table(columns=["status", "model"]).to_pylist()
    assert rows == [{"status": "ok", "model": str(root / "versions" / version_folder)}] * 2


def test_nightly_refuses_a_missing_model_at_start_and_leaves_dest_untouched(tmp_path: Path, capsys) -> None:
    from jobs.cli import main

    table = tmp_path / "table"
    missing = tmp_path / "no-such-model"
    assert main(["nightly", str(CLIPS[0]), "-o", str(table), "--model", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert not table.exists()
