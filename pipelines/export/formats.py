"""Writers (pure): a transcript row or its segments -> text in a user-facing format.

Formats follow OpenAI's audio API (`json`, `text`, `srt`, `vtt`, `verbose_json`) and Whisper's own
writers (timestamps, one cue per segment, `-->` escaped); `jsonl` and `txt` serve `voxray export`.
A row is a TRANSCRIPT_SCHEMA dict; segments carry recording-time `start`/`end` in seconds.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from models.common.audio import FRAMES_PER_SECOND

Row = dict[str, Any]

RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
MEDIA_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "jsonl": "application/jsonl",
    "txt": "text/plain; charset=utf-8",
}
# Whisper's `seek` counts mel frames (10 ms each) from the recording start.


def format_timestamp(seconds: float, always_include_hours: bool = False, decimal_marker: str = ".") -> str:
    """Whisper's `format_timestamp`: [HH:]MM:SS.mmm, rounded to the millisecond."""
    if seconds < 0:
        raise ValueError(f"negative timestamp {seconds}")
    milliseconds = round(seconds * 1000.0)
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1_000)
    hours_marker = f"{hours:02d}:" if always_include_hours or hours > 0 else ""
    return f"{hours_marker}{minutes:02d}:{secs:02d}{decimal_marker}{milliseconds:03d}"


def _cues(segments: Iterable[Row], speaker_format: str = "{text}") -> Iterable[tuple[float, float, str]]:
    """(start, end, text) per segment; a diarized segment's text goes through `speaker_format`."""
    for s in segments:
        # An arrow inside a cue's text would end the cue early in players (Whisper does the same).
        text = s["text"].strip().replace("-->", "->")
        speaker = s.get("speaker")
        yield s["start"], s["end"], speaker_format.format(speaker=speaker, text=text) if speaker else text


def to_srt(segments: Sequence[Row]) -> str:
    # SubRip has no voice tag (players would show `<v ...>` as text): the speaker leads the line.
    return "".join(
        f"{i}\n{format_timestamp(start, True, ',')} --> {format_timestamp(end, True, ',')}\n{text}\n\n"
        for i, (start, end, text) in enumerate(_cues(segments, "[{speaker}] {text}"), start=1)
    )


def to_vtt(segments: Sequence[Row]) -> str:
    # WebVTT's voice span names the speaker of a cue.
    cues = "".join(
        f"{format_timestamp(start)} --> {format_timestamp(end)}\n{text}\n\n"
        for start, end, text in _cues(segments, "<v {speaker}>{text}")
    )
    return f"WEBVTT\n\n{cues}"


def to_txt(segments: Sequence[Row]) -> str:
    """Whisper's txt writer: one line per segment (`SPEAKER_1: ...` when diarized)."""
    return "".join(
        f"{s['speaker']}: {s['text'].strip()}\n" if s.get("speaker") else f"{s['text'].strip()}\n" for s in segments
    )


def to_text(row: Row) -> str:
    return f"{row.get('text') or ''}\n"


def to_json(row: Row) -> str:
    return json.dumps({"text": row.get("text") or ""}, ensure_ascii=False)


def to_verbose_json(row: Row, *, segments: bool = True, words: bool = False, task: str = "transcribe") -> str:
    """OpenAI's verbose_json: task, language (a name, e.g. "english"), duration, text, segments, words."""
    body: dict[str, Any] = {
        "task": task,
        "language": language_name(row.get("language")),
        "duration": round(float(row.get("duration_s") or 0.0), 3),
        "text": row.get("text") or "",
    }
    rows = list(row.get("segments") or [])
    if segments:
        body["segments"] = [_openai_segment(i, s) for i, s in enumerate(rows)]
    if words:
        body["words"] = [
            {"word": w["word"], "start": w["start"], "end": w["end"], **_speaker(w)}
            for s in rows
            for w in (s.get("words") or [])
        ]
    return json.dumps(body, ensure_ascii=False)


def _openai_segment(index: int, s: Row) -> Row:
    return {
        "id": index,
        "seek": s.get("seek", int(math.floor(s["start"] * FRAMES_PER_SECOND))),
        "start": s["start"],
        "end": s["end"],
        "text": s["text"],
        # Transcript rows keep no token ids; clients (the openai package included) accept an empty list.
        "tokens": list(s.get("tokens") or []),
        "temperature": _number(s.get("temperature")),
        "avg_logprob": _number(s.get("avg_logprob")),
        "compression_ratio": _number(s.get("compression_ratio")),
        "no_speech_prob": _number(s.get("no_speech_prob")),
        **_speaker(s),
    }


def _speaker(item: Row) -> Row:
    """`speaker` (voxray's extension) where diarization set one; absent otherwise, as in OpenAI's API."""
    return {"speaker": item["speaker"]} if item.get("speaker") else {}


def to_jsonl(rows: Iterable[Row]) -> str:
    """One JSON object per row (timestamps as ISO 8601, NaN as null), for `voxray export`."""
    return "".join(json.dumps(_plain(r), ensure_ascii=False) + "\n" for r in rows)


def render(row: Row, response_format: str, *, segments: bool = True, words: bool = False) -> str:
    """One transcript in an OpenAI response format (see RESPONSE_FORMATS)."""
    writers: dict[str, Callable[[], str]] = {
        "json": lambda: to_json(row),
        "text": lambda: to_text(row),
        "srt": lambda: to_srt(row.get("segments") or []),
        "vtt": lambda: to_vtt(row.get("segments") or []),
        "verbose_json": lambda: to_verbose_json(row, segments=segments, words=words),
    }
    if response_format not in writers:
        raise ValueError(f"unknown response_format {response_format!r}; use one of {', '.join(RESPONSE_FORMATS)}")
    return writers[response_format]()


@functools.cache
def _language_names() -> dict[str, str]:
    # Whisper's table of language codes and names (a copy ships with transformers).
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return dict(LANGUAGES)


def language_name(code: str | None) -> str:
    """ "en" -> "english", as OpenAI's verbose_json reports it; unknown codes pass through."""
    if not code:
        return "unknown"
    return _language_names().get(code, code)


def _number(value: Any) -> float:
    return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value
