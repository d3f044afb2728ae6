"""Retrying storage operations across short outages: which errors are transient, and the backoff loop.

The S3 clients voxray uses (s3fs on aiobotocore, Arrow's C++ client, delta-rs's object_store) each
retry a request a few times within a second or two. An S3 endpoint that restarts is gone for longer
(a SeaweedFS restart: about 10 s), so without a retry of voxray's own a run turned those seconds
into error rows ("EndpointConnectionError"). `call_with_retries` tries a whole operation again
(a file's read, a Parquet part's write) until `StorageConfig.retry_deadline_s` has passed.

An error that is still transient when the deadline passes is raised as `StorageUnavailableError`,
whose message starts with TRANSIENT_PREFIX: a row carrying it says the file was not transcribed
because storage was unreachable, and the job exits non-zero instead of 0 (jobs/transcribe.py).
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from models.common.config import StorageConfig

T = TypeVar("T")
log = logging.getLogger("voxray.storage")

# The longest single wait between two tries: long enough to let a restarting server come up, short
# enough that a run resumes within seconds of the server answering again.
RETRY_BACKOFF_CAP_S = 8.0
# Rows whose error starts with this were not transcribed because storage was unreachable: a rerun
# will redo them, and the run that wrote them exits non-zero.
TRANSIENT_PREFIX = "storage unavailable: "
# The exit code of a run that wrote everything it could but left files untranscribed because storage
# was unreachable: sysexits.h's EX_TEMPFAIL ("temporary failure, the user is invited to retry").
EXIT_STORAGE_UNAVAILABLE = 75

# Words of transient failures in the messages of clients that raise plain OSError (Arrow's C++
# client: "AWS Error NETWORK_CONNECTION during GetObject operation: curlCode: 7, Couldn't connect
# to server"; object_store through delta-rs: "error sending request", "connection reset").
_TRANSIENT_WORDS = (
    "network_connection",
    "couldn't connect",
    "could not connect",
    "connection refused",
    "connection reset",
    "connection aborted",
    "connection closed",
    "broken pipe",
    "timed out",
    "timeout",
    "error sending request",
    "service unavailable",
    "slowdown",
    "slow down",
    "internal error",
    "internalerror",
    "serviceunavailable",
    "503",
    "500 internal",
    "curlcode: 7",
    "curlcode: 28",
    "curlcode: 52",
    "curlcode: 56",
    "temporarily unavailable",
    "server disconnected",
    "incomplete read",
    "response payload is not completed",
)


def storage_unavailable(error: str | None) -> bool:
    """Whether a row's error says its file was not transcribed because storage was unreachable."""
    return bool(error) and str(error).startswith(TRANSIENT_PREFIX)


class StorageUnavailableError(OSError):
    """Storage stayed unreachable for the whole retry deadline; the message starts with TRANSIENT_PREFIX."""


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_transient_one(exc: BaseException) -> bool:
    if isinstance(exc, StorageUnavailableError):
        return True
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
        return True
    module = type(exc).__module__ or ""
    name = type(exc).__name__
    if module.startswith(("botocore", "aiohttp", "urllib3", "http.client")) and any(
        word in name for word in ("Connection", "Timeout", "Disconnected", "Payload", "IncompleteRead", "Endpoint")
    ):
        return True
    if name == "ClientError":  # botocore: an HTTP status; 5xx and throttling are the server's trouble
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return (isinstance(status, int) and status >= 500) or code in ("SlowDown", "Throttling", "RequestTimeout")
    text = str(exc).lower()
    return isinstance(exc, OSError | RuntimeError) and any(word in text for word in _TRANSIENT_WORDS)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or an error it was raised from) is an outage that may pass: worth another try."""
    return any(_is_transient_one(e) for e in _chain(exc))


def backoff_s(attempt: int, storage: StorageConfig) -> float:
    """The wait before try `attempt + 1`: exponential from retry_backoff_s, capped, full jitter."""
    ceiling = min(RETRY_BACKOFF_CAP_S, storage.retry_backoff_s * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)


def call_with_retries(
    operation: Callable[[], T],
    storage: StorageConfig,
    what: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`operation()`, tried again on transient errors until `storage.retry_deadline_s` has passed.

    `operation` must be safe to repeat (a read, or a write of a whole object under a fixed name).
    A non-transient error is raised at once; a transient one still failing at the deadline is raised
    as StorageUnavailableError naming `what`, the tries and the seconds spent.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return operation()
        except Exception as exc:
            if not is_transient(exc):
                raise
            waited = time.monotonic() - started
            pause = backoff_s(attempt, storage)
            attempt += 1
            if waited + pause > storage.retry_deadline_s:
                raise StorageUnavailableError(
                    f"{TRANSIENT_PREFIX}{what} failed {attempt} time(s) over {waited:.0f} s "
                    f"(retry_deadline_s={storage.retry_deadline_s:g}): {describe_error(exc)}"
                ) from exc
            # A warning, so that an outage ridden out leaves a trace in the job's log.
            log.warning(
                "%s: transient storage error, try %d in %.1f s: %s", what, attempt + 1, pause, describe_error(exc)
            )
            sleep(pause)


def describe_error(exc: BaseException) -> str:
    """One line for a log or a row: the error's type and first line (no traceback, no request dump)."""
    if isinstance(exc, StorageUnavailableError):
        return str(exc)
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__
