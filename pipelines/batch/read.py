"""Reading a file's bytes for the preparation stage: small files in one request, large ones
streamed and timed, transient storage failures tried again (models.common.retry)."""

from __future__ import annotations

import io
from typing import Any

from models.common.config import StorageConfig
from models.common.profile import StageTimes
from models.common.retry import call_with_retries, is_transient
from models.common.storage import filesystem, is_s3, strip_scheme
from pipelines.config import TranscribeConfig
from pipelines.decode import AudioStream, DecodeError


def open_audio(path: str, size: int | None, config: TranscribeConfig, times: StageTimes) -> AudioStream:
    """A decoding stream over `path`'s bytes, refused early when the listing shows it cannot be read."""
    if size == 0:
        raise DecodeError("empty file (0 bytes)")
    if size is not None and size > config.decode.max_bytes:
        raise DecodeError(f"object of {size} bytes exceeds the limit of {config.decode.max_bytes} bytes")
    try:
        with times.stage("prepare:read"):
            # Tried again across a storage outage; one still failing is raised with TRANSIENT_PREFIX.
            handle = call_with_retries(
                lambda: _read_handle(path, size, config, times), config.storage, f"reading {path}"
            )
    except FileNotFoundError as exc:
        raise OSError(f"cannot read {path}: object not found (deleted after listing?)") from exc
    except PermissionError as exc:
        raise OSError(f"cannot read {path}: permission denied") from exc
    try:
        return _OwnedStream(handle, config)
    except BaseException:
        handle.close()
        raise


def error_message(exc: BaseException) -> str:
    """What an input's error row says: a read or decode error as it is, anything else with its type."""
    if isinstance(exc, (DecodeError, OSError)) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# Files listed at up to this size (most call-centre clips) are read in one request and decoded from
# memory. FFmpeg pulling bytes through a Python file object costs more than probing a small file
# (measured per unreadable 200-byte file: 143 us through an fsspec handle, 46 us from memory), and
# on S3 it is one GET instead of several range requests. Larger files stream, so memory stays bounded.
WHOLE_READ_BYTES = 2 * 1024**2


def _read_handle(path: str, size: int | None, config: TranscribeConfig, times: StageTimes) -> Any:
    """A readable handle on `path`'s bytes: in memory for small files, else a timed stream."""
    if is_s3(path):
        handle = filesystem(path, config.storage).open(strip_scheme(path), "rb")
    else:
        handle = open(strip_scheme(path), "rb")  # noqa: SIM115 (closed with the stream, or below)
    try:
        if size is not None and size <= WHOLE_READ_BYTES:
            data = handle.read(WHOLE_READ_BYTES + 1)
            if len(data) <= WHOLE_READ_BYTES:
                handle.close()
                return io.BytesIO(data)
            handle.seek(0)  # it grew after listing: stream it like a large file
        return _TimedReader(handle, times, config.storage)
    except BaseException:
        handle.close()
        raise


class _TimedReader:
    """A file handle whose reads count as `prepare:read` (FFmpeg pulls bytes through it as it decodes).

    A read that fails for a transient reason is tried again from the same offset (models.common.retry).
    """

    def __init__(self, handle: Any, times: StageTimes, storage: StorageConfig) -> None:
        self._handle, self._times, self._storage = handle, times, storage

    def read(self, n: int = -1) -> bytes:
        with self._times.stage("prepare:read"):
            at = self._handle.tell()

            def again() -> bytes:
                self._handle.seek(at)
                return self._handle.read(n)

            try:
                return self._handle.read(n)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                return call_with_retries(again, self._storage, f"reading {getattr(self._handle, 'path', 'a file')}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class _OwnedStream(AudioStream):
    """An AudioStream that also closes the file handle it reads from."""

    def __init__(self, handle, config: TranscribeConfig) -> None:  # noqa: ANN001 (a binary file object)
        self._handle = handle
        super().__init__(
            handle,
            split_channels=config.decode.channels == "split",
            max_duration_s=config.decode.max_duration_s,
        )

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._handle.close()
