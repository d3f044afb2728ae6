"""Redacted copies of recordings: the time spans of redacted words, and the stretch after each
cue (pipelines/redaction/window.py `audio_windows`), silenced, as FLAC.

Silence rather than a tone: a tone tells a listener where something was cut but is itself
"speech-like" enough to make Whisper hallucinate on a re-transcription; silence is what VAD
drops. The copy keeps the source's sample rate and channel count, and every channel is silenced
over every redacted span (in a split-channel call, crosstalk carries one side into the other).
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import PurePosixPath
from typing import Any

import av
import numpy as np

from models.common.config import StorageConfig
from models.common.storage import filesystem, is_s3
from pipelines.redaction.cues import CUES
from pipelines.redaction.settings import RedactConfig
from pipelines.redaction.window import WINDOW_CUES, audio_windows


def copy_name(path: str) -> str:
    """A name two inputs can never share: the source's stem plus a hash of its full path."""
    stem = PurePosixPath(path.rstrip("/")).stem or "audio"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
    return f"{safe}-{hashlib.sha256(path.encode()).hexdigest()[:16]}.flac"


# Audio that no kept word covers, next to a redacted value, is silenced too, up to this long on
# each side: the rest of a value the model did not write ("109.203." then 3 s without words that
# held "194 dot 27", re-transcribed from the copy; dev4 split of the spoken-PII corpus).
MAX_UNHEARD_S = 5.0
Span = tuple[float, float]


def spans(rows: list[dict[str, Any]], pad_s: float, policy: str = "redactions") -> list[tuple[float, float]]:
    """What to silence. `redactions`: each redaction's time span, padded by `pad_s` and widened
    over the unworded audio around it (to the neighbouring kept words, at most MAX_UNHEARD_S).
    `kept_words`: all of that, the stretch after each cue, and every stretch of audio no kept
    word covers (padded by `pad_s`): what the transcript does not show was never vetted."""
    out = _redaction_spans(rows, pad_s)
    if policy == "kept_words":
        out += _cue_windows(rows, pad_s)
        out += _unworded(rows, pad_s, out)
    return sorted(out)


def _cue_windows(rows: list[dict[str, Any]], pad_s: float) -> list[tuple[float, float]]:
    windows = [w for row in rows for w in audio_windows(row, (*CUES, *WINDOW_CUES))]
    return [(max(0.0, s - pad_s), e + pad_s) for s, e in windows if e > s]


def _unworded(rows: list[dict[str, Any]], pad_s: float, silenced: list[Span]) -> list[Span]:
    """The audio between the kept words (each widened by `pad_s`), and before and after them."""
    kept = sorted((max(0.0, s - pad_s), e + pad_s) for row in rows for s, e in _kept_words(row))
    length = max([r.get("duration_s") or 0.0 for r in rows] + [e for _, e in kept] + [e for _, e in silenced])
    out, at = [], 0.0
    for start, end in kept:
        if start > at:
            out.append((at, start))
        at = max(at, end)
    # To the end of the recording, whatever its length (an empty transcript silences all of it).
    out.append((at, max(length, at) + MAX_UNHEARD_S))
    return out


def _redaction_spans(rows: list[dict[str, Any]], pad_s: float) -> list[tuple[float, float]]:
    out = []
    for row in rows:
        kept = _kept_words(row)
        length = row.get("duration_s") or max((e for _, e in kept), default=0.0) + MAX_UNHEARD_S
        for r in row.get("redactions") or []:
            start, end = r["start_s"], r["end_s"]
            before = max((e for s, e in kept if s < start and e <= end), default=0.0)
            after = min((s for s, e in kept if e > end and s >= start), default=length)
            start = min(start - pad_s, max(before, start - MAX_UNHEARD_S))
            end = max(end + pad_s, min(after, end + MAX_UNHEARD_S))
            out.append((max(0.0, start), end))
    return out


# A letter said on its own ("X", "-I", "M."): in a chain, what a caller spells (a name, an
# e-mail, a postcode), or Whisper's letters over speech it could not read ("X-I-R-E-M-C-T-T-M-T"
# over "Expiry, um, September 2026", dev5): never vetted audio.
_LETTER = re.compile(r"[-.]?[A-Za-z][-.,]?")
MIN_SPELLED_LETTERS = 4


def _kept_words(row: dict[str, Any]) -> list[tuple[float, float]]:
    """(start, end) of the words redaction left as they were (not emptied, not a tag, not a
    letter of a spelled-out chain)."""
    words = [w for s in row.get("segments") or [] for w in s.get("words") or [] if w["word"].strip()]
    spelled = _spelled(words)
    return [
        (w["start"], w["end"])
        for i, w in enumerate(words)
        if not w["word"].strip().startswith("[") and i not in spelled
    ]


def _spelled(words: list[dict[str, Any]]) -> set[int]:
    """Indexes of the words in chains of MIN_SPELLED_LETTERS or more single letters."""
    out: set[int] = set()
    chain: list[int] = []
    for i, w in enumerate([*words, {"word": ""}]):
        if _LETTER.fullmatch(w["word"].strip()):
            chain.append(i)
            continue
        if len(chain) >= MIN_SPELLED_LETTERS:
            out.update(chain)
        chain = []
    return out


def write_redacted_audio(rows: list[dict[str, Any]], redact: RedactConfig, storage: StorageConfig) -> str | None:
    """Write the redacted copy of the recording behind `rows`; its path, or None for failed rows."""
    if not rows or rows[0]["status"] != "ok" or not redact.audio_dir:
        return None
    source = rows[0]["path"]
    audio, rate, layout = _read(source, storage)
    for start, end in spans(rows, redact.audio_pad_s, redact.audio_policy):
        audio[:, int(start * rate) : int(np.ceil(end * rate))] = 0
    dest_dir = redact.audio_dir.rstrip("/")
    dest = f"{dest_dir}/{copy_name(source)}"
    data = _flac(audio, rate, layout)
    fs = filesystem(dest, storage)
    if not is_s3(dest):
        fs.makedirs(dest_dir, exist_ok=True)
    # One PUT on S3; locally a temporary name then a rename, so no torn copy is ever visible.
    tmp = dest if is_s3(dest) else dest + ".tmp"
    with fs.open(tmp, "wb") as f:
        f.write(data)
    if tmp != dest:
        fs.mv(tmp, dest)
    return dest


def _read(path: str, storage: StorageConfig) -> tuple[np.ndarray, int, str]:
    """All samples as int16 (channels, samples) at the source's own rate and channel count."""
    with filesystem(path, storage).open(path, "rb") as f, av.open(f, metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        rate, layout = stream.rate, stream.layout.name
        resampler = av.audio.resampler.AudioResampler(format="s16p", layout=layout, rate=rate)
        chunks = []
        for frame in container.decode(stream):
            chunks += [f.to_ndarray() for f in resampler.resample(frame)]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    channels = stream.channels or 1
    audio = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), dtype=np.int16)
    return audio, rate, layout


def _flac(audio: np.ndarray, rate: int, layout: str) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout=layout)
        step = 4096
        for start in range(0, audio.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio[:, start : start + step]), format="s16p", layout=layout
            )
            frame.rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()
