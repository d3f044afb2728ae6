"""Build an evaluation domain of `voxray improve`: an invented company's calls, spoken by espeak-ng.

    python scripts/make_flywheel_domain.py --out /tmp/flywheel-domain [--archive 240 --dev 40 --test 60]
    python scripts/make_flywheel_domain.py --out /tmp/insurer-domain --domain insurer
    python scripts/make_flywheel_domain.py --out /tmp/clinic-domain --domain clinic
    python scripts/make_flywheel_domain.py --out /tmp/freight-domain --domain freight
    python scripts/make_flywheel_domain.py --out /tmp/letting-domain --domain letting
    python scripts/make_flywheel_domain.py --out /tmp/energy-domain --domain energy

`--domain telecom` (the default) is the telecom every setting of the loop was chosen on; `--domain
insurer` is a second industry (new terms, wording and voices), first a check that those settings
generalise and since 2026-12-07 a tuning domain (the distillation weight was chosen on it);
`--domain clinic` is a third (a hospital group's appointment line), for a run with every default
and nothing tuned on it; `--domain freight` is a fourth (a haulier's dispatch desk), written by
someone who does not tune the loop, for a run with every default and nothing tuned on it;
`--domain letting` is a fifth (a property letting agency's tenant and landlord line), written by
someone who does not tune the loop, for a run with every default and nothing tuned on it;
`--domain energy` is a sixth (a household energy supplier's billing and metering line), written by
someone who does not tune the loop, for a run with every default and nothing tuned on it.

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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Domain:
    """One invented company: its terms (the glossary), its archive's wording and voices, and the
    held-out wording and voices of dev and test."""

    products: list[str]
    features: list[str]
    staff: list[str]
    cities: list[str]
    archive_templates: list[str]
    held_out_templates: list[str]
    archive_voices: list[str]
    held_out_voices: list[str]


TELECOM = Domain(
    PRODUCTS, FEATURES, STAFF, CITIES, ARCHIVE_TEMPLATES, HELD_OUT_TEMPLATES, ARCHIVE_VOICES, HELD_OUT_VOICES
)

# The other five industries are data (flywheel_domains.json, each with an "about" saying when and
# by whom it was written and what it is for): the same slots, other names, wording and voices.
_MORE = json.loads((Path(__file__).resolve().parent / "flywheel_domains.json").read_text(encoding="utf-8"))
DOMAINS = {
    "telecom": TELECOM,
    **{name: Domain(**{k: v for k, v in spec.items() if k != "about"}) for name, spec in _MORE.items()},
}
SPEEDS = [140, 160, 175, 190]


def glossary(domain: Domain = TELECOM) -> list[str]:
    return [*domain.products, *domain.features, *domain.staff, *domain.cities]


def sentences(
    n: int, templates: list[str], rng: random.Random, exclude: set[str] = frozenset(), domain: Domain = TELECOM
) -> list[str]:
    out: dict[str, None] = {}
    while len(out) < n:
        text = rng.choice(templates).format(
            product=rng.choice(domain.products),
            feature=rng.choice(domain.features),
            staff=rng.choice(domain.staff),
            city=rng.choice(domain.cities),
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
    p.add_argument("--domain", choices=sorted(DOMAINS), default="telecom", help="which invented company (telecom)")
    args = p.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is required: apt-get install -y espeak-ng")
    rng, domain = random.Random(args.seed), DOMAINS[args.domain]
    archive = sentences(args.archive, domain.archive_templates, rng, domain=domain)
    held_out = sentences(args.dev + args.test, domain.held_out_templates, rng, exclude=set(archive), domain=domain)
    out = args.out.resolve()
    write_jsonl(out / "archive_truth.jsonl", speak(archive, out / "archive", domain.archive_voices, rng))
    write_jsonl(out / "dev.jsonl", speak(held_out[: args.dev], out / "dev", domain.held_out_voices, rng))
    write_jsonl(out / "test.jsonl", speak(held_out[args.dev :], out / "test", domain.held_out_voices, rng))
    terms = glossary(domain)
    (out / "glossary.txt").write_text("\n".join(terms) + "\n", encoding="utf-8")
    print(f"{out}: {args.domain}, archive {len(archive)} clips, dev {args.dev}, test {args.test}, {len(terms)} terms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
