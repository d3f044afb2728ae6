"""Window planning and the mapping of segments back to recordings (pure, no model)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from models.common.audio import N_SAMPLES
from pipelines.batch.assemble import Assembler, split_window
from pipelines.batch.packing import pack_windows
from pipelines.batch.records import FileMeta, Placement
from pipelines.config import ChunkingConfig
from pipelines.decode import SAMPLE_RATE
from pipelines.windows import Stretch, plan_unit, render

SR = SAMPLE_RATE


def placement_dict(path: str, offset: float, start: float, length: float, **extra) -> Placement:
    """A placement of `path` (one window of one unless `extra` says otherwise); `extra` may set file fields."""
    file = {"size_bytes": 1, "file_duration_s": start + length, "sample_rate": SR, "channels": 1}
    file.update({k: extra.pop(k) for k in list(extra) if k in FileMeta.__dataclass_fields__})
    fields = {"window_index": 0, "n_windows": 1, "last_window": True, **extra}
    return Placement(FileMeta(path, **file), window_offset_s=offset, source_start_s=start, length_s=length, **fields)


def segment(start: float, end: float, text: str) -> dict:
    return {
        "start": start,
        "end": end,
        "text": text,
        "avg_logprob": -0.1,
        "no_speech_prob": 0.0,
        "compression_ratio": 1.0,
        "temperature": 0.0,
        "flagged": False,
    }


def test_short_clip_without_vad_is_one_whole_window() -> None:
    audio = np.zeros(5 * SR, dtype=np.float32)
    assert plan_unit(audio, 0, ChunkingConfig(vad="off")) == [[Stretch(0, 0, 0, 5 * SR)]]


def test_silent_clip_gets_no_window_under_auto_vad() -> None:
    # Whisper hallucinates on silence; the VAD guard must drop the window entirely.
    assert plan_unit(np.zeros(4 * SR, dtype=np.float32), 0, ChunkingConfig(vad="auto")) == []


def test_long_audio_without_vad_is_cut_into_full_windows() -> None:
    audio = np.zeros(70 * SR, dtype=np.float32)
    windows = plan_unit(audio, 3, ChunkingConfig(vad="off"))
    assert [w[0].source_start for w in windows] == [0, N_SAMPLES, 2 * N_SAMPLES]
    assert sum(w[0].length for w in windows) == audio.shape[0]


def test_packing_fills_windows_with_gaps_and_keeps_order() -> None:
    cfg = ChunkingConfig(pack_short_clips=True, pack_gap_s=1.0, pack_max_clip_s=12.0)
    singles = [[Stretch(i, 0, 0, 8 * SR)] for i in range(5)]
    packed = pack_windows(singles, cfg)
    # 8 s + 1 s gap + 8 s + 1 s gap + 8 s = 26 s fits; a fourth clip would need 35 s.
    assert [[p.unit for p in w] for w in packed] == [[0, 1, 2], [3, 4]]
    assert [p.window_offset for p in packed[0]] == [0, 9 * SR, 18 * SR]
    assert all(p.window_offset + p.length <= N_SAMPLES for w in packed for p in w)


def test_long_clips_are_never_packed() -> None:
    cfg = ChunkingConfig(pack_short_clips=True, pack_max_clip_s=12.0)
    windows = [[Stretch(0, 0, 0, 20 * SR)], [Stretch(1, 0, 0, 3 * SR)]]
    assert pack_windows(windows, cfg) == windows


def test_render_places_audio_at_offsets() -> None:
    units = [np.ones(SR, dtype=np.float32), 2 * np.ones(SR, dtype=np.float32)]
    audio = render([Stretch(0, 0, 0, SR), Stretch(1, 2 * SR, 0, SR)], units)
    assert audio.shape[0] == 3 * SR
    assert audio[:SR].min() == 1 and audio[SR : 2 * SR].max() == 0 and audio[2 * SR :].min() == 2


def test_split_window_assigns_segments_to_packed_files_by_midpoint() -> None:
    placements = [placement_dict("a.wav", 0.0, 0.0, 4.0), placement_dict("b.wav", 5.0, 0.0, 3.0)]
    segments = [segment(0.2, 3.9, " first"), segment(5.1, 7.8, " second")]
    pieces = {p.file.path: p for p in split_window(placements, segments, "en", 1.0, 0.5)}
    assert [s["text"] for s in pieces["a.wav"].segments] == [" first"]
    b = pieces["b.wav"].segments[0]
    # Window time 5.1 s is 0.1 s into b.wav.
    assert (b["start"], b["end"]) == (0.1, 2.8)


def test_split_window_maps_vad_spans_back_to_recording_time() -> None:
    # Two speech spans of one long file, packed back to back: 10-20 s and 50-60 s of the recording.
    placements = [placement_dict("long.wav", 0.0, 10.0, 10.0), placement_dict("long.wav", 10.0, 50.0, 10.0)]
    pieces = split_window(placements, [segment(1.0, 4.0, " x"), segment(12.0, 15.5, " y")], "en", 1.0, 0.0)
    assert len(pieces) == 1
    assert [(s["start"], s["end"]) for s in pieces[0].segments] == [(11.0, 14.0), (52.0, 55.5)]


def test_assembler_emits_a_file_once_all_windows_arrived_in_any_order() -> None:
    assembler = Assembler("tiny.en", "run", "fp")
    base = placement_dict("f.wav", 0.0, 0.0, 30.0, n_windows=2, last_window=False)
    first = split_window([replace(base, window_index=1, source_start_s=30.0)], [segment(0, 2, " later")], "en", 1, 0)
    second = split_window([base], [segment(0, 2, " early")], "en", 1, 0)
    assert list(assembler.add(first[0])) == []
    (row,) = assembler.add(second[0])
    assert row["text"] == "early later"
    assert row["status"] == "ok" and assembler.incomplete == []


def test_flagged_segments_are_kept_and_marked() -> None:
    pieces = split_window(
        [placement_dict("f.wav", 0, 0, 10)],
        [segment(0, 2, " real"), dict(segment(3, 4, " again again"), flagged=True)],
        "en",
        1.0,
        0.0,
    )
    row = Assembler("m", "r", "f").row(pieces)
    assert row["text"] == "real again again"
    assert [s["flagged"] for s in row["segments"]] == [False, True]


def test_streamed_recording_completes_on_its_last_window() -> None:
    # Long recordings stream: their window count is unknown (-1) until the last window says so.
    assembler = Assembler("m", "r", "f")
    base = placement_dict("long.wav", 0.0, 0.0, 30.0, n_windows=-1, last_window=False, file_duration_s=None)
    pieces = [
        split_window(
            [
                replace(
                    base,
                    window_index=i,
                    source_start_s=30.0 * i,
                    last_window=i == 2,
                    file=replace(base.file, file_duration_s=90.0 if i == 2 else None),
                )
            ],
            [segment(0, 1, f" w{i}")],
            "en",
            1,
            0,
        )[0]
        for i in range(3)
    ]
    assert list(assembler.add(pieces[2])) == [] and list(assembler.add(pieces[0])) == []
    (row,) = assembler.add(pieces[1])
    assert row["text"] == "w0 w1 w2" and row["duration_s"] == 90.0
    assert [s["start"] for s in row["segments"]] == [0.0, 30.0, 60.0]


def test_error_piece_makes_an_error_row() -> None:
    piece = split_window([placement_dict("bad.wav", 0, 0, 0, error="not audio")], [], None, None, 0.0)[0]
    (row,) = Assembler("m", "r", "f").add(piece)
    assert (row["status"], row["error"], row["text"]) == ("error", "not audio", "")


def test_words_near_a_seam_of_back_to_back_spans_stay_in_their_span() -> None:
    # Two speech spans of one recording, back to back in the window: 10-20 s and 50-60 s of the
    # recording. Words in the first second of the second span, and in the last second of the
    # first span, must map through their own span: not end before they start, not jump across.
    placements = [placement_dict("long.wav", 0.0, 10.0, 10.0), placement_dict("long.wav", 10.0, 50.0, 10.0)]
    words = [
        {"word": " end", "start": 9.2, "end": 9.6, "probability": 0.9},
        {"word": " of", "start": 9.6, "end": 9.9, "probability": 0.9},
        {"word": " first.", "start": 9.9, "end": 10.04, "probability": 0.9},
        {"word": " Second", "start": 10.3, "end": 10.7, "probability": 0.9},
        {"word": " one.", "start": 10.7, "end": 11.2, "probability": 0.9},
    ]
    (piece,) = split_window(
        placements, [dict(segment(9.2, 11.2, " end of first. Second one."), words=words)], "en", 1, 0
    )
    moved = [w for s in piece.segments for w in s["words"]]
    assert [(w["start"], w["end"]) for w in moved] == [
        (19.2, 19.6),
        (19.6, 19.9),
        (19.9, 20.0),
        (50.3, 50.7),
        (50.7, 51.2),
    ]
    assert all(w["start"] <= w["end"] for w in moved)


def test_a_segment_spanning_two_packed_clips_is_split_by_its_words() -> None:
    placements = [placement_dict("a.wav", 0.0, 0.0, 4.0), placement_dict("b.wav", 5.0, 0.0, 3.0)]
    words = [
        {"word": " Hello", "start": 2.0, "end": 2.5, "probability": 0.9},
        {"word": " there.", "start": 2.5, "end": 3.6, "probability": 0.9},
        {"word": " Good", "start": 5.2, "end": 5.6, "probability": 0.9},
        {"word": " night.", "start": 5.6, "end": 6.4, "probability": 0.9},
    ]
    pieces = {
        p.file.path: p
        for p in split_window(
            placements, [dict(segment(2.0, 6.4, " Hello there. Good night."), words=words)], "en", 1, 0
        )
    }
    a, b = pieces["a.wav"].segments, pieces["b.wav"].segments
    assert [(s["text"], s["start"], s["end"]) for s in a] == [(" Hello there.", 2.0, 3.6)]
    assert [(s["text"], s["start"], s["end"]) for s in b] == [(" Good night.", 0.2, 1.4)]


def test_words_past_the_seek_point_are_left_to_the_next_round() -> None:
    # Whisper stopped at 6.0 s (`... me. It<|6.0|><|6.0|>`) and the alignment put "It" at 7.4 s,
    # where the next round, decoding from 6.0 s, finds it again: it must not be kept twice.
    from models.whisper_decoding import before_seek

    words = [
        {"word": " quickened", "start": 4.4, "end": 4.9, "probability": 0.9},
        {"word": " me.", "start": 4.9, "end": 5.4, "probability": 0.9},
        {"word": " It", "start": 7.4, "end": 8.3, "probability": 0.4},
    ]
    (kept,) = before_seek([dict(segment(4.4, 8.3, " quickened me. It"), words=words)], 6.0)
    assert kept["text"] == " quickened me." and kept["end"] == 5.4
    assert [w["word"] for w in kept["words"]] == [" quickened", " me."]
