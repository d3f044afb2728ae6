"""Build an evaluation domain of `voxray improve`: an invented company's calls, spoken by espeak-ng.

    python scripts/make_flywheel_domain.py --out /tmp/flywheel-domain [--archive 240 --dev 40 --test 60]
    python scripts/make_flywheel_domain.py --out /tmp/insurer-domain --domain insurer
    python scripts/make_flywheel_domain.py --out /tmp/clinic-domain --domain clinic
    python scripts/make_flywheel_domain.py --out /tmp/freight-domain --domain freight
    python scripts/make_flywheel_domain.py --out /tmp/letting-domain --domain letting

`--domain telecom` (the default) is the telecom every setting of the loop was chosen on; `--domain
insurer` is a second industry (new terms, wording and voices), first a check that those settings
generalise and since 2026-12-07 a tuning domain (the distillation weight was chosen on it);
`--domain clinic` is a third (a hospital group's appointment line), for a run with every default
and nothing tuned on it; `--domain freight` is a fourth (a haulier's dispatch desk), written by
someone who does not tune the loop, for a run with every default and nothing tuned on it;
`--domain letting` is a fifth (a property letting agency's tenant and landlord line), written by
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

# A second industry, written after the loop's settings were fixed on the telecom and never used to
# tune them: an invented insurer's claims line. Same slots (product: a policy, feature: a cover or
# add-on), new names, new wording, and espeak-ng voices that the telecom used nowhere (other accents
# or other variants), so neither the archive nor the held-out clips sound like the telecom's.
INSURER = Domain(
    products=["Corvanta Home", "Elbridge Motor", "Tidewell Life", "Sorrento Travel", "Pelham Pet", "Halvex Business"],
    features=["Stormgard", "Keyvance", "Glazemend", "Mendora Assist", "Lexicare", "Quillon Rescue", "Safarrow"],
    staff=[
        "Beatrix Ndlovu",
        "Caspian Worthing",
        "Leocadia Fenwick",
        "Emeka Obiora",
        "Siobhan Kowalczyk",
        "Dmitri Halloran",
    ],
    cities=["Wrenfield", "Marston Quay", "Ellerby Cross", "Tamsworth", "Greyholt", "Saint Aubrell"],
    archive_templates=[
        "Good morning, you are through to {staff} in claims, is this about your {product} policy?",
        "I want to make a claim under {feature} on my {product} policy.",
        "A storm damaged our roof in {city} and we have {product} cover.",
        "{staff} said the {feature} excess would be waived this year.",
        "Please add {feature} to my {product} renewal.",
        "Your claim has been approved and {staff} will arrange the payment.",
        "We have had many {product} claims from {city} after the floods.",
        "Does my {product} policy include {feature} when I am abroad?",
        "The assessor from {city} will visit about your {product} claim on Friday.",
        "I was quoted twice for {feature} on the {product} renewal letter.",
        "Let me put you through to {staff} at our {city} branch.",
        "Can I cancel {feature} and keep the rest of my {product} cover?",
    ],
    held_out_templates=[
        "Has {staff} received the photos for my {product} claim in {city}?",
        "The {feature} benefit on my {product} policy was refused yesterday.",
        "My cousin in {city} pays less for {product} with {feature} included.",
        "Could {staff} send me the {feature} terms by email?",
        "I am still waiting for the {product} settlement from the {city} office.",
        "Why did my {product} premium go up after {staff} added {feature}?",
    ],
    archive_voices=["en-gb-x-gbclan", "en-us-nyc", "en-gb-x-gbcwmd", "en-us+m4", "en-gb+f5", "en-us+klatt2"],
    held_out_voices=["en-gb-scotland+f3", "en-029+m5", "en-gb-x-rp+m6", "en-us+f2"],
)
# A third industry, written after the loop's settings were chosen on the telecom (and the
# distillation weight on the insurer), for a run with every default and nothing tuned: an invented
# hospital group's appointment line. Product: a department; feature: a drug or a service. Voices:
# espeak-ng variants that neither the telecom (whose archive voices the bundled general speech
# shares) nor the insurer used.
CLINIC = Domain(
    products=[
        "Harrowgate Cardiology",
        "Pemberley Orthopaedics",
        "Veskar Dermatology",
        "Linwood Maternity",
        "Ostrava Renal",
        "Calloway Physiotherapy",
    ],
    features=["Zolvexin", "Pravamide", "Cortelis", "Dexalon", "Miravocet", "Triloxa", "Sonoscan"],
    staff=[
        "Ottilie Achebe",
        "Ravindra Sorensen",
        "Genevieve Okonjo",
        "Florian Castellanos",
        "Yusuf Lindqvist",
        "Henrietta Mwangi",
    ],
    cities=["Ashcombe Vale", "Brindlemoor", "Fennick Cross", "Holloway Reach", "Quenby", "Strathlowe"],
    archive_templates=[
        "Hello, you have reached {staff} at {product}, are you calling to book an appointment?",
        "I need to renew my prescription for {feature} before the weekend.",
        "My appointment with {product} in {city} was moved to Thursday.",
        "{staff} asked me to stop taking {feature} until the blood test.",
        "Can I have the {feature} appointment at the {city} clinic instead?",
        "Your referral to {product} has been accepted and {staff} will write to you.",
        "The {product} waiting room in {city} is closed for cleaning today.",
        "Should I take {feature} with food or on an empty stomach?",
        "A nurse from {city} will phone you about the {product} results on Monday.",
        "The pharmacy gave me {feature} but my letter from {product} says something else.",
        "Let me transfer you to {staff} on the {city} ward.",
        "Is there a parking space near {product} for my {feature} visit?",
    ],
    held_out_templates=[
        "Did {staff} get my scan results from {product} in {city}?",
        "The {feature} dose that {product} suggested makes me dizzy.",
        "My sister in {city} was seen at {product} for {feature} last year.",
        "Could {staff} call me about the {feature} side effects?",
        "I am still waiting for a letter from {product} at the {city} hospital.",
        "Why did {staff} cancel my {feature} review at {product}?",
    ],
    archive_voices=["en-gb-x-gbcwmd+f1", "en-us-nyc+f4", "en-gb-scotland+m7", "en-029+f3", "en-us+Annie", "en-gb+m1"],
    held_out_voices=["en-gb-x-rp+Alex", "en-us+klatt4", "en-gb-x-gbclan+Andy", "en-us-nyc+m6"],
)
# A fourth industry, written on 2026-12-07 by someone who does not tune the loop, after every
# setting was chosen, for one run with every default and nothing tuned on it: an invented haulier's
# dispatch desk. Unlike the three service lines it is mostly trade talk (drivers, depots, read-backs
# of loads). Product: a service line; feature: equipment or an add-on; cities: depots. Voices:
# espeak-ng variants that none of the three domains used, on accents spread across archive and
# held-out differently from theirs.
FREIGHT = Domain(
    products=[
        "Skarnveld Express",
        "Tollivane Overnight",
        "Durrock Pallet",
        "Ysmere Chilled",
        "Brankhof Bulk",
        "Quellstra Courier",
    ],
    features=["Liftrex", "Cargloom", "Thermavik", "Palmetta Strap", "Tracwise", "Hookvelle", "Dockzen"],
    staff=[
        "Xiomara Takahashi",
        "Bartholomew Nwachukwu",
        "Anneliese Paraskevopoulos",
        "Kwabena Szczepanski",
        "Ruairi Bhattacharya",
        "Thandiwe Eriksdottir",
    ],
    cities=["Gorsethwaite", "Vimmerholt", "Cadwell Narrows", "Oxley Sumner", "Treskavel", "Marrowby Junction"],
    archive_templates=[
        "Dispatch, this is {staff}, are you calling about a {product} collection?",
        "Reading that back, one {product} load for the {city} depot with {feature} on the trailer.",
        "The {product} van is stuck on the ring road outside {city}, about forty minutes late.",
        "{staff} booked {feature} for this job but the truck turned up without it.",
        "Can you swap my {product} delivery to the {city} yard tomorrow morning?",
        "Copy that, {staff} will take the {product} run once the {feature} is fitted.",
        "Nothing has moved out of {city} all day, so where is my {product} consignment?",
        "Do I need {feature} for a {product} drop at a house with no loading bay?",
        "The driver from {city} says the {product} pallets were damaged in transit.",
        "You billed me for {feature} on a {product} job that never left the depot.",
        "Hold the line, I am putting you through to {staff} at {city} dispatch.",
        "Is {feature} still required on {product} loads over two tonnes?",
    ],
    held_out_templates=[
        "Why has {staff} marked my {product} parcel as refused in {city}?",
        "So that is {feature} on bay four for the {product} pickup, can you confirm?",
        "Our warehouse in {city} never got the {feature} we paid extra for.",
        "Tell {staff} the {product} trailer needs {feature} before it leaves.",
        "The tracking says {product} arrived in {city} but nobody signed for it.",
        "Has {staff} cleared the {feature} paperwork for the {city} crossing?",
    ],
    archive_voices=[
        "en-029+klatt3",
        "en-gb-scotland+belinda",
        "en-us-nyc+edward",
        "en-gb-x-gbcwmd+m8",
        "en-gb+quincy",
        "en-us+steph",
    ],
    held_out_voices=["en-gb-x-rp+aunty", "en-gb-x-gbclan+david", "en-us-nyc+linda", "en-029+paul"],
)
# A fifth industry, written on 2026-12-07 by someone who does not tune the loop, after every setting
# was chosen, for one run with every default and nothing tuned on it: an invented letting agency's
# tenant and landlord line. Unlike the four it is domestic talk (repairs, rent, deposits, viewings,
# neighbours), in casual wording with contractions and asides. Product: a building the agency lets;
# feature: a scheme, portal or contractor; cities: towns and districts. Voices: espeak-ng variants
# that none of the four domains used (callers and agents of both sexes, one elderly caller); the
# held-out accents RP and New York are heard only in dev and test.
LETTING = Domain(
    products=[
        "Orsolo House",
        "Tiverne Gardens",
        "Quinsley Lofts",
        "Zarabeth Court",
        "Kelmscarra Mews",
        "Vantoria Rise",
    ],
    features=["Depozio", "Rentaloom", "Boilexa", "Fixlytic", "Latchwyn", "Damplex Guard", "Tenavue Portal"],
    staff=[
        "Saoirse Oyelaran",
        "Tadeusz Harjono",
        "Mirela Quispe",
        "Chidubem Halvorsen",
        "Ngaire Vukovic",
        "Lakshmi Tuiasosopo",
    ],
    cities=["Culverhythe", "Aldrevy Park", "Skelvoe Heights", "Pennicoat", "Drummelin Green", "Ostlebury Strand"],
    archive_templates=[
        "Lettings, {staff} speaking, is this about one of the flats at {product}?",
        "The boiler at {product} has been off since Sunday and the {feature} engineer never came.",
        "So just reading that back, flat twelve, {product}, {city}, viewing at half past four.",
        "{staff} promised my deposit would come back through {feature} within ten days.",
        "I'm a landlord in {city} and I want {feature} set up on all three of my units.",
        "There's black mould in the bathroom at {product} again, who do I even ring about that?",
        "Right, I've logged it on {feature} and {staff} will be out to you on Thursday.",
        "Are pets allowed at {product} in {city} or is that down to the landlord?",
        "You've taken the rent twice this month through {feature}, can you reverse one of them?",
        "{staff} looks after everything at {product}, let me see if they're free.",
        "We've had three tenants in {city} report the same leak since the {feature} inspection.",
        "Is the two bed at {product} still available, and does it come with {feature}?",
    ],
    held_out_templates=[
        "Hi, I moved into {product} last week and nobody has given me the {feature} login.",
        "Can I just confirm, that's {staff} meeting me outside {product} at ten, yes?",
        "Honestly, the noise from the flat above mine in {city} is getting worse, what is {staff} doing about it?",
        "My tenancy at {product} ends in May, can {feature} hold the deposit until then?",
        "Why was I charged a cleaning fee by {staff} when I left {product} spotless?",
        "The letter says {feature} covers the window repair, but the {city} office says it doesn't.",
    ],
    archive_voices=[
        "en-gb+steph2",
        "en-gb-x-gbclan+john",
        "en-us+Andrea",
        "en-gb-x-gbcwmd+grandma",
        "en-gb-scotland+Denis",
        "en-029+travis",
    ],
    held_out_voices=["en-gb-x-rp+Alicia", "en-us-nyc+victor", "en-gb-x-gbclan+anika", "en-us+benjamin"],
)
DOMAINS = {"telecom": TELECOM, "insurer": INSURER, "clinic": CLINIC, "freight": FREIGHT, "letting": LETTING}
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
