"""A CTC model (reads audio, not log-mel) through the whole batch pipeline: Ray, actors, assembly."""

from __future__ import annotations

import pytest

from models.common.config import ModelConfig
from models.common.schema import TRANSCRIPT_SCHEMA
from pipelines.batch.run import iter_transcripts
from pipelines.config import TranscribeConfig
from pipelines.listing import SourceFile
from tests.fixtures_ray import ray_local  # noqa: F401
from tests.test_torch_backend import tiny_ctc  # noqa: F401

pytestmark = pytest.mark.slow


def test_ctc_backend_gives_one_row_per_file_with_the_schema(ray_local, tiny_ctc, speech_manifest, bad_dir):  # noqa: F811
    files = [SourceFile(c["path"]) for c in speech_manifest[:3]] + [SourceFile(str(bad_dir / "not_audio.wav"))]
    config = TranscribeConfig(model=ModelConfig(model=str(tiny_ctc), backend="torch", device="cpu"))
    rows = {r["path"]: r for r in iter_transcripts(files, config, "ctc")}
    assert sorted(rows) == sorted(f.path for f in files)
    assert rows[str(bad_dir / "not_audio.wav")]["status"] == "error"
    for clip in speech_manifest[:3]:
        row = rows[clip["path"]]
        # A randomly initialised model says nonsense; what matters is that audio reached it and
        # its output came back as a well-formed, correctly timed row.
        assert row["status"] == "ok" and row["duration_s"] == pytest.approx(clip["duration_s"], abs=0.1)
        assert row["segments"] and all(0 <= s["start"] <= s["end"] <= row["duration_s"] + 0.05 for s in row["segments"])
    import pyarrow as pa

    assert pa.Table.from_pylist(list(rows.values()), schema=TRANSCRIPT_SCHEMA).num_rows == 4
