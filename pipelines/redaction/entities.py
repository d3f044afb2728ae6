"""Entity types voxray can redact (AWS Transcribe's names), and what `--redact pii` means."""

from __future__ import annotations

# Every type AWS Transcribe redacts, plus IBAN, DATE_OF_BIRTH and IP; `pii` is all of them.
PII = (
    "BANK_ACCOUNT_NUMBER",
    "BANK_ROUTING",
    "CREDIT_DEBIT_NUMBER",
    "CREDIT_DEBIT_CVV",
    "CREDIT_DEBIT_EXPIRY",
    "PIN",
    "EMAIL",
    "ADDRESS",
    "NAME",
    "PHONE",
    "SSN",
    "IBAN",
    "DATE_OF_BIRTH",
    "IP",
)
# Found by a trained spaCy pipeline (RedactConfig.spacy_model) besides cue rules.
NER_TYPES = ("NAME", "ADDRESS")
# Presidio's NER types that are not PII by themselves; redacted only when asked for by name.
EXTRA_NER = ("NRP", "DATE_TIME", "ORGANIZATION")
KNOWN = (*PII, *EXTRA_NER)
# Names voxray used before AWS's (Presidio's, and DIGITS for a long digit run): still accepted.
LEGACY = {
    "CREDIT_CARD": ("CREDIT_DEBIT_NUMBER",),
    "PHONE_NUMBER": ("PHONE",),
    "EMAIL_ADDRESS": ("EMAIL",),
    "US_SSN": ("SSN",),
    "IBAN_CODE": ("IBAN",),
    "IP_ADDRESS": ("IP",),
    "PERSON": ("NAME",),
    "LOCATION": ("ADDRESS",),
    # A long digit run is typed by its length now (SSN, PHONE, card or account number).
    "DIGITS": ("SSN", "PHONE", "CREDIT_DEBIT_NUMBER", "BANK_ACCOUNT_NUMBER"),
}


def parse_entities(value: str) -> tuple[str, ...]:
    """`pii`, or a comma-separated list of types (`SSN,EMAIL`); unknown names raise ValueError."""
    names: list[str] = []
    unknown: list[str] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        upper = part.upper()
        if part.lower() == "pii":
            names.extend(PII)
        elif upper in LEGACY:
            names.extend(LEGACY[upper])
        elif upper in KNOWN:
            names.append(upper)
        else:
            unknown.append(part)
    if unknown:
        raise ValueError(f"--redact: unknown entity types {unknown}; known: pii, {', '.join(KNOWN)}")
    return tuple(dict.fromkeys(names))
