"""Packing's invariant, measured: a clip's words in any packed window against the same clip alone.

The model stage (pipelines/batch/infer.py) runs in this process, without Ray, over windows that
hold the given clips grouped as asked: each clip alone, or random groups in random orders. The
preparation code (VAD, placement, features) and the model stage's safety net are the pipeline's own.
`scripts/packing_safety.py` and `tests/test_packing.py` use it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.common.audio import N_SAMPLES, SAMPLE_RATE
from models.common.profile import StageTimes
from models.resolved import resolve
from pipelines.batch.assemble import Assembler
from pipelines.batch.cluster import CPU_BATCH_SIZE
from pipelines.batch.infer import TranscribeWindows
from pipelines.batch.prepare import rows_for_windows
from pipelines.batch.records import pieces_of, windows_table
from pipelines.config import TranscribeConfig
from pipelines.decode import decode_audio
from pipelines.quality.wer import ErrorCounts, normalize, word_errors
from pipelines.windows import Stretch, plan_unit


@dataclass(frozen=True)
class Clip:
    path: str
    audio: np.ndarray  # 16 kHz mono float32


def load_clips(paths: list[Path]) -> list[Clip]:
    return [Clip(str(p), decode_audio(str(p)).samples[0]) for p in paths]


def reversed_order(windows: list[list[Stretch]], gap: int) -> list[list[Stretch]]:
    """The same windows with their clips in the opposite order, `gap` samples apart."""
    out: list[list[Stretch]] = []
    for w in windows:
        at, flipped = 0, []
        for s in reversed(w):
            flipped.append(Stretch(s.unit, at, s.source_start, s.length))
            at += s.length + gap
        out.append(flipped)
    return out


def random_groups(lengths: list[int], rng: random.Random, gap: int) -> list[list[int]]:
    """Clip indices in random groups (each fits one window, `gap` samples apart), in random orders."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    groups: list[list[int]] = []
    filled: list[int] = []
    for i in order:
        fits = [k for k, used in enumerate(filled) if used + gap + lengths[i] <= N_SAMPLES]
        if fits and rng.random() < 0.85:
            k = rng.choice(fits)
            groups[k].append(i)
            filled[k] += gap + lengths[i]
        else:
            groups.append([i])
            filled.append(lengths[i])
    return groups


class PackedDecoder:
    """Transcripts of clips decoded in given groups, through the pipeline's model stage in-process."""

    def __init__(self, config: TranscribeConfig, threads: int = 2, batch: int = CPU_BATCH_SIZE) -> None:
        # `batch`: windows per model call; the default is the pipeline's on CPUs.
        self.config = config
        self.batch = batch
        self.resolved = resolve(config.model, config.storage)
        self.n_mels = self.resolved.n_mels
        self.model = TranscribeWindows(config, self.resolved, threads)
        self.times = StageTimes()

    def placements(self, clips: list[Clip]) -> list[Stretch | None]:
        """Each clip's one stretch of speech (None: VAD heard none); packing moves it, never cuts it."""
        out: list[Stretch | None] = []
        for i, clip in enumerate(clips):
            windows = plan_unit(clip.audio, i, self.config.chunking)
            out.append(windows[0][0] if len(windows) == 1 and len(windows[0]) == 1 else None)
        return out

    def transcripts(self, clips: list[Clip], groups: list[list[int]]) -> dict[str, str]:
        gap = int(self.config.chunking.pack_gap_s * SAMPLE_RATE)
        planned = self.placements(clips)
        windows: list[list[Stretch]] = []
        for group in groups:
            window, at = [], 0
            for i in group:
                p = planned[i]
                if p is not None:
                    window.append(Stretch(i, at, p.source_start, p.length))
                    at += p.length + gap
            if window:
                windows.append(window)
        return self.window_transcripts(clips, windows)

    def window_transcripts(self, clips: list[Clip], windows: list[list[Stretch]]) -> dict[str, str]:
        """Transcripts of clips placed in windows exactly as given (stretch units index `clips`)."""
        rows = rows_for_windows([(c.path, c.audio) for c in clips], windows, self.config, self.n_mels)
        assembler = Assembler(self.config.model.model, "packing", self.config.fingerprint(self.resolved.identity))
        texts: dict[str, str] = {}
        for start in range(0, len(rows), self.batch):
            pieces, profiles = pieces_of(self.model(windows_table(rows[start : start + self.batch])))
            for profile in profiles:
                self.times.merge(StageTimes.from_json(profile))
            for piece in pieces:
                for row in assembler.add(piece):
                    texts[row["path"]] = row["text"] or ""
        return texts


def words_lost(alone: str, packed: str) -> int:
    """Words of the clip's transcript alone that its packed transcript lacks (deleted or replaced)."""
    counts: ErrorCounts = word_errors(normalize(alone), normalize(packed))
    return counts.deletions + counts.substitutions


@dataclass(frozen=True)
class GroupingReport:
    wer_alone: float
    wer_packed: float
    worst_file_delta: float  # the largest per-file WER rise, packed over alone
    words_lost: dict[str, int]  # per file with any: words of its alone transcript missing packed
    packed_windows: int


def compare(
    clips: list[Clip], references: dict[str, str], alone: dict[str, str], packed: dict[str, str], windows: int
) -> GroupingReport:
    """Packed against alone, on the references (a file without one is scored against its alone text)."""
    refs = {c.path: normalize(references.get(c.path, alone.get(c.path, ""))) for c in clips}
    per_alone = {c.path: word_errors(refs[c.path], normalize(alone.get(c.path, ""))) for c in clips}
    per_packed = {c.path: word_errors(refs[c.path], normalize(packed.get(c.path, ""))) for c in clips}
    lost = {c.path: words_lost(alone.get(c.path, ""), packed.get(c.path, "")) for c in clips}

    def rate(per: dict[str, ErrorCounts]) -> float:
        return sum((v for v in per.values()), ErrorCounts()).rate

    return GroupingReport(
        wer_alone=rate(per_alone),
        wer_packed=rate(per_packed),
        worst_file_delta=max(per_packed[p].rate - per_alone[p].rate for p in refs),
        words_lost={p: n for p, n in lost.items() if n},
        packed_windows=windows,
    )
