"""Counts read from the parse of the spaCy pipeline the analyzer already runs.

The digit policy (pipelines/redaction/digits.py) redacts a number of 3+ digits that no word next
to it calls ordinary. tiny.en often writes the counted noun singular, garbled or behind describing
words ("three hundred ninety two parking station", "five hundred very different staff"), where
the word rules (numerals.counted_phrase: a plural or a unit within two words) see nothing. The
dependency parse still makes such a number the `nummod` of the noun it counts; a value read out
is a verb's object or the attribute of "is" ("My PIN is 4521", "I type 4521 at the ATM").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# How many tokens may stand between a number and the noun it counts ("very different").
MAX_NOUN_GAP = 3
# Nouns that name a value rather than count things: "4521 number", "737 code" are values.
VALUE_NOUNS = frozenset(
    "number code pin passcode password card account extension digit cvv cvc ssn social routing iban ip".split()  # noqa: SIM905
)
# Number tokens chained to the one that modifies the noun ("five" -> "hundred" -> "staff").
_NUMBER_LINKS = frozenset(("compound", "quantmod", "nummod", "conj", "cc"))
Span = tuple[int, int]


def number_tokens(doc: Any, original_span: Callable[[int, int], Span]) -> dict[Span, bool]:
    """Every number token of `doc`, by its span in the original text (through `original_span`):
    whether it counts a common noun after it. Empty without a parser (a `blank:` pipeline)."""
    if not doc.has_annotation("DEP"):
        return {}
    return {original_span(t.idx, t.idx + len(t.text)): _counted_noun(t) is not None for t in doc if t.pos_ == "NUM"}


def counts_noun(start: int, end: int, numbers: dict[Span, bool]) -> bool:
    """Whether the number said at [start, end) counts a noun: every number token inside it does."""
    inside = [counting for (s, e), counting in numbers.items() if start <= s and e <= end]
    return bool(inside) and all(inside)


def _top(tok: Any) -> Any | None:
    """The number word of `tok`'s chain that modifies a noun ("five" -> "hundred" in "five
    hundred staff"), or None."""
    top = tok
    for _ in range(6):
        if top.dep_ == "nummod" and top.head.pos_ == "NOUN":
            return top
        if top.dep_ not in _NUMBER_LINKS or top.head.pos_ != "NUM" or top.head.i == top.i:
            return None
        top = top.head
    return None


def _counted_noun(tok: Any) -> Any | None:
    """The common noun `tok` counts, after it and near it, or None."""
    top = _top(tok)
    if top is None:
        return None
    noun = top.head
    if noun.i <= tok.i or noun.i <= top.i:
        return None
    if not (noun.text.isalpha() and noun.text.islower()) or noun.text in VALUE_NOUNS:
        return None
    # Between the number and its noun: describing words (and the number's own words and a
    # garbled word's hyphen), no other digits and no sentence break ("4532. Card ...").
    words = 0
    for t in noun.doc[max(tok.i, top.i) + 1 : noun.i]:
        linked = _top(t) if t.pos_ == "NUM" else None
        if linked is not None and linked.i == top.i:
            continue
        if t.like_num or (t.is_punct and t.text != "-"):
            return None
        words += t.text != "-" and t.lower_ != "and"
    return noun if words <= MAX_NOUN_GAP else None
