"""Packed clips decoded each as its own sequence from their window's one encoder pass.

Every 30-second window costs one full encoder pass whatever it holds, so short clips share windows
(pipelines/batch/packing.py). Decoding such a window as one sequence let Whisper run one clip's
sentence into the next, drop a clip's last words, reword a clip by its neighbours' context, and
fall back to five more temperatures over every clip of a window one clip had failed. Here the
window is encoded once and each clip gets a decoder sequence of its own:

- its encoder input is the window's encoder output over the clip's span, and elsewhere the encoder
  output of a silent window: the decoder's cross-attention sees no neighbour;
- its prompt ends with the clip's start timestamp, so decoding starts where the clip starts;
- Whisper's temperature fallback and guards apply to that clip alone.

The decoder's work is per token, so it costs about what decoding the window did; the encoder
passes are the window's. Measured in docs/performance.md (issue 21).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

import ctranslate2
import numpy as np

from models.backend import ClipSpan, WindowResult
from models.common.audio import FRAMES_PER_SECOND, N_AUDIO_CTX, N_FRAMES, TIME_PRECISION_S
from models.common.config import ModelConfig
from models.whisper_ct2_decode import as_array, token_limit
from models.whisper_decoding import shift_segment

if TYPE_CHECKING:
    from models.whisper_ct2 import CT2Whisper

# Encoder output positions per second of a window (1500 per 30 s).
ENCODER_POSITIONS_PER_SECOND = 1.0 / TIME_PRECISION_S
# How far past its span a clip's own encoder output is kept (its VAD span has Silero's padding
# already). Tuned on the dev clip set: 0 and 0.1 s gave the same WER, 0.3 s let a neighbour's
# speech into a clip of noise, which Whisper then transcribed.
CLIP_MARGIN_S = 0.1
# Whisper's log-mel of digital silence: the power floor (1e-10) in log10, normalised as (x + 4) / 4.
SILENT_LOG_MEL = (math.log10(1e-10) + 4.0) / 4.0
# Whisper's floor 80 dB (8 in log10) below a window's loudest frame, in the normalised scale.
LOG_MEL_FLOOR = 8.0 / 4.0
# What an own encoder pass (splice "own") holds after its clip: Whisper's encoder frames near the
# end of its input see less context. Tried on the seed-83 dev sets: 0.1, 0.5, 1.0 s.
OWN_MARGIN_S = 0.5


def clip_encodings(
    encoded: np.ndarray, silence: np.ndarray, spans: list[ClipSpan], splice: str = "span"
) -> ctranslate2.StorageView:
    """Per clip: the silent window's encoder output with the clip's own span from its window's."""
    if splice == "window":
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded[[s.window for s in spans]]))
    rows = np.repeat(silence[None], len(spans), axis=0)
    for row, span in zip(rows, spans, strict=True):
        first = max(0, math.floor((span.start_s - CLIP_MARGIN_S) * ENCODER_POSITIONS_PER_SECOND))
        first = 0 if splice == "prefix" else first
        last = min(N_AUDIO_CTX, math.ceil((span.end_s + CLIP_MARGIN_S) * ENCODER_POSITIONS_PER_SECOND))
        row[first:last] = encoded[span.window, first:last]
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(rows))


def start_token(timestamp_begin: int, start_s: float) -> int:
    """The timestamp token at (or just before) a clip's start: the last token of its prompt."""
    return timestamp_begin + max(0, math.floor(start_s / TIME_PRECISION_S))


def silent_window(n_mels: int, value: float = SILENT_LOG_MEL) -> np.ndarray:
    """Features of a silent window: (1, n_mels, N_FRAMES), for its encoder output."""
    return np.full((1, n_mels, N_FRAMES), value, dtype=np.float32)


def decode_clips(
    whisper: CT2Whisper, features: np.ndarray, spans: list[ClipSpan], cfg: ModelConfig
) -> list[WindowResult]:
    """One result per clip (times in its window), each clip decoded as its own sequence."""
    how = cfg.clip_input
    if how.splice == "own":
        # Own passes are for a clip alone in its window; clips packed together (`--pack`) share their
        # window's pass, decoded the "span" way (packed own passes measured worse: docs/performance.md).
        shared = Counter(s.window for s in spans)
        alone = [i for i, s in enumerate(spans) if shared[s.window] == 1]
        packed = [i for i, s in enumerate(spans) if shared[s.window] > 1]
        by_index: dict[int, WindowResult] = {}
        if alone:
            by_index.update(zip(alone, decode_own(whisper, features, [spans[i] for i in alone], cfg), strict=True))
        if packed:
            span_cfg = replace(cfg, clip_input=replace(how, splice="span"))
            decoded = decode_clips(whisper, features, [spans[i] for i in packed], span_cfg)
            by_index.update(zip(packed, decoded, strict=True))
        return [by_index[i] for i in range(len(spans))]
    with whisper.times.stage("model:encode"):
        encoded = whisper.model.encode(np.ascontiguousarray(features, dtype=np.float32))
    languages = whisper.languages(encoded, len(features), cfg)
    windows = as_array(encoded)
    results = [WindowResult() for _ in spans]
    for language in sorted({languages[s.window][0] for s in spans}):
        idx = [i for i, s in enumerate(spans) if languages[s.window][0] == language]
        group = [spans[i] for i in idx]
        tokenizer = whisper.tokenizer(language)
        prompt = whisper.decoder.prompt(tokenizer, cfg, text_only=False)
        speech = window_no_speech(whisper, windows, sorted({s.window for s in group}), prompt)
        whole = how.splice == "window"
        silence = whisper.silence(SILENT_LOG_MEL if how.silence is None else how.silence)
        decoded = whisper.decoder.decode(
            clip_encodings(windows, silence, group, how.splice),
            [30.0 if whole else s.end_s for s in group],
            tokenizer,
            cfg,
            "model:decode clips",
            starts=[start_token(tokenizer.timestamp_begin, s.start_s) for s in group] if how.forced_start else None,
            max_tokens=None if whole else token_limit(max(s.end_s - s.start_s for s in group)),
            no_speech=[speech[s.window] for s in group],
            first_timestamp_s=None if how.forced_start else max(s.start_s for s in group) + 1.0,
        )
        for i, (segments, seek, _failed) in zip(idx, decoded, strict=True):
            if whole:
                segments = [g for g in segments if g["start"] < spans[i].end_s - 0.2]
                seek = None
            # Whisper stopped before the clip's end and would seek there (it does near a window's
            # end): its last words are missing, so the caller decodes that clip alone.
            results[i] = WindowResult(segments, *languages[spans[i].window], failed=seek is not None)
    return results


def own_features(window: np.ndarray, span: ClipSpan) -> tuple[np.ndarray, float]:
    """A packed clip's features as if it were alone, cut to its length, and its offset in the window.

    Its frames from its window (its VAD span; the pack gap keeps neighbours out of its edge
    frames), with Whisper's 80 dB floor taken from its own loudest frame (its window's floor came
    from the loudest clip in it), then OWN_MARGIN_S of what an alone window holds after its audio.
    """
    first = max(0, math.floor(span.start_s * FRAMES_PER_SECOND))
    last = min(N_FRAMES, math.ceil(span.end_s * FRAMES_PER_SECOND))
    own = window[:, first:last]
    floor = float(own.max()) - LOG_MEL_FLOOR
    length = min(N_FRAMES, 2 * math.ceil((last - first + OWN_MARGIN_S * FRAMES_PER_SECOND) / 2))
    out = np.zeros((1, window.shape[0], length), dtype=np.float32)  # LogMel pads an alone window with 0
    out[0, :, : last - first] = np.maximum(own, floor)
    return out, first / FRAMES_PER_SECOND


def decode_own(
    whisper: CT2Whisper, features: np.ndarray, spans: list[ClipSpan], cfg: ModelConfig
) -> list[WindowResult]:
    """Each clip from an encoder pass over its own frames only, spliced before a silent window's output.

    So a clip's transcript is a function of its own audio: no neighbour's frame reaches its
    encoder pass or its decoder, and each pass is as long as the clip, not the window.
    """
    silence = whisper.silence(SILENT_LOG_MEL if cfg.clip_input.silence is None else cfg.clip_input.silence)
    rows = np.repeat(silence[None], len(spans), axis=0)
    offsets, durations = [], []
    with whisper.times.stage("model:encode clips"):
        for row, span in zip(rows, spans, strict=True):
            own, offset = own_features(features[span.window], span)
            encoded = as_array(whisper.model.encode(own))[0]
            row[: len(encoded)] = encoded
            offsets.append(offset)
            durations.append(span.end_s - offset)
    stored = ctranslate2.StorageView.from_array(np.ascontiguousarray(rows))
    languages = whisper.languages(stored, len(spans), cfg)
    results = [WindowResult() for _ in spans]
    for language in sorted({lang for lang, _ in languages}):
        idx = [i for i, (lang, _) in enumerate(languages) if lang == language]
        tokenizer = whisper.tokenizer(language)
        prompt = whisper.decoder.prompt(tokenizer, cfg, text_only=False)
        speech = window_no_speech(whisper, rows, idx, prompt)
        decoded = whisper.decoder.decode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(rows[idx])),
            [durations[i] for i in idx],
            tokenizer,
            cfg,
            "model:decode clips",
            starts=[tokenizer.timestamp_begin] * len(idx),
            max_tokens=token_limit(max(durations[i] for i in idx)),
            no_speech=[speech[i] for i in idx],
        )
        for i, (segments, seek, _failed) in zip(idx, decoded, strict=True):
            shifted = [shift_segment(g, offsets[i]) for g in segments]
            results[i] = WindowResult(shifted, *languages[i], failed=seek is not None)
    return results


def window_no_speech(whisper: CT2Whisper, windows: np.ndarray, rows: list[int], prompt: list[int]) -> dict[int, float]:
    """Whisper's no-speech probability of each packed window as a whole (one decoder step each).

    A clip's own sequence sees mostly the silent window's encoder output, so the probability it
    gives is high for every clip: the flywheel's filter dropped clean clips as "no speech", and
    Whisper's silence rule (no speech and a low log-probability) could drop an unsure clip's words.
    The window's is what a window decoded as one sequence was judged by before.
    """
    encoded = ctranslate2.StorageView.from_array(np.ascontiguousarray(windows[rows]))
    out = whisper.model.model.generate(
        encoded, [prompt] * len(rows), beam_size=1, max_length=len(prompt) + 1, return_no_speech_prob=True
    )
    return {row: float(o.no_speech_prob) for row, o in zip(rows, out, strict=True)}
