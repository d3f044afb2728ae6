"""PII redaction of transcript rows (runs in CPU tasks, never the driver).

Each detected entity is replaced by a tag such as `[SSN]` in `text`, in every segment's text and
in the words it covers; the row gets a `redactions` list (type, times, character offsets in the
redacted `text`) that never holds the original value.

Three finders, their spans merged:
- Microsoft Presidio's pattern recognizers (cards with their Luhn check, phone numbers, e-mail,
  US SSN, IBAN, IP) on the transcript with spoken forms rewritten (pipelines/redaction/spoken.py),
  plus long digit runs whatever their checksum (transcription errors break checksums);
- Presidio's spaCy NER (names, places) on the pinned offline pipeline (pipelines/redaction/ner.py);
- cue rules: the value after "social security number", "PIN", "expires", "my name is", ...,
  however partial (pipelines/redaction/cues.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pipelines.redaction.context import ContextHit, find_after_cues
from pipelines.redaction.cues import (
    CUES,
    find_card_face_years,
    find_chains,
    find_dates,
    find_domains,
    find_expiry,
    find_houses,
    find_speakers,
    find_streets,
)
from pipelines.redaction.digits import DIGITS_ENTITY, find_numbers, named, ranged, said_number
from pipelines.redaction.entities import PII
from pipelines.redaction.neighbours import widen
from pipelines.redaction.numerals import Rewritten
from pipelines.redaction.ordinary import introduced_at
from pipelines.redaction.settings import RedactConfig
from pipelines.redaction.shapes import find_house_shapes, find_quads
from pipelines.redaction.spoken import is_amount, normalize, read_out
from pipelines.redaction.syntax import counts_noun, number_tokens
from pipelines.redaction.values import digit_string
from pipelines.redaction.window import WINDOW_CUES

# A run of this many digits is redacted whatever its checksum (see the module docstring).
MIN_DIGITS = 5
# ... and whatever the words around it, from this many (a phone number without its area code):
# a shorter run is judged by the digit policy when that reads it as an ordinary number, if it
# was said as one number, or one and a word glued on ("600 12", "2020, one"): digits read out in
# groups or one by one are a code (nobody says a quantity "8-0, 7-8-0-9").
MIN_VALUE_DIGITS = 7
MAX_NUMBER_GROUPS = 2
# Presidio's entity names for voxray's (AWS Transcribe's) types.
PRESIDIO = {
    "SSN": "US_SSN",
    "CREDIT_DEBIT_NUMBER": "CREDIT_CARD",
    "PHONE": "PHONE_NUMBER",
    "EMAIL": "EMAIL_ADDRESS",
    "IBAN": "IBAN_CODE",
    "IP": "IP_ADDRESS",
    "NAME": "PERSON",
    "ADDRESS": "LOCATION",
}
_FROM_PRESIDIO = {v: k for k, v in PRESIDIO.items()}
_NEEDS_NER = ("PERSON", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION")
# When hits overlap, the merged span takes the first of these types it covers.
_RANK = PII


@dataclass(frozen=True)
class Hit:
    type: str
    start: int  # character offsets in the text that was analysed
    end: int
    # Which finder's type wins when hits overlap: a cue's (0) says more than a pattern's (1),
    # which says more than a digit count's or NER's (2), which says more than the digit policy's (3).
    rank: int = 1


@lru_cache(maxsize=4)
def analyzer(spacy_model: str):  # -> presidio_analyzer.AnalyzerEngine
    """One analyzer per process (a Ray worker keeps it between tasks); no network access."""
    import tldextract.tldextract
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.nlp_engine.ner_model_configuration import MODEL_TO_PRESIDIO_ENTITY_MAPPING

    from pipelines.redaction.ner import load
    from pipelines.redaction.recognizers import NUMBER_LABELS, HouseNumberRecognizer

    # Presidio's e-mail check calls tldextract, which downloads the public suffix list when it can;
    # its bundled snapshot is enough and keeps workers off the network.
    tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls = ()
    nlp = load(spacy_model)
    # A facility (FAC: "Linden Drive") is a place too; numbers keep their own labels (no
    # PII themselves, HouseNumberRecognizer reads them).
    mapping = {**MODEL_TO_PRESIDIO_ENTITY_MAPPING, "FAC": "LOCATION", **{n: n for n in NUMBER_LABELS}}
    ner = NerModelConfiguration(model_to_presidio_entity_mapping=mapping)
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": spacy_model}], ner_model_configuration=ner)
    engine.nlp = {"en": nlp}
    engine_analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    engine_analyzer.registry.add_recognizer(HouseNumberRecognizer())
    digits = Pattern(DIGITS_ENTITY, rf"\b\d[\d-]{{{MIN_DIGITS - 2},}}\d\b", 0.5)
    engine_analyzer.registry.add_recognizer(PatternRecognizer(DIGITS_ENTITY, patterns=[digits]))
    return engine_analyzer


def find(text: str, config: RedactConfig) -> list[Hit]:
    """Entities in `text`, as non-overlapping spans of `text` (spoken forms included)."""
    if not text.strip():
        return []
    norm = normalize(text)
    # One parse for Presidio's recognizers and for the counts the digit policy leaves alone.
    artifacts = analyzer(config.spacy_model).nlp_engine.process_text(norm.text, "en")
    numbers = number_tokens(artifacts.tokens, norm.original_span)
    # A number the digit policy redacts says least about its type: any other finder's wins. One
    # that the parse makes the count of a noun after it is no value ("five hundred very
    # different staff"); `strict` redacts it all the same.
    policy = [h for h in find_numbers(text, config.digits) if not _counts(h, numbers, config.digits)]
    hits = _presidio_hits(text, norm, artifacts, config, policy)
    # A code read out in groups without a cue: the length of a PIN ("2 to 3 miles" is a range).
    # A label before it makes it the label's number, however it was read ("room twelve oh five",
    # "flight twenty-one fourteen"); a cue still reaches it (the cue rules below).
    hits += [Hit("PIN", r.start, r.end, 2) for r in read_out(text) if not _label_or_range(text, r.start, r.end)]
    counting = tuple(span for span, counts in numbers.items() if counts)
    found = (*find_after_cues(text, (*CUES, *WINDOW_CUES), counting), *find_domains(text), *find_dates(text))
    found = (*found, *find_streets(text))
    found = (*found, *find_expiry(text), *find_card_face_years(text), *find_speakers(text))
    for h in (*found, *find_houses(text), *find_chains(text)):
        # A bare "number" cue says nothing of the type: the digit count does.
        kind = _digits_type(text[h.start : h.end]) if h.type == DIGITS_ENTITY else h.type
        hits.append(Hit(kind, h.start, h.end, 2 if h.type == DIGITS_ENTITY else 0))
    # Values known by their shape alone (pipelines/redaction/shapes.py): a pattern's rank.
    hits += [Hit(h.type, h.start, h.end) for h in (*find_quads(text), *find_house_shapes(text))]
    hits += [Hit(_digits_type(text[h.start : h.end]), h.start, h.end, 3) for h in policy]
    hits = [Hit(h.type, *widen(text, h.type, h.start, h.end), h.rank) for h in hits]
    return _merge([h for h in hits if h.type in config.entities])


def _label_or_range(text: str, start: int, end: int) -> bool:
    return named(text[:start]) or ranged(text, start, end)


def _counts(hit: ContextHit, numbers: dict[tuple[int, int], bool], policy: str) -> bool:
    return policy == "ordinary" and hit.type == DIGITS_ENTITY and counts_noun(hit.start, hit.end, numbers)


def _presidio_hits(
    text: str, norm: Rewritten, artifacts: Any, config: RedactConfig, policy: list[ContextHit]
) -> list[Hit]:
    wanted = {PRESIDIO.get(e, e) for e in config.entities} | {DIGITS_ENTITY}
    if not config.uses_ner:
        wanted -= set(_NEEDS_NER)
    results = analyzer(config.spacy_model).analyze(
        norm.text,
        language="en",
        entities=sorted(wanted),
        score_threshold=config.score_threshold,
        nlp_artifacts=artifacts,
    )
    hits = []
    for r in results:
        if r.entity_type == DIGITS_ENTITY and is_amount(norm.text, r.start, r.end):
            continue
        # "took the number 1706 to": "1706 to" is five digits to the pattern, a bus to a caller.
        if r.entity_type == DIGITS_ENTITY and introduced_at(text, *norm.original_span(r.start, r.end)) is not None:
            continue
        if _policy_keeps(text, *norm.original_span(r.start, r.end), r.entity_type, config, policy):
            continue
        kind = _digits_type(norm.text[r.start : r.end]) if r.entity_type == DIGITS_ENTITY else r.entity_type
        rank = 2 if r.entity_type == DIGITS_ENTITY or r.entity_type in _NEEDS_NER else 1
        hits.append(Hit(_FROM_PRESIDIO.get(kind, kind), *norm.original_span(r.start, r.end), rank))
    return hits


def _policy_keeps(text: str, start: int, end: int, kind: str, config: RedactConfig, policy: list[ContextHit]) -> bool:
    """Whether the digit policy's verdict stands for a number a pattern found: a range of any
    length ("1900 to 1997", laid out as an SSN), or a long run whose length came only from the
    way it was read (homophones at its ends, a round hundred and its rest, a number word glued
    on: "runs to 600 12 pages", "Level 2020, one of the car park", "page 1900-97"), that the
    policy keeps as a labelled number, a count, a year or an amount. A run of MIN_VALUE_DIGITS or
    more that is no range is a value whatever its words."""
    if config.digits != "ordinary" or any(h.start < end and start < h.end for h in policy):
        return False
    if ranged(text, start, end):
        return True
    said = said_number(text, start, end)
    return kind == DIGITS_ENTITY and len(said.digits) < MIN_VALUE_DIGITS and said.groups <= MAX_NUMBER_GROUPS


def _digits_type(value: str) -> str:
    """A digit run said without a cue of its own, typed by its length."""
    count = len(digit_string(value))
    if count == 3:
        return "CREDIT_DEBIT_CVV"
    if count == 4:
        return "PIN"
    if count == 9:
        return "SSN"
    if count in (10, 11):
        return "PHONE"
    if 13 <= count <= 19:
        return "CREDIT_DEBIT_NUMBER"
    return "BANK_ACCOUNT_NUMBER"


def _merge(hits: list[Hit]) -> list[Hit]:
    """Overlapping hits become one span, typed by the best-ranked finder (then by `_RANK`)."""
    merged: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if merged and hit.start < merged[-1].end:
            last = merged[-1]
            best = min(last, hit, key=lambda h: (h.rank, _rank(h.type)))
            merged[-1] = Hit(best.type, last.start, max(last.end, hit.end), best.rank)
        else:
            merged.append(hit)
    return merged


def _rank(kind: str) -> int:
    return _RANK.index(kind) if kind in _RANK else len(_RANK)


def tag(kind: str) -> str:
    return f"[{kind}]"


def redact_row(row: dict[str, Any], config: RedactConfig) -> dict[str, Any]:
    """The row with PII replaced by tags in text, segments and words, and its `redactions` list.

    The whole transcript is analysed at once (an entity may run across segments), then each hit is
    cut back into the segments it covers: the first piece of a hit carries the tag, later pieces
    are emptied. Word times give each hit its time span (segment times where words are missing).
    """
    segments = row.get("segments") or []
    if row.get("status") != "ok" or not segments:
        return {**row, "redactions": []}
    # The row's text is the segments' texts joined and stripped; analyse exactly that layout.
    joined = "".join(s["text"] for s in segments)
    hits = find(joined, config)
    if not hits:
        return {**row, "redactions": []}
    bounds, pos = [], 0
    for s in segments:
        bounds.append((pos, pos + len(s["text"])))
        pos += len(s["text"])
    edits: dict[int, list[tuple[int, int, str]]] = {}  # segment index -> (start, end, replacement)
    times: list[list[float]] = [[] for _ in hits]
    for h_index, hit in enumerate(hits):
        covered = [(i, max(hit.start, s0), min(hit.end, s1)) for i, (s0, s1) in enumerate(bounds)]
        covered = [(i, start, end) for i, start, end in covered if start < end]
        for n, (i, start, end) in enumerate(covered):
            s0 = bounds[i][0]
            edits.setdefault(i, []).append((start - s0, end - s0, tag(hit.type) if n == 0 else ""))
            times[h_index].extend(_span_times(segments[i], start - s0, end - s0))
    new_segments = [_apply(seg, edits[i]) if i in edits else seg for i, seg in enumerate(segments)]
    text = "".join(s["text"] for s in new_segments).strip()
    redactions, cursor = [], 0
    for hit, span in zip(hits, times, strict=True):
        at = text.find(tag(hit.type), cursor)
        cursor = at + len(tag(hit.type))
        redactions.append({"type": hit.type, "start_s": min(span), "end_s": max(span), "start": at, "end": cursor})
    return {**row, "text": text, "segments": new_segments, "redactions": redactions}


def _apply(segment: dict[str, Any], edits: list[tuple[int, int, str]]) -> dict[str, Any]:
    text = segment["text"]
    out, pos = [], 0
    for start, end, replacement in sorted(edits):
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    words = segment.get("words")
    if words:
        words = _redact_words(words, text, edits)
    return {**segment, "text": "".join(out), "words": words}


def _word_bounds(words: list[dict[str, Any]], text: str) -> list[tuple[int, int]]:
    """Where each word sits in its segment's text (words concatenate to the text in Whisper)."""
    bounds, pos = [], 0
    for w in words:
        at = text.find(w["word"].strip(), pos) if w["word"].strip() else pos
        if at < 0:
            at = pos
        end = at + len(w["word"].strip())
        bounds.append((at, end))
        pos = end
    return bounds


def _redact_words(words: list[dict[str, Any]], text: str, edits: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """Words inside a hit: the first carries the hit's tag, the others are emptied (times kept)."""
    out, tagged = [], set()
    for w, (w0, w1) in zip(words, _word_bounds(words, text), strict=True):
        edit = next(((s, e, r) for s, e, r in edits if w0 < e and s < w1), None)
        if edit is None:
            out.append(w)
        elif edit in tagged or not edit[2]:
            out.append({**w, "word": ""})
        else:
            tagged.add(edit)
            out.append({**w, "word": " " + edit[2]})
    return out


def _span_times(segment: dict[str, Any], start: int, end: int) -> list[float]:
    words = segment.get("words")
    if not words:
        return [segment["start"], segment["end"]]
    hit = [
        w for w, (w0, w1) in zip(words, _word_bounds(words, segment["text"]), strict=True) if w0 < end and start < w1
    ]
    if not hit:
        return [segment["start"], segment["end"]]
    return [min(w["start"] for w in hit), max(w["end"] for w in hit)]
