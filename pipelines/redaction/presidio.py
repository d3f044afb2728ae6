"""PII redaction of transcript rows with Microsoft Presidio (runs in CPU tasks, never the driver).

Each detected entity is replaced by a tag such as `[CREDIT_CARD]` in `text`, in every segment's
text and in the words it covers; the row gets a `redactions` list (type, times, character offsets
in the redacted `text`) that never holds the original value.

Presidio's pattern recognizers (credit cards with their Luhn check, phone numbers, e-mail, US SSN,
IBAN, IP addresses) need no language model: they run on spaCy's `blank:en` pipeline, which ships
with spaCy. Entities found by NER (PERSON, LOCATION, ...) need a trained spaCy pipeline installed
by the user (`RedactConfig.spacy_model`); none is bundled, because spaCy's models are not on PyPI.
Transcription errors break checksums (a 16-digit card read aloud rarely comes back Luhn-valid), so
long digit runs are redacted as DIGITS whatever their checksum.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pipelines.config import RedactConfig
from pipelines.redaction.context import find_after_cues
from pipelines.redaction.cues import CUES
from pipelines.redaction.entities import DIGITS_ENTITY, PII
from pipelines.redaction.spoken import normalize

# A run of this many digits is redacted whatever its checksum (see the module docstring).
MIN_DIGITS = 7
# When hits overlap, the merged span takes the first of these types it covers.
_RANK = (*PII[:-1], DIGITS_ENTITY)


@dataclass(frozen=True)
class Hit:
    type: str
    start: int  # character offsets in the text that was analysed
    end: int


@lru_cache(maxsize=4)
def analyzer(spacy_model: str):  # -> presidio_analyzer.AnalyzerEngine
    """One analyzer per process (a Ray worker keeps it between tasks); no network access."""
    import spacy
    import tldextract.tldextract
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    # Presidio's e-mail check calls tldextract, which downloads the public suffix list when it can;
    # its bundled snapshot is enough and keeps workers off the network.
    tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls = ()
    if spacy_model.startswith("blank:"):
        nlp = spacy.blank(spacy_model.split(":", 1)[1])
    elif spacy.util.is_package(spacy_model):
        nlp = spacy.load(spacy_model)
    else:
        # Presidio would try to download it; voxray never downloads at run time.
        raise ValueError(f"spaCy model {spacy_model!r} is not installed (redact.spacy_model)")
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": spacy_model}])
    engine.nlp = {"en": nlp}
    engine_analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    digits = Pattern(DIGITS_ENTITY, rf"\b\d[\d-]{{{MIN_DIGITS - 2},}}\d\b", 0.5)
    engine_analyzer.registry.add_recognizer(PatternRecognizer(DIGITS_ENTITY, patterns=[digits]))
    return engine_analyzer


def find(text: str, config: RedactConfig) -> list[Hit]:
    """Entities in `text`, as non-overlapping spans of `text` (spoken forms included)."""
    if not text.strip():
        return []
    norm = normalize(text)
    results = analyzer(config.spacy_model).analyze(
        norm.text, language="en", entities=list(config.entities), score_threshold=config.score_threshold
    )
    hits = [Hit(r.entity_type, *norm.original_span(r.start, r.end)) for r in results]
    cues = tuple(c for c in CUES if c.type in config.entities)
    hits += [Hit(h.type, h.start, h.end) for h in find_after_cues(text, cues)]
    return _merge(hits)


def _merge(hits: list[Hit]) -> list[Hit]:
    """Overlapping hits become one span, typed by the first recognizer ranked in `_RANK`."""
    merged: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if merged and hit.start < merged[-1].end:
            last = merged[-1]
            kind = min(last.type, hit.type, key=_rank)
            merged[-1] = Hit(kind, last.start, max(last.end, hit.end))
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
