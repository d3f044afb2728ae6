"""Entity types voxray can redact, and what `--redact pii` means."""

from __future__ import annotations

# Presidio's pattern recognizers: they need no language model (spaCy's blank pipeline will do).
PATTERN_ENTITIES = ("CREDIT_CARD", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN", "IBAN_CODE", "IP_ADDRESS")
# voxray's own: a long run of digits read aloud (transcription errors break card checksums).
DIGITS_ENTITY = "DIGITS"
# Presidio's entities found by NER; they need a trained spaCy pipeline (RedactConfig.spacy_model).
NER_ENTITIES = ("PERSON", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION")
PII = (*PATTERN_ENTITIES, DIGITS_ENTITY)
KNOWN = (*PII, *NER_ENTITIES)


def parse_entities(value: str) -> tuple[str, ...]:
    """`pii`, or a comma-separated list of entity types (`CREDIT_CARD,EMAIL_ADDRESS`)."""
    names: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        names.extend(PII if part.lower() == "pii" else [part.upper()])
    return tuple(dict.fromkeys(names))
