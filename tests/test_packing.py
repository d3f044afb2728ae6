"""Packing short clips into one window is safe only while every segment stays inside one clip.

`unsafe_clips` finds the clips whose words a packed window's segments cannot be trusted to
attribute; the model stage decodes those again on their own (pipelines/inference.py).
"""

from __future__ import annotations

from pipelines.inference import STRADDLE_S, unsafe_clips


def placement(path: str, offset: float, length: float) -> dict:
    return {"path": path, "channel": None, "window_offset_s": offset, "length_s": length}


# Three clips packed one second apart: a [0, 4], b [5, 8], c [9, 15].
A, B, C = placement("a", 0.0, 4.0), placement("b", 5.0, 3.0), placement("c", 9.0, 6.0)


def seg(start: float, end: float) -> dict:
    return {"start": start, "end": end, "text": "x"}


def test_segments_each_inside_one_clip_are_safe() -> None:
    assert unsafe_clips([A, B, C], [seg(0.0, 3.9), seg(5.1, 8.0), seg(9.0, 12.0), seg(12.0, 15.0)]) == []


def test_loose_timestamps_at_a_boundary_are_tolerated() -> None:
    # Whisper's times drift by a few tenths of a second; reaching 0.2 s into the gap's far side is noise.
    assert unsafe_clips([A, B, C], [seg(0.0, 5.2), seg(4.8, 8.1), seg(9.0, 15.0)]) == []
    assert STRADDLE_S > 0.2


def test_a_segment_running_into_the_next_clip_marks_both() -> None:
    unsafe = unsafe_clips([A, B, C], [seg(0.0, 7.0), seg(9.0, 15.0)])
    assert unsafe == [A, B]


def test_a_clip_without_any_segment_is_decoded_alone() -> None:
    assert unsafe_clips([A, B, C], [seg(0.0, 4.0), seg(9.0, 15.0)]) == [B]


def test_windows_of_one_recording_are_never_split() -> None:
    # VAD spans of one long recording sit back to back; a sentence across two spans is normal.
    spans = [placement("long", 0.0, 10.0), placement("long", 10.0, 10.0)]
    assert unsafe_clips(spans, [seg(5.0, 15.0)]) == []
    assert unsafe_clips([A, B], []) == []  # nothing decoded: nothing to attribute
