"""--s3-sse: every object voxray writes to S3 asks for server-side encryption (SeaweedFS, SSE-S3).

SeaweedFS 4.48 implements SSE-S3 (AES256) once it has a key-encryption key (WEED_S3_SSE_KEK), and
answers SSE-KMS (aws:kms) with an internal error without a KMS provider, so aws:kms is checked
here only as far as the arguments voxray sends.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import boto3
import pytest
import ray

from jobs.cli import main
from models.common.config import StorageConfig
from pipelines.store.reader import read_transcripts
from tests.s3server import SeaweedS3, find_weed

pytestmark = pytest.mark.slow
PII_CALL = Path(__file__).parent / "data" / "enterprise" / "pii" / "p4_ssn.flac"


@pytest.fixture(scope="module")
def sse_s3():
    find_weed()
    saved = dict(os.environ)
    os.environ["WEED_S3_SSE_KEK"] = secrets.token_hex(32)  # SeaweedFS's SSE-S3 key-encryption key
    server = SeaweedS3().start()
    env = server.env()
    os.environ.update(env)
    ray.shutdown()
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level="warning", runtime_env={"env_vars": env}
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield server
    ray.shutdown()
    server.stop()
    os.environ.clear()
    os.environ.update(saved)


def _encryption(server: SeaweedS3, bucket: str) -> dict[str, str | None]:
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
    )
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    return {k: client.head_object(Bucket=bucket, Key=k).get("ServerSideEncryption") for k in keys}


def test_every_object_written_is_encrypted(sse_s3: SeaweedS3) -> None:
    bucket = sse_s3.make_bucket("sse")
    common = [str(PII_CALL), "--s3-endpoint", sse_s3.endpoint_url, "--s3-sse", "AES256"]
    assert main(["transcribe", *common[:1], "--output", f"s3://{bucket}/t", *common[1:],
                 "--redact", "pii", "--redact-audio", f"s3://{bucket}/audio"]) == 0  # fmt: skip
    assert main(["nightly", *common[:1], "--output", f"s3://{bucket}/store", *common[1:], "--redact", "pii"]) == 0
    # Redaction in the nightly job too: the committed row holds the tag, not the number.
    storage = StorageConfig(s3_endpoint=sse_s3.endpoint_url, s3_sse="AES256")
    [row] = read_transcripts(f"s3://{bucket}/store", storage).to_pylist()
    assert "[SSN]" in row["text"] and [r["type"] for r in row["redactions"]] == ["SSN"], row["text"]
    objects = _encryption(sse_s3, bucket)
    kinds = {k.split("/")[0] for k in objects}
    assert kinds == {"t", "audio", "store"} and any(k.endswith(".flac") for k in objects), sorted(objects)
    assert set(objects.values()) == {"AES256"}, objects
    # Without the option nothing asks for encryption: the check above can fail.
    plain = sse_s3.make_bucket("plain")
    assert main(["transcribe", str(PII_CALL), "--output", f"s3://{plain}/t", "--s3-endpoint", sse_s3.endpoint_url]) == 0
    assert set(_encryption(sse_s3, plain).values()) == {None}


def test_kms_arguments_and_fail_fast() -> None:
    kms = StorageConfig(s3_sse="aws:kms", s3_sse_kms_key_id="arn:aws:kms:eu-west-1:1:key/k")
    assert kms.sse_arguments() == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:aws:kms:eu-west-1:1:key/k"}
    with pytest.raises(ValueError, match="--s3-sse-kms-key-id needs --s3-sse aws:kms"):
        StorageConfig(s3_sse_kms_key_id="k")
    with pytest.raises(SystemExit) as exit_info:
        main(["transcribe", str(PII_CALL), "--output", "/tmp/never", "--s3-sse", "DES"])
    assert exit_info.value.code == 2
