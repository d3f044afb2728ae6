"""`voxray serve` over real HTTP with the official openai client: one Serve app (bundled model, CPU)."""

from __future__ import annotations

import io
import json
import socket
import struct
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
import requests
from openai import OpenAI

from jobs.cli import main
from pipelines.batch.run import iter_transcripts
from pipelines.config import ChunkingConfig, TranscribeConfig
from pipelines.listing import list_sources
from pipelines.online.app import ServeSettings, build_app, start
from tools.loadtest import LoadSpec, run_load

pytestmark = pytest.mark.slow

KEY = "test-key-123"
MAX_UPLOAD = 1024**2
MAX_DURATION_S = 20.0


@dataclass(frozen=True)
class Served:
    url: str
    client: OpenAI
    batch_text: dict[str, str]  # clip path -> the batch pipeline's text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def clips(speech_manifest: list[dict]) -> list[str]:
    # Two containers (wav and a compressed one) are enough to show upload decoding matches.
    wav = next(c["path"] for c in speech_manifest if c["path"].endswith(".wav"))
    other = next(c["path"] for c in speech_manifest if c["path"].endswith((".mp3", ".m4a")))
    return [wav, other]


@pytest.fixture(scope="module")
def served(clips: list[str]) -> Iterator[Served]:
    import ray
    from ray import serve

    if not ray.is_initialized():
        # address="local": a fresh instance even where `ray start` left a cluster to auto-connect to.
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="warning")
    # The batch pipeline's transcripts first: its actor pool and the Serve replicas would not
    # both fit on 2 CPUs. Unpacked: each upload is a window of its own online, so the batch
    # reference gives every clip its own window too.
    config = TranscribeConfig(chunking=ChunkingConfig(pack_short_clips=False))
    ray.data.DataContext.get_current().enable_progress_bars = False
    batch_text = {r["path"]: r["text"] for r in iter_transcripts(list_sources(clips, config.storage), config, "ref")}
    settings = ServeSettings(
        config=config,
        api_key=KEY,
        max_upload_bytes=MAX_UPLOAD,
        max_duration_s=MAX_DURATION_S,
        max_batch_size=4,
        replica_cpus=0.5,
    )
    url = start(settings, host="127.0.0.1", port=free_port(), name="voxray-test")
    try:
        yield Served(url, OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=120), batch_text)
    finally:
        serve.shutdown()


def transcribe(served: Served, path: str | Path, **kwargs):
    with open(path, "rb") as f:
        return served.client.audio.transcriptions.create(model="tiny.en", file=f, **kwargs)


def assert_clean_error(response_text: str) -> dict:
    """An OpenAI-style error body with a message and no server internals."""
    body = json.loads(response_text)
    assert set(body) == {"error"} and body["error"]["message"]
    for leak in ("Traceback", 'File "', "/work/", "site-packages"):
        assert leak not in response_text
    return body["error"]


def test_text_equals_the_batch_pipeline(served: Served, clips: list[str]):
    for clip in clips:
        result = transcribe(served, clip)
        assert result.text.strip() == served.batch_text[clip].strip()
        assert result.text.strip()  # a speech clip, so the comparison is not between two empty strings


def test_every_response_format(served: Served, clips: list[str]):
    clip = clips[0]
    expected = served.batch_text[clip].strip()
    assert transcribe(served, clip, response_format="json").text.strip() == expected
    assert transcribe(served, clip, response_format="text").strip() == expected

    srt = transcribe(served, clip, response_format="srt")
    cues = [block.split("\n") for block in srt.strip().split("\n\n")]
    assert [c[0] for c in cues] == [str(i) for i in range(1, len(cues) + 1)]
    assert all(" --> " in c[1] and c[1].count(",") == 2 for c in cues)
    assert " ".join(" ".join(c[2:]) for c in cues) == expected

    vtt = transcribe(served, clip, response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n")
    assert " ".join(line for line in vtt.splitlines()[1:] if line and "-->" not in line) == expected

    verbose = transcribe(served, clip, response_format="verbose_json", timestamp_granularities=["word", "segment"])
    assert verbose.language == "english" and verbose.text.strip() == expected
    assert 0 < verbose.duration < MAX_DURATION_S
    assert verbose.segments and all(0 <= s.start < s.end <= verbose.duration + 0.01 for s in verbose.segments)
    assert "".join(s.text for s in verbose.segments).strip() == expected
    assert verbose.words and [w.start for w in verbose.words] == sorted(w.start for w in verbose.words)
    assert "".join(w.word for w in verbose.words).strip() == expected
    plain = transcribe(served, clip, response_format="verbose_json")
    assert plain.segments and not getattr(plain, "words", None)


def test_api_key_is_required(served: Served, clips: list[str]):
    wrong = OpenAI(base_url=f"{served.url}/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught, open(clips[0], "rb") as f:
        wrong.audio.transcriptions.create(model="tiny.en", file=f)
    assert caught.value.status_code == 401
    with open(clips[0], "rb") as f:
        missing = requests.post(f"{served.url}/v1/audio/transcriptions", files={"file": f}, timeout=60)
    assert missing.status_code == 401
    assert assert_clean_error(missing.text)["code"] == "invalid_api_key"
    assert requests.get(f"{served.url}/v1/models", timeout=30).status_code == 401


def test_api_key_is_checked_before_the_upload_is_read(served: Served):
    # An anonymous client announces an upload near the limit and sends only its first bytes. The
    # server must answer 401 at once instead of waiting to take the body in (before the fix it read
    # the body first: no answer until the client gave up).
    host, port = served.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {MAX_UPLOAD}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=20) as conn:
        conn.sendall(head.encode() + b"--x\r\n" + b"\0" * 1024)
        answer = b""
        while b"invalid_api_key" not in answer and (chunk := conn.recv(65536)):  # headers and body may come apart
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"invalid_api_key" in answer


def test_slow_uploads_do_not_block_other_clients(served: Served, clips: list[str]):
    # Four authorised clients announce uploads and send only their first bytes, as a slow or
    # hostile client on a bad link would. A normal client's request must be answered while they
    # still hold their connections (the ingress reads bodies without blocking its event loop).
    host, port = served.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {MAX_UPLOAD // 2}\r\n\r\n"
    )
    slow = [socket.create_connection((host, int(port)), timeout=5) for _ in range(4)]
    try:
        for conn in slow:
            conn.sendall(head.encode() + b"--x\r\n" + b"\0" * 512)
        result = transcribe(served, clips[0])
        assert result.text.strip() == served.batch_text[clips[0]].strip()
        for conn in slow:
            # Still waiting for their bodies: nothing was answered or closed on them.
            conn.setblocking(False)
            with pytest.raises(BlockingIOError):
                conn.recv(1)
    finally:
        for conn in slow:
            conn.close()


def test_health_and_models(served: Served):
    health = requests.get(f"{served.url}/health", timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert {m.id for m in served.client.models.list()} == {"tiny.en", "whisper-1"}


@pytest.mark.parametrize("size", [MAX_UPLOAD + 1, 3 * MAX_UPLOAD // 2, 8 * MAX_UPLOAD])
def test_upload_over_the_limit_gets_413(served: Served, size: int):
    # Just over (caught after parsing), well over (body read stops being kept), far over (not read).
    with pytest.raises(openai.APIStatusError) as caught:
        served.client.audio.transcriptions.create(model="tiny.en", file=("big.wav", b"\x01" * size))
    assert caught.value.status_code == 413
    assert assert_clean_error(caught.value.response.text)["code"] == "file_too_large"


@pytest.mark.parametrize("name", ["random_bytes.flac", "truncated.mp3", "not_audio.wav", "manifest.jsonl"])
def test_corrupt_or_non_audio_uploads_get_400(served: Served, bad_dir: Path, name: str):
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(served, bad_dir / name)
    error = assert_clean_error(caught.value.response.text)
    assert error["code"] == "invalid_file"
    assert "corrupt" in error["message"] or "not audio" in error["message"]


def test_a_concat_list_naming_a_server_file_is_refused(served: Served, clips: list[str]):
    # FFmpeg's concat demuxer would open the named file on the server; relative names even pass
    # its 'safe' check. The upload is text, so it is refused before FFmpeg sees it.
    listing = f"ffconcat version 1.0\nfile {Path(clips[0]).name}\nfile {clips[0]}\n".encode()
    with pytest.raises(openai.BadRequestError) as caught:
        served.client.audio.transcriptions.create(model="tiny.en", file=("list.wav", listing))
    assert assert_clean_error(caught.value.response.text)["code"] == "invalid_file"


def test_audio_over_the_duration_limit_is_refused(served: Served):
    seconds = int(MAX_DURATION_S) + 5
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:  # 8 kHz 8-bit silence: small enough to pass the upload limit
        w.setnchannels(1), w.setsampwidth(1), w.setframerate(8000)
        w.writeframes(struct.pack("B", 128) * 8000 * seconds)
    assert len(buffer.getvalue()) < MAX_UPLOAD
    with pytest.raises(openai.BadRequestError) as caught:
        served.client.audio.transcriptions.create(model="tiny.en", file=("long.wav", buffer.getvalue()))
    error = assert_clean_error(caught.value.response.text)
    assert error["code"] == "audio_too_long" and "limit" in error["message"]


def test_bad_parameters_are_client_errors(served: Served, clips: list[str]):
    with pytest.raises(openai.NotFoundError) as caught, open(clips[0], "rb") as f:
        served.client.audio.transcriptions.create(model="no-such-model", file=f)
    assert assert_clean_error(caught.value.response.text)["code"] == "model_not_found"
    with open(clips[0], "rb") as f:
        response = requests.post(
            f"{served.url}/v1/audio/transcriptions",
            headers={"Authorization": f"Bearer {KEY}"},
            files={"file": f},
            data={"response_format": "docx"},
            timeout=60,
        )
    assert response.status_code == 400 and assert_clean_error(response.text)["code"] == "invalid_response_format"
    # A path or URL in place of the upload is a plain form field, never opened or fetched.
    response = requests.post(
        f"{served.url}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {KEY}"},
        files={"model": (None, "tiny.en"), "file": (None, clips[0])},
        timeout=60,
    )
    assert response.status_code == 400 and assert_clean_error(response.text)["code"] == "invalid_file"
    assert requests.get(f"{served.url}/no/such/route", timeout=30).status_code == 404


def test_loadtest_is_bounded_and_error_free(served: Served, clips: list[str]):
    data = Path(clips[0]).read_bytes()
    spec = LoadSpec(served.url, data, "clip.wav", concurrency=2, duration_s=3.0, max_requests=6, api_key=KEY, warmup=0)
    result = run_load(spec, audio_s=3.0)
    assert result.n_errors == 0 and 1 <= result.ok <= 6
    assert result.percentile(50) <= result.percentile(95) <= result.percentile(99)
    assert main(["loadtest", "--url", "http://192.0.2.1:8000", "--file", clips[0], "--duration", "1"]) == 2


def model_deployment(app):
    return app._bound_deployment.init_args[0]._bound_deployment


def test_model_replicas_take_a_gpu_when_the_cluster_has_gpus(served: Served):
    # This cluster (ray.init(num_cpus=2)) has no GPUs: CPU replicas; asked for GPUs: one per replica.
    assert "num_gpus" not in model_deployment(build_app(ServeSettings())).ray_actor_options
    gpu = model_deployment(build_app(ServeSettings(use_gpu=True, min_replicas=1, max_replicas=3)))
    assert gpu.ray_actor_options["num_gpus"] == 1
    scaling = gpu._deployment_config.autoscaling_config
    assert (scaling.min_replicas, scaling.max_replicas) == (1, 3)
