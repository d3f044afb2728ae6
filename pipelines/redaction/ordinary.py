"""Words that introduce an ordinary number: what a number right after them is, said in any form.

The digit policy (pipelines/redaction/digits.py) redacts a number of 3+ digits that no word next
to it calls ordinary; the words after a number ("pages", "o'clock") were read, the verbs before it
were not. People introduce ordinary numbers with a few verbs whose object is never a secret:

- a phone-menu option: "press 2", "dial 0", "select option 3" (a menu has short options);
- a bus taken: "take the number 12", "catch the number 45" ("number" there names a bus);
- an age: "she turned 40", "he turns 65", "aged 30";
- a year of making: "built in 1998", "founded in 1870" (a garbled year is still a year);
- an age said of a person: "my grandmother is 95", "my son's 12" (fresh7: "My grandmother is 953
  this year"); a person is no account, and a PIN or a code is never what somebody "is".

Only short numbers (at most SHORT_DIGITS digits, the homophones "to"/"for" at its ends aside):
a longer one after "press" or "dial" is a value keyed in ("dial 0 7 9 1 1 2 3 ...").
A PII cue nearer to the number still wins (the cue rules run on their own); the one cue word
an introducing phrase holds is "number" in "take the number 12".
"""

from __future__ import annotations

import re

from pipelines.redaction.spoken import PIECE, digits_of

# The most digits a menu option, a bus, an age or a year has.
SHORT_DIGITS = 4
_MENU = r"press|pressed|pressing|dial|dialled|dialed|select|choose|option"
_TRANSIT = r"(?:take|took|taking|catch|caught|get|got|ride|rode)\s+the\s+number\s+"
_AGE = r"turned|turns|turning|aged"
_MADE = r"(?:built|founded|established|opened)\s+(?:back\s+)?in"
_PERSON = (
    r"(?:grand)?(?:mother|father|mum|mom|dad|ma|pa|son|daughter|child|kid)|grandma|grandpa|granny|nan|nana"
    r"|brother|sister|wife|husband|partner|uncle|aunt|auntie|niece|nephew|baby|he|she"
)
_PERSON_IS = rf"\b(?:{_PERSON})(?:\s+(?:is|was|will\s+be|turns)|'s)(?:\s+(?:now|nearly|almost|about|over|just))?"
INTRODUCED = re.compile(
    rf"\b(?:(?:{_MENU}|{_AGE})\W+|{_TRANSIT}|{_MADE}\W+)(?:number\s+)?\W*$|{_PERSON_IS}\s+$", re.IGNORECASE
)
# "the number 12 bus", "route 9 train": a vehicle's word after the number names it.
_VEHICLE_AFTER = re.compile(r"\s*(?:bus|buses|train|tram|coach|shuttle)\b", re.IGNORECASE)
_NUMBER_BEFORE = re.compile(r"\bnumber\s*$", re.IGNORECASE)
# "2004 to the centre", "260 to an agent": a preposition the value finders read as a digit.
_PREPOSITION_END = re.compile(r"[\s,]+(?:to|too|for)\W*$", re.IGNORECASE)


def introducer(before: str, after: str, digits: str) -> int | None:
    """Where the words that introduce a short number (its `digits`, between `before` and `after`)
    as an ordinary one start in `before`: a menu, transit, age or making verb, or "number" of a
    vehicle; None when nothing does."""
    if not digits or len(digits) > SHORT_DIGITS:
        return None
    verb = INTRODUCED.search(before)
    if verb is not None:
        return verb.start()
    label = _NUMBER_BEFORE.search(before)
    return label.start() if label is not None and _VEHICLE_AFTER.match(after) else None


def introduced_at(text: str, start: int, end: int) -> int | None:
    """`introducer` for the number said at text[start:end], a preposition at its end aside."""
    said = _PREPOSITION_END.sub("", text[start:end])
    digits = "".join(digits_of(p) or "" for p in PIECE.findall(said))
    return introducer(text[:start], text[end:], digits)
