"""A spoken-PII corpus read by espeak-ng (apt-get install -y espeak-ng): every redactable
type in twelve phrasings (tools/bench/pii_templates.py), eight voices at three speeds,
digits read one by one or in groups, values split across two sentences, and sentences with
ordinary numbers that must stay.

Dev and test differ in both phrasing and voice: the first six phrasings of each type with the
first four voices are dev, the last six with the last four voices are test. Seeded: the same
seed gives the same utterances.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.bench.pii_templates import ORDINARY, TEMPLATES

VOICES = {
    "dev": ("en-us", "en-gb+f3", "en-gb-x-gbclan+m3", "en-029+f2"),
    "test": ("en-us-nyc+f4", "en-gb-x-rp", "en-gb-scotland+m7", "en-gb-x-gbcwmd+f1"),
}
SPEEDS = (135, 155, 175)  # espeak-ng words per minute
# Each phrasing is read this many times (other values, voices, speeds, digit forms).
READINGS = 2
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()  # noqa: SIM905
FIRST = "Sarah Michael Priya Tomasz Aisha Daniel Mei Oluwaseun Grace Carlos Hannah Ivan Fatima Liam".split()  # noqa: SIM905
LAST = "Johnson Okafor Schmidt Nakamura Garcia Kowalski Brennan Haddad Lindqvist Moreau Patel Ferreira".split()  # noqa: SIM905
STREETS = "Elm Maple Willow Harbor Cedar Birch Juniper Chestnut Orchard Linden".split()  # noqa: SIM905
SUFFIXES = "Street Avenue Road Lane Drive Court".split()  # noqa: SIM905
CITIES = "Springfield Riverton Ashford Millbrook Fairview Kingsport Bramwell Oakdale".split()  # noqa: SIM905
MONTHS = "January February March April May June July August September October November December".split()  # noqa: SIM905
NUMBER_TYPES = ("SSN", "CREDIT_DEBIT_NUMBER", "CREDIT_DEBIT_CVV", "PIN", "BANK_ACCOUNT_NUMBER", "BANK_ROUTING", "PHONE")
PROVIDERS = ("gmail", "outlook", "yahoo", "protonmail", "hotmail")


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


def _value(kind: str, rng: random.Random, grouped: bool) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
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
        first, last = rng.choice(FIRST), rng.choice(LAST)
        return f"{first} {last}", (), (first.lower(), last.lower())
    if kind == "ADDRESS":
        number, street, city = rng.randint(12, 980), rng.choice(STREETS), rng.choice(CITIES)
        return f"{number} {street} {rng.choice(SUFFIXES)} in {city}", (str(number),), (street.lower(), city.lower())
    if kind == "EMAIL":
        first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower()
        return f"{first} dot {last} at {rng.choice(PROVIDERS)} dot com", (), (first, last)
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
    for kind, templates in TEMPLATES.items():
        for t_index, template in enumerate(templates):
            split = "dev" if t_index < len(templates) // 2 else "test"
            for reading in range(READINGS):
                spoken, digits, words = _value(kind, rng, grouped=reading % 2 == 1)
                a, b = _split_value(spoken)
                text = template.format(v=spoken, a=a, b=b)
                out.append(_utterance(out, split, kind, t_index, text, digits, words, rng))
    for t_index, template in enumerate(ORDINARY):
        split = "dev" if t_index < len(ORDINARY) // 2 else "test"
        for _ in range(READINGS):
            numbers = [str(rng.choice((rng.randint(2, 60), rng.randint(100, 999), rng.randint(1990, 2025))))]
            numbers += [str(rng.randint(2, 60)) for _ in range(template.count("{n}") - 1)]
            text = template.replace("{n}", "{}").format(*numbers)
            out.append(_utterance(out, split, "ORDINARY", t_index, text, tuple(numbers), (), rng))
    return out


def _utterance(out: list, split: str, kind: str, t_index: int, text: str, digits, words, rng) -> Utterance:  # noqa: ANN001
    voice = rng.choice(VOICES[split])
    speed = rng.choice(SPEEDS)
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
