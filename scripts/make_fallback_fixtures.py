"""Write tests/data/fallback/: a short espeak-ng clip on which tiny.en needs Whisper's fallback.

- `repeats.flac`: five invented names read fast; at t = 0 tiny.en writes "No, no, no, ..."
  (compression ratio 3.5, over the 2.4 guard), and the fallback repairs it.

A second clip, a sentence of invented names (en-029, speed 175, "Grellmoor's Oxanthe renewed the
Drovaskin deal.") on which every temperature fails the log-probability guard, was dropped: its
59 KB took the fixtures over the repository's audio budget (tests/test_fixtures.py).

Measured with tiny.en int8 (2026-12-06); tests/test_fallback.py checks that it still reaches the
fallback. Kept at espeak-ng's 22,050 Hz (flac: the same samples): resampled to 16 kHz by sox, `repeats` no
longer repeats, so the pipeline's own resampling is part of the fixture. Needs espeak-ng and sox
(tests do not: the output is committed).

    python scripts/make_fallback_fixtures.py [--out tests/data/fallback]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

CLIPS = {
    "repeats.flac": ("en-us+f2", 200, "Snazzle, Blorvik, Quoxx, Trumbleweft, Plindor."),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests/data/fallback")
    out = p.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (voice, speed, text) in CLIPS.items():
            wav = Path(tmp) / "clip.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
            subprocess.run(["sox", "-R", str(wav), str(out / name)], check=True)
            manifest.append({"path": name, "text": text})
    (out / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest))


if __name__ == "__main__":
    main()
