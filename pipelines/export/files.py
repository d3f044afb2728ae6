"""Turn a transcript dataset into subtitle and text files (srt, vtt, txt, jsonl).

Reads only committed rows when DEST was written by `voxray nightly`. In `--channels split`
datasets, each file's channels are also merged into one time-ordered conversation, every cue
labelled with its channel.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from models.common.schema import STATUS_OK
from pipelines.export.formats import to_jsonl, to_srt, to_txt, to_vtt
from pipelines.export.names import output_names

EXPORT_FORMATS = ("srt", "vtt", "txt", "jsonl")
_WRITERS = {"srt": to_srt, "vtt": to_vtt, "txt": to_txt}


def export(rows: list[dict[str, Any]], fmt: str, out: Path) -> tuple[list[Path], int]:
    """Write one file per transcript (and per conversation); returns written paths and skipped errors."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    ok = [r for r in rows if r["status"] == STATUS_OK]
    skipped = len(rows) - len(ok)
    if fmt == "jsonl":
        path = out / "transcripts.jsonl"
        path.write_text(to_jsonl(sorted(ok, key=lambda r: (r["path"], r.get("channel") or 0))), encoding="utf-8")
        return [path], skipped
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in ok:
        by_file[row["path"]].append(row)
    names = output_names({path: _suffixes(file_rows) for path, file_rows in by_file.items()})
    written = []
    for path, file_rows in sorted(by_file.items()):
        stem = out / names[path]
        stem.parent.mkdir(parents=True, exist_ok=True)
        for row, suffix in zip(file_rows, _suffixes(file_rows), strict=False):
            written.append(_write(Path(f"{stem}{suffix}.{fmt}"), _WRITERS[fmt](row["segments"] or [])))
        if _has_conversation(file_rows):
            written.append(_write(Path(f"{stem}.conversation.{fmt}"), _WRITERS[fmt](conversation(file_rows))))
    return written, skipped


def conversation(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All channels' segments in time order, each text prefixed with its channel label."""
    segments = [
        dict(s, text=f"[ch{row['channel']}] {s['text'].strip()}") for row in rows for s in row["segments"] or []
    ]
    return sorted(segments, key=lambda s: (s["start"], s["end"]))


def _suffixes(file_rows: list[dict[str, Any]]) -> list[str]:
    """What follows an input's stem in its files' names: one per row, then the conversation."""
    per_row = ["" if r.get("channel") is None else f".ch{r['channel']}" for r in file_rows]
    return per_row + ([".conversation"] if _has_conversation(file_rows) else [])


def _has_conversation(file_rows: list[dict[str, Any]]) -> bool:
    return len(file_rows) > 1 or file_rows[0].get("channel") is not None


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
