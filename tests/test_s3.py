"""`voxray transcribe` from and to a real S3 server (SeaweedFS), through Ray workers."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow.dataset as pads
import pytest
import ray

from jobs.cli import main
from models.common.config import StorageConfig
from models.common.storage import arrow_filesystem
from pipelines.listing import list_sources

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_ray(s3_server):
    """Ray whose workers see the test server's credentials, as a cluster's nodes see an IAM role."""
    ray.shutdown()
    env = s3_server.env()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level="warning", runtime_env={"env_vars": env}
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield s3_server
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_bucket_in_bucket_out_one_row_per_object(s3_ray, tmp_path, speech_manifest, bad_dir, capsys):
    s3 = s3_ray
    bucket = s3.make_bucket("calls")
    staging = tmp_path / "upload" / "2026" / "11"
    staging.mkdir(parents=True)
    for clip in speech_manifest[:5] + [c for c in speech_manifest if "café" in c["path"]]:
        shutil.copyfile(clip["path"], staging / os.path.basename(clip["path"]))
    for name in ("not_audio.wav", "truncated.mp3", "silence.wav"):
        shutil.copyfile(bad_dir / name, staging / name)
    s3.upload_dir(tmp_path / "upload", bucket, "archive")
    listed = list_sources([f"s3://{bucket}/archive/"], StorageConfig(s3_endpoint=s3.endpoint_url))
    assert len(listed) == 9 and all(f.path.startswith(f"s3://{bucket}/archive/2026/11/") and f.etag for f in listed)

    # A manifest can name objects too; this one vanished after listing (deleted, or never there).
    manifest = tmp_path / "extra.jsonl"
    manifest.write_text(json.dumps({"path": f"s3://{bucket}/archive/gone.wav"}) + "\n")
    dest = f"s3://{bucket}/transcripts/run1"
    sources = [f"s3://{bucket}/archive/", str(manifest)]
    # --show reads the written part files back from S3 (it crashed on scheme-less paths).
    code = main(["transcribe", *sources, "--output", dest, "--s3-endpoint", s3.endpoint_url, "--show", "20"])
    assert code == 0
    shown = capsys.readouterr().out

    fs, root = arrow_filesystem(dest, StorageConfig(s3_endpoint=s3.endpoint_url))
    rows = {r["path"]: r for r in pads.dataset(root, filesystem=fs, format="parquet").to_table().to_pylist()}
    assert sorted(rows) == sorted([f.path for f in listed] + [f"s3://{bucket}/archive/gone.wav"])
    assert rows[f"s3://{bucket}/archive/gone.wav"]["status"] == "error"
    assert "not found" in rows[f"s3://{bucket}/archive/gone.wav"]["error"]
    assert rows[f"s3://{bucket}/archive/2026/11/not_audio.wav"]["status"] == "error"
    assert rows[f"s3://{bucket}/archive/2026/11/silence.wav"]["status"] == "ok"
    cafe = next(p for p in rows if "caf" in p)
    assert rows[cafe]["status"] == "ok" and rows[cafe]["text"]
    assert all(r["text"] for p, r in rows.items() if r["status"] == "ok" and "silence" not in p)
    for path, row in rows.items():
        assert f"{path}\n    {row['text'] if row['status'] == 'ok' else 'ERROR: ' + row['error']}\n" in shown
