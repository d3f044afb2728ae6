"""Where voxray's Delta table lives: its URI, delta-rs's options, Arrow's filesystem for its data
files, and the check that DEST holds nothing voxray does not own."""

from __future__ import annotations

import os
from dataclasses import replace

import pyarrow.fs as pafs

from models.common.config import StorageConfig
from models.common.storage import arrow_filesystem, endpoint, is_s3, object_store_retry_options, strip_scheme

OLD_FORMAT_MARKER = "_voxray/commits"
# Delta Lake's transaction log folder inside the table root.
LOG_DIR = "_delta_log"


class StoreError(ValueError):
    """DEST cannot be used as voxray's table (foreign files, old format, another table)."""


def storage_options(dest: str, storage: StorageConfig) -> dict[str, str]:
    """delta-rs options for DEST. On S3 the log is committed with conditional PUTs (If-None-Match)."""
    if not is_s3(dest):
        return {}
    opts = {"conditional_put": "etag"}
    url = endpoint(storage)
    if url:
        opts["AWS_ENDPOINT_URL"] = url
        if url.startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    if storage.s3_access_key:
        opts["AWS_ACCESS_KEY_ID"] = storage.s3_access_key
        opts["AWS_SECRET_ACCESS_KEY"] = storage.s3_secret_key or ""
    if storage.s3_region:
        opts["AWS_REGION"] = storage.s3_region
    opts.update(object_store_retry_options(storage))
    # The log, checkpoints and OPTIMIZE's files are written by delta-rs (object_store), not by
    # voxray: server-side encryption must reach it too.
    if storage.s3_sse:
        opts["aws_server_side_encryption"] = storage.s3_sse
    if storage.s3_sse_kms_key_id:
        opts["aws_sse_kms_key_id"] = storage.s3_sse_kms_key_id
    return opts


def table_uri(dest: str) -> str:
    if is_s3(dest):
        return "s3://" + strip_scheme(dest).rstrip("/")
    return os.path.abspath(os.path.expanduser(dest))


def check_dest_empty(fs: pafs.FileSystem, root: str, dest: str) -> None:
    """Refuse a DEST that holds anything but a voxray table being created (StoreError names why)."""
    if fs.get_file_info(root).type == pafs.FileType.File:
        raise StoreError(f"{dest} is a file; DEST must be a folder or s3:// prefix for the table")
    children = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    if not children:
        return
    if fs.get_file_info(f"{root}/{OLD_FORMAT_MARKER}").type != pafs.FileType.NotFound:
        raise StoreError(
            f"{dest} holds transcripts in voxray's old commit-record format, which this version "
            "no longer reads. Start a new table: run `voxray nightly` with a new, empty --output "
            "(the old folder is left as it is; `voxray transcribe --format delta` or a rerun fills the new one)"
        )
    names = sorted(i.base_name for i in children)[:5]
    if names == [LOG_DIR]:
        # A log without a version yet: another writer is creating the table this moment (seen
        # on S3 with two nightly runs starting at once: its log appeared before its version 0).
        # The conditional PUT of version 0 in _create decides who makes it, and the name check
        # in `open` still refuses a Delta table that voxray did not create.
        return
    raise StoreError(
        f"{dest} holds files that are not a voxray Delta table ({', '.join(names)}"
        f"{', ...' if len(children) > 5 else ''}); voxray never writes into a folder it does not own. "
        "Pick an empty or new DEST"
    )


def data_filesystem(uri: str, storage: StorageConfig) -> pafs.FileSystem:
    """Arrow's own filesystem at the table's root, for reading the data files the log names.

    Left to itself, delta-rs reads them through a Python filesystem handler (DeltaStorageHandler)
    that Arrow's I/O threads call into. A read still in flight when the interpreter finalises
    (Parquet pre-buffering) then takes the GIL from a finalising interpreter, and the process
    aborts after printing correct results: "terminate called without an active exception",
    SIGABRT, exit 134 (delta-io/delta-rs#2184). No Python runs in Arrow's threads this way.
    Reads need no server-side-encryption headers, so Arrow's S3 client serves SSE tables too.
    """
    fs, root = arrow_filesystem(uri, replace(storage, s3_sse=None, s3_sse_kms_key_id=None))
    return pafs.SubTreeFileSystem(root.rstrip("/"), fs)
