"""Request-level transcription for online serving, built from the batch pipeline's own stages.

bytes -> decode (PyAV) -> windows (`recording_windows`, as batch preparation plans them) -> log-mel
-> backend -> `split_window` + `Assembler.row`: an upload gets the same transcript row, and so
the same text, as the batch pipeline gives the same file. Preparation is per request (CPU);
`transcribe_many` runs the windows of many requests through the model together, which is what
dynamic batching in the server feeds it.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from models.backend import ClipSpan, WindowResult
from models.common.audio import SAMPLE_RATE
from models.common.config import ModelConfig
from models.features import LogMel
from models.languages import UnsupportedLanguageError
from models.resolved import ResolvedModel, resolve
from pipelines.batch.assemble import Assembler, split_window
from pipelines.batch.infer import check_model_language, load_backend
from pipelines.batch.packing import holds_one_whole_clip, incomplete_clip
from pipelines.batch.records import FileMeta, Placement, placement
from pipelines.config import DiarizeConfig, TranscribeConfig
from pipelines.decode import DecodedAudio, DecodeError, decode_audio
from pipelines.speakers.embed import SpeakerEmbedder
from pipelines.windows import ChunkingConfig, StreamedWindow, blocks_of, recording_windows

log = logging.getLogger(__name__)

RUN_ID = "online"
# Windows per model call (as in the batch pipeline's plan): bounds memory when a batch of
# requests holds long recordings.
CPU_WINDOWS_PER_CALL = 8
GPU_WINDOWS_PER_CALL = 32
# Enough of the head of a file to tell text from binary media.
_SNIFF_BYTES = 4096


class RequestError(Exception):
    """A problem with the client's request: `status` and `code` go back with `message`."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


@dataclass(frozen=True)
class RequestOptions:
    language: str | None = None  # None: the model's configured language (or detection)
    words: bool = False  # word timestamps
    max_duration_s: float | None = None
    prompt: str | None = None  # Whisper's initial prompt (OpenAI's `prompt` field)
    redact: tuple[str, ...] = ()  # PII entity types to redact (pipelines/redaction)
    diarize: DiarizeConfig | None = None  # speaker labels for this request (`diarize` form field)


@dataclass
class PreparedRequest:
    """One upload, decoded and cut into feature windows, waiting for the model."""

    name: str
    options: RequestOptions
    # Log-mel features per window, or the window's audio for backends that read audio (CTC models).
    features: list[np.ndarray] = field(repr=False)
    durations: list[float]
    placements: list[list[Placement]]  # per window
    meta: FileMeta
    prepare_s: float


class OnlineTranscriber:
    """Loads the model once; `prepare` (any thread) then `transcribe_many` (one batch at a time)."""

    def __init__(self, config: TranscribeConfig, threads: int = 0, model: ResolvedModel | None = None) -> None:
        self.config = config
        self.model = model or resolve(config.model, config.storage)
        check_model_language(self.model, config.model.language, config.storage)
        self.backend = load_backend(self.model, config.model, config.storage, threads)
        # What the backend reads per window: log-mel features, or the audio itself (CTC models).
        self.inputs: Callable[[np.ndarray], np.ndarray] = (
            _as_is if self.backend.needs_audio else LogMel(self.model.n_mels)
        )
        self.own_passes = self.backend.decodes_clips and config.model.clip_input.splice == "own"
        on_gpu = self.backend.on_gpu
        self.windows_per_call = config.compute.batch_size or (GPU_WINDOWS_PER_CALL if on_gpu else CPU_WINDOWS_PER_CALL)
        self._assembler = Assembler(config.model.model, RUN_ID, config.fingerprint(self.model.identity))

    def transcribe(self, data: bytes, name: str = "upload", options: RequestOptions | None = None) -> dict[str, Any]:
        return self.transcribe_many([self.prepare(data, name, options or RequestOptions())])[0]

    # -- per request (CPU) -------------------------------------------------------------------

    def prepare(self, data: bytes, name: str, options: RequestOptions) -> PreparedRequest:
        """Decode and window one upload. Raises RequestError for anything the client must fix."""
        started = time.perf_counter()
        try:
            # Here, per request: an unknown language inside a batch would fail every request in it.
            check_model_language(self.model, options.language, self.config.storage)
        except UnsupportedLanguageError as exc:
            raise RequestError(400, str(exc), "unsupported_language") from None
        audio = _decode(data, options.max_duration_s)
        meta = FileMeta(name, None, len(data), audio.duration_s, audio.source_sample_rate, audio.source_channels)
        # The same cuts as batch preparation (which streams long recordings block by block).
        windows = list(recording_windows(blocks_of(audio.samples[0]), self.config.chunking))
        prepared = PreparedRequest(name, options, [], [], [], meta, 0.0)
        for index, window in enumerate(windows):
            prepared.features.append(self.inputs(window.audio))
            prepared.durations.append(window.audio.shape[0] / SAMPLE_RATE)
            speakers = _speakers(options.diarize, self.config.chunking, window)
            prepared.placements.append(
                [
                    placement(meta, index, len(windows), s, speaker_windows=w)
                    for s, w in zip(window.stretches, speakers, strict=True)
                ]
            )
        prepared.prepare_s = time.perf_counter() - started
        return prepared

    # -- many requests (model) ---------------------------------------------------------------

    def transcribe_many(self, requests: list[PreparedRequest]) -> list[dict[str, Any]]:
        """Transcript rows for prepared requests; their windows share model calls."""
        results: dict[tuple[int, int], WindowResult] = {}
        infer_s: dict[tuple[int, int], float] = {}
        groups: dict[tuple[str | None, bool, str | None], list[int]] = {}
        for i, request in enumerate(requests):
            o = request.options
            # Redaction times come from words, so a redacting request is aligned word by word.
            groups.setdefault((o.language, o.words or bool(o.redact), o.prompt), []).append(i)
        for (language, words, prompt), members in groups.items():
            keys = [(i, w) for i in members for w in range(len(requests[i].features))]
            decoding = decoding_options(self.config.model, language, words, prompt)
            for start in range(0, len(keys), self.windows_per_call):
                chunk = keys[start : start + self.windows_per_call]
                began = time.perf_counter()
                inputs = [requests[i].features[w] for i, w in chunk]
                durations = [requests[i].durations[w] for i, w in chunk]
                out = self._run(inputs, durations, decoding, [requests[i].placements[w] for i, w in chunk])
                per_window = (time.perf_counter() - began) / len(chunk)
                for key, result in zip(chunk, out, strict=True):
                    results[key], infer_s[key] = result, per_window
        return [self._row(i, r, results, infer_s) for i, r in enumerate(requests)]

    def _run(
        self, inputs: list[np.ndarray], durations: list[float], decoding: ModelConfig, placements: list[list[Placement]]
    ) -> list[WindowResult]:
        if self.backend.needs_audio:
            return self.backend.transcribe_audio(inputs, decoding)
        features = np.stack(inputs)
        results: list[WindowResult | None] = [None] * len(inputs)
        # With own encoder passes a whole short upload is decoded as the batch pipeline decodes it
        # (pipelines/batch/infer.py), with the same net: a clip that lost words is decoded whole.
        own = [k for k, p in enumerate(placements) if self.own_passes and holds_one_whole_clip(p)]
        if own:
            spans = [ClipSpan(j, placements[k][0].window_offset_s, placements[k][0].end_s) for j, k in enumerate(own)]
            guard = decoding.compression_ratio_threshold
            for k, r in zip(own, self.backend.transcribe_clips(features[own], spans, decoding), strict=True):
                if not (r.failed or incomplete_clip(placements[k][0], r.segments, guard)):
                    results[k] = r
        rest = [k for k, r in enumerate(results) if r is None]
        if rest:
            whole = self.backend.transcribe_windows(features[rest], [durations[k] for k in rest], decoding)
            for k, r in zip(rest, whole, strict=True):
                results[k] = r
        return [r for r in results if r is not None]

    def _row(
        self,
        i: int,
        request: PreparedRequest,
        results: dict[tuple[int, int], WindowResult],
        infer_s: dict[tuple[int, int], float],
    ) -> dict[str, Any]:
        pieces = []
        for w, placements in enumerate(request.placements):
            result = results[(i, w)]
            pieces.extend(
                split_window(placements, result.segments, result.language, result.language_probability, infer_s[(i, w)])
            )
        if not pieces:
            # No speech at all: one empty transcript, as the batch pipeline writes for silence.
            pieces = split_window([placement(request.meta, 0, 1, None)], [], None, None, 0.0)
        pieces[0] = replace(pieces[0], processing_s=pieces[0].processing_s + request.prepare_s)
        if request.options.diarize is not None and request.options.diarize.enabled:
            diarizing = Assembler(self.config.model.model, RUN_ID, self._assembler.fingerprint, request.options.diarize)
            row = diarizing.row(pieces)
        else:
            row = self._assembler.row(pieces)
        if request.options.redact:
            from pipelines.config import RedactConfig
            from pipelines.redaction.presidio import redact_row

            row = redact_row(row, RedactConfig(entities=request.options.redact))
        return row


def decoding_options(base: ModelConfig, language: str | None, words: bool, prompt: str | None) -> ModelConfig:
    """The decoding options of one group of requests, passed to the backend with each call.

    Word alignment costs an extra pass, and language is a per-request choice, so both are
    chosen per group rather than fixed when the model loads.
    """
    return replace(
        base,
        word_timestamps=words or base.word_timestamps,
        language=language or base.language,
        initial_prompt=prompt or base.initial_prompt,
    )


def _speakers(diarize: DiarizeConfig | None, chunking: ChunkingConfig, window: StreamedWindow) -> list[Any]:
    """With diarization asked for: each stretch's speaker windows; else None for each."""
    if diarize is None or not diarize.enabled:
        return [None] * len(window.stretches)
    return SpeakerEmbedder(diarize, chunking, threads=0)(window.audio, window.stretches)  # 0: keep torch's threads


def _as_is(audio: np.ndarray) -> np.ndarray:
    return audio


def _decode(data: bytes, max_duration_s: float | None) -> DecodedAudio:
    if not data:
        raise RequestError(400, "the uploaded file is empty", "invalid_file")
    if _is_text(data[:_SNIFF_BYTES]):
        # Playlists and concat lists (HLS, ffconcat, ...) are text; FFmpeg would open the files
        # and URLs they name, on the server. Media containers are binary, so text is refused.
        raise RequestError(400, "the uploaded file is text, not audio or video", "invalid_file")
    try:
        return decode_audio(io.BytesIO(data), max_duration_s=max_duration_s)
    except DecodeError as exc:
        message = str(exc)
        if "longer than the limit" in message:
            raise RequestError(400, f"audio too long: {message}", "audio_too_long") from exc
        raise RequestError(400, f"unsupported or corrupt media: {message}", "invalid_file") from exc
    except (MemoryError, RuntimeError, ValueError, OSError) as exc:
        log.warning("decoding an upload failed: %r", exc)
        raise RequestError(400, "unsupported or corrupt media: the audio could not be decoded", "invalid_file") from exc


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sniffed head may end inside a multi-byte character.
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return all(c.isprintable() or c in "\t\r\n\ufeff" for c in text)
