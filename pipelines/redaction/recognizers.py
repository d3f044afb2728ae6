"""Presidio recognizers of voxray's own, built on the spaCy pipeline's entities.

An address said in a call is a house number and a place ("42 Juniper Lane in Ashford"). spaCy's
NER tags the place (GPE, FAC, LOC) even when Whisper garbled the words between, or the cue before
it ("I reside at" heard as "I decided"); the house number it tags CARDINAL, which is no PII by
itself. `HouseNumberRecognizer` joins the two: a number at most a few words before a place makes
one LOCATION from the number to the place.
"""

from __future__ import annotations

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

# spaCy's labels for places; Presidio maps GPE and LOC to LOCATION, and FAC (a building, a
# street: "Linden Drive") is mapped there too (pipelines/redaction/presidio.py).
PLACE = "LOCATION"
NUMBER_LABELS = ("CARDINAL", "QUANTITY")
# Words between a house number and the place: a street name and its kind, "in", a comma, or
# what Whisper made of them.
MAX_WORDS_BETWEEN = 5
MAX_HOUSE_DIGITS = 5
SCORE = 0.85  # Presidio's default score of a spaCy entity


class HouseNumberRecognizer(LocalRecognizer):
    """A number followed within MAX_WORDS_BETWEEN words by a place: one address (LOCATION)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=[PLACE], name="HouseNumberRecognizer", supported_language="en")

    def load(self) -> None:  # nothing to load: it reads the entities spaCy already found
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts) -> list[RecognizerResult]:
        if PLACE not in entities or nlp_artifacts is None:
            return []
        found = list(nlp_artifacts.entities)
        numbers = [e for e in found if e.label_ in NUMBER_LABELS] + _digit_tokens(nlp_artifacts.tokens)
        numbers.sort(key=lambda n: n.start)
        results = []
        for place in [e for e in found if e.label_ == PLACE] + _named_after_in(nlp_artifacts.tokens):
            before = [n for n in numbers if n.end <= place.start and _close(n, place)]
            if before:
                start = before[-1].start_char
                results.append(RecognizerResult(PLACE, start, place.end_char, SCORE))
        return results


def _digit_tokens(doc) -> list:  # noqa: ANN001 (a spaCy Doc)
    """House numbers spaCy put inside another entity ("Please 874 Sunset" as an ORGANIZATION,
    "830 Ridge" as a PERCENT, dev splits of the spoken-PII corpus): each digit token alone."""
    return [doc[t.i : t.i + 1] for t in doc if t.is_digit and len(t.text) <= MAX_HOUSE_DIGITS]


def _named_after_in(doc) -> list:  # noqa: ANN001 (a spaCy Doc)
    """A town NER did not know, in an address's shape: a number, proper nouns, "in" and a proper
    noun ("14 Linden in Fairam"). The town as a LOCATION-like span."""
    places = []
    for t in doc:
        if t.lower_ != "in" or t.i + 1 >= len(doc) or doc[t.i + 1].pos_ != "PROPN" or t.i < 2:
            continue
        k = t.i - 1
        while k > 0 and doc[k].pos_ == "PROPN" and doc[k].text[0].isupper():
            k -= 1
        if k < t.i - 1 and doc[k].is_digit:
            places.append(doc[t.i + 1 : t.i + 2])
    return places


def _close(number, place) -> bool:  # noqa: ANN001 (spaCy Spans)
    """Within MAX_WORDS_BETWEEN words, in one sentence; or the number ends its sentence (Whisper
    puts a full stop after a house number read alone: "five hundred and forty. Maple ...")."""
    doc = number.doc
    words = [t for t in doc[number.end : place.start] if not t.is_punct]
    breaks = sum(t.is_sent_start for t in doc[number.start + 1 : place.start + 1])
    after = doc[number.end] if number.end < len(doc) else None
    # A count of things ("2 offices in London"), a label's number ("flight 214 to Chicago"), or
    # a clause between ("the 3 of us went to Paris"): not a house number and its place.
    label = number.start > 0 and doc[number.start - 1].pos_ in ("NOUN", "PROPN")
    count = after is not None and after.tag_ in ("NNS", "NNPS")
    if label or count or any(t.pos_ == "VERB" for t in doc[number.end : place.start]):
        return False
    ends_sentence = after is not None and after.text == "."
    # Something besides "in" between: a street's name ("42 in Paris" is a count, as in "3 in Paris").
    named = any(t.pos_ != "ADP" for t in words) or ends_sentence
    return named and len(words) <= MAX_WORDS_BETWEEN and (breaks == 0 or (breaks == 1 and ends_sentence))
