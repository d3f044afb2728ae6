"""The batch records and their Arrow tables: a table round-trips to the same records, sliced or chunked."""

from __future__ import annotations

import pyarrow as pa

from pipelines.batch.records import (
    PIECE_SCHEMA,
    WINDOW_SCHEMA,
    FileMeta,
    Piece,
    Placement,
    Window,
    pieces_of,
    pieces_table,
    placement,
    windows_of,
    windows_table,
)
from pipelines.windows import Stretch

SPEAKER = {"start": 1.0, "end": 2.5, "embedding": b"\x00\x01"}


def _windows() -> list[Window]:
    a = FileMeta("a.wav", None, 10, 3.0, 16000, 1)
    b = FileMeta("b.wav", 1, 20, None, 8000, 2, error=None)
    bad = FileMeta("bad.wav", error="not audio")
    packed = (
        placement(a, 0, 1, Stretch(0, 0, 1600, 16000), prepare_s=0.25, speaker_windows=[SPEAKER]),
        placement(b, 2, -1, Stretch(1, 32000, 0, 8000), speaker_windows=[]),
    )
    return [
        Window(packed, b"\x00" * 16, None, 80, 2.5),
        Window((placement(bad, 0, -1, None, last=True),), None, None, 80, 0.0),
        Window((), None, b"\x01\x02", 0, 0.1),
    ]


def test_a_placement_knows_its_place() -> None:
    p = placement(FileMeta("a.wav"), 1, 2, Stretch(0, 16000, 32000, 8000))
    assert (p.window_offset_s, p.source_start_s, p.length_s, p.end_s) == (1.0, 2.0, 0.5, 1.5)
    assert p.last_window and p.key == ("a.wav", None)
    assert p.overlap(1.25, 3.0) == 0.25 and p.overlap(2.0, 3.0) == -0.5
    assert p.through(1.2) == 2.2 and p.through(9.0) == 2.5  # clamped inside the placement
    assert not placement(FileMeta("s.wav"), 0, -1, None).last_window  # streamed: not known yet


def test_windows_round_trip_through_their_table() -> None:
    windows = _windows()
    table = windows_table(windows, profile='{"x": 1}')
    assert table.schema == WINDOW_SCHEMA
    assert table.column("profile").to_pylist() == ['{"x": 1}', None, None]
    assert windows_of(table) == (windows, ['{"x": 1}'])
    # Ray Data hands actors slices of blocks, and tables of several chunks.
    assert windows_of(table.slice(1))[0] == windows[1:]
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    assert windows_of(chunked)[0] == windows
    assert windows_of(windows_table([]))[0] == []


def test_pieces_round_trip_through_their_table() -> None:
    segment = {"start": 0.0, "end": 1.0, "text": " hi", "words": None}
    pieces = [
        Piece(FileMeta("a.wav", None, 10), 0, 1, True, "en", 0.5, (segment,), 0.75, (SPEAKER,)),
        Piece(FileMeta("b.wav", 0, error="x"), 3, -1, False, None, None, (), 0.0, None),
    ]
    table = pieces_table(pieces, profile="p")
    assert table.schema == PIECE_SCHEMA
    back, profiles = pieces_of(table)
    assert profiles == ["p"]
    assert [p.file for p in back] == [p.file for p in pieces]
    assert back[0].segments[0]["text"] == " hi" and back[1].segments == ()
    assert back[0].speaker_windows == (SPEAKER,) and back[1].speaker_windows is None
    assert isinstance(back[0], Piece) and isinstance(_windows()[0].placements[0], Placement)
