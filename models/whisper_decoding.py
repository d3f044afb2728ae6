"""Whisper's decoding rules, independent of the engine: sampling per fallback temperature, scores of
a hypothesis, the hallucination guards, segments from timestamp tokens, and where to seek."""

from __future__ import annotations

from typing import Any

from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio

from models.common.config import ModelConfig

# Less audio than this left after Whisper's last timestamp is not worth another pass.
MIN_REMAINDER_S = 1.0
# The deterministic fallback's repetition penalty grows by this much per unit of temperature
# (chosen on dev sets: docs/performance.md, "A deterministic fallback").
REPETITION_PENALTY_PER_T = 0.5


def sampling_options(temperature: float, beam_size: int, fallback: str = "beam") -> dict[str, Any]:
    """CTranslate2's generate options at one temperature of Whisper's fallback: beam search at 0.

    Above 0, "sample" is Whisper's: `beam_size` samples (its best_of). "beam" stays deterministic:
    beam search again with a repetition penalty of 1 + t * REPETITION_PENALTY_PER_T, since what
    fails Whisper's guards is mostly a decoder repeating itself (docs/performance.md measures it).
    """
    if temperature <= 0:
        return {"beam_size": beam_size}
    if fallback == "sample":
        return {"beam_size": 1, "num_hypotheses": beam_size, "sampling_topk": 0, "sampling_temperature": temperature}
    return {"beam_size": beam_size, "repetition_penalty": 1.0 + temperature * REPETITION_PENALTY_PER_T}


def score_hypothesis(out: Any, tokenizer: Tokenizer, temperature: float) -> dict[str, Any]:
    """A generated hypothesis with the scores Whisper's guards read (faster-whisper's formulas)."""
    tokens = out.sequences_ids[0]
    text = tokenizer.decode([t for t in tokens if t < tokenizer.eot])
    return {
        "tokens": tokens,
        "avg_logprob": out.scores[0] * len(tokens) / (len(tokens) + 1),
        "no_speech_prob": float(out.no_speech_prob),
        "temperature": float(temperature),
        "compression_ratio": get_compression_ratio(text) if text.strip() else 0.0,
    }


def fallback_choice(candidates: list[dict[str, Any]], cfg: ModelConfig) -> dict[str, Any]:
    """Every temperature failed: the likeliest result that is not repetitive, flagged."""
    pool = [c for c in candidates if c["compression_ratio"] <= cfg.compression_ratio_threshold]
    return dict(max(pool or candidates, key=lambda c: c["avg_logprob"]), flagged=True)


def seek_time(tokens: list[int], timestamp_begin: int, precision: float, duration: float) -> float | None:
    """Where Whisper wants the next window to start: a final `<|t|><|t|>` pair with audio left after t."""
    if len(tokens) < 2 or tokens[-1] < timestamp_begin or tokens[-2] < timestamp_begin:
        return None
    seek = (tokens[-1] - timestamp_begin) * precision
    return seek if 0 < seek < duration - MIN_REMAINDER_S else None


def before_seek(segments: list[dict[str, Any]], seek: float) -> list[dict[str, Any]]:
    """Segments cut at the seek point: the next round decodes what lies after it again.

    Whisper can end a window with a word it stopped short of (`... me. It<|t|><|t|>`); the
    alignment then places that word after t, where the next round finds it again. Kept, it would
    appear twice and out of order, so words starting at or after t are dropped here.
    """
    out = []
    for segment in segments:
        words = segment.get("words")
        if not words:
            out.append(segment)
            continue
        kept = [dict(w, end=min(w["end"], seek)) for w in words if w["start"] < seek]
        if not kept:
            continue
        # Ends are clamped at t too: the next round's first word starts there.
        segment = dict(segment, words=kept)
        if len(kept) < len(words):
            segment["text"] = "".join(w["word"] for w in kept)
        out.append(dict(segment, end=min(segment["end"], kept[-1]["end"])))
    return out


def shift_segment(segment: dict[str, Any], offset: float) -> dict[str, Any]:
    if not offset:
        return segment
    words = [dict(w, start=w["start"] + offset, end=w["end"] + offset) for w in segment.get("words") or []]
    return dict(segment, start=segment["start"] + offset, end=segment["end"] + offset, words=words or None)


def split_by_timestamps(
    tokens: list[int], timestamp_begin: int, eot: int, precision: float, duration: float
) -> list[dict[str, Any]]:
    """Segments from `<|t0|> text <|t1|><|t1|> text <|t2|>`, keeping a trailing unclosed segment.

    Whisper often ends a window's last sentence without its closing timestamp. Sequential decoding
    seeks there and decodes again; a batch of independent windows cannot, so the text is kept and
    its segment ends where the window's audio ends (faster-whisper's splitter drops it).
    """
    segments: list[dict[str, Any]] = []
    start: float | None = None
    last_time = 0.0
    text_tokens: list[int] = []
    for token in tokens:
        if token >= timestamp_begin:
            last_time = (token - timestamp_begin) * precision
            if text_tokens:
                segments.append(
                    {
                        "start": start if start is not None else last_time,
                        "end": last_time,
                        "tokens": text_tokens,
                        "seek": 0,
                    }
                )
                text_tokens, start = [], None
            else:
                start = last_time
        elif token < eot:
            if start is None:
                start = last_time
            text_tokens.append(token)
    if text_tokens:
        end = max(duration, start or 0.0)
        segments.append({"start": start or 0.0, "end": end, "tokens": text_tokens, "seek": 0})
    return segments


def passes_guards(decoded: dict[str, Any], cfg: ModelConfig) -> bool:
    return (
        decoded["compression_ratio"] <= cfg.compression_ratio_threshold
        and decoded["avg_logprob"] >= cfg.log_prob_threshold
    )


def is_silence(decoded: dict[str, Any], cfg: ModelConfig) -> bool:
    return decoded["no_speech_prob"] > cfg.no_speech_threshold and decoded["avg_logprob"] < cfg.log_prob_threshold
