"""Build the evaluation domain of `voxray improve`: an invented telecom's calls, spoken by espeak-ng.

    python scripts/make_flywheel_domain.py --out /tmp/flywheel-domain [--archive 240 --dev 40 --test 60]

Needs espeak-ng (apt-get install -y espeak-ng). Writes, under OUT:
- `archive/`: the unlabelled archive, `--archive` WAV clips (no text is kept next to them, so
  nothing can leak into the loop; `archive_truth.jsonl` beside the folder records it for analysis only);
- `dev.jsonl`, `test.jsonl` with `dev/`, `test/`: labelled references (`path`, `text`) from
  templates the archive never uses, spoken by voices it never uses: dev is for tuning, test for
  reporting;
- `glossary.txt`: the company's terms, one per line (products, features, staff names, cities).

Sentences are deterministic for a seed; the archive, dev and test sentences are disjoint.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

PRODUCTS = ["Veltrix Fiber", "Quorvane Mobile", "Zephyra Home", "Altuna Business", "Nexolink", "Brivana Prepaid"]
FEATURES = ["Roamshield", "Callweave", "Datavault", "Skypocket", "Linqo Assist", "Portaflex", "Numbrella"]
STAFF = [
    "Marisol Okafor",
    "Thaddeus Brennick",
    "Ingrid Vasquez",
    "Oluwaseun Adeyemi",
    "Priya Raghunathan",
    "Joaquin Ferreira",
]
CITIES = ["Kestrelford", "Port Vellin", "Ambridge Falls", "Lowenmark", "Calderon Bay", "Norhaven"]
# The archive's wording; dev and test use HELD_OUT only, so a gain there is the domain's words, not
# memorised sentences.
ARCHIVE_TEMPLATES = [
    "Thanks for calling, my name is {staff}, how can I help with your {product} plan?",
    "I would like to add {feature} to my {product} account please.",
    "The {product} signal keeps dropping in {city} since Monday.",
    "{staff} told me that {feature} was included for free.",
    "Can you move my {product} contract to the {city} office?",
    "Your {feature} request is approved and {staff} will call you back.",
    "We see an outage of {product} around {city} this morning.",
    "Please switch off {feature} before you travel to {city}.",
    "I was charged twice for {feature} on my {product} bill.",
    "Let me transfer you to {staff} in the {city} store.",
    "Does {product} support {feature} on older phones?",
    "Our engineers in {city} are upgrading the {product} network tonight.",
]
HELD_OUT_TEMPLATES = [
    "Is {feature} available for {product} customers in {city}?",
    "{staff} cancelled my {product} order without asking me.",
    "After the update, {feature} stopped working on my {product} line.",
    "Could {staff} explain the {feature} charges from {city}?",
    "My neighbour in {city} has {product} with {feature} already.",
    "I need {staff} to confirm the {product} refund today.",
]
ARCHIVE_VOICES = ["en-us", "en-gb", "en-us+f3", "en-us+m3", "en-gb+f2", "en-us+m7"]
HELD_OUT_VOICES = ["en-gb-x-rp", "en-us+f4", "en-gb-scotland+m2", "en-029"]
SPEEDS = [140, 160, 175, 190]


def glossary() -> list[str]:
    return [*PRODUCTS, *FEATURES, *STAFF, *CITIES]


def sentences(n: int, templates: list[str], rng: random.Random, exclude: set[str] = frozenset()) -> list[str]:
    out: dict[str, None] = {}
    while len(out) < n:
        text = rng.choice(templates).format(
            product=rng.choice(PRODUCTS), feature=rng.choice(FEATURES), staff=rng.choice(STAFF), city=rng.choice(CITIES)
        )
        if text not in exclude:
            out.setdefault(text)
    return list(out)


def speak(texts: list[str], folder: Path, voices: list[str], rng: random.Random) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(texts):
        wav = folder / f"{folder.name}-{i:04d}.wav"
        voice, speed = rng.choice(voices), rng.choice(SPEEDS)
        if not wav.exists():
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
        rows.append({"path": f"{folder.name}/{wav.name}", "text": text, "voice": voice, "speed": speed})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--archive", type=int, default=240)
    p.add_argument("--dev", type=int, default=40)
    p.add_argument("--test", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is required: apt-get install -y espeak-ng")
    rng = random.Random(args.seed)
    archive = sentences(args.archive, ARCHIVE_TEMPLATES, rng)
    held_out = sentences(args.dev + args.test, HELD_OUT_TEMPLATES, rng, exclude=set(archive))
    out = args.out.resolve()
    write_jsonl(out / "archive_truth.jsonl", speak(archive, out / "archive", ARCHIVE_VOICES, rng))
    write_jsonl(out / "dev.jsonl", speak(held_out[: args.dev], out / "dev", HELD_OUT_VOICES, rng))
    write_jsonl(out / "test.jsonl", speak(held_out[args.dev :], out / "test", HELD_OUT_VOICES, rng))
    (out / "glossary.txt").write_text("\n".join(glossary()) + "\n", encoding="utf-8")
    print(f"{out}: archive {len(archive)} clips, dev {args.dev}, test {args.test}, glossary {len(glossary())} terms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
