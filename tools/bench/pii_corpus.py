"""A spoken-PII corpus read by espeak-ng (apt-get install -y espeak-ng): every redactable
type in twelve phrasings (tools/bench/pii_templates.py), eight voices at three speeds,
digits read one by one or in groups, values split across two sentences, and sentences with
ordinary numbers that must stay.

Dev and test differ in both phrasing and voice: the first six phrasings of each type with the
first four voices are dev, the last six with the last four voices are test. Later splits have
phrasings, voices, names, streets, cities and providers of their own: `dev2` and `dev3`
(pii_templates.HELD_OUT) for tuning once dev was exhausted (dev3 was first an acceptance split;
it was looked at, so it is for tuning now), and `fresh` (pii_templates.FRESH), the acceptance
split of the third round (reported since, so tuning material now); `dev4` (pii_templates.DEV4),
a fourth round for tuning, measured once before any rule change; `dev5` (pii_templates.DEV5)
and `fresh2` (pii_templates.FRESH2), a fifth round: dev5 for tuning, fresh2 its acceptance
split; `fresh3` (pii_templates.FRESH3), the sixth round's acceptance split, with 40 ordinary
sentences, most of them around cue words; `fresh4` (pii_templates.FRESH4), the seventh round's
acceptance split, with 48 ordinary sentences near cue-like words; `dev6`
(pii_templates.ORDINARY_DEV6), 60 ordinary sentences for tuning the seventh round; `fresh5`
(pii_templates.FRESH5), the eighth round's acceptance split, with 56 ordinary sentences; `fresh6`
(pii_templates.FRESH6), the ninth round's acceptance split, with 56 ordinary sentences (prices,
orders, percentages, phone-menu options among them); `fresh7` (pii_templates.FRESH7), the tenth
round's acceptance split, with 60 ordinary sentences and values read back by an agent; `fresh8`
(pii_templates.FRESH8), the eleventh round's, with phrasings where only a value's shape says what
it is ("It's 42 Harlow Road in Ripon"); `fresh9` (pii_templates.FRESH9), the twelfth round's, with 64
ordinary sentences of many kinds (pages, aisles, flights, scores, model numbers, platforms,
gates, times); `fresh10` (pii_templates.FRESH10), the thirteenth round's, with 72 ordinary
sentences (gates, platforms, rows, junctions, shelves, levels, bays, counters, wards, cabins,
counts, prices, measures). Seeded: the
same seed gives the same utterances; later splits are drawn after the earlier ones, so adding them
changed none of those.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.bench.pii_templates import (
    DEV4,
    DEV5,
    DEV6,
    FRESH,
    FRESH2,
    FRESH3,
    FRESH4,
    FRESH5,
    FRESH6,
    FRESH7,
    FRESH8,
    FRESH9,
    FRESH10,
    HELD_OUT,
    ORDINARY,
    ORDINARY_DEV4,
    ORDINARY_DEV5,
    ORDINARY_DEV6,
    ORDINARY_FRESH,
    ORDINARY_FRESH2,
    ORDINARY_FRESH3,
    ORDINARY_FRESH4,
    ORDINARY_FRESH5,
    ORDINARY_FRESH6,
    ORDINARY_FRESH7,
    ORDINARY_FRESH8,
    ORDINARY_FRESH9,
    ORDINARY_FRESH10,
    ORDINARY_HELD_OUT,
    TEMPLATES,
)

VOICES = {
    "dev": ("en-us", "en-gb+f3", "en-gb-x-gbclan+m3", "en-029+f2"),
    "test": ("en-us-nyc+f4", "en-gb-x-rp", "en-gb-scotland+m7", "en-gb-x-gbcwmd+f1"),
    "dev2": ("en-us+m2", "en-gb-scotland+f2", "en-029+m5", "en-us-nyc+Andy"),
    "dev3": ("en-gb+m4", "en-us+f5", "en-gb-x-rp+Alex", "en-gb-x-gbcwmd+m6"),
    "fresh": ("en-gb-x-gbclan+f4", "en-029+m1", "en-us-nyc+m3", "en-gb-scotland+Annie"),
    "dev4": ("en-us+Linda", "en-gb+Edward", "en-029+Steph", "en-gb-x-gbclan+Paul"),
    "dev5": ("en-us+david", "en-gb-scotland+belinda", "en-029+john", "en-gb-x-gbcwmd+anika"),
    "fresh2": ("en-us-nyc+max", "en-gb+iven", "en-gb-x-rp+Mike", "en-029+michel"),
    "fresh3": ("en-us+Michael", "en-gb-x-rp+Andrea", "en-gb-scotland+travis", "en-gb-x-gbcwmd+victor"),
    "fresh4": ("en-us+Alicia", "en-gb-x-gbclan+robert", "en-029+shelby", "en-us-nyc+norbert"),
    "dev6": ("en-gb+Gene", "en-us+Diogo", "en-029+Hugo", "en-gb-scotland+marcelo"),
    "fresh5": ("en-gb-x-gbcwmd+Adam", "en-us+Auntie", "en-029+Zac", "en-gb-scotland+Henrique"),
    "fresh6": ("en-us+Caleb", "en-gb-x-rp+Quincy", "en-us-nyc+Lee", "en-gb-x-gbclan+Pablo"),
    "fresh7": ("en-us+Benjamin", "en-gb+Gustave", "en-029+Marco", "en-gb-scotland+Denis"),
    "fresh8": ("en-us+Antonio", "en-gb-x-rp+Rob", "en-029+Miguel", "en-gb-scotland+Jacky"),
    "fresh9": ("en-us+Mario", "en-gb-x-gbcwmd+pedro", "en-029+sandro", "en-us-nyc+boris"),
    "fresh10": ("en-us+Nguyen", "en-gb-x-rp+steph2", "en-029+edward2", "en-gb-scotland+iven3"),
}
SPEEDS = (135, 155, 175)  # espeak-ng words per minute
# The fifth round's splits are read at speeds of their own (three each, so the draws match).
SPLIT_SPEEDS = {
    "dev5": (125, 160, 190),
    "fresh2": (120, 150, 185),
    "fresh3": (130, 145, 170),
    "fresh4": (118, 142, 180),
    "dev6": (128, 152, 172),
    "fresh5": (122, 148, 178),
    "fresh6": (124, 156, 184),
    "fresh7": (132, 158, 186),
    "fresh8": (127, 151, 181),
    "fresh9": (121, 146, 176),
    "fresh10": (123, 153, 183),
}
# Each phrasing is read this many times (other values, voices, speeds, digit forms).
READINGS = 2
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()  # noqa: SIM905
MONTHS = "January February March April May June July August September October November December".split()  # noqa: SIM905
NUMBER_TYPES = ("SSN", "CREDIT_DEBIT_NUMBER", "CREDIT_DEBIT_CVV", "PIN", "BANK_ACCOUNT_NUMBER", "BANK_ROUTING", "PHONE")


@dataclass(frozen=True)
class Utterance:
    id: str
    split: str
    type: str  # a redaction type, or ORDINARY
    template: int
    voice: str
    speed: int
    text: str
    digits: tuple[str, ...] = ()  # digit strings that must not survive (or, ORDINARY, must)
    words: tuple[str, ...] = ()  # words that must not survive


@dataclass(frozen=True)
class Pool:
    """The names, streets, cities and mail providers a split's values are drawn from."""

    first: tuple[str, ...]
    last: tuple[str, ...]
    streets: tuple[str, ...]
    suffixes: tuple[str, ...]
    cities: tuple[str, ...]
    providers: tuple[str, ...]


def _pool(first: str, last: str, streets: str, suffixes: str, cities: str, providers: str) -> Pool:
    return Pool(*(tuple(words.split()) for words in (first, last, streets, suffixes, cities, providers)))


FIRST_POOL = _pool(
    "Sarah Michael Priya Tomasz Aisha Daniel Mei Oluwaseun Grace Carlos Hannah Ivan Fatima Liam",
    "Johnson Okafor Schmidt Nakamura Garcia Kowalski Brennan Haddad Lindqvist Moreau Patel Ferreira",
    "Elm Maple Willow Harbor Cedar Birch Juniper Chestnut Orchard Linden",
    "Street Avenue Road Lane Drive Court",
    "Springfield Riverton Ashford Millbrook Fairview Kingsport Bramwell Oakdale",
    "gmail outlook yahoo protonmail hotmail",
)
POOLS = {
    "dev": FIRST_POOL,
    "test": FIRST_POOL,
    "dev2": _pool(
        "Rebecca Joseph Anil Marta Yusuf Laura Kenji Chloe Pedro Nadia Owen Sofia",
        "Williams Mensah Becker Tanaka Rossi Novak Murphy Khalil Andersson Dubois Singh Costa",
        "Poplar Sycamore Magnolia Hillcrest Lakeview Meadow Ridge Aspen",
        "Boulevard Way Place Terrace",
        "Greenville Lakewood Northfield Redmond Westbury Clayton",
        "icloud aol mail gmx",
    ),
    "dev3": _pool(
        "Emily Robert Deepa Piotr Zainab Thomas Yuki Olivia Mateo Elena Gareth Amara",
        "Brown Adeyemi Wagner Suzuki Bianchi Horvat Doyle Nasser Eriksson Laurent Gupta Silva",
        "Hawthorne Spruce Dogwood Riverside Sunset Valley Beacon Foxglove",
        "Street Avenue Road Parkway Circle",
        "Brookfield Easton Marlow Pinehurst Stanton Hollister",
        "gmail yahoo outlook comcast",
    ),
    "fresh": _pool(
        "Jessica William Ravi Agnieszka Omar Natalie Hiroshi Isabel Diego Irina Rhys Chiamaka",
        "Taylor Nwosu Fischer Yamamoto Romano Kovac Walsh Haddadi Lundgren Girard Sharma Pereira",
        "Laurel Cypress Alder Fairway Summit Holly Briar Mill",
        "Road Lane Drive Court Street",
        "Ridgewood Ashland Carver Dunmore Halstead Wexford",
        "gmail hotmail outlook yahoo",
    ),
    "dev4": _pool(
        "Megan Andrew Sunita Pawel Leila Benjamin Akiko Victoria Rafael Olga Dylan Ngozi",
        "Clarke Owusu Hoffmann Watanabe Greco Petrovic Byrne Saleh Nilsson Fontaine Reddy Almeida",
        "Larkspur Rosewood Kingfisher Oakmont Bluebell Heather Thornbury Wren",
        "Road Avenue Close Way Street",
        "Cedarville Glenwood Harrow Lindfield Moorcroft Ellsworth",
        "gmail fastmail zoho yahoo",
    ),
    "dev5": _pool(
        "Rachel Gregory Lakshmi Kasia Tariq Sophie Takeshi Amelia Joaquin Svetlana Bryn Adaeze",
        "Morrison Boateng Krause Kobayashi Ferrari Jovanovic Gallagher Mansour Berg Chevalier Iyer Ribeiro",
        "Primrose Elmwood Sparrow Ashgrove Marigold Fernhill Blackthorn Lindenwood",
        "Street Lane Crescent Road Avenue",
        "Maplewood Brighton Cresthaven Thornton Sheffield Langley",
        "gmail icloud protonmail mail",
    ),
    "fresh2": _pool(
        "Lauren Patrick Anjali Bartek Samira Nathan Haruka Charlotte Alejandro Tatiana Owain Ifeoma",
        "Harrison Asante Richter Matsumoto Esposito Markovic Kennedy Farouk Holm Lefebvre Menon Carvalho",
        "Pinecrest Goldfinch Hazel Woodbine Crabapple Stonebridge Lilac Mulberry",
        "Drive Street Road Lane Terrace",
        "Fernwood Oakhurst Bradford Kenton Ashbury Wilmington",
        "gmail outlook yahoo hotmail",
    ),
    "fresh3": _pool(
        "Hollie Marcus Deepika Zbigniew Yasmin Ethan Sakura Penelope Ignacio Ludmila Cai Chinwe",
        "Whitfield Darko Vogel Hayashi Marino Babic Quinn Aziz Strand Bertrand Pillai Monteiro",
        "Kestrel Bramble Foxhollow Brookside Quarry Saffron Tamarind Osprey",
        "Avenue Close Row Street Road",
        "Ambleside Northwood Castleford Pembury Westerly Dalton",
        "live btinternet rocketmail ymail",
    ),
    "fresh4": _pool(
        "Imogen Rowan Kavya Radoslaw Noor Callum Emiko Beatrice Santiago Oksana Eluned Obiageli",
        "Pemberton Acheampong Zimmermann Inoue Russo Kralj Donnelly Hakimi Sandberg Marchand Rao Azevedo",
        "Heron Thistle Sorrel Partridge Millstone Damson Bracken Larchwood",
        "Lane Street Grove Road Way",
        "Hexham Redcliff Otterburn Sandown Falmouth Ravenscar",
        "tutanota mailbox yandex posteo",
    ),
    "dev6": _pool("", "", "", "", "", ""),  # ordinary sentences only
    "fresh5": _pool(
        "Maisie Declan Harini Wojciech Layla Spencer Naoko Rosalind Esteban Galina Iestyn Nkechi",
        "Ashworth Appiah Hartmann Kimura Colombo Vukovic Flanagan Qureshi Ekman Rousseau Nair Barros",
        "Teasel Lapwing Coppice Kingsway Wheatfield Medlar Gorse Nightingale",
        "Road Lane Street Avenue Close",
        "Bideford Wolsingham Tenbury Keswick Alnmouth Stroud",
        "zohomail aim hushmail runbox",
    ),
    "fresh6": _pool(
        "Poppy Desmond Ishani Jaroslaw Hiba Griffin Mariko Clementine Lorenzo Veronika Tegid Uchenna",
        "Whitlock Ofori Brandt Fujita Moretti Simic Cullen Rahimi Lindgren Mercier Kapoor Duarte",
        "Bullfinch Yarrow Hornbeam Saltmarsh Cowslip Ivybridge Lambeth Tansy",
        "Road Lane Street Avenue Close",
        "Kirkby Ludlow Morpeth Helston Buxton Whitby",
        "mailfence disroot startmail orange",
    ),
    "fresh7": _pool(
        "Tamsin Everett Shreya Miroslav Rania Fergus Yoshiko Philippa Anselmo Darya Caradog Obinna",
        "Ainsworth Boakye Lehmann Okada Caruso Radic Keane Siddiqui Bergstrom Delacroix Hegde Tavares",
        "Wagtail Meadowsweet Blackcurrant Chalkpit Samphire Fieldfare Ropewalk Dunnock",
        "Road Lane Street Avenue Close",
        "Settle Penrith Tiverton Beverley Sedbergh Launceston",
        "lycos verizon talktalk sky",
    ),
    "fresh8": _pool(
        "Harriet Ambrose Nandini Stanislaw Yara Cormac Chiyo Ottoline Benicio Zoya Meirion Chidera",
        "Pickering Agyeman Seidel Morita Ricci Juric Hennessy Chaudhry Sjoberg Beaumont Kulkarni Mendes",
        "Harlow Goldcrest Sloeberry Tithebarn Coldharbour Plover Watermint Stonechat",
        "Road Lane Street Avenue Close",
        "Kendal Malton Ripon Bodmin Thirsk Hawes",
        "netzero earthlink juno bellsouth",
    ),
    "fresh9": _pool(
        "Florence Jasper Aditi Przemek Salma Rory Kaori Henrietta Gonzalo Yelena Dafydd Amarachi",
        "Fairbairn Quaye Brauer Ishikawa Galli Novotny Sheridan Karimi Wallin Garnier Bhatt Lacerda",
        "Hollyhock Peregrine Elderberry Cobbler Greylag Mossbank Sheepwash Buttercup",
        "Road Lane Street Avenue Close",
        "Skipton Clitheroe Wetherby Helmsley Tadcaster Leyburn",
        "tiscali ziggo seznam freenet",
    ),
    "fresh10": _pool(
        "Marguerite Kwame Ines Bogdan Soraya Finnegan Hyun Lucinda Emeka Anouk Tobias Parveen",
        "Okonkwo Halvorsen Castellano Mukherjee Drummond Szabo Lindholm Ahlberg Fitzgerald Takahashi Oyelaran Vasquez",
        "Honeysuckle Goldthorn Snowdrop Cornflower Wychwood Pennyroyal Redwing Lavender",
        "Road Street Lane Mews Gardens",
        "Ilkley Masham Otley Selby Driffield Bedale",
        "inbox laposte rediffmail sbcglobal",
    ),
}


def spoken_digits(digits: str, groups: tuple[int, ...], grouped: bool) -> str:
    """'4 5 3 2, 0 1 5 1' (one by one) or '45 32, 0 1 51' (pairs, a leading zero read alone)."""
    parts, at = [], 0
    for size in groups:
        chunk = digits[at : at + size]
        at += size
        if grouped:
            pairs = [chunk[i : i + 2] for i in range(0, len(chunk), 2)]
            parts.append(" ".join(" ".join(p) if p[0] == "0" or len(p) == 1 else p for p in pairs))
        else:
            parts.append(" ".join(chunk))
    return ", ".join(parts)


def _luhn(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _aba(rng: random.Random) -> str:
    body = "0" + "".join(rng.choice("0123456789") for _ in range(7))
    weights = (3, 7, 1, 3, 7, 1, 3, 7)
    return body + str((10 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 10) % 10)


def _number_value(kind: str, rng: random.Random) -> tuple[str, tuple[int, ...]]:
    """Digits of a value of `kind` and how a caller groups them."""
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if kind == "SSN":
        return f"{rng.randint(100, 665)}{rng.randint(10, 99)}{rng.randint(1000, 9999)}", (3, 2, 4)
    if kind == "CREDIT_DEBIT_NUMBER":
        return _luhn(rng.choice("45"), 16, rng), (4, 4, 4, 4)
    if kind == "CREDIT_DEBIT_CVV":
        return d(3), (3,)
    if kind == "PIN":
        return d(4), (4,)
    if kind == "BANK_ACCOUNT_NUMBER":
        n = rng.choice((8, 10, 12))
        return d(n), (n // 2, n - n // 2)
    if kind == "BANK_ROUTING":
        return _aba(rng), (3, 3, 3)
    return f"{rng.randint(2, 9)}{d(2)}{rng.randint(2, 9)}{d(2)}{d(4)}", (3, 3, 4)  # PHONE


def _value(
    kind: str, rng: random.Random, grouped: bool, pool: Pool = FIRST_POOL
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(spoken text, digits to check, words to check) of a fresh value of `kind`."""
    if kind in (
        "SSN",
        "CREDIT_DEBIT_NUMBER",
        "CREDIT_DEBIT_CVV",
        "PIN",
        "BANK_ACCOUNT_NUMBER",
        "BANK_ROUTING",
        "PHONE",
    ):
        digits, groups = _number_value(kind, rng)
        return spoken_digits(digits, groups, grouped), (digits,), ()
    if kind == "CREDIT_DEBIT_EXPIRY":
        month, year = rng.randint(1, 12), rng.randint(26, 33)
        text = f"{MONTHS[month - 1]} 20{year}" if grouped else f"{month:02d} slash {year}"
        return text, (f"{year}",) if grouped else (f"{month:02d}{year}",), (MONTHS[month - 1],) if grouped else ()
    if kind == "DATE_OF_BIRTH":
        month, day, year = rng.randint(1, 12), rng.randint(1, 28), rng.randint(1940, 2005)
        text = f"{MONTHS[month - 1]} {day}, {year}" if grouped else f"{month:02d} {day:02d} {year}"
        return text, (str(year),), (MONTHS[month - 1].lower(),) if grouped else ()
    if kind == "NAME":
        first, last = rng.choice(pool.first), rng.choice(pool.last)
        return f"{first} {last}", (), (first.lower(), last.lower())
    if kind == "ADDRESS":
        number, street, city = rng.randint(12, 980), rng.choice(pool.streets), rng.choice(pool.cities)
        return (
            f"{number} {street} {rng.choice(pool.suffixes)} in {city}",
            (str(number),),
            (street.lower(), city.lower()),
        )
    if kind == "EMAIL":
        first, last = rng.choice(pool.first).lower(), rng.choice(pool.last).lower()
        return f"{first} dot {last} at {rng.choice(pool.providers)} dot com", (), (first, last)
    if kind == "IBAN":
        digits = "".join(rng.choice("0123456789") for _ in range(18))
        return f"D E {spoken_digits(digits, (2, 4, 4, 4, 4), grouped)}", (digits,), ()
    octets = [rng.randint(10, 250) for _ in range(4)]  # IP
    return " dot ".join(map(str, octets)), ("".join(map(str, octets)),), ()


def _split_value(text: str) -> tuple[str, str]:
    parts = text.split(", ")
    if len(parts) < 2:
        words = text.split()
        return " ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])
    half = len(parts) // 2
    return ", ".join(parts[:half]), ", ".join(parts[half:])


def build_utterances(seed: int = 20) -> list[Utterance]:
    rng = random.Random(seed)
    out: list[Utterance] = []
    # Each round: its typed phrasings, then its ordinary sentences; the first half of each goes
    # to the first split. Rounds are drawn in the order they were written.
    rounds = (
        (TEMPLATES, ORDINARY, ("dev", "test")),
        (HELD_OUT, ORDINARY_HELD_OUT, ("dev2", "dev3")),
        (FRESH, ORDINARY_FRESH, ("fresh", "fresh")),
        (DEV4, ORDINARY_DEV4, ("dev4", "dev4")),
        (DEV5, ORDINARY_DEV5, ("dev5", "dev5")),
        (FRESH2, ORDINARY_FRESH2, ("fresh2", "fresh2")),
        (FRESH3, ORDINARY_FRESH3, ("fresh3", "fresh3")),
        (FRESH4, ORDINARY_FRESH4, ("fresh4", "fresh4")),
        (DEV6, ORDINARY_DEV6, ("dev6", "dev6")),
        (FRESH5, ORDINARY_FRESH5, ("fresh5", "fresh5")),
        (FRESH6, ORDINARY_FRESH6, ("fresh6", "fresh6")),
        (FRESH7, ORDINARY_FRESH7, ("fresh7", "fresh7")),
        (FRESH8, ORDINARY_FRESH8, ("fresh8", "fresh8")),
        (FRESH9, ORDINARY_FRESH9, ("fresh9", "fresh9")),
        (FRESH10, ORDINARY_FRESH10, ("fresh10", "fresh10")),
    )
    for typed, ordinary, splits in rounds:
        _typed(out, typed, splits, rng)
        _ordinary(out, ordinary, splits, rng)
    return out


def _typed(
    out: list[Utterance], typed: dict[str, tuple[str, ...]], splits: tuple[str, str], rng: random.Random
) -> None:
    for kind, templates in typed.items():
        for t_index, template in enumerate(templates):
            split = splits[0] if t_index < len(templates) // 2 else splits[1]
            for reading in range(READINGS):
                spoken, digits, words = _value(kind, rng, grouped=reading % 2 == 1, pool=POOLS[split])
                a, b = _split_value(spoken)
                text = template.format(v=spoken, a=a, b=b)
                out.append(_utterance(out, split, kind, t_index, text, digits, words, rng))


def _ordinary(out: list[Utterance], templates: tuple[str, ...], splits: tuple[str, str], rng: random.Random) -> None:
    for t_index, template in enumerate(templates):
        split = splits[0] if t_index < len(templates) // 2 else splits[1]
        for _ in range(READINGS):
            numbers = [str(rng.choice((rng.randint(2, 60), rng.randint(100, 999), rng.randint(1990, 2025))))]
            numbers += [str(rng.randint(2, 60)) for _ in range(template.count("{n}") - 1)]
            text = template.replace("{n}", "{}").format(*numbers)
            out.append(_utterance(out, split, "ORDINARY", t_index, text, tuple(numbers), (), rng))


def _utterance(out: list, split: str, kind: str, t_index: int, text: str, digits, words, rng) -> Utterance:  # noqa: ANN001
    voice = rng.choice(VOICES[split])
    speed = rng.choice(SPLIT_SPEEDS.get(split, SPEEDS))
    return Utterance(f"u{len(out):04d}", split, kind, t_index, voice, speed, text, tuple(digits), tuple(words))


def synthesize(utterances: list[Utterance], folder: Path) -> list[Path]:
    """One WAV per utterance (espeak-ng's own 22.05 kHz) in `folder`/SPLIT/; existing ones are kept."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng not found: apt-get install -y espeak-ng")
    for split in VOICES:
        (folder / split).mkdir(parents=True, exist_ok=True)

    def one(u: Utterance) -> Path:
        dest = folder / u.split / f"{u.id}.wav"
        if not dest.exists():
            tmp = dest.with_suffix(".tmp")
            subprocess.run(["espeak-ng", "-v", u.voice, "-s", str(u.speed), "-w", str(tmp), u.text], check=True)
            tmp.rename(dest)
        return dest

    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(one, utterances))
    (folder.parent / "corpus.jsonl").write_text("".join(json.dumps(asdict(u)) + "\n" for u in utterances))
    return paths
