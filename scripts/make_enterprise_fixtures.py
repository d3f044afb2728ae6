"""Make the committed fixtures for custom vocabulary and PII redaction (tests/data/enterprise/).

English espeak-ng speech with known text (apt-get install -y espeak-ng), written as 16 kHz mono
FLAC to keep the repository small:
  vocab/*.flac      sentences with domain terms tiny.en gets wrong without help (vocab.jsonl)
  pii/*.flac        calls with a card number, a phone number, an e-mail address and an SSN read
                    aloud, plus ordinary speech around them (pii.jsonl lists the spoken
                    values); one of them is 44.1 kHz stereo

Usage: python scripts/make_enterprise_fixtures.py [--out tests/data/enterprise]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

VOCAB = [
    ("v1_siobhan", "Siobhan checked the Grafana dashboard before the release.", ["Siobhan", "Grafana"]),
    ("v2_postgres", "The Postgres replica fell behind during the night.", ["Postgres"]),
    ("v3_xarelto", "The patient takes Xarelto twice a day with food.", ["Xarelto"]),
    ("v4_kubernetes", "We moved the billing service to Kubernetes last spring.", ["Kubernetes"]),
    ("v5_niamh", "Please ask Niamh to renew the Zendesk licence.", ["Niamh", "Zendesk"]),
    ("v6_terraform", "Our Terraform plan failed because of a missing Kafka topic.", ["Terraform", "Kafka"]),
]
# The values are spoken the way callers read them: digit by digit, in groups.
PII = [
    (
        "p1_card",
        "Thanks for calling. My card number is 4 5 3 2, 0 1 5 1, 1 2 8 3, 0 3 6 6. "
        "The parcel was left outside in the rain.",
        {"CREDIT_DEBIT_NUMBER": "4532015112830366"},
    ),
    (
        "p2_phone",
        "You can reach me on 2 1 2, 5 5 5, 0 1 9 9. I will be at home all afternoon.",
        {"PHONE": "2125550199"},
    ),
    (
        "p3_email",
        "My email is maria garcia at gmail dot com. The order arrived two days late.",
        {"EMAIL": "garcia@gmail.com"},
    ),
    (
        "p4_ssn",
        "My social security number is 2 1 9, 0 9, 9 9 9 9. I need the refund this week.",
        {"SSN": "219099999"},
    ),
]


# One PII clip at a CD rate in stereo: redacted copies must keep the source's rate and channels.
STEREO_44K = {"p2_phone"}


def synth(text: str, dest: Path, rate: int = 16000, channels: int = 1) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "a.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-ar", str(rate), "-ac", str(channels), str(dest)],
            check=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data/enterprise"))
    args = parser.parse_args()
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found: apt-get install -y espeak-ng ffmpeg")
    for sub, items, key in (("vocab", VOCAB, "terms"), ("pii", PII, "values")):
        folder = args.out / sub
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for name, text, extra in items:
            stereo = name in STEREO_44K
            synth(text, folder / f"{name}.flac", 44100 if stereo else 16000, 2 if stereo else 1)
            lines.append(json.dumps({"path": f"{sub}/{name}.flac", "text": text, key: extra}))
        (args.out / f"{sub}.jsonl").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
