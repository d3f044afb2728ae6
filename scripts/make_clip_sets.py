"""Build clip sets of short utterances for measuring packing: one dev set (for tuning) and held-out sets.

Each set is a folder of clips and a manifest.jsonl (path, text, duration_s, kind). The sets differ
in what a tuned threshold could overfit to: sentence sources, voices, speeds, durations, formats.
- dev: voice-assistant commands (templates), espeak-ng voices of two accents; for tuning only;
- calls: voicemail and call-centre messages with names, numbers and dates (templates), other accents;
- prose: sentences of the licence texts in /usr/share/common-licenses, 1-3 sentences per clip;
- real: the real utterances of tests/data/realspeech, alone and joined (up to 15 s), with noise,
  tempo changes, quieter, padded with silence; references are faster-whisper's transcripts of
  each original utterance alone (the fixtures have no human transcripts).
Every set also holds a few clips of silence and of noise (reference: nothing), and some clips in
other formats (FLAC, MP3 through ffmpeg). Needs espeak-ng, sox and ffmpeg.

    python scripts/make_clip_sets.py OUT [--count 80] [--seed 7] [--sets dev,calls,prose,real]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.common.audio import SAMPLE_RATE
from pipelines.decode import decode_audio
from tools.bench.longform import write_wav

REPO = Path(__file__).resolve().parent.parent
REALSPEECH = REPO / "tests" / "data" / "realspeech"
LICENSES = Path("/usr/share/common-licenses")
# Accents split between the dev set and the held-out sets, so no held-out voice was tuned on.
DEV_ACCENTS = ("en-us", "en-gb")
HELD_OUT_ACCENTS = ("en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
DEV_VARIANTS = ("m1", "m3", "f2", "f4", "Andy", "Annie", "Paul", "Linda")
HELD_OUT_VARIANTS = ("m2", "m4", "m7", "f1", "f3", "f5", "Alex", "Alicia", "Benjamin", "Edward", "Steph", "Mike", "Rob")
MAX_S, MIN_S = 15.0, 1.0

NAMES = ["Maria Lopez", "Tom Becker", "Aisha Khan", "Ravi Patel", "Olga Novak", "Sam Whitfield", "Jun Park", "Ellen"]
COMPANIES = ["Northwind Insurance", "Bright Dental", "City Water", "Parcel Express", "Harbor Bank"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
PLACES = ["the airport", "Central Station", "the nearest pharmacy", "Lake Street", "the city library", "home"]
CITIES = ["Boston", "Denver", "Glasgow", "Lisbon", "Osaka", "Nairobi"]
SONGS = ["Blue Moon", "Yellow Submarine", "Clair de Lune", "Hotel California"]


def _number(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(DIGITS) for _ in range(n))


def dev_sentence(rng: random.Random) -> str:
    templates = [
        lambda: f"Navigate to {rng.choice(PLACES)}.",
        lambda: f"What is the weather in {rng.choice(CITIES)} tomorrow?",
        lambda: f"Set a timer for {rng.choice(['five', 'ten', 'twenty', 'forty'])} minutes.",
        lambda: f"Play {rng.choice(SONGS)}.",
        lambda: f"Remind me to buy milk on {rng.choice(DAYS)}.",
        lambda: "Turn off the lights in the kitchen.",
        lambda: f"Send a message to {rng.choice(NAMES)} saying I will be late.",
        lambda: f"How long does it take to drive to {rng.choice(CITIES)}? Avoid the motorway if you can.",
        lambda: "Yes.",
        lambda: "Cancel that.",
    ]
    return rng.choice(templates)()


def call_sentence(rng: random.Random) -> str:
    name, company = rng.choice(NAMES), rng.choice(COMPANIES)
    templates = [
        lambda: f"Hi, this is {name} from {company}.",
        lambda: (
            f"Hi, this is {name} from {company}, calling about your account ending in {_number(rng, 4)}. "
            f"Please call us back at {_number(rng, 3)} {_number(rng, 4)}."
        ),
        lambda: (
            f"Your appointment is confirmed for {rng.choice(DAYS)} at {rng.choice(['nine', 'ten', 'two'])} o'clock."
        ),
        lambda: f"I would like to speak to someone about a charge on my bill. The reference is {_number(rng, 6)}.",
        lambda: "Hello? Hello, can you hear me?",
        lambda: "No, thank you.",
        lambda: f"Please press {rng.choice(DIGITS)} to continue.",
        lambda: f"It's {name.split()[0]}. I'm running late, I'll call you after the meeting on {rng.choice(DAYS)}.",
    ]
    return rng.choice(templates)()


def license_sentences() -> list[str]:
    text = " ".join((LICENSES / n).read_text(errors="ignore") for n in ("GPL-3", "Apache-2.0", "MPL-2.0"))
    text = re.sub(r"\s+", " ", re.sub(r"[^A-Za-z0-9,.;:'\" ()-]", " ", text))
    sentences = [s.strip() for s in re.split(r"(?<=[.;:])\s+", text)]
    return [s for s in sentences if 3 <= len(s.split()) <= 30 and not re.search(r"\d\.|\(\w\)|http", s)]


def prose_sentences(sentences: list[str]) -> Callable[[random.Random], str]:
    def pick(rng: random.Random) -> str:
        return " ".join(rng.sample(sentences, rng.choice([1, 1, 2, 3])))

    return pick


def espeak(text: str, voice: str, speed: int, pitch: int, out: Path) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text], check=True)
    return decode_audio(str(out)).samples[0]


def noise_like(rng: random.Random, n: int, level: float) -> np.ndarray:
    gen = np.random.default_rng(rng.randrange(2**32))
    white = gen.standard_normal(n).astype(np.float32)
    # Brown-ish noise (a hum with hiss) for half of the clips, white for the others.
    if rng.random() < 0.5:
        white = np.cumsum(white).astype(np.float32)
        white -= np.convolve(white, np.ones(400, dtype=np.float32) / 400, mode="same")
    return (level * white / (np.abs(white).max() + 1e-9)).astype(np.float32)


def dress(audio: np.ndarray, rng: random.Random) -> np.ndarray:
    """Some silence around the speech, sometimes noise (SNR 10-30 dB) and a lower level."""
    pad = [np.zeros(int(rng.uniform(0.0, 1.5) * SAMPLE_RATE), dtype=np.float32) for _ in range(2)]
    out = np.concatenate([pad[0], audio, pad[1]])
    if rng.random() < 0.3:
        snr_db = rng.uniform(10, 30)
        power = float(np.mean(audio**2)) + 1e-12
        noise = noise_like(rng, out.shape[0], 1.0)
        noise *= np.sqrt(power / (float(np.mean(noise**2)) + 1e-12) / 10 ** (snr_db / 10))
        out = out + noise
    if rng.random() < 0.2:
        out = out * rng.uniform(0.1, 0.4)
    return np.clip(out, -1, 1).astype(np.float32)


def synthetic_set(
    out: Path,
    count: int,
    rng: random.Random,
    sentence: Callable[[random.Random], str],
    accents: tuple[str, ...],
    variants: tuple[str, ...],
) -> list[dict]:
    entries, tmp = [], Path(tempfile.mkdtemp())
    while len(entries) < count - 4:
        text = sentence(rng)
        voice = f"{rng.choice(accents)}+{rng.choice(variants)}"
        audio = espeak(text, voice, rng.randint(120, 230), rng.randint(25, 75), tmp / "s.wav")
        audio = dress(audio, rng)
        if not MIN_S <= audio.shape[0] / SAMPLE_RATE <= MAX_S:
            continue
        entries.append(_write(out, len(entries), audio, text, f"espeak {voice}", rng))
    return entries + _empty_clips(out, len(entries), rng)


def real_set(out: Path, count: int, rng: random.Random) -> list[dict]:
    from faster_whisper import WhisperModel

    from models.common.config import StorageConfig
    from models.registry import resolve_model

    model = WhisperModel(str(resolve_model("tiny.en", StorageConfig())), device="cpu", compute_type="int8")
    files = sorted(REALSPEECH.glob("*.flac"))
    utterances = []
    for f in files:
        text = " ".join(s.text.strip() for s in model.transcribe(str(f), beam_size=5, language="en")[0])
        utterances.append((f.stem.split("-")[0], decode_audio(str(f)).samples[0], text))
    entries, tmp = [], Path(tempfile.mkdtemp())
    while len(entries) < count - 4:
        speaker = rng.choice(sorted({s for s, _, _ in utterances}))
        own = [u for u in utterances if u[0] == speaker]
        start = rng.randrange(len(own))
        parts = own[start : start + rng.choice([1, 1, 2, 3])]
        pause = np.zeros(int(0.4 * SAMPLE_RATE), dtype=np.float32)
        audio = np.concatenate([x for _, a, _ in parts for x in (a, pause)][:-1])
        if rng.random() < 0.3:
            audio = _tempo(audio, rng.uniform(0.85, 1.2), tmp)
        audio = dress(audio, rng)
        if not MIN_S <= audio.shape[0] / SAMPLE_RATE <= MAX_S:
            continue
        entries.append(_write(out, len(entries), audio, " ".join(t for _, _, t in parts), f"real {speaker}", rng))
    return entries + _empty_clips(out, len(entries), rng)


def _tempo(audio: np.ndarray, factor: float, tmp: Path) -> np.ndarray:
    write_wav(tmp / "in.wav", audio)
    subprocess.run(["sox", str(tmp / "in.wav"), str(tmp / "out.wav"), "tempo", f"{factor:.3f}"], check=True)
    return decode_audio(str(tmp / "out.wav")).samples[0]


def _empty_clips(out: Path, first: int, rng: random.Random) -> list[dict]:
    """Two clips of silence and two of noise: nothing to transcribe."""
    entries = []
    for k in range(4):
        n = int(rng.uniform(1.5, 8.0) * SAMPLE_RATE)
        audio = np.zeros(n, dtype=np.float32) if k < 2 else noise_like(rng, n, rng.uniform(0.01, 0.1))
        entries.append(_write(out, first + k, audio, "", "silence" if k < 2 else "noise", rng))
    return entries


def _write(out: Path, index: int, audio: np.ndarray, text: str, kind: str, rng: random.Random) -> dict:
    name = f"{index:04d}.wav"
    write_wav(out / name, audio)
    suffix = rng.choices([".wav", ".flac", ".mp3"], weights=[6, 2, 2])[0]
    if suffix != ".wav":
        target = out / f"{index:04d}{suffix}"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(out / name), str(target)], check=True)
        (out / name).unlink()
        name = target.name
    return {"path": name, "text": text, "duration_s": round(audio.shape[0] / SAMPLE_RATE, 3), "kind": kind}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--count", type=int, default=80, help="clips per set")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--sets", default="dev,calls,prose,real")
    args = p.parse_args()
    prose = license_sentences()
    for offset, name in enumerate(args.sets.split(",")):
        rng = random.Random(args.seed * 1000 + offset)
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        if name == "dev":
            entries = synthetic_set(folder, args.count, rng, dev_sentence, DEV_ACCENTS, DEV_VARIANTS)
        elif name in ("calls", "prose"):
            make = call_sentence if name == "calls" else prose_sentences(prose)
            entries = synthetic_set(folder, args.count, rng, make, HELD_OUT_ACCENTS, HELD_OUT_VARIANTS)
        elif name == "real":
            entries = real_set(folder, args.count, rng)
        else:
            raise SystemExit(f"unknown set {name!r}")
        (folder / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
        print(f"{folder}: {len(entries)} clips, {sum(e['duration_s'] for e in entries):.0f} s")


if __name__ == "__main__":
    main()
