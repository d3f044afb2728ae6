"""The Ray Serve application behind `voxray serve`: OpenAI's audio transcription API.

Two deployments:
- `TranscriptionAPI` (FastAPI ingress, CPU): auth, bounded upload, form parsing, response formats;
- `TranscriptionModel` (CPU or one GPU per replica): decodes and windows each upload with the batch
  pipeline's code, and runs the windows of concurrent requests through the model together
  (`@serve.batch`). Only bytes and plain options travel between them.

Errors reach clients as OpenAI-style JSON (`{"error": {"message", "type", "param", "code"}}`) and
never carry a stack trace. Clients can only upload bytes: no field names a path or URL to fetch.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from ray import serve
from ray.serve.config import BackpressureConfig
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.config import TranscribeConfig
from pipelines.export import formats
from pipelines.online.admission import BACKSTOP_RETRY_AFTER_S, Admission
from pipelines.online.form import ApiError, error_response, request_options, text_field
from pipelines.online.transcriber import OnlineTranscriber, PreparedRequest, RequestError, RequestOptions

log = logging.getLogger("ray.serve")

API_KEY_ENV = "VOXRAY_API_KEY"
# Many OpenAI clients hard-code this model name; it means "the model this server runs".
OPENAI_MODEL_ALIAS = "whisper-1"
# Multipart framing and the small form fields around the file.
_FORM_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServeSettings:
    config: TranscribeConfig = field(default_factory=TranscribeConfig)
    api_key: str | None = None
    max_upload_bytes: int = 25 * 1024**2  # OpenAI's own upload limit
    max_duration_s: float = 600.0
    max_batch_size: int = 8  # requests per model call
    batch_wait_s: float = 0.05  # how long a batch waits to fill up
    # Fixed replica count, or autoscaling between min_replicas and max_replicas when both are set.
    replicas: int = 1
    min_replicas: int | None = None
    max_replicas: int | None = None
    replica_cpus: float = 1.0
    ingress_cpus: float = 0.25
    threads: int = 2  # CPU threads per model replica (CTranslate2 intra-op)
    # Requests one ingress replica holds at once (reading, waiting for or in the model). More are
    # answered 503 with Retry-After at once: 300 requests sent together were all queued before,
    # the last answered after 150 s. Each held request may hold an upload of max_upload_bytes.
    max_queued_requests: int = 64
    # Requests beyond max_queued_requests the ingress takes in only to answer 503 (a few ms each,
    # no body read). Past that, Serve's proxy answers 503 itself (`BACKSTOP_RETRY_AFTER_S`): with
    # a headroom of 64, 6 of 236 in a burst of 300 got the proxy's answer.
    ingress_headroom: int = 1024
    use_gpu: bool | None = None  # None: one GPU per model replica when the cluster has GPUs

    @property
    def model_name(self) -> str:
        return self.config.model.model


# `@serve.ingress` freezes (pickles) this app where the ingress class is defined: everything its
# routes use must be defined above that class. The routes' annotations are strings (`from
# __future__ import annotations`) that Serve's class-based view resolves in the globals the pickled
# methods carry, which hold only the names their code uses: the class's code must keep using
# `Request` and `Response` (when the last use of `Request` moved out, every route answered 422).
api = FastAPI(title="voxray", docs_url=None, redoc_url=None, openapi_url=None)


@api.exception_handler(ApiError)
async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.message, exc.code, exc.kind, exc.retry_after_s)


@api.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # Unknown routes and methods: FastAPI's own errors, in OpenAI's shape.
    message = exc.detail if isinstance(exc.detail, str) else "request error"
    return error_response(exc.status_code, message, None)


@api.exception_handler(Exception)
async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return error_response(500, "internal server error", None, "server_error")


@serve.deployment(name="TranscriptionModel")
class TranscriptionModel:
    """One model per replica; concurrent requests share model calls through `@serve.batch`."""

    def __init__(self, settings: ServeSettings) -> None:
        self.engine = OnlineTranscriber(settings.config, settings.threads)
        self.transcribe_batch.set_max_batch_size(settings.max_batch_size)
        self.transcribe_batch.set_batch_wait_timeout_s(settings.batch_wait_s)

    async def transcribe(self, data: bytes, name: str, options: RequestOptions) -> dict[str, Any]:
        """{"row": transcript row} or {"error": {status, message, code}} for a bad upload."""
        try:
            # Decoding and features run in a thread so requests keep arriving (and batching)
            # while others are prepared or in the model.
            prepared = await asyncio.to_thread(self.engine.prepare, data, name, options)
        except RequestError as exc:
            return {"error": {"status": exc.status, "message": exc.message, "code": exc.code}}
        return {"row": await self.transcribe_batch(prepared)}

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.05)
    async def transcribe_batch(self, requests: list[PreparedRequest]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.engine.transcribe_many, requests)


@serve.deployment(name="TranscriptionAPI")
@serve.ingress(api)
class TranscriptionAPI:
    def __init__(self, model: DeploymentHandle, settings: ServeSettings) -> None:
        self.model = model
        self.settings = settings
        self.model_names = (settings.model_name, OPENAI_MODEL_ALIAS)
        formats.language_name("en")  # loads the language table now, not on the first request
        self.admission = Admission(settings.max_queued_requests)

    @api.get("/health")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/v1/models")
    async def models(self, request: Request) -> dict[str, Any]:
        self._authorize(request)
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "created": 0, "owned_by": "voxray"} for name in self.model_names],
        }

    @api.post("/v1/audio/transcriptions")
    async def transcriptions(self, request: Request) -> Response:
        # The key first: an anonymous client must not make the server take in an upload. Its
        # body is not read (at most a small one is drained, unkept, so that simple clients see the
        # 401 rather than a broken connection).
        try:
            self._authorize(request)
            if self.admission.full:
                raise self._busy()  # before the body: a full server takes in no more uploads
        except ApiError:
            await self._drain(request, _FORM_OVERHEAD_BYTES)
            raise
        with self.admission.hold():
            return await self._transcribe(request)

    async def _transcribe(self, request: Request) -> Response:
        body = await self._read_body(request)
        form = await self._form(request, body)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "'file' must be an uploaded file (multipart/form-data file part)", "invalid_file")
        data = await upload.read()
        if len(data) > self.settings.max_upload_bytes:
            raise self._too_large()
        model = text_field(form, "model")
        if model and model not in self.model_names:
            raise ApiError(
                404, f"model {model!r} is not served here; available: {', '.join(self.model_names)}", "model_not_found"
            )
        response_format, granularities, options = request_options(form, self.settings.max_duration_s)
        try:
            with self.admission.timing():
                result = await self.model.transcribe.remote(data, upload.filename or "upload", options)
        except BackPressureError:
            raise self._busy() from None  # the model deployment's own queue bound (Serve's max_queued_requests)
        except Exception:
            log.exception("the model deployment failed a request")
            raise ApiError(500, "transcription failed (internal error)", None, "server_error") from None
        if "error" in result:
            e = result["error"]
            raise ApiError(e["status"], e["message"], e["code"])
        segments = not granularities or "segment" in granularities
        text = formats.render(result["row"], response_format, segments=segments, words=options.words)
        return Response(text, media_type=formats.MEDIA_TYPES[response_format])

    def _authorize(self, request: Request) -> None:
        key = self.settings.api_key
        if not key:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
            raise ApiError(401, "invalid or missing API key (send 'Authorization: Bearer KEY')", "invalid_api_key")

    def _busy(self) -> ApiError:
        wait = self.admission.retry_after_s()
        return ApiError(
            503,
            f"server busy ({self.admission.held} requests in progress); retry after {wait} s",
            "server_busy",
            "server_error",
            retry_after_s=wait,
        )

    def _too_large(self) -> ApiError:
        limit_mb = self.settings.max_upload_bytes / 1024**2
        return ApiError(413, f"uploaded file is larger than the limit of {limit_mb:g} MB", "file_too_large")

    @staticmethod
    async def _drain(request: Request, limit: int) -> None:
        """Read and drop a body of at most `limit` bytes (a larger one is left unread)."""
        declared = request.headers.get("content-length")
        if not (declared and declared.isdigit() and int(declared) <= limit):
            return
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return

    async def _read_body(self, request: Request) -> bytes:
        limit = self.settings.max_upload_bytes + _FORM_OVERHEAD_BYTES
        # Past this, the rest of an oversized body is not even drained: the connection just closes.
        drain_cap = 2 * limit
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > drain_cap:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > drain_cap:
                break
            if size <= limit:
                chunks.append(chunk)
        if size > limit:
            raise self._too_large()
        return b"".join(chunks)

    async def _form(self, request: Request, body: bytes) -> Any:
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


# glibc gives each thread that allocates its own arena (up to 8 per core); a replica decodes uploads
# in a pool of threads beside the model's, and the freed memory stayed spread over their arenas: the
# model replica's RSS crept up 13% over 11 rounds of 32 requests with the default, flat with two
# (docs/faults.md, "Serve under load"). Set at the worker's start: glibc reads it once.
REPLICA_RUNTIME_ENV = {"env_vars": {"MALLOC_ARENA_MAX": "2"}}


def resolve_api_key(flag: str | None) -> str | None:
    return flag or os.environ.get(API_KEY_ENV) or None


def build_app(settings: ServeSettings) -> serve.Application:
    """The bound application (call with Ray initialised: GPUs are looked up in the cluster)."""
    import ray

    use_gpu = settings.use_gpu
    if use_gpu is None:
        use_gpu = settings.config.model.device != "cpu" and ray.cluster_resources().get("GPU", 0) > 0
    actor_options: dict[str, Any] = {"num_cpus": settings.replica_cpus, "runtime_env": REPLICA_RUNTIME_ENV}
    if use_gpu:
        actor_options["num_gpus"] = 1
    # Room for a full batch in the model plus the next one being decoded.
    ongoing = max(16, 2 * settings.max_batch_size)
    scaling: dict[str, Any] = {"num_replicas": settings.replicas}
    if settings.min_replicas is not None and settings.max_replicas is not None:
        scaling = {
            "autoscaling_config": {
                "min_replicas": settings.min_replicas,
                "max_replicas": settings.max_replicas,
                # One full batch per replica is the load a replica is sized for.
                "target_ongoing_requests": settings.max_batch_size,
            }
        }
    # Bounded queues everywhere: the ingress sheds load itself (503 with Retry-After, before the
    # body) once it holds max_queued_requests; Serve's own bounds are the backstop behind it, set
    # above the ingress's so that it answers first (the model's raises BackPressureError, answered
    # the same way; the proxy answers for the ingress deployment, with a fixed Retry-After).
    queued = settings.max_queued_requests
    backstop = BackpressureConfig(status_code=503, retry_after_s=BACKSTOP_RETRY_AFTER_S)
    model = TranscriptionModel.options(
        ray_actor_options=actor_options,
        max_ongoing_requests=ongoing,
        max_queued_requests=queued,
        backpressure_config=backstop,
        **scaling,
    )
    ingress = TranscriptionAPI.options(
        ray_actor_options={"num_cpus": settings.ingress_cpus, "runtime_env": REPLICA_RUNTIME_ENV},
        # Room for the requests it holds plus those it is turning away.
        max_ongoing_requests=queued + settings.ingress_headroom,
        max_queued_requests=queued + settings.ingress_headroom,
        backpressure_config=backstop,
    )
    return ingress.bind(model.bind(settings), settings)


def start(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, name: str = "voxray") -> str:
    """Start Serve (and Ray, when needed) and deploy the app; returns its base URL."""
    from pipelines.batch.run import ensure_ray

    ensure_ray(dashboard=True)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(settings), name=name, route_prefix="/")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}"
