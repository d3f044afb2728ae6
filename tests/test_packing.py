"""Packing short clips into one window is safe only while every segment stays inside one clip.

`unsafe_clips` finds the clips whose words a packed window's segments cannot be trusted to
attribute; the model stage decodes those again on their own (pipelines/batch/packing.py).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.backend import ClipSpan
from models.common.config import ModelConfig
from models.whisper_ct2_clips import (
    CLIP_MARGIN_S,
    ENCODER_POSITIONS_PER_SECOND,
    OWN_MARGIN_S,
    clip_encodings,
    own_features,
    start_token,
)
from pipelines.batch.packing import (
    EDGE_S,
    INNER_GAP_S,
    MIN_WORDS_PER_S,
    STRADDLE_S,
    incomplete_clip,
    pack_windows,
    packs_short_clips,
    unsafe_clips,
)
from pipelines.batch.records import FileMeta, Placement
from pipelines.batch.run import iter_transcripts
from pipelines.config import TranscribeConfig
from pipelines.listing import SourceFile
from pipelines.quality.wer import normalize, word_errors
from pipelines.windows import ChunkingConfig, Stretch
from tests.fixtures_ray import ray_local  # noqa: F401
from tools.bench.packing import PackedDecoder, compare, load_clips, random_groups

DATA = Path(__file__).parent / "data"


def placement(path: str, offset: float, length: float) -> Placement:
    return Placement(FileMeta(path), 0, 1, True, window_offset_s=offset, length_s=length)


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
    assert unsafe_clips(spans, []) == []


def test_layout_knobs_limit_a_windows_clips_and_fill() -> None:
    # scripts/packing_layouts.py measures layouts through pack_windows' keywords; their defaults
    # are the pipeline's first-fit-decreasing over whole 30-second windows.
    second = 16_000
    clips = [[Stretch(i, 0, 0, n * second)] for i, n in enumerate([3, 5, 4, 2, 6, 3])]
    cfg = ChunkingConfig()
    default = pack_windows(clips, cfg)
    assert [[s.unit for s in w] for w in default] == [[4, 1, 2, 0, 5, 3]]
    assert [len(w) for w in pack_windows(clips, cfg, max_clips=2)] == [2, 2, 2]
    for w in pack_windows(clips, cfg, fill=15 * second):
        assert w[-1].window_offset + w[-1].length <= 15 * second
    assert [s.unit for s in pack_windows(clips, cfg, longest_first=False)[0]] == [0, 1, 2, 3, 4, 5]


def test_a_packed_window_without_any_segment_decodes_every_clip_alone() -> None:
    # VAD heard speech in each clip: a window Whisper found empty lost all of their words.
    assert unsafe_clips([A, B, C], []) == [A, B, C]


def test_a_clip_whose_last_segment_vanished_is_decoded_alone() -> None:
    # The real case: a clip lost its last segment ("in his power to do for them") next to a copy.
    lost_end = 15.0 - EDGE_S - 0.5
    assert unsafe_clips([A, B, C], [seg(0.0, 4.0), seg(5.0, 8.0), seg(9.0, lost_end)]) == [C]


def test_a_clip_whose_first_or_middle_segment_vanished_is_decoded_alone() -> None:
    late_start = 9.0 + EDGE_S + 0.5
    assert unsafe_clips([A, B, C], [seg(0.0, 4.0), seg(5.0, 8.0), seg(late_start, 15.0)]) == [C]
    middle = [seg(0.0, 4.0), seg(5.0, 8.0), seg(9.0, 10.0), seg(10.0 + INNER_GAP_S + 0.5, 15.0)]
    assert unsafe_clips([A, B, C], middle) == [C]


def test_a_segment_in_the_gap_between_clips_marks_both_neighbours() -> None:
    # Its words may be either clip's: assembly would give them to the nearest, maybe the wrong one.
    segments = [seg(0.0, 4.0), seg(4.1, 4.9), seg(5.0, 8.0), seg(9.0, 15.0)]
    assert unsafe_clips([A, B, C], segments) == [A, B]


# --- a packed clip decoded as its own sequence: did it lose words? (recorded decodes, window times) ---


def text_seg(start: float, end: float, text: str, ratio: float = 1.0) -> dict:
    return {"start": start, "end": end, "text": text, "compression_ratio": ratio}


GUARD = ModelConfig().compression_ratio_threshold


def test_a_packed_clip_whose_sequence_stopped_after_one_word_is_decoded_alone() -> None:
    # Measured (held-out calls set, seed 11, clip 0115): a 7.4 s call, third of four in its window,
    # came out as "Hi" (its 21 words there alone, "... please call us back at ...").
    clip = placement("0115.wav", 17.968, 7.36)
    assert incomplete_clip(clip, [text_seg(17.96, 19.96, " Hi")], GUARD)
    assert incomplete_clip(clip, [], GUARD)


def test_a_packed_clip_covered_by_its_words_is_kept() -> None:
    # Measured (same set, clip 0064): all of its words there, a loose end 0.6 s before the span's.
    clip = placement("0064.wav", 12.048, 3.776)
    assert not incomplete_clip(
        clip, [text_seg(12.04, 15.24, " Your appointment is confirmed for Wednesday 10 o'clock")], GUARD
    )


def test_a_packed_clip_with_a_span_but_too_few_words_is_decoded_alone() -> None:
    # One segment spanning the clip but holding far fewer words than its speech can.
    few = max(1, int(MIN_WORDS_PER_S * 8.0) - 1)
    clip = placement("c", 10.0, 8.0)
    assert incomplete_clip(clip, [text_seg(10.0, 18.0, " word" * few)], GUARD)
    assert not incomplete_clip(clip, [text_seg(10.0, 18.0, " word" * 12)], GUARD)
    # A skipped middle, and a lost end, as for whole windows.
    assert incomplete_clip(
        clip, [text_seg(10.0, 12.0, " a b c d e f"), text_seg(12.0 + INNER_GAP_S + 0.5, 18.0, " g h i j")], GUARD
    )
    assert incomplete_clip(clip, [text_seg(10.0, 18.0 - EDGE_S - 0.5, " a b c d e f g h i j")], GUARD)


def test_a_packed_clip_with_a_segment_that_loops_is_decoded_alone() -> None:
    # Measured (dev prose set, seed 23): a segment looping on a phrase at compression ratio 3.4 while
    # the clip's text as a whole passed Whisper's guard; the clip lost a word it had alone.
    clip = placement("0140.wav", 0.0, 11.088)
    text = " the same words" * 10
    assert incomplete_clip(clip, [text_seg(0.0, 5.0, text, 3.41), text_seg(5.0, 11.088, text, 1.0)], GUARD)
    assert not incomplete_clip(clip, [text_seg(0.0, 5.0, text, GUARD), text_seg(5.0, 11.088, text, 1.0)], GUARD)


# --- the invariant, on real clips: packed in any grouping, a clip keeps the words it has alone ---


def _clip_set(tmp: Path) -> tuple[list[Path], dict[str, str]]:
    """Espeak-ng clips with references, real speech, MP3 copies of real clips and byte copies."""
    speech = DATA / "speech"
    refs = {
        str(speech / e["path"]): e["text"]
        for e in map(json.loads, (speech / "manifest.jsonl").read_text().splitlines())
    }
    paths = (
        sorted(speech.glob("[0-9]*"))
        + sorted((DATA / "realspeech").glob("*.flac"))
        + sorted((DATA / "packing").glob("*.mp3"))
    )
    for src in [speech / "04_late_train.wav", DATA / "realspeech" / "sonnet-08.flac"]:
        paths.append(tmp / f"copy-{src.name}")
        shutil.copyfile(src, paths[-1])
        if str(src) in refs:
            refs[str(paths[-1])] = refs[str(src)]
    return paths, refs


@pytest.mark.slow
def test_random_groupings_keep_every_clips_words(tmp_path: Path) -> None:
    paths, refs = _clip_set(tmp_path)
    clips = load_clips(paths)
    decoder = PackedDecoder(TranscribeConfig().validated())
    alone = decoder.transcripts(clips, [[i] for i in range(len(clips))])
    lengths = [p.length if p else 0 for p in decoder.placements(clips)]
    rng = random.Random(21)
    for _ in range(2):
        groups = random_groups(lengths, rng, int(decoder.config.chunking.pack_gap_s * 16000))
        packed = decoder.transcripts(clips, groups)
        referenced = [c for c in clips if c.path in refs]
        report = compare(referenced, refs, alone, packed, len(groups))
        assert report.wer_packed <= report.wer_alone + 0.005, report
        # No clip loses a segment: at most two of its alone words go missing (each packed clip is
        # decoded on its own, but its encoder frames still see the neighbours' audio, and tiny.en
        # rewords an uncertain espeak-ng clip by a word or two: docs/performance.md).
        missing = {c.path: word_errors(normalize(alone[c.path]), normalize(packed[c.path])).deletions for c in clips}
        assert max(missing.values()) <= 2, {p: n for p, n in missing.items() if n > 2}


@pytest.mark.slow
def test_with_own_encoder_passes_a_clip_has_the_same_text_in_any_job(tmp_path: Path) -> None:
    """`model.clip_input.splice: own`, unpacked: each clip alone in its window, encoded over its own frames.

    Its text in a job with every other clip (two random orders, eight windows a model call, so
    other batch-mates) equals its text in a job of its own.
    """
    paths, _ = _clip_set(tmp_path)
    clips = load_clips(paths)
    config = TranscribeConfig.from_yaml_text("model:\n  clip_input: {splice: own}\n")
    assert not packs_short_clips(config)
    single = PackedDecoder(config, batch=1)
    alone = {c.path: single.transcripts([c], [[0]])[c.path] for c in clips}
    assert single.times.calls["model:encode clips"] == len([t for t in alone.values() if t])
    shared = PackedDecoder(config)
    rng = random.Random(5)
    for _ in range(2):
        order = list(range(len(clips)))
        rng.shuffle(order)
        texts = shared.transcripts(clips, [[i] for i in order])
        assert {p: texts[p] for p in alone} == alone


@pytest.mark.slow
def test_rerunning_a_packed_job_gives_identical_transcripts(ray_local, tmp_path: Path) -> None:  # noqa: F811
    """The same files, packed in one job, twice: byte-identical texts and segments."""
    paths, _ = _clip_set(tmp_path)
    files = [SourceFile(str(p)) for p in paths[::3]]
    config = TranscribeConfig.from_yaml_text("model:\n  clip_input: {splice: span}\n")
    assert packs_short_clips(config)

    def run() -> dict[str, tuple]:
        rows = iter_transcripts(files, config, "rerun")
        return {r["path"]: (r["status"], r["text"], json.dumps(r["segments"], default=str)) for r in rows}

    first, second = run(), run()
    assert len(first) == len(files)
    assert first == second


# --- clip decoding: each packed clip sees its own span of the window's encoder output, silence elsewhere ---


def test_a_clips_encoder_input_is_its_own_span_and_silence_elsewhere() -> None:
    windows = np.stack([np.full((1500, 4), 1.0, np.float32), np.full((1500, 4), 2.0, np.float32)])
    silence = np.zeros((1500, 4), np.float32)
    rows = np.asarray(clip_encodings(windows, silence, [ClipSpan(1, 10.0, 12.0), ClipSpan(0, 0.0, 3.0)]))
    first = round((10.0 - CLIP_MARGIN_S) * ENCODER_POSITIONS_PER_SECOND)
    last = round((12.0 + CLIP_MARGIN_S) * ENCODER_POSITIONS_PER_SECOND)
    assert (rows[0, first:last] == 2.0).all() and not rows[0, :first].any() and not rows[0, last:].any()
    assert (rows[1, :150] == 1.0).all() and not rows[1, 160:].any()
    assert start_token(50364, 10.0) == 50364 + 500  # <|10.00|>


def test_the_splice_variants_keep_what_precedes_a_clip_or_its_whole_window() -> None:
    """`prefix`: the window's encoder output up to the clip's end; `window`: all of it (ClipInput)."""
    windows = np.stack([np.full((1500, 4), 1.0, np.float32), np.full((1500, 4), 2.0, np.float32)])
    silence = np.zeros((1500, 4), np.float32)
    spans = [ClipSpan(1, 10.0, 12.0)]
    last = round((12.0 + CLIP_MARGIN_S) * ENCODER_POSITIONS_PER_SECOND)
    prefix = np.asarray(clip_encodings(windows, silence, spans, "prefix"))
    assert (prefix[0, :last] == 2.0).all() and not prefix[0, last:].any()
    assert (np.asarray(clip_encodings(windows, silence, spans, "window")) == 2.0).all()


def test_an_own_encoder_input_holds_the_clips_frames_only_floored_as_if_alone() -> None:
    """splice "own": its frames, Whisper's 80 dB floor from its own loudest frame, then an alone window's padding."""
    window = np.full((4, 3000), -1.5, np.float32)
    window[:, 1000:1200] = 0.5  # the clip, 10.0-12.0 s
    window[:, 1100] = 1.0
    window[:, 1050] = -1.2  # quiet: below its own floor (1.0 - 2), above its window's
    window[:, 2000:2500] = 3.0  # a louder neighbour, which set the window's floor
    own, offset = own_features(window, ClipSpan(0, 10.0, 12.0))
    assert offset == 10.0
    assert own.shape == (1, 4, 200 + round(OWN_MARGIN_S * 100))
    assert (own[0, :, 50] == -1.0).all() and (own[0, :, 100] == 1.0).all() and (own[0, :, 0] == 0.5).all()
    assert not own[0, :, 200:].any()  # LogMel pads an alone window's features with zeros
    assert own.max() < 3.0  # nothing of the neighbour


def test_a_repeating_hypothesis_is_caught_where_whispers_guards_pass_it() -> None:
    """A segment holding more tokens than its span can (too_dense): the decoder wrote text again."""
    from faster_whisper.tokenizer import Tokenizer
    from tokenizers import Tokenizer as HFTokenizer

    from models.common.config import StorageConfig
    from models.registry import resolve_model
    from models.whisper_ct2_decode import too_dense

    hf = HFTokenizer.from_file(str(Path(resolve_model("tiny.en", StorageConfig())) / "tokenizer.json"))
    tok = Tokenizer(hf, multilingual=False)
    words = tok.encode(" Well, there isn't that much difference. At least, you know, they all call me a Yankee.")
    at = tok.timestamp_begin
    # The measured case: the clip's sentence, then the same words again between <|7.84|> and <|7.86|>.
    spoken = [at, *words, at + 392, at + 392]
    assert not too_dense(spoken, tok)
    assert too_dense([*spoken, *words, at + 393], tok)
