"""Filesystems for local paths and S3(-compatible) object storage, behind fsspec."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import fsspec
import pyarrow.fs as pafs

from models.common.config import StorageConfig
from models.common.retry import RETRY_BACKOFF_CAP_S

# Models fetched from S3 or a hub, and converted models, are kept here (one copy per node).
CACHE_DIR = Path(os.environ.get("VOXRAY_CACHE", Path.home() / ".cache" / "voxray"))


def is_s3(path: str) -> bool:
    return path.startswith(("s3://", "s3a://"))


def strip_scheme(path: str) -> str:
    for scheme in ("s3://", "s3a://", "file://"):
        if path.startswith(scheme):
            return path[len(scheme) :]
    return path


def endpoint(storage: StorageConfig) -> str | None:
    return storage.s3_endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def filesystem(path: str, storage: StorageConfig) -> fsspec.AbstractFileSystem:
    """The fsspec filesystem that serves `path` (cached per process: S3 clients are costly to build)."""
    if not is_s3(path):
        return fsspec.filesystem("file")
    return _s3fs(endpoint(storage), storage)


def botocore_config(storage: StorageConfig) -> dict[str, object]:
    """botocore Config arguments: "standard" retries (connection errors, 5xx, throttling) and timeouts."""
    return {
        "retries": {"max_attempts": storage.s3_max_attempts, "mode": "standard"},
        "connect_timeout": storage.s3_connect_timeout_s,
        "read_timeout": storage.s3_read_timeout_s,
    }


@lru_cache(maxsize=8)
def _s3fs(url: str | None, storage: StorageConfig) -> fsspec.AbstractFileSystem:
    client_kwargs: dict[str, str] = {}
    if url:
        client_kwargs["endpoint_url"] = url
    if storage.s3_region:
        client_kwargs["region_name"] = storage.s3_region
    fs = fsspec.filesystem(
        "s3",
        key=storage.s3_access_key,
        secret=storage.s3_secret_key,
        client_kwargs=client_kwargs,
        config_kwargs=botocore_config(storage),
        # Sent with every PUT and multipart upload s3fs makes: server-side encryption.
        s3_additional_kwargs=storage.sse_arguments(),
        # Listings must see objects written a moment ago by this very process.
        use_listings_cache=False,
        skip_instance_cache=True,
    )
    # s3fs's own loop around botocore's, for the errors botocore leaves alone (a reply cut short);
    # a class attribute in s3fs, not a constructor argument.
    fs.retries = storage.s3_max_attempts
    return fs


def object_store_retry_options(storage: StorageConfig) -> dict[str, str]:
    """delta-rs (object_store) retry and timeout options: each request retried with backoff for up to
    the same deadline as voxray's own retries, so a log read or a commit rides out an outage."""
    return {
        # No `max_retries` (object_store's default, 10, with this backoff spans about a minute): readers
        # such as polars take voxray's options as they are and refuse a string count there.
        "retry_timeout": f"{max(storage.retry_deadline_s, 1):g}s",
        "connect_timeout": f"{storage.s3_connect_timeout_s:g}s",
        "timeout": f"{storage.s3_read_timeout_s:g}s",
        "backoff_config.init_backoff": f"{storage.retry_backoff_s:g}s",
        "backoff_config.max_backoff": f"{RETRY_BACKOFF_CAP_S:g}s",
    }


def arrow_filesystem(path: str, storage: StorageConfig) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem plus the path inside it, for Parquet reads and writes."""
    if not is_s3(path):
        return pafs.LocalFileSystem(), os.path.abspath(path)
    if storage.s3_sse:
        # Arrow's S3 client has no server-side encryption setting; s3fs sends it with every write.
        return pafs.PyFileSystem(pafs.FSSpecHandler(filesystem(path, storage))), strip_scheme(path)
    url = endpoint(storage)
    kwargs: dict[str, object] = {}
    if url:
        scheme, _, host = url.partition("://")
        kwargs["endpoint_override"] = host or scheme
        kwargs["scheme"] = scheme if host else "https"
    if storage.s3_access_key:
        kwargs["access_key"] = storage.s3_access_key
        kwargs["secret_key"] = storage.s3_secret_key
    kwargs["region"] = storage.s3_region or os.environ.get("AWS_REGION") or "us-east-1"
    return pafs.S3FileSystem(
        **kwargs,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=storage.s3_max_attempts),
        connect_timeout=storage.s3_connect_timeout_s,
        request_timeout=storage.s3_read_timeout_s,
    ), strip_scheme(path)


def qualified(path: str, s3: bool) -> str:
    """The user-facing name of a path: s3://bucket/key or an absolute local path."""
    if s3:
        return "s3://" + strip_scheme(path)
    return os.path.abspath(path)
