"""Assemble stage (pure): window results -> per-file pieces -> one transcript row per file.

Each word belongs to the placement it overlaps most, and a segment to the placements it really
covers; times move from window time to the recording's time through that placement, clamped inside
it. Pieces of one (file, channel) arrive in any order and
from any actor; a file is complete once all of its `n_windows` pieces are in.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from models.common.schema import SEGMENT_TYPE, STATUS_ERROR, STATUS_OK, TRANSCRIPT_SCHEMA
from pipelines.batch.records import Key, Piece, Placement
from pipelines.config import DiarizeConfig

# Whisper's segment timestamps near the seam of two back-to-back spans are loose by up to about half a
# second: a segment that reaches less than this far into a placement does not belong to it.
SNAP_S = 1.0


def split_window(
    placements: Sequence[Placement],
    segments: Sequence[dict[str, Any]],
    language: str | None,
    language_probability: float | None,
    infer_s: float,
) -> list[Piece]:
    """One piece per (file, channel) in the window, with segments in that recording's time.

    A window holds placements: stretches of recordings copied to offsets in the window (VAD spans of
    one recording back to back, or several packed clips). Every time Whisper gives is mapped through
    the one placement it belongs to and clamped inside it, so a time never leaves its recording,
    never jumps into a neighbouring span, and a start never passes its end.
    """
    keys: dict[Key, list[Placement]] = {}
    for p in placements:
        keys.setdefault(p.key, []).append(p)
    moved: dict[Key, list[dict[str, Any]]] = {key: [] for key in keys}
    live = [p for p in placements if p.length_s > 0]
    for segment in segments:
        for key, segment_moved in _map_segment(live, segment):
            moved[key].append({k: segment_moved.get(k) for k in SEGMENT_TYPE.names})
    audio_total = sum(p.length_s for p in placements) or 1.0
    return [
        _piece(owned, moved[key], language, language_probability, infer_s, audio_total) for key, owned in keys.items()
    ]


def _piece(
    owned: list[Placement],
    segments: list[dict[str, Any]],
    language: str | None,
    language_probability: float | None,
    infer_s: float,
    audio_total: float,
) -> Piece:
    first = owned[0]
    ok = first.file.error is None
    share = sum(p.length_s for p in owned) / audio_total
    speakers = None
    if any(p.speaker_windows is not None for p in owned):
        speakers = tuple(w for p in owned for w in p.speaker_windows or ())
    return Piece(
        first.file,
        first.window_index,
        first.n_windows,
        first.last_window,
        language if ok else None,
        language_probability if ok else None,
        tuple(segments),
        sum(p.prepare_s for p in owned) / max(1, first.n_windows) + infer_s * share,
        speakers,
    )


def _map_segment(placements: list[Placement], segment: dict[str, Any]) -> list[tuple[Key, dict[str, Any]]]:
    """The segment in recording time, once per (file, channel) its words fall in (usually one)."""
    if not placements:
        return []
    words = segment.get("words") or []
    if words:
        # Word times are the finest evidence: each word goes through the placement it overlaps most.
        # Words of two packed clips in one segment split it in two, one part per clip.
        parts: dict[Key, list[dict[str, Any]]] = {}
        for w in words:
            p = best_placement(placements, w["start"], w["end"])
            parts.setdefault(p.key, []).append(dict(w, start=p.through(w["start"]), end=p.through(w["end"])))
        out = []
        for key, moved in parts.items():
            text = segment["text"] if len(parts) == 1 else "".join(w["word"] for w in moved)
            start, end = moved[0]["start"], moved[-1]["end"]
            out.append((key, dict(segment, text=text, start=start, end=end, words=moved, channel=key[1])))
        return out
    start, end = segment["start"], segment["end"]
    owner = best_placement(placements, start, end).key
    core = _core([p for p in placements if p.key == owner], start, end)
    moved_segment = dict(segment, start=core[0].through(start), end=core[-1].through(end), words=None, channel=owner[1])
    return [(owner, moved_segment)]


def best_placement(placements: Sequence[Placement], start: float, end: float) -> Placement:
    """The placement an interval (or instant) belongs to: most overlap, else the nearest."""
    if end > start:
        p = max(placements, key=lambda q: q.overlap(start, end))
        if p.overlap(start, end) > 0:
            return p
    mid = (start + end) / 2
    return min(placements, key=lambda q: q.distance(mid))


def _core(owned: list[Placement], start: float, end: float) -> list[Placement]:
    """The placements (in window order) a segment really covers, ignoring loose edges."""
    need = min(SNAP_S, (end - start) / 2)
    core = [p for p in owned if end > start and p.overlap(start, end) >= need > 0]
    return sorted(core or [best_placement(owned, start, end)], key=lambda p: p.window_offset_s)


class Assembler:
    """Collects pieces until a (file, channel) is complete, then yields its transcript row."""

    def __init__(self, model: str, run_id: str, fingerprint: str, diarize: DiarizeConfig | None = None) -> None:
        self.model, self.run_id, self.fingerprint = model, run_id, fingerprint
        # With diarization on, a complete file's speaker windows are clustered here, once per file.
        self.diarize = diarize if diarize is not None and diarize.enabled else None
        self._pending: dict[Key, dict[int, Piece]] = {}
        # Ray re-runs a failed task, and a retried preparation task sends its windows again: a
        # piece of a file already emitted must not re-open it (a second row, or an "internal
        # error" row for a file that never completes again).
        self._finished: set[tuple[str, int | None]] = set()

    def add(self, piece: Piece) -> Iterator[dict[str, Any]]:
        key = piece.key
        if key in self._finished:
            return
        got = self._pending.setdefault(key, {})
        got[piece.window_index] = piece
        # Clips know their window count up front; streamed recordings mark their last window.
        total = piece.n_windows if piece.n_windows > 0 else None
        if total is None:
            last = next((p for p in got.values() if p.last_window), None)
            total = last.window_index + 1 if last else None
        if total is not None and len(got) >= total:
            del self._pending[key]
            self._finished.add(key)
            yield self.row([got[i] for i in sorted(got)])

    @property
    def incomplete(self) -> list[tuple[str, int | None]]:
        return list(self._pending)

    def row(self, pieces: list[Piece]) -> dict[str, Any]:
        # The last piece carries the final metadata (a streamed recording's duration is known last).
        last = pieces[-1]
        file = last.file
        errors = [p.file.error for p in pieces if p.file.error]
        segments = sorted((s for p in pieces for s in p.segments), key=lambda s: (s["start"], s["end"]))
        languages = [p.language for p in pieces if p.language and p.segments]
        language = max(set(languages), key=languages.count) if languages else last.language
        probs = [
            p.language_probability for p in pieces if p.language == language and p.language_probability is not None
        ]
        speakers, diarize_s = None, 0.0
        if self.diarize is not None and not errors:
            started = time.perf_counter()
            segments, speakers = self._speakers(pieces, segments)
            diarize_s = time.perf_counter() - started
        return {
            "path": file.path,
            "channel": file.channel,
            "status": STATUS_ERROR if errors else STATUS_OK,
            "error": errors[0] if errors else None,
            "size_bytes": file.size_bytes,
            "duration_s": file.file_duration_s,
            "sample_rate": file.sample_rate,
            "channels": file.channels,
            "language": language,
            "language_probability": sum(probs) / len(probs) if probs else None,
            # Like Whisper, flagged segments stay in the text: the flag is for users to filter on.
            # Silence never gets this far (VAD and the no-speech rule drop it before).
            "text": "".join(s["text"] for s in segments).strip(),
            "segments": segments,
            "model": self.model,
            "config_fingerprint": self.fingerprint,
            "run_id": self.run_id,
            "processing_s": sum(p.processing_s for p in pieces) + diarize_s,
            "transcribed_at": dt.datetime.now(dt.timezone.utc),
            "speakers": speakers,
        }

    def _speakers(self, pieces: list[Piece], segments: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        from pipelines.speakers.align import label_segments
        from pipelines.speakers.cluster import diarize_windows

        windows = [w for p in pieces for w in p.speaker_windows or ()]
        return label_segments(segments, diarize_windows(windows, self.diarize))


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TRANSCRIPT_SCHEMA)
