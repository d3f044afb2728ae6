"""Values known by their shape when the word that announced them was misheard.

Ten rounds of cue rules (pipelines/redaction/cues.py) met a limit on the tenth round's unseen
split: where a value leaked, the cue itself was garbled ("living at" -> "leaving at", "Whitelist"
-> "Right list"), so no rule keyed on the cue reached it. These finders need no cue; each reads a
shape that ordinary talk does not have:

- an address of a machine written as four numbers of at most 255 joined by dots, once numbers in
  words are read ("250.37.1 hundred and 20.2 hundred and 18", fresh7: the octets 120 and 218
  written as "1 hundred and 20" and "2 hundred and 18");
- a house number, a street the model garbled into one to three words, and "in" or "near" before a
  capitalised town ("470 nugclos in Sandberg", "71 black current in Beverly"): an address whose
  street word and cue were both lost. A number whose words count or label something is no house
  ("40 minutes in Leeds", "room 12 in Madrid"), nor is a year ("2004 lived in Leeds").
"""

from __future__ import annotations

import re

from pipelines.redaction.context import ContextHit
from pipelines.redaction.numerals import FUNCTION_WORDS, counted, spelled

# The largest octet of an IPv4 address.
MAX_OCTET = 255
_QUAD = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)")


def find_quads(text: str) -> list[ContextHit]:
    """Four numbers of at most 255 joined by dots (numbers in words read as digits): an IP."""
    digits = spelled(text)
    out = []
    for m in _QUAD.finditer(digits.text):
        if all(int(g) <= MAX_OCTET for g in m.groups()):
            out.append(ContextHit("IP", *digits.original_span(m.start(), m.end())))
    return out


# At most this many words of a garbled street between the house number and "in"/"near".
MAX_STREET_WORDS = 3
_CALENDAR = (
    "I|January|February|March|April|May|June|July|August|September|October|November|December"
    "|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
)
_HOUSE_SHAPE = re.compile(
    rf"(?<![\w.,$£€-])(?P<number>\d{{1,4}})(?P<street>(?:[\s-]+[A-Za-z][a-z'-]*){{1,{MAX_STREET_WORDS}}}),?\s+"
    rf"(?:in|near)\s+(?!(?:{_CALENDAR})\b)[A-Z][a-z'-]+"
)
_YEAR = re.compile(r"(?:19|20)\d\d")
# Words before a number that make it a label or an amount, never a house number.
_LABEL_BEFORE = re.compile(
    r"\b(?:room|flight|gate|bus|route|platform|page|chapter|floor|level|seat|terminal|exit|episode|"
    r"version|line|number|no|aisle|ticket|order|invoice|about|over|under|only|just|nearly|almost)\W*$",
    re.IGNORECASE,
)


def find_house_shapes(text: str) -> list[ContextHit]:
    """A house number, one to three words of a street and "in"/"near" a capitalised town."""
    out = []
    for m in _HOUSE_SHAPE.finditer(text):
        words = re.findall(r"[A-Za-z][a-z'-]*", m["street"])
        if _YEAR.fullmatch(m["number"]) or _LABEL_BEFORE.search(text, 0, m.start()):
            continue
        if any(w.lower() in FUNCTION_WORDS or counted(w) for w in words):
            continue
        out.append(ContextHit("ADDRESS", m.start(), m.end()))
    return out
