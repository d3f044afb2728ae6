"""The diarization evaluation set: mixes of 2-6 speakers nobody tuned on, built at bench time.

Voices: every real person the repository can ship (tests/data/realspeech: a LibriVox reader and
the two people of pyannote-audio's sample call; tests/data/voices: a second LibriVox reader, a
card caller from pocketsphinx's tests, CMU ARCTIC's awb and slt; see their LICENSE.txt) and
espeak-ng voices (a base voice, a variant and a pitch make one identity). The split is by
identity: the dev split's real people, base voices and variants never occur in the test split,
so a parameter chosen on dev is measured on people it never heard. The dev real people are the
three the method was tuned on before 2026-12-06; every test real person is new.

Each mix strings together turns of one to two sentences (espeak-ng) or one to two utterances
(real), each speaker at their own level (-10..0 dB after levelling to one loudness), separated
by a pause of 0.2-1.5 s, no pause at all, or an overlap of 0.3-1.2 s (about one change in
seven), then goes through one channel condition: clean, background noise at 15 dB SNR, or an
8 kHz telephone codec (G.711 mu-law, GSM 06.10, G.726) and back to 16 kHz, as voxray decodes it.

Needs Debian's espeak-ng and ffmpeg (only the bench and scripts/make_diarization_evalset.py
build it; unit tests do not). Deterministic for one espeak-ng version: the cache folder's name
carries the version and this module's SET_VERSION.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from models.common.audio import SAMPLE_RATE

SET_VERSION = 2
SEED = 20_261_206
# Version 2 (2026-12-06) draws 96 more dev mixes after the first 24 (which, and every test mix,
# stay as in version 1): on 24, the stopping distance's best value was a peak one mix wide.
MIXES = {"dev": 120, "test": 36}
SPEAKER_COUNTS = (2, 3, 4, 5, 6)
CONDITIONS = ("clean", "mulaw", "noise", "gsm", "clean", "g726")
REPO = Path(__file__).resolve().parent.parent.parent
REAL_FOLDERS = (REPO / "tests" / "data" / "realspeech", REPO / "tests" / "data" / "voices")
REAL = {"dev": ("sonnet", "spk90", "spk91"), "test": ("sas", "cards", "awb", "slt")}
# espeak-ng's English base voices (accents) and voice variants (timbre, pitch), split by identity.
BASES = {
    "dev": ("en-us", "en-gb-x-rp", "en-029"),
    "test": ("en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd"),
}
# Variants that sound like a person (no whisper, robots or effects), alternately to each split.
_VARIANT_NAMES = (
    "m1 m2 m3 m4 m5 m6 m7 m8 f1 f2 f3 f4 f5 klatt klatt2 klatt3 klatt4 adam Alex Alicia Andrea Andy Annie "
    "antonio aunty belinda benjamin boris caleb david ed edward Gene gustave Henrique Hugo iven iven2 "
    "Jacky john kaukovalta Lee linda marcelo Marco Mario max Michael michel miguel Mike Nguyen pablo paul "
    "pedro quincy rob robert steph steph2 Storm travis victor zac anika grandpa grandma norbert sandro "
    "shelby croak"
)
_VARIANTS = sorted(_VARIANT_NAMES.split(), key=str.lower)
VARIANTS = {"dev": tuple(_VARIANTS[0::2]), "test": tuple(_VARIANTS[1::2])}
LEVEL_RMS = 0.05  # -26 dBFS: each turn is levelled to this, then the speaker's own gain applies
NOISE_FLOOR = 8 / 32768
TRIM = 0.01  # -40 dBFS: a turn's reference span is its first to last sample at or above this

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
    "Where did you park the car this morning?",
    "That sounds fine to me, as long as the client agrees.",
    "Could you repeat the last number, please?",
    "My flight was delayed by three hours because of the fog.",
    "We should ask the lawyers before we sign anything.",
    "Honestly, I have no idea who ordered forty boxes of paper clips.",
    "The printer on the third floor only prints in pink today.",
    "Let me share my screen so everyone can see the chart.",
]


@dataclass(frozen=True)
class Voice:
    name: str  # identity: "real:sas" or "espeak:en-gb+m3 p55"
    gain_db: float


def espeak_version() -> str:
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        needed = " and ".join(missing)
        raise RuntimeError(f"the diarization evaluation set needs {needed}: apt-get install espeak-ng ffmpeg")
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    return out.split(":")[1].split()[0] if ":" in out else out.strip()


def default_cache_root() -> Path:
    """$XDG_CACHE_HOME/voxray (~/.cache/voxray): built once, reused by later bench runs."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voxray"


def cache_folder(root: Path) -> Path:
    return root / f"diarize-eval-v{SET_VERSION}-espeak{espeak_version()}"


def _trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) >= TRIM)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def _level(audio: np.ndarray) -> np.ndarray:
    return audio * (LEVEL_RMS / max(float(np.sqrt(np.mean(audio**2))), 1e-6))


def real_utterances() -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for folder in REAL_FOLDERS:
        for entry in json.loads((folder / "manifest.json").read_text()):
            audio, rate = sf.read(folder / entry["file"], dtype="float32")
            trimmed = _trim(audio)
            if rate == SAMPLE_RATE and trimmed.shape[0] >= 0.8 * SAMPLE_RATE:
                out.setdefault(entry["speaker"], []).append(trimmed)
    return out


def espeak(text: str, identity: str, work: Path) -> np.ndarray:
    from pipelines.decode import decode_audio  # PyAV resamples espeak's 22.05 kHz as voxray does

    voice, pitch = identity.split(" p")
    wav = work / "tts.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-p", pitch, "-s", "160", "-w", str(wav), text], check=True)
    return _trim(decode_audio(str(wav)).samples[0])


def pick_voices(split: str, count: int, rng: random.Random) -> list[Voice]:
    """`count` identities of one split: 1-3 real people (as many as there are), the rest espeak-ng."""
    reals = rng.sample(REAL[split], min(count - 1, len(REAL[split]), rng.choice([1, 2, 2, 3])))
    variants = rng.sample(VARIANTS[split], count - len(reals))  # never two of one variant in a mix
    names = [f"real:{r}" for r in reals]
    names += [f"espeak:{rng.choice(BASES[split])}+{v} p{rng.randrange(30, 71, 5)}" for v in variants]
    rng.shuffle(names)
    return [Voice(n, rng.uniform(-10.0, 0.0)) for n in names]


def turn_audio(voice: Voice, rng: random.Random, reals: dict[str, list[np.ndarray]], work: Path) -> np.ndarray:
    kind, ident = voice.name.split(":", 1)
    if kind == "real":
        parts = [rng.choice(reals[ident])]
        while sum(p.shape[0] for p in parts) < 2.0 * SAMPLE_RATE or rng.random() < 0.3:
            parts.append(rng.choice(reals[ident]))  # one person's utterances 0.15 s apart
            if len(parts) == 3:
                break
        pause = np.zeros(int(0.15 * SAMPLE_RATE), dtype=np.float32)
        audio = np.concatenate([x for p in parts for x in (pause, _level(p))][1:])
    else:
        text = " ".join(rng.sample(SENTENCES, rng.choice([1, 1, 2])))
        audio = _level(espeak(text, ident, work))
    return (audio * 10 ** (voice.gain_db / 20)).astype(np.float32)


def _order(count: int, rng: random.Random) -> list[int]:
    order = list(range(count))  # everyone speaks early; then anyone but the last speaker
    while len(order) < 2 * count + 4:
        order.append(rng.choice([k for k in range(count) if k != order[-1]]))
    return order


def build_mix(split: str, count: int, rng: random.Random, reals: dict, work: Path) -> tuple[np.ndarray, list]:
    voices = pick_voices(split, count, rng)
    t, pieces, turns = int(0.5 * SAMPLE_RATE), [], []
    previous = 0
    for k in _order(count, rng):
        audio = turn_audio(voices[k], rng, reals, work)
        roll = rng.random()
        if turns and roll < 0.15:  # overlap, at most half of either turn
            t -= int(min(rng.uniform(0.3, 1.2), 0.5 * audio.shape[0] / SAMPLE_RATE, 0.5 * previous) * SAMPLE_RATE)
        elif turns and roll >= 0.4:
            t += int(rng.uniform(0.2, 1.5) * SAMPLE_RATE)
        pieces.append((t, audio))
        turns.append({"speaker": voices[k].name, "start_s": round(t / SAMPLE_RATE, 3),
                      "end_s": round((t + audio.shape[0]) / SAMPLE_RATE, 3)})  # fmt: skip
        t += audio.shape[0]
        previous = audio.shape[0] / SAMPLE_RATE
    mix = np.zeros(t + int(0.5 * SAMPLE_RATE), dtype=np.float32)
    for start, audio in pieces:
        mix[start : start + audio.shape[0]] += audio
    return mix, turns


def channel(mix: np.ndarray, condition: str, rng: np.random.Generator, work: Path) -> np.ndarray:
    """The mix as a listener gets it: noise floor or background noise, or a telephone codec."""
    if condition == "noise":
        speech_rms = float(np.sqrt(np.mean(mix[np.abs(mix) >= TRIM] ** 2)))
        noisy = mix + rng.normal(0.0, speech_rms / 10 ** (15 / 20), mix.shape[0]).astype(np.float32)
        return np.clip(noisy, -1.0, 1.0)
    mix = np.clip(mix + rng.normal(0.0, NOISE_FLOOR, mix.shape[0]).astype(np.float32), -1.0, 1.0)
    if condition == "clean":
        return mix
    from pipelines.decode import decode_audio

    codec = {"mulaw": ("pcm_mulaw", "wav"), "gsm": ("libgsm", "gsm"), "g726": ("g726", "wav")}[condition]
    wav, coded = work / "mix.wav", work / f"coded.{codec[1]}"
    sf.write(wav, mix, SAMPLE_RATE, subtype="PCM_16")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-ar", "8000", "-ac", "1", "-c:a", codec[0],
                    *(["-b:a", "32k"] if condition == "g726" else []), str(coded)], check=True)  # fmt: skip
    return decode_audio(str(coded)).samples[0]


def build(root: Path, splits: tuple[str, ...] = ("dev", "test")) -> Path:
    """Build (once) the evaluation set under `root`; returns its folder, with index.json."""
    folder = cache_folder(root)
    if (folder / "index.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    reals, index = real_utterances(), []
    with tempfile.TemporaryDirectory() as tmp:
        for split in splits:
            rng, noise = random.Random(f"{SEED}-{split}"), np.random.default_rng(SEED)
            for i in range(MIXES[split]):
                count = SPEAKER_COUNTS[i % len(SPEAKER_COUNTS)]
                condition = CONDITIONS[i % len(CONDITIONS)]
                mix, turns = build_mix(split, count, rng, reals, Path(tmp))
                audio = channel(mix, condition, noise, Path(tmp))
                name = f"{split}_{i:02d}_{count}spk_{condition}"
                sf.write(folder / f"{name}.flac", audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
                meta = {"split": split, "speakers": sorted({t["speaker"] for t in turns}), "condition": condition,
                        "duration_s": round(audio.shape[0] / SAMPLE_RATE, 3), "turns": turns}  # fmt: skip
                (folder / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
                index.append({"name": name, "split": split, "speakers": count, "condition": condition})
    (folder / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return folder
