"""General speech mixed into training (`voxray improve --general SOURCE`), labelled by the teacher.

Fine-tuning on the domain alone teaches the decoder the domain's habits (invented names for rare
words) and costs general speech; replaying general speech while it learns is the standard remedy
(learning without forgetting). Here that speech is unlabelled audio the enterprise has besides the
domain archive, and the teacher labels it like the archive, but without the glossary (hotwords
would push domain names into everyday speech) and through the same filters, so a clip either side
of which the two models disagree is not trained on. Its clips go to training only, never to the
dev split the checkpoint and the gate are chosen on.

A general clip that is also in the gate's sets (dev, regression) would let training see what the
gate judges: such clips, by path or by identical bytes, are removed and counted, never trained on.

Without `--general`, the loop uses DEFAULT_GENERAL, shipped with the package: 60 everyday English
sentences spoken by espeak-ng voices (scripts/make_general_dev.py --bundle writes them and, beside the
folder, their text, voice and speed; the loop never reads that record, the teacher labels the audio).
On the telecom domain it took the held-out real-speech drift from +1.8 to 0.0 points and improved
the domain (docs/finetune.md, "General speech labelled by the teacher"); on a second domain (an
insurer) the gate still refused every candidate for general drift. `--general none` turns it off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from models.common.config import StorageConfig
from models.common.storage import is_s3
from pipelines.improve.filters import FilterConfig, Labelled, Selection, select
from pipelines.improve.passes import archive_pass, model_config, teacher_config
from pipelines.quality.evaluate import Reference, path_key

IN_EVALUATION = "in_an_evaluation_set"  # a general clip that the gate also scores
DEFAULT_GENERAL = Path(__file__).resolve().parent / "general_speech"  # package data (pyproject.toml)
NONE = "none"  # `--general none`: the domain archive alone


def general_sources(given: list[str] | None) -> tuple[str, ...]:
    """`--general`'s sources: the bundled set when none is given, nothing for `none`; ValueError when
    `none` comes with sources (which of the two was meant is unclear)."""
    if not given:
        return (str(DEFAULT_GENERAL),)
    if NONE in given:
        if len(given) > 1:
            raise ValueError(f"--general {NONE} turns general speech off; it cannot come with sources")
        return ()
    return tuple(given)


def general_selection(
    sources: tuple[str, ...], teacher: str, current: str, language: str, work: Path,
    evaluation: Iterable[Reference], cfg: FilterConfig, storage: StorageConfig,
) -> Selection:  # fmt: skip
    """The teacher (no hotwords) and the current model over the general sources, then the archive's
    filters, then every clip the gate scores removed (counted under IN_EVALUATION)."""
    labeller = teacher_config(teacher, storage, language=language)  # no hotwords: see the module's docstring
    teacher_rows = archive_pass(list(sources), labeller, work / "general-teacher")
    production = archive_pass(list(sources), model_config(current, storage), work / "general-production")
    selection = select(teacher_rows, {r["path"]: r for r in production}, cfg)
    return without_evaluation(selection, evaluation)


def without_evaluation(selection: Selection, evaluation: Iterable[Reference]) -> Selection:
    """`selection` less the clips that are, by path or by content, in an evaluation set."""
    refs = list(evaluation)
    paths = {path_key(r.path) for r in refs}
    digests = {d for d in (_digest(r.path) for r in refs) if d}
    kept: list[Labelled] = [k for k in selection.kept if k.path not in paths and _digest(k.path) not in digests]
    removed = {**selection.removed, IN_EVALUATION: len(selection.kept) - len(kept)}
    return Selection(kept=tuple(kept), seen=selection.seen, removed=removed)


def _digest(path: str) -> str | None:
    """The bytes' digest of a local file (a copy of an evaluation clip under another name is the same
    clip); None for S3 objects and missing files, which are compared by path only."""
    if is_s3(path):
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None
