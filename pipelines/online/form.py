"""The fields of an upload to `/v1/audio/transcriptions`, checked, and the API's error shape.

Errors reach clients as OpenAI-style JSON (`{"error": {"message", "type", "param", "code"}}`).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from pipelines.config import DiarizeConfig, RedactConfig
from pipelines.export import formats
from pipelines.online.transcriber import RequestOptions
from pipelines.redaction.entities import parse_entities

GRANULARITIES = ("segment", "word")


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


def error_response(
    status: int,
    message: str,
    code: str | None,
    kind: str = "invalid_request_error",
    retry_after_s: int | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return JSONResponse(body, status_code=status, headers=headers or None)


def _diarize_options(form: Any) -> DiarizeConfig | None:
    """voxray's extension: `diarize=true` (with optional `num_speakers` or `min_speakers`/`max_speakers`)."""
    flag = (text_field(form, "diarize") or "false").lower()
    if flag not in ("true", "false", "1", "0"):
        raise ApiError(400, f"diarize must be true or false, got {flag!r}", "invalid_value")
    counts: dict[str, int] = {}
    for name in ("num_speakers", "min_speakers", "max_speakers"):
        value = text_field(form, name)
        if value is None:
            continue
        if not value.isdigit():
            raise ApiError(400, f"{name} must be a whole number, got {value!r}", "invalid_value")
        counts[name] = int(value)
    if flag in ("false", "0"):
        if counts:
            raise ApiError(400, "num_speakers, min_speakers and max_speakers need diarize=true", "invalid_value")
        return None
    try:
        return DiarizeConfig(enabled=True, **counts)
    except ValueError as exc:
        raise ApiError(400, str(exc).replace("--", "").replace("-", "_"), "invalid_value") from None


def text_field(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a text field", "invalid_value")
    return value.strip()


def request_options(form: Any, max_duration_s: float) -> tuple[str, set[str], RequestOptions]:
    """(response_format, timestamp granularities, the options for the model) from the form's fields."""
    response_format = text_field(form, "response_format") or "json"
    if response_format not in formats.RESPONSE_FORMATS:
        raise ApiError(
            400,
            f"response_format must be one of {', '.join(formats.RESPONSE_FORMATS)}, got {response_format!r}",
            "invalid_response_format",
        )
    granularities = {
        str(v) for v in form.getlist("timestamp_granularities[]") + form.getlist("timestamp_granularities")
    }
    if granularities - set(GRANULARITIES):
        raise ApiError(400, f"timestamp_granularities must be among {', '.join(GRANULARITIES)}", "invalid_value")
    words = "word" in granularities and response_format == "verbose_json"
    # `prompt` is Whisper's initial prompt. `temperature` is accepted for compatibility and not
    # used: decoding follows the server's temperature fallback. `redact` (voxray's own field):
    # "pii" or a comma-separated list of entity types, as `voxray transcribe --redact`.
    redact = text_field(form, "redact")
    try:
        entities = RedactConfig(entities=parse_entities(redact)).entities if redact else ()
    except ValueError as exc:
        raise ApiError(400, str(exc), "invalid_value") from None
    options = RequestOptions(
        prompt=text_field(form, "prompt") or None,
        redact=entities,
        language=(text_field(form, "language") or "").lower() or None,
        words=words,
        max_duration_s=max_duration_s,
        diarize=_diarize_options(form),
    )
    return response_format, granularities, options
