"""One decoding round of CTranslate2 Whisper over encoded windows: Whisper's temperature fallback,
segments from timestamp tokens, where to seek, and word timings (models.whisper_ct2 drives it).

Decoding options come with each call (a `ModelConfig`), so one loaded model decodes requests that
ask for different languages, prompts or word timestamps.
"""

from __future__ import annotations

import math
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

from models.common.audio import FRAMES_PER_SECOND, N_FRAMES, TIME_PRECISION_S
from models.common.config import ModelConfig
from models.common.profile import StageTimes
from models.whisper_decoding import (
    fallback_choice,
    is_silence,
    passes_guards,
    sampling_options,
    score_hypothesis,
    seek_time,
    split_by_timestamps,
)

# Whisper's defaults for attaching punctuation to words (word timestamps).
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"

# A transcript has at most this many tokens per second of audio, plus MIN_TOKENS: fast speech
# (230 words a minute) with digit strings and a timestamp pair every two seconds stays under 10.
# A hypothesis stuck repeating itself (which Whisper's guards then reject) stops there instead of
# at the model's 448 tokens: on short clips and short seek remainders, most of the fallback's cost.
MAX_TOKENS_PER_S = 12.0
MIN_TOKENS = 16
# A packed clip's timestamps may run this far past its span's end (Whisper's are loose by a few
# tenths of a second near a span's edge: pipelines/batch/packing.py's STRADDLE_S); further, the
# decoder is writing text over silence.
PAST_END_S = 0.5

# Per window: its segments (window time), where to seek (or None), and whether a single-pass window failed.
Decoded = tuple[list[dict[str, Any]], float | None, bool]


class CT2Decoder:
    def __init__(self, model: WhisperModel, times: StageTimes) -> None:
        self.model = model
        self.times = times

    def prompt(self, tokenizer: Tokenizer, cfg: ModelConfig, text_only: bool | None = None) -> list[int]:
        """Whisper's prompt; custom vocabulary goes after <|startofprev|> as faster-whisper puts it."""
        previous = tokenizer.encode(" " + cfg.initial_prompt.strip()) if cfg.initial_prompt else []
        without = bool(cfg.without_timestamps) if text_only is None else text_only
        return self.model.get_prompt(
            tokenizer, previous_tokens=previous, without_timestamps=without, hotwords=cfg.hotwords
        )

    def decode(
        self,
        encoder_output: ctranslate2.StorageView,
        durations: list[float],
        tokenizer: Tokenizer,
        cfg: ModelConfig,
        stage: str,
        text_only: bool = False,
        single: list[bool] | None = None,
        starts: list[int] | None = None,
        max_tokens: int | None = None,
        no_speech: list[float] | None = None,
        first_timestamp_s: float | None = None,
    ) -> list[Decoded]:
        """Each window at Whisper's temperatures in turn, until its result passes the guards.

        starts: per row, a timestamp token that ends its prompt (a packed clip's start, models.whisper_ct2_clips);
        its tokens then begin with it, as a window's begin with <|0.00|>. max_tokens: at most this many tokens
        generated per row (None: the model's limit). first_timestamp_s: the latest first timestamp (None: 1 s).
        no_speech: per row, the no-speech probability to judge it by, where the row's own is not meaningful.
        """
        prompt = self.prompt(tokenizer, cfg, text_only)
        prompts = [prompt + ([starts[i]] if starts else []) for i in range(len(durations))]
        suppress = get_suppressed_tokens(tokenizer, [-1])
        best: list[dict[str, Any] | None] = [None] * len(durations)
        candidates: list[list[dict[str, Any]]] = [[] for _ in durations]
        pending = list(range(len(durations)))
        failed: set[int] = set()
        for temperature in cfg.temperatures:
            if not pending:
                break
            sampling = sampling_options(temperature, cfg.beam_size, cfg.fallback)
            enc = encoder_output if len(pending) == len(durations) else select_rows(encoder_output, pending)
            with self.times.stage(f"{stage} t={temperature:.1f}"):
                rows = [prompts[i] for i in pending]
                outputs = self._generate(enc, rows, suppress, sampling, max_tokens, first_timestamp_s)
            still_pending = []
            for i, out in zip(pending, outputs, strict=True):
                decoded = score_hypothesis(out, tokenizer, temperature)
                cap, end = self._limit(prompts, max_tokens) - len(prompts[i]), (durations[i] if starts else None)
                decoded["runaway"] = max_tokens is not None and runaway(decoded["tokens"], cap, tokenizer, end)
                if no_speech is not None:
                    decoded["no_speech_prob"] = no_speech[i]
                if starts:
                    decoded["tokens"] = [starts[i], *decoded["tokens"]]
                candidates[i].append(decoded)
                if (passes_guards(decoded, cfg) and not decoded["runaway"]) or is_silence(decoded, cfg):
                    best[i] = decoded
                else:
                    still_pending.append(i)
            pending = still_pending
            if single:
                failed.update(i for i in pending if single[i])
                pending = [i for i in pending if not single[i]]
        for i in pending:
            best[i] = fallback_choice([c for c in candidates[i] if not c["runaway"]] or candidates[i], cfg)
        for i in failed:
            best[i] = dict(candidates[i][0], flagged=True)
        segments = self._segments(encoder_output, [b for b in best if b is not None], durations, tokenizer, cfg)
        return [(segs, seek, i in failed) for i, (segs, seek) in enumerate(segments)]

    def _limit(self, prompts: list[list[int]], max_tokens: int | None) -> int:
        """The max_length of one generate call: the model's, or the prompt plus the token bound."""
        if max_tokens is None:
            return self.model.max_length
        return min(self.model.max_length, max(len(p) for p in prompts) + max_tokens)

    def _generate(
        self,
        encoder_output: ctranslate2.StorageView,
        prompts: list[list[int]],
        suppress: list[int],
        sampling: dict[str, Any],
        max_tokens: int | None = None,
        first_timestamp_s: float | None = None,
    ) -> list[Any]:
        first = 1.0 if first_timestamp_s is None else first_timestamp_s
        return self.model.model.generate(
            encoder_output,
            prompts,
            length_penalty=1,
            max_length=self._limit(prompts, max_tokens),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=suppress,
            max_initial_timestamp_index=int(round(first / self.model.time_precision)),
            **sampling,
        )

    def _segments(
        self,
        encoder_output: ctranslate2.StorageView,
        decoded: list[dict[str, Any]],
        durations: list[float],
        tokenizer: Tokenizer,
        cfg: ModelConfig,
    ) -> list[tuple[list[dict[str, Any]], float | None]]:
        """Per window: its segments (window time) and where to seek to decode the rest, if anywhere."""
        per_window: list[list[dict[str, Any]]] = []
        seeks: list[float | None] = []
        sizes: list[int] = []
        precision = self.model.time_precision
        for result, duration in zip(decoded, durations, strict=True):
            sizes.append(min(N_FRAMES, max(1, math.ceil(duration * FRAMES_PER_SECOND))))
            if is_silence(result, cfg):
                per_window.append([])
                seeks.append(None)
                continue
            seeks.append(seek_time(result["tokens"], tokenizer.timestamp_begin, precision, duration))
            per_window.append(window_segments(result, duration, tokenizer, precision))
        if cfg.word_timestamps and any(per_window):
            with self.times.stage("model:word alignment"):
                add_words(self.model, encoder_output, per_window, sizes, tokenizer)
        return list(zip(per_window, seeks, strict=True))


def window_segments(
    result: dict[str, Any], duration: float, tokenizer: Tokenizer, precision: float
) -> list[dict[str, Any]]:
    """A decoded window's segments with the scores Whisper reports for each."""
    segments = []
    for sub in split_by_timestamps(result["tokens"], tokenizer.timestamp_begin, tokenizer.eot, precision, duration):
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
    return segments


def add_words(
    model: WhisperModel,
    encoder_output: ctranslate2.StorageView,
    per_window: list[list[dict[str, Any]]],
    sizes: list[int],
    tokenizer: Tokenizer,
) -> None:
    """Word timings for the windows that have segments: Whisper's cross-attention alignment (DTW)."""
    keep = [i for i, segs in enumerate(per_window) if segs]
    enc = encoder_output if len(keep) == len(per_window) else select_rows(encoder_output, keep)
    model.add_word_timestamps(
        [per_window[i] for i in keep],
        tokenizer,
        enc,
        [sizes[i] for i in keep],
        PREPEND_PUNCTUATIONS,
        APPEND_PUNCTUATIONS,
        0.0,
    )


def runaway(tokens: list[int], cap: int, tokenizer: Tokenizer, clip_end: float | None) -> bool:
    """Whether a bounded hypothesis is a decoder repeating itself, to be decoded again hotter.

    With the token bound (MAX_TOKENS_PER_S), a repetition is cut too short for Whisper's
    compression-ratio guard to see (measured: a real 6 s clip packed, its two sentences written
    twice over, ratio 1.1, log-probability -0.31). So a hypothesis fails the guards when it ran into
    the bound (`cap` tokens generated), when a segment holds more tokens than its span can
    (too_dense), or when a packed clip's timestamps run past its end (past_end).
    """
    return (
        len(tokens) >= cap
        or too_dense(tokens, tokenizer)
        or (clip_end is not None and past_end(tokens, tokenizer, clip_end))
    )


def past_end(tokens: list[int], tokenizer: Tokenizer, end_s: float) -> bool:
    """Whether a packed clip's hypothesis has a timestamp well past the clip's end (PAST_END_S).

    Beyond its span a clip's encoder input is the silent window's (models.whisper_ct2_clips), so
    text there is not the clip's: measured on a real 6 s clip packed first of five, the decoder
    wrote its sentences again at 8.2 s and 9.6 s.
    """
    times = [t - tokenizer.timestamp_begin for t in tokens if t >= tokenizer.timestamp_begin]
    return bool(times) and max(times) * TIME_PRECISION_S > end_s + PAST_END_S


def too_dense(tokens: list[int], tokenizer: Tokenizer) -> bool:
    """Whether a closed segment holds more tokens than its span can (token_limit): a repetition.

    Measured on a 6 s real clip packed with two others: after its last words the decoder wrote its
    two sentences again between <|7.84|> and <|7.86|>. Whisper's guards pass that (compression
    ratio 1.1, log-probability -0.31), and its words were kept twice.
    """
    begin = tokenizer.timestamp_begin
    for segment in split_by_timestamps(tokens, begin, tokenizer.eot, TIME_PRECISION_S, float("inf")):
        closed = segment["end"] != float("inf")
        if closed and len(segment["tokens"]) > token_limit(segment["end"] - segment["start"]):
            return True
    return False


def token_limit(seconds: float) -> int:
    """The most tokens a transcript of `seconds` of audio can need (MAX_TOKENS_PER_S)."""
    return MIN_TOKENS + math.ceil(MAX_TOKENS_PER_S * seconds)


def select_rows(encoder_output: ctranslate2.StorageView, rows: list[int]) -> ctranslate2.StorageView:
    """Rows of an encoder output (a CPU copy when it lives on a GPU: rare fallback path only)."""
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(as_array(encoder_output)[rows]))


def as_array(encoder_output: ctranslate2.StorageView) -> np.ndarray:
    """An encoder output as a NumPy array (a CPU copy when it lives on a GPU)."""
    if hasattr(encoder_output, "to_device"):
        encoder_output = encoder_output.to_device(ctranslate2.Device.cpu)
    return np.asarray(encoder_output)
