"""Real human speech for tests: utterances PyPI packages ship (tests/data/realspeech, made by
scripts/make_realspeech.py: a LibriVox reading and a real two-speaker conversation) and recordings built
from them with every utterance's position known.

References come from faster-whisper (the anchor voxray is measured against) run on each utterance
alone, with the same model and beam: a test comparing voxray's words with them measures what
voxray's windowing and time mapping add, not the model's own errors.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from models.common.audio import SAMPLE_RATE
from pipelines.decode import decode_audio
from tools.bench.longform import write_wav

REALSPEECH_DIR = Path(__file__).parent / "data" / "realspeech"


@dataclass(frozen=True)
class Utterance:
    path: Path
    speaker: str
    start_s: float  # where the utterance's audio starts in a built recording (0 for the file itself)
    end_s: float


def utterance_files() -> list[Path]:
    manifest = json.loads((REALSPEECH_DIR / "manifest.json").read_text())
    return [REALSPEECH_DIR / entry["file"] for entry in manifest]


def build_recording(dest: Path, files: list[Path], gap_s: tuple[float, float], seed: int = 0) -> list[Utterance]:
    """Concatenate utterances with seeded pauses (uniform in gap_s) into a 16 kHz mono WAV."""
    rng = random.Random(seed)
    parts: list[np.ndarray] = []
    placed: list[Utterance] = []
    at = 0
    for path in files:
        audio = decode_audio(str(path)).samples[0]
        pause = np.zeros(int(rng.uniform(*gap_s) * SAMPLE_RATE), dtype=np.float32)
        speaker = path.stem.split("-")[0]
        placed.append(Utterance(path, speaker, at / SAMPLE_RATE, (at + audio.shape[0]) / SAMPLE_RATE))
        parts += [audio, pause]
        at += audio.shape[0] + pause.shape[0]
    write_wav(dest, np.concatenate(parts))
    return placed


@cache
def reference_text(path: Path, beam_size: int = 5) -> str:
    """faster-whisper with the bundled tiny.en on the utterance alone."""
    return " ".join(s.text.strip() for s in _anchor().transcribe(str(path), beam_size=beam_size, language="en")[0])


@cache
def _anchor():
    from faster_whisper import WhisperModel

    from models.common.config import StorageConfig
    from models.registry import resolve_model

    model_dir = resolve_model("tiny.en", StorageConfig())
    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)
