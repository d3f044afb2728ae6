"""The spoken-PII corpus (tools/bench/pii_corpus.py) stays what the recorded numbers were measured
on: adding a split must leave every earlier utterance byte-identical, and a new split's voices,
names, streets, cities and providers must be its own (no espeak-ng or audio needed)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import pytest

from tools.bench.pii_corpus import POOLS, VOICES, build_utterances

# sha256 of the JSON of every utterance of the splits before dev4 (seed 20), in order.
EARLIER_SPLITS_DIGEST = "28e1e10b88d1860f43d7148f45d48305cdfe274030839ce46f85c0f7fc011531"
EARLIER = ("dev", "test", "dev2", "dev3", "fresh")


def test_earlier_splits_are_unchanged() -> None:
    earlier = [asdict(u) for u in build_utterances(20) if u.split in EARLIER]
    assert hashlib.sha256(json.dumps(earlier).encode()).hexdigest() == EARLIER_SPLITS_DIGEST


def test_dev4_has_voices_and_values_of_its_own() -> None:
    assert not set(VOICES["dev4"]) & {v for s in EARLIER for v in VOICES[s]}
    others = [POOLS[s] for s in EARLIER]
    for field in ("first", "last", "streets", "cities"):
        mine = set(getattr(POOLS["dev4"], field))
        assert not mine & {w for p in others for w in getattr(p, field)}, field
    dev4 = [u for u in build_utterances(20) if u.split == "dev4"]
    assert len(dev4) == 152 and len({u.text for u in dev4}) == len(dev4)


# sha256 of the JSON of dev4's utterances (seed 20): the fifth round is drawn after it.
DEV4_DIGEST = "8cd2a3eb576ffb7c0bbfc8d04a50217dc7bec55d26512a2ecbd5998fb4581849"


def test_dev4_is_unchanged() -> None:
    dev4 = [asdict(u) for u in build_utterances(20) if u.split == "dev4"]
    assert hashlib.sha256(json.dumps(dev4).encode()).hexdigest() == DEV4_DIGEST


def test_fifth_round_has_voices_and_values_of_its_own() -> None:
    earlier = (*EARLIER, "dev4")
    utterances = build_utterances(20)
    for split in ("dev5", "fresh2"):
        others = [s for s in (*earlier, "dev5", "fresh2") if s != split]
        assert not set(VOICES[split]) & {v for s in others for v in VOICES[s]}, split
        for field in ("first", "last", "streets", "cities"):
            mine = set(getattr(POOLS[split], field))
            assert not mine & {w for s in others for w in getattr(POOLS[s], field)}, (split, field)
        mine = [u for u in utterances if u.split == split]
        assert len(mine) == 152 and len({u.text for u in mine}) == len(mine), split


# sha256 of the JSON of dev5's and fresh2's utterances (seed 20): the sixth round is drawn after.
FIFTH_ROUND_DIGESTS = {
    "dev5": "f79dfa2a442e88a760e2335044d5bbbf82f3904c4c7f44bb6cd13ca6aa07eb19",
    "fresh2": "532ce1f044445e2eafdbb563dd5a997bdf35b5af84a16cc65cf1c200669ec745",
}


def test_fifth_round_is_unchanged() -> None:
    utterances = build_utterances(20)
    for split, digest in FIFTH_ROUND_DIGESTS.items():
        mine = [asdict(u) for u in utterances if u.split == split]
        assert hashlib.sha256(json.dumps(mine).encode()).hexdigest() == digest, split


# sha256 of the JSON of fresh3's to fresh9's utterances (seed 20): later splits are
# drawn after.
LATER_DIGESTS = {
    "fresh3": "378b8f869989d67f7f57da34fb20894e4cdc02450b1bf5f3518746819b942414",
    "fresh4": "87acfe8766d1886b82019e94ced694c67b70401384ae96572786af8a62b31af9",
    "fresh5": "0dae1d83e833e793312425b7a0245370a092fd8e8757f85b426c6d69cf0c770d",
    "fresh6": "15b825a4c8bc18c04ebd8a223013a9de1e76f943b75492075426d286a0e37f4c",
    "fresh7": "36f0f5e3ba3109b53cdef741a52a864a4b266f41380136386eec6e39b6d2da62",
    "fresh8": "3e6f22764f79fe50d4a4ed997a843c77fcf41187052b26262e2454fc451d9d06",
    "fresh9": "e5b380275b3a8d0261c9e5b5b01a99a87eca300d5433cff588a310c40630e545",
}


@pytest.mark.parametrize(("split", "digest"), LATER_DIGESTS.items())
def test_later_splits_are_unchanged(split: str, digest: str) -> None:
    mine = [asdict(u) for u in build_utterances(20) if u.split == split]
    assert hashlib.sha256(json.dumps(mine).encode()).hexdigest() == digest


@pytest.mark.parametrize(
    ("split", "clips", "ordinary"),
    [
        ("fresh3", 180, 30),
        ("fresh4", 188, 40),
        ("fresh5", 196, 50),
        ("fresh6", 196, 50),
        ("fresh7", 200, 60),
        ("fresh8", 200, 60),
        ("fresh9", 204, 64),
        ("fresh10", 212, 72),
    ],
)
def test_acceptance_split_has_voices_values_and_ordinary_sentences_of_its_own(
    split: str, clips: int, ordinary: int
) -> None:
    others = [s for s in VOICES if s != split]
    assert not set(VOICES[split]) & {v for s in others for v in VOICES[s]}
    for field in ("first", "last", "streets", "cities", "providers"):
        mine = set(getattr(POOLS[split], field))
        assert not mine & {w for s in others for w in getattr(POOLS[s], field)}, field
    utterances = [u for u in build_utterances(20) if u.split == split]
    assert len(utterances) == clips and len({u.text for u in utterances}) == len(utterances)
    assert sum(u.type == "ORDINARY" for u in utterances) >= ordinary
