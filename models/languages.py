"""The languages a Whisper model can be told to transcribe, read from its folder (no model load).

Whisper is English-only when its vocabulary has fewer than 51865 tokens (openai/whisper's own
test, `n_vocab >= 51865`); a multilingual model knows the languages whose `<|xx|>` tokens are in
its language list (`lang_ids` of a CTranslate2 config, `lang_to_id` of a transformers generation
config), or, without such a list, every language token of its tokenizer.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from models.common.audio import is_multilingual

_LANGUAGE_TOKEN = re.compile(r"<\|([a-z]{2,3})\|>")


class UnsupportedLanguageError(ValueError):
    pass


def model_languages(model_dir: Path | str) -> tuple[str, ...] | None:
    """Language codes the model accepts, or None when the folder is not a Whisper model's."""
    return _languages(str(Path(model_dir).resolve()))


@lru_cache(maxsize=16)
def _languages(model_dir: str) -> tuple[str, ...] | None:
    folder = Path(model_dir)
    tokens = _token_ids(folder)
    codes = {m.group(1): i for t, i in tokens.items() if (m := _LANGUAGE_TOKEN.fullmatch(t))}
    if "en" not in codes:
        return None  # not a Whisper tokenizer (a CTC model, say): no language to choose
    if not is_multilingual(_vocab_size(folder, tokens)):
        return ("en",)
    listed = _listed_ids(folder)
    if listed is not None:
        codes = {c: i for c, i in codes.items() if i in listed}
    return tuple(sorted(codes))


def check_language(model_dir: Path | str, language: str | None, model_name: str) -> None:
    """Raise UnsupportedLanguageError unless `language` (None: detect) is one the model knows."""
    if language is None:
        return
    known = model_languages(model_dir)
    if known is None or language in known:
        return
    if known == ("en",):
        raise UnsupportedLanguageError(
            f"language {language!r}: model {model_name} transcribes English only (use 'en' or 'auto')"
        )
    raise UnsupportedLanguageError(
        f"language {language!r} is not one model {model_name} knows; use 'auto' or one of: {', '.join(known)}"
    )


def _token_ids(folder: Path) -> dict[str, int]:
    path = folder / "tokenizer.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    ids = dict(data.get("model", {}).get("vocab") or {})
    ids.update({t["content"]: t["id"] for t in data.get("added_tokens", [])})
    return ids


def _vocab_size(folder: Path, tokens: dict[str, int]) -> int:
    if (folder / "vocabulary.txt").exists():  # CTranslate2: one token per line
        with (folder / "vocabulary.txt").open(encoding="utf-8") as fh:
            return sum(1 for _ in fh)
    if (folder / "vocabulary.json").exists():
        return len(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8")))
    config = folder / "config.json"
    if config.exists() and "vocab_size" in (data := json.loads(config.read_text(encoding="utf-8"))):
        return int(data["vocab_size"])
    return max(tokens.values()) + 1


def _listed_ids(folder: Path) -> set[int] | None:
    config = folder / "config.json"
    if config.exists() and isinstance(ids := json.loads(config.read_text(encoding="utf-8")).get("lang_ids"), list):
        return {int(i) for i in ids}
    generation = folder / "generation_config.json"
    if generation.exists() and isinstance(
        mapping := json.loads(generation.read_text(encoding="utf-8")).get("lang_to_id"), dict
    ):
        return {int(i) for i in mapping.values()}
    return None
