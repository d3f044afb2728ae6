"""Options a backend cannot honour are refused at start, exit code 2, DEST untouched (issue 11, item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.cli import main
from tests.test_torch_backend import tiny_ctc  # noqa: F401


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        code = main(args)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_word_timestamps_with_the_torch_backend_is_refused(tmp_path: Path, speech_manifest, capsys):
    # The torch backend has no alignment: the run used to succeed with no words at all.
    dest = tmp_path / "out"
    err = refused(
        ["transcribe", speech_manifest[0]["path"], "--output", str(dest), "--backend", "torch", "--word-timestamps"],
        capsys,
    )
    assert "--word-timestamps" in err and not dest.exists()


def test_pack_with_a_ctc_model_is_refused_before_dest_is_touched(tmp_path: Path, tiny_ctc, speech_manifest, capsys):  # noqa: F811
    # A CTC model gives a window's whole text as one segment: packed clips could not be told apart.
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.parquet").write_bytes(b"not ours")
    args = ["transcribe", speech_manifest[0]["path"], "--output", str(dest), "--overwrite"]
    err = refused([*args, "--backend", "torch", "--model", str(tiny_ctc), "--pack"], capsys)
    assert "--pack" in err and "CTC" in err
    assert (dest / "keep.parquet").read_bytes() == b"not ours"
