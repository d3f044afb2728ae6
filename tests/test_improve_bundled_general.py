"""`voxray improve`'s default `--general`: the general speech shipped with the package
(scripts/make_general_dev.py --bundle). It is found where an installed voxray looks, decodes, is
small, is what `--general` means when the user gives none, and `--general none` turns it off."""

from __future__ import annotations

import hashlib
import json
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from models.common.config import StorageConfig
from pipelines.decode import decode_audio
from pipelines.improve.general import DEFAULT_GENERAL, general_sources
from pipelines.listing import list_sources

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
sys.path.insert(0, str(REPO / "scripts"))


def _record() -> list[dict]:
    return [json.loads(line) for line in DEFAULT_GENERAL.with_suffix(".jsonl").read_text().splitlines() if line]


def test_the_bundled_set_is_package_data_small_and_decodes() -> None:
    import tomllib  # Python 3.11+, as tests/test_ray_job.py

    files = sorted(DEFAULT_GENERAL.glob("*.opus"))
    assert len(files) == 60 and sum(f.stat().st_size for f in files) < 1_000_000
    # pyproject's package-data ships exactly these files, so a wheel or a fresh clone has them.
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data["pipelines.improve"]
    root = DEFAULT_GENERAL.parent
    for f in [*files, DEFAULT_GENERAL.with_suffix(".jsonl")]:
        assert any(fnmatch(f.relative_to(root).as_posix(), p) for p in patterns), f
    # The loop lists the folder as it lists an archive: every clip is audio it will transcribe.
    assert len(list_sources([str(DEFAULT_GENERAL)], StorageConfig())) == 60
    for f in files:
        audio = decode_audio(str(f))
        assert 1.0 < audio.duration_s < 30.0


def test_the_record_names_every_clip_and_shares_nothing_with_an_evaluation_set() -> None:
    from make_general_dev import EVERYDAY, evaluation_texts

    rows = _record()
    assert sorted(DEFAULT_GENERAL.parent / r["path"] for r in rows) == sorted(DEFAULT_GENERAL.glob("*.opus"))
    assert [r["text"] for r in rows] == EVERYDAY and all(r["voice"] and r["speed"] for r in rows)
    assert not {r["text"].strip().lower() for r in rows} & evaluation_texts()
    # No bundled clip is an evaluation clip under another name (the gate also removes those by bytes).
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    evaluation = {digest(p) for folder in ("realspeech", "voices", "speech") for p in (DATA / folder).iterdir()}
    assert not {digest(p) for p in DEFAULT_GENERAL.glob("*.opus")} & evaluation


def test_the_bundled_set_is_the_default_and_none_turns_it_off(tmp_path: Path) -> None:
    from jobs.cli import build_parser
    from jobs.improve import _checked

    clip = str(DATA / "speech" / "01_quick_brown_fox.wav")
    base = ["improve", clip, "--registry", str(tmp_path / "reg")]

    def general(*extra: str) -> tuple[str, ...]:
        cfg, _ = _checked(build_parser().parse_args([*base, *extra]), StorageConfig())
        return cfg.general

    assert general() == (str(DEFAULT_GENERAL),)
    assert general("--general", "none") == ()
    assert general("--general", clip) == (clip,)
    with pytest.raises(ValueError, match="cannot come with sources"):
        general_sources(["none", clip])


def test_none_with_sources_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from jobs.cli import main

    clip = str(DATA / "speech" / "01_quick_brown_fox.wav")
    assert main(["improve", clip, "--registry", str(tmp_path / "reg"), "--general", "none", clip]) == 2
    assert "--general none" in capsys.readouterr().err
    assert not (tmp_path / "reg").exists()
