"""Assemble stage (pure): window results -> per-file pieces -> one transcript row per file.

A segment belongs to the placement under its midpoint; its times move from window time to the
recording's time through that placement. Pieces of one (file, channel) arrive in any order and
from any actor; a file is complete once all of its `n_windows` pieces are in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from models.common.schema import FILE_FIELD_NAMES, FILE_FIELDS, SEGMENT_TYPE, STATUS_ERROR, STATUS_OK, TRANSCRIPT_SCHEMA

PIECE_SCHEMA = pa.schema(
    [
        *FILE_FIELDS,
        ("window_index", pa.int32()),
        ("n_windows", pa.int32()),
        ("last_window", pa.bool_()),
        ("language", pa.string()),
        ("language_probability", pa.float32()),
        ("segments", pa.list_(SEGMENT_TYPE)),
        ("processing_s", pa.float64()),
        # Stage times (models.common.profile) of the windows this batch carried, on one piece per batch.
        ("profile", pa.string()),
    ]
)

# Whisper's timestamps in a window of back-to-back spans are loose by up to about half a second near
# span edges; this close to an edge counts as the edge.
SNAP_S = 1.0

_FILE_FIELDS = (*FILE_FIELD_NAMES, "n_windows", "last_window")


def split_window(
    placements: list[dict[str, Any]],
    segments: list[dict[str, Any]],
    language: str | None,
    language_probability: float | None,
    infer_s: float,
) -> list[dict[str, Any]]:
    """One piece row per (file, channel) in the window, with segments in that recording's time."""
    keys: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for p in placements:
        keys.setdefault((p["path"], p["channel"]), []).append(p)
    audio_total = sum(p["length_s"] for p in placements) or 1.0
    pieces: dict[tuple[str, int | None], dict[str, Any]] = {}
    for key, owned in keys.items():
        first = owned[0]
        share = sum(p["length_s"] for p in owned) / audio_total
        pieces[key] = {
            **{f: first[f] for f in _FILE_FIELDS},
            "window_index": first["window_index"],
            "language": language if first["error"] is None else None,
            "language_probability": language_probability if first["error"] is None else None,
            "segments": [],
            "processing_s": sum(p["prepare_s"] for p in owned) / max(1, first["n_windows"]) + infer_s * share,
        }
    for segment in segments:
        owner = _owner(placements, (segment["start"] + segment["end"]) / 2)
        if owner is None:
            continue
        key = (owner["path"], owner["channel"])
        owned = keys[key]
        moved = dict(
            segment,
            start=_to_source(owned, segment["start"], False),
            end=_to_source(owned, segment["end"], True),
            channel=owner["channel"],
        )
        moved["words"] = [
            dict(w, start=_to_source(owned, w["start"], False), end=_to_source(owned, w["end"], True))
            for w in segment.get("words") or []
        ] or None
        pieces[key]["segments"].append({k: moved.get(k) for k in SEGMENT_TYPE.names})
    return list(pieces.values())


def _owner(placements: list[dict[str, Any]], t: float) -> dict[str, Any] | None:
    if not placements:
        return None
    return min(placements, key=lambda p: _distance(p, t))


def _distance(p: dict[str, Any], t: float) -> float:
    start, end = p["window_offset_s"], p["window_offset_s"] + p["length_s"]
    return 0.0 if start <= t <= end else min(abs(t - start), abs(t - end))


def _to_source(owned: list[dict[str, Any]], t: float, is_end: bool) -> float:
    """Window time -> recording time, clamped into the owner's placements.

    VAD spans sit back to back in a window, so a sentence's end and the next one's start are the
    same window time. An end just inside the next span (or a start just before a span's end)
    belongs to the neighbouring span: it is moved to that span's edge in the recording.
    """
    inside = [p for p in owned if p["window_offset_s"] <= t <= p["window_offset_s"] + p["length_s"]]
    p = (inside[-1] if not is_end else inside[0]) if inside else min(owned, key=lambda q: _distance(q, t))
    offset = min(max(t - p["window_offset_s"], 0.0), p["length_s"])
    if is_end and offset < SNAP_S:
        before = [q for q in owned if abs(q["window_offset_s"] + q["length_s"] - p["window_offset_s"]) < 1e-6]
        if before:
            return round(before[0]["source_start_s"] + before[0]["length_s"], 3)
    if not is_end and p["length_s"] - offset < SNAP_S:
        after = [q for q in owned if abs(q["window_offset_s"] - (p["window_offset_s"] + p["length_s"])) < 1e-6]
        if after:
            return round(after[0]["source_start_s"], 3)
    return round(p["source_start_s"] + offset, 3)


class Assembler:
    """Collects pieces until a (file, channel) is complete, then yields its transcript row."""

    def __init__(self, model: str, run_id: str, fingerprint: str) -> None:
        self.model, self.run_id, self.fingerprint = model, run_id, fingerprint
        self._pending: dict[tuple[str, int | None], dict[int, dict[str, Any]]] = {}

    def add(self, piece: dict[str, Any]) -> Iterator[dict[str, Any]]:
        key = (piece["path"], piece["channel"])
        got = self._pending.setdefault(key, {})
        got[piece["window_index"]] = piece
        # Clips know their window count up front; streamed recordings mark their last window.
        total = piece["n_windows"] if piece["n_windows"] > 0 else None
        if total is None:
            last = next((p for p in got.values() if p["last_window"]), None)
            total = last["window_index"] + 1 if last else None
        if total is not None and len(got) >= total:
            del self._pending[key]
            yield self.row([got[i] for i in sorted(got)])

    @property
    def incomplete(self) -> list[tuple[str, int | None]]:
        return list(self._pending)

    def row(self, pieces: list[dict[str, Any]]) -> dict[str, Any]:
        # The last piece carries the final metadata (a streamed recording's duration is known last).
        first = pieces[-1]
        errors = [p["error"] for p in pieces if p["error"]]
        segments = sorted((s for p in pieces for s in p["segments"]), key=lambda s: (s["start"], s["end"]))
        languages = [p["language"] for p in pieces if p["language"] and p["segments"]]
        language = max(set(languages), key=languages.count) if languages else first["language"]
        probs = [
            p["language_probability"]
            for p in pieces
            if p["language"] == language and p["language_probability"] is not None
        ]
        return {
            "path": first["path"],
            "channel": first["channel"],
            "status": STATUS_ERROR if errors else STATUS_OK,
            "error": errors[0] if errors else None,
            "size_bytes": first["size_bytes"],
            "duration_s": first["file_duration_s"],
            "sample_rate": first["sample_rate"],
            "channels": first["channels"],
            "language": language,
            "language_probability": sum(probs) / len(probs) if probs else None,
            # Like Whisper, flagged segments stay in the text: the flag is for users to filter on.
            # Silence never gets this far (VAD and the no-speech rule drop it before).
            "text": "".join(s["text"] for s in segments).strip(),
            "segments": segments,
            "model": self.model,
            "config_fingerprint": self.fingerprint,
            "run_id": self.run_id,
            "processing_s": sum(p["processing_s"] for p in pieces),
            "transcribed_at": dt.datetime.now(dt.timezone.utc),
        }


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TRANSCRIPT_SCHEMA)
