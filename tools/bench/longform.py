"""Long recordings of real speech for the long-form benchmark, built from a folder of utterances.

Utterances are placed back to back, a fraction of a second apart, as dense read speech is
(LibriSpeech utterances of one chapter follow each other within a breath). Synthetic speech with
long pauses hides what real, dense speech costs a long-form pipeline: windows where Whisper stops
early and wants to seek, words lost at window ends. Each utterance's reference is its LibriSpeech
transcript (`*.trans.txt`) when the folder has one, else faster-whisper's transcript of the
utterance on its own (tiny.en, float32, beam 5): then a long-form WER measures what windowing a
long recording costs, not the model's own errors.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from models.common.audio import SAMPLE_RATE
from pipelines.decode import decode_audio

AUDIO_SUFFIXES = {".flac", ".wav", ".mp3", ".ogg", ".opus", ".m4a"}
# LibriSpeech's utterances of one chapter are cut from continuous reading at pauses of this order.
DENSE_GAP_S = 0.3


def transcripts(folder: Path) -> dict[str, str]:
    """LibriSpeech-style `ID TEXT` lines from every `*.trans.txt` under `folder`, by utterance ID."""
    refs: dict[str, str] = {}
    for trans in folder.rglob("*.trans.txt"):
        for line in trans.read_text().splitlines():
            key, _, text = line.partition(" ")
            refs[key] = text.strip().lower()
    return refs


def join_utterances(folder: Path, dest: Path, gap_s: float = DENSE_GAP_S, limit: int = 0) -> list[dict]:
    """Write every utterance under `folder` (sorted) into one 16 kHz WAV; their spans and references."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    files = files[:limit] if limit else files
    refs = transcripts(folder)
    model = None
    if any(f.stem not in refs for f in files):
        from faster_whisper import WhisperModel

        from models.common.config import StorageConfig
        from models.registry import resolve_model

        model = WhisperModel(str(resolve_model("tiny.en", StorageConfig())), device="cpu", compute_type="float32")
    gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.float32)
    parts: list[np.ndarray] = []
    segments: list[dict] = []
    at = 0
    for f in files:
        audio = decode_audio(str(f)).samples[0]
        text = refs.get(f.stem)
        if text is None and model is not None:
            text = "".join(s.text for s in model.transcribe(audio, beam_size=5, language="en")[0]).strip()
        segments.append({"text": text or "", "start_s": at / SAMPLE_RATE, "end_s": (at + audio.shape[0]) / SAMPLE_RATE})
        parts += [audio, gap]
        at += audio.shape[0] + gap.shape[0]
    write_wav(dest, np.concatenate(parts))
    return segments


def write_wav(dest: Path, audio: np.ndarray) -> None:
    """16 kHz mono float audio as a 16-bit PCM WAV."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
