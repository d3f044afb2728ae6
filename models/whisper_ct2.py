"""CTranslate2 Whisper backend: batched generation over 30-second feature windows.

Windows from many files arrive together; each is decoded with Whisper's prompt, beam search,
timestamp tokens and Whisper's temperature fallback, then split into segments (and optionally
words, by cross-attention alignment). Times are relative to the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

from models.common.audio import FRAMES_PER_SECOND, N_FRAMES, pad_or_trim
from models.common.config import ModelConfig
from models.common.profile import StageTimes
from models.whisper_decoding import (
    before_seek,
    fallback_choice,
    is_silence,
    passes_guards,
    sampling_options,
    score_hypothesis,
    seek_time,
    shift_segment,
    split_by_timestamps,
)

# A window whose decoding stopped early is decoded again from there, at most this many times.
MAX_SEEK_ROUNDS = 3
# Whisper's defaults for attaching punctuation to words (word timestamps).
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


@dataclass
class WindowResult:
    """What the model heard in one window: segments with window-relative times."""

    segments: list[dict[str, Any]] = field(default_factory=list)
    language: str = "en"
    language_probability: float = 1.0
    # Decoded at the first temperature only (`single_pass`) and it failed Whisper's guards: the
    # caller decodes the window's parts some other way (packed clips: each on its own).
    failed: bool = False


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def pick_compute_type(compute_type: str, device: str) -> str:
    if compute_type != "default":
        return compute_type
    return "float16" if device == "cuda" else "int8"


class CT2Whisper:
    def __init__(self, model_dir: Path, config: ModelConfig, threads: int = 0) -> None:
        self.config = config
        self.device = pick_device(config.device)
        self.compute_type = pick_compute_type(config.compute_type, self.device)
        self.model = WhisperModel(
            str(model_dir),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=threads,
            num_workers=1,
        )
        self.multilingual = self.model.model.is_multilingual
        self.n_mels = self.model.model.n_mels
        self._tokenizers: dict[str, Tokenizer] = {}
        # Read and reset by the actor after each batch (pipelines.batch.infer).
        self.times = StageTimes()

    def tokenizer(self, language: str) -> Tokenizer:
        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(
                self.model.hf_tokenizer, self.multilingual, task="transcribe", language=language
            )
        return self._tokenizers[language]

    def transcribe_windows(
        self,
        features: np.ndarray,
        durations: list[float],
        text_only: list[bool] | None = None,
        single_pass: list[bool] | None = None,
    ) -> list[WindowResult]:
        """features: (batch, n_mels, 3000) float32; durations: seconds of real audio per window.

        text_only: per window, decode text tokens only (no timestamps, no seeking); None: as
        configured (`without_timestamps`, None meaning timestamps).
        single_pass: per window, try the first temperature only; a window failing Whisper's guards
        there comes back `failed` instead of running the fallback temperatures over all of it.
        """
        if len(durations) == 0:
            return []
        modes = text_only if text_only is not None else [bool(self.config.without_timestamps)] * len(durations)
        single = single_pass if single_pass is not None else [False] * len(durations)
        with self.times.stage("model:encode"):
            encoder_output = self.model.encode(np.ascontiguousarray(features, dtype=np.float32))
        languages = self._languages(encoder_output, len(durations))
        results: list[WindowResult | None] = [None] * len(durations)
        for language, mode in sorted({(lang, m) for (lang, _), m in zip(languages, modes, strict=True)}):
            idx = [
                i
                for i, ((lang, _), m) in enumerate(zip(languages, modes, strict=True))
                if (lang, m) == (language, mode)
            ]
            # Mixed batches are rare (a batch across a long recording and clips, or several
            # languages with a multilingual model): those rows' encoder output is taken apart.
            enc = encoder_output if len(idx) == len(durations) else _select(encoder_output, idx)
            group = self._transcribe_group(
                features[idx], [durations[i] for i in idx], language, enc, mode, [single[i] for i in idx]
            )
            for i, result in zip(idx, group, strict=True):
                result.language, result.language_probability = languages[i]
                results[i] = result
        return [r for r in results if r is not None]

    def _transcribe_group(
        self,
        features: np.ndarray,
        durations: list[float],
        language: str,
        encoder_output: ctranslate2.StorageView | None,
        text_only: bool = False,
        single: list[bool] | None = None,
    ) -> list[WindowResult]:
        """Decode windows; where Whisper stops early (it expects to seek), decode the rest again.

        Whisper ends a window with `<|t|><|t|>` when it wants the next window to start at t. The
        sequential loop seeks there; here the remainders of all such windows (features from t on,
        exactly what Whisper's own seek slices) are decoded together in another batched round.
        """
        results = [WindowResult() for _ in durations]
        rows, offsets = list(range(len(durations))), [0.0] * len(durations)
        single = single or [False] * len(durations)
        for round_index in range(MAX_SEEK_ROUNDS + 1):
            if encoder_output is None:
                with self.times.stage("model:seek encode"):
                    encoder_output = self.model.encode(np.ascontiguousarray(features, dtype=np.float32))
                self.times.add("model:seek windows", 0.0, 0.0, calls=len(durations))
            stage = "model:decode" if round_index == 0 else "model:seek decode"
            decoded = self._decode(encoder_output, durations, language, stage, text_only, [single[r] for r in rows])
            next_rows, next_features, next_durations, next_offsets = [], [], [], []
            for k, (segments, seek, failed) in enumerate(decoded):
                if failed:
                    results[rows[k]].failed = True
                    continue
                seeking = seek is not None and round_index < MAX_SEEK_ROUNDS
                for segment in before_seek(segments, seek) if seeking else segments:
                    results[rows[k]].segments.append(shift_segment(segment, offsets[k]))
                if seeking:
                    content = math.ceil(durations[k] * FRAMES_PER_SECOND)
                    next_features.append(pad_or_trim(features[k][:, round(seek * FRAMES_PER_SECOND) : content]))
                    next_durations.append(durations[k] - seek)
                    next_offsets.append(offsets[k] + seek)
                    next_rows.append(rows[k])
            if not next_rows:
                break
            features, durations = np.stack(next_features), next_durations
            rows, offsets, encoder_output = next_rows, next_offsets, None
        return results

    def prompt(self, tokenizer: Tokenizer, cfg: ModelConfig, text_only: bool | None = None) -> list[int]:
        """Whisper's prompt; custom vocabulary goes after <|startofprev|> as faster-whisper puts it."""
        previous = tokenizer.encode(" " + cfg.initial_prompt.strip()) if cfg.initial_prompt else []
        without = bool(cfg.without_timestamps) if text_only is None else text_only
        return self.model.get_prompt(
            tokenizer, previous_tokens=previous, without_timestamps=without, hotwords=cfg.hotwords
        )

    def _languages(self, encoder_output: ctranslate2.StorageView, n: int) -> list[tuple[str, float]]:
        if self.config.language:
            return [(self.config.language if self.multilingual else "en", 1.0)] * n
        if not self.multilingual:
            return [("en", 1.0)] * n
        with self.times.stage("model:language id"):
            detected = self.model.model.detect_language(encoder_output)
        return [(pairs[0][0][2:-2], float(pairs[0][1])) for pairs in detected]

    def _decode(
        self,
        encoder_output: ctranslate2.StorageView,
        durations: list[float],
        language: str,
        stage: str,
        text_only: bool = False,
        single: list[bool] | None = None,
    ) -> list[tuple[list[dict[str, Any]], float | None, bool]]:
        """Per window: segments, where to seek (or None), and whether a single-pass window failed."""
        cfg = self.config
        tokenizer = self.tokenizer(language)
        prompt = self.prompt(tokenizer, cfg, text_only)
        suppress = get_suppressed_tokens(tokenizer, [-1])
        best: list[dict[str, Any] | None] = [None] * len(durations)
        candidates: list[list[dict[str, Any]]] = [[] for _ in durations]
        pending = list(range(len(durations)))
        failed: set[int] = set()
        for temperature in cfg.temperatures:
            if not pending:
                break
            sampling = sampling_options(temperature, cfg.beam_size)
            enc = encoder_output if len(pending) == len(durations) else _select(encoder_output, pending)
            with self.times.stage(f"{stage} t={temperature:.1f}"):
                outputs = self._generate(enc, prompt, len(pending), suppress, sampling)
            still_pending = []
            for i, out in zip(pending, outputs, strict=True):
                decoded = score_hypothesis(out, tokenizer, temperature)
                candidates[i].append(decoded)
                if passes_guards(decoded, cfg) or is_silence(decoded, cfg):
                    best[i] = decoded
                else:
                    still_pending.append(i)
            pending = still_pending
            if single:
                failed.update(i for i in pending if single[i])
                pending = [i for i in pending if not single[i]]
        for i in pending:
            best[i] = fallback_choice(candidates[i], cfg)
        for i in failed:
            best[i] = dict(candidates[i][0], flagged=True)
        segments = self._segments(encoder_output, [b for b in best if b is not None], durations, tokenizer)
        return [(segs, seek, i in failed) for i, (segs, seek) in enumerate(segments)]

    def _generate(
        self,
        encoder_output: ctranslate2.StorageView,
        prompt: list[int],
        n: int,
        suppress: list[int],
        sampling: dict[str, Any],
    ) -> list[Any]:
        return self.model.model.generate(
            encoder_output,
            [list(prompt) for _ in range(n)],
            length_penalty=1,
            max_length=self.model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=suppress,
            max_initial_timestamp_index=int(round(1.0 / self.model.time_precision)),
            **sampling,
        )

    def _segments(
        self,
        encoder_output: ctranslate2.StorageView,
        decoded: list[dict[str, Any]],
        durations: list[float],
        tokenizer: Tokenizer,
    ) -> list[tuple[list[dict[str, Any]], float | None]]:
        """Per window: its segments (window time) and where to seek to decode the rest, if anywhere."""
        cfg = self.config
        per_window: list[list[dict[str, Any]]] = []
        seeks: list[float | None] = []
        sizes: list[int] = []
        for result, duration in zip(decoded, durations, strict=True):
            size = min(N_FRAMES, max(1, math.ceil(duration * FRAMES_PER_SECOND)))
            sizes.append(size)
            if is_silence(result, cfg):
                per_window.append([])
                seeks.append(None)
                continue
            tokens = result["tokens"]
            seeks.append(seek_time(tokens, tokenizer.timestamp_begin, self.model.time_precision, duration))
            subsegments = split_by_timestamps(
                tokens, tokenizer.timestamp_begin, tokenizer.eot, self.model.time_precision, duration
            )
            segments = []
            for sub in subsegments:
                text = tokenizer.decode([t for t in sub["tokens"] if t < tokenizer.eot])
                if not text.strip():
                    continue
                segments.append(
                    {
                        "start": float(sub["start"]),
                        "end": float(min(sub["end"], duration)),
                        "text": text,
                        "tokens": sub["tokens"],
                        "seek": 0,
                        "avg_logprob": float(result["avg_logprob"]),
                        "no_speech_prob": result["no_speech_prob"],
                        "compression_ratio": float(get_compression_ratio(text)),
                        "temperature": result["temperature"],
                        "flagged": bool(result.get("flagged", False)),
                    }
                )
            per_window.append(segments)
        if cfg.word_timestamps and any(per_window):
            with self.times.stage("model:word alignment"):
                add_words(self.model, encoder_output, per_window, sizes, tokenizer)
        return list(zip(per_window, seeks, strict=True))


def add_words(
    model: WhisperModel,
    encoder_output: ctranslate2.StorageView,
    per_window: list[list[dict[str, Any]]],
    sizes: list[int],
    tokenizer: Tokenizer,
) -> None:
    """Word timings for the windows that have segments: Whisper's cross-attention alignment (DTW)."""
    keep = [i for i, segs in enumerate(per_window) if segs]
    enc = encoder_output if len(keep) == len(per_window) else _select(encoder_output, keep)
    model.add_word_timestamps(
        [per_window[i] for i in keep],
        tokenizer,
        enc,
        [sizes[i] for i in keep],
        PREPEND_PUNCTUATIONS,
        APPEND_PUNCTUATIONS,
        0.0,
    )


def _select(encoder_output: ctranslate2.StorageView, rows: list[int]) -> ctranslate2.StorageView:
    """Rows of an encoder output (a CPU copy when it lives on a GPU: rare fallback path only)."""
    array = np.asarray(
        encoder_output.to_device(ctranslate2.Device.cpu) if hasattr(encoder_output, "to_device") else encoder_output
    )
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(array[rows]))
