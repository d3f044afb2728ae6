"""Cue windows: after a cue for a date or an e-mail address, the whole stretch that follows it
is the value, whatever words Whisper made of it.

The value finders of pipelines/redaction/values.py read a value token by token and stop at the
first word that is not part of one; a value the model garbled into words leaves its digits
behind ("My birthday's 12-year-old sick, 19-hombry, the 84" for "12 06 1984", "Please send a copy
to all that. Yamamoto. gmail.com" for "omar dot yamamoto at gmail dot com"). A window redacts
every word from the first one after the cue that is not a function word to the end of the
sentence (a date), or to the spoken domain (an e-mail address, across sentence ends), within a
few words. A date window needs a number or a month in it that is no quantity ("born in a town
of 300 people" keeps its count).
"""

from __future__ import annotations

from pipelines.redaction.context import Cue, Token, cue
from pipelines.redaction.cues import BIRTH_CUES, EMAIL_CUES, EXPIRY_CUES, SENT_TO
from pipelines.redaction.emails import TLDS
from pipelines.redaction.values import MONTHS, NUMBER, NUMBER_WORDS, counted_after

# How far a window reaches: words after the cue, at most (a date is rarely said in more).
MAX_WINDOW_WORDS = 8
MAX_EMAIL_WINDOW_WORDS = 10
# Function words (and a date's "late", "early"): never the value's first word, nor its last.
_STOP = (
    "a an the is was are were be it it's its that that's this my our your his her their i i'm me we "
    "and or but so then of on in at to for from with by as um uh er erm okay ok yes yeah sure well "
    "please thanks thank you let see just like about would will should um-hum hmm late early mid"
)
STOP_WORDS = frozenset(_STOP.split())


def date_window(toks: list[Token], first: int) -> tuple[int, int] | None:
    """From the first word after the cue that is no function word to the sentence's last one."""
    start = _first_content(toks, first)
    if start is None:
        return None
    last, words, dated = None, 0, False
    for j in range(start, len(toks)):
        t = toks[j]
        if t.sentence_end:
            break
        if not t.word:
            continue
        words += 1
        if words > MAX_WINDOW_WORDS:
            break
        if t.lower not in STOP_WORDS:
            last = j
        dated = dated or _dated(toks, j)
    return (start, last) if dated and last is not None else None


def email_window(toks: list[Token], first: int) -> tuple[int, int] | None:
    """From the first word after the cue to a spoken domain ("... gmail dot com", "gmail.com")
    within MAX_EMAIL_WINDOW_WORDS words, across sentence ends; nothing without a domain."""
    start = _first_content(toks, first)
    if start is None:
        return None
    words = 0
    for j in range(start, len(toks) - 1):
        t = toks[j]
        if t.text in "?!":
            return None
        if t.lower in (".", "dot") and toks[j + 1].lower in TLDS:
            return start, j + 1
        if t.word:
            words += 1
            if words > MAX_EMAIL_WINDOW_WORDS:
                return None
    return None


def _first_content(toks: list[Token], first: int) -> int | None:
    """The first word after the cue that is no function word; a sentence end right after the cue
    ("Date of birth. 12 06 ...") is passed over, a later one ends the search."""
    for i in range(first, min(len(toks), first + MAX_WINDOW_WORDS)):
        t = toks[i]
        if t.word and t.lower not in STOP_WORDS:
            return i
        if t.sentence_end and any(x.word for x in toks[first:i]):
            return None
    return None


def _dated(toks: list[Token], j: int) -> bool:
    t = toks[j]
    if t.lower in MONTHS and len(t.text) > 3:
        return True
    if not NUMBER.is_strong(t):
        return False
    return not counted_after(toks, j)


WINDOW_CUES: tuple[Cue, ...] = (
    cue("DATE_OF_BIRTH", date_window, *BIRTH_CUES),
    cue("CREDIT_DEBIT_EXPIRY", date_window, *EXPIRY_CUES),
    cue("EMAIL", email_window, *EMAIL_CUES),
    cue("EMAIL", email_window, SENT_TO),
)


# Audio cue windows: a value the text did not write is still in the audio after its cue.
# The cues whose value is silenced that way (a name cue such as "I'm" is too common in talk).
AUDIO_WINDOW_TYPES = frozenset(
    (
        "SSN",
        "CREDIT_DEBIT_NUMBER",
        "CREDIT_DEBIT_CVV",
        "CREDIT_DEBIT_EXPIRY",
        "PIN",
        "BANK_ACCOUNT_NUMBER",
        "BANK_ROUTING",
        "PHONE",
        "DATE_OF_BIRTH",
        "IBAN",
        "IP",
        "EMAIL",
        "ADDRESS",
    )
)
# How long a window runs after its cue at most (sixteen digits read one by one take about 7 s).
MAX_AUDIO_WINDOW_S = 6.0
_SENTENCE_END = (".", "?", "!")


def audio_windows(row: dict, cues: tuple[Cue, ...]) -> list[tuple[float, float]]:
    """Time spans after each cue of `cues` in the row's words: to the end of the first sentence
    after the cue that holds a number (the cue's own, or the next when the cue ends its own) or to
    a redacted value, at most MAX_AUDIO_WINDOW_S; with no word after the cue, the
    MAX_AUDIO_WINDOW_S after it."""
    words = [w for s in row.get("segments") or [] for w in s.get("words") or [] if w["word"].strip()]
    text, ends = "", []
    for w in words:
        # A tag is no cue ("[PHONE]" is not "phone"): matched as a mark of its own length.
        text += "#" * len(w["word"]) if w["word"].strip().startswith("[") else w["word"]
        ends.append(len(text))
    out = []
    for c in cues:
        if c.type not in AUDIO_WINDOW_TYPES:
            continue
        for m in c.pattern.finditer(text):
            i = next(k for k, e in enumerate(ends) if e >= m.end())
            out.append(_window(words, i))
    return out


def _window(words: list[dict], i: int) -> tuple[float, float]:
    """A sentence after the cue that holds no number, digit or value does not end the window: the
    value may come in the next one, garbled into words ("My social info is fine. Sorry, Vinsic
    sign, run it, Vinit." for "My social is 4 8 5. Sorry, then 6 9, 1 8 7 8.", fresh2)."""
    begin = words[i]["end"]
    end = begin + MAX_AUDIO_WINDOW_S if i + 1 == len(words) else begin
    opened = not words[i]["word"].strip().endswith(_SENTENCE_END)
    heard = False
    for w in words[i + 1 :]:
        said = w["word"].strip()
        # A value the text found ends the window: its own span is silenced, what follows is talk.
        if w["end"] - begin > MAX_AUDIO_WINDOW_S or said.startswith("["):
            break
        end = w["end"]
        heard = heard or any(c.isdigit() for c in said) or said.lower().strip(",.?!") in NUMBER_WORDS
        if said.endswith(_SENTENCE_END):
            if opened and heard:
                break
            opened = True
    return begin, end
