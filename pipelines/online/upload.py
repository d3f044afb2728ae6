"""Uploads to the transcription endpoint: the body read within its limit, then parsed as a form.

The body is read before parsing so that its size is bounded first: Starlette's form parser would
otherwise spool any upload to disk.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

# Multipart framing and the small form fields around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None,
        kind: str = "invalid_request_error",
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind
        self.retry_after_s = retry_after_s


def too_large(max_upload_bytes: int) -> ApiError:
    limit_mb = max_upload_bytes / 1024**2
    return ApiError(413, f"uploaded file is larger than the limit of {limit_mb:g} MB", "file_too_large")


async def drain(request: Request, limit: int) -> None:
    """Read and drop a body of at most `limit` bytes (a larger one is left unread)."""
    declared = request.headers.get("content-length")
    if not (declared and declared.isdigit() and int(declared) <= limit):
        return
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return


async def read_body(request: Request, max_upload_bytes: int) -> bytes:
    """The request's body, or 413 once it passes the upload limit (an absurd one is not even read)."""
    limit = max_upload_bytes + FORM_OVERHEAD_BYTES
    # Past this, the rest of an oversized body is not even drained: the connection just closes.
    drain_cap = 2 * limit
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > drain_cap:
        raise too_large(max_upload_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > drain_cap:
            break
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise too_large(max_upload_bytes)
    return b"".join(chunks)


async def parse_form(request: Request, body: bytes) -> Any:
    """The multipart form of a body already read (read once, bounded, before parsing)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "send the audio as multipart/form-data with a 'file' part", "invalid_request")
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        return await Request(request.scope, replay).form(max_files=1, max_fields=32)
    except Exception as exc:
        raise ApiError(400, "malformed multipart/form-data body", "invalid_request") from exc
