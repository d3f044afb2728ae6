"""`voxray improve`: archive -> teacher pseudo-labels -> filters -> fine-tune -> gate -> registry.

1. refuse bad options before any work (teacher, registry, manifests);
2. seed an empty registry with the production model (`--model`), so `registry:DIR` resolves;
3. the teacher (with the glossary as hotwords) and the current model transcribe the archive; a
   nightly Delta table among the SOURCEs brings its own production transcripts (no production pass);
4. filters keep the clips whose teacher transcript is trustworthy, counting what each removed;
5. fine-tune the current model on them (a share held out as dev unless --eval is given);
6. export the best checkpoint to CTranslate2 int8 and score it against the current model;
7. promote it (a new registry version, the pointer moved) only when the gate says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.common.config import StorageConfig
from models.common.storage import CACHE_DIR, is_s3
from models.registry import ModelNotFoundError, model_identity, resolve_model
from models.versions import ModelRegistry, RegistryError
from pipelines.improve.archive import Archive, open_archive, production_rows
from pipelines.improve.filters import DISAGREE, TABLE_ERROR, FilterConfig, Labelled, Selection, select, with_skipped
from pipelines.improve.gate import Decision, GateConfig, Scores, choose, decide, pct
from pipelines.improve.general import DEFAULT_GENERAL, general_selection
from pipelines.improve.passes import archive_pass, corpus_wers, model_config, teacher_config
from pipelines.improve.train import TrainSettings, export_candidate, finetune, write_manifest
from pipelines.quality.evaluate import Reference, load_references
from pipelines.quality.wer import normalize
from pipelines.training.settings import distills

# The default regression set: 86 real utterances (about 20 speakers, 1,404 words) with published
# texts, shipped with the package (scripts/make_regression_speech.py). On the 141 words it replaced,
# the 1-point bound was 1.41 words, so one reader's three words decided a run.
DEFAULT_REGRESSION = Path(__file__).resolve().parent / "regression_speech.jsonl"


class ImproveError(ValueError):
    """A wrong option, found before any work (the CLI exits 2 with this message)."""


# The WiSE-FT ladder the gate chooses from (docs/finetune.md, "The mix ladder"): 1 is the fine-tuned
# model as trained; 0.8 and 0.6 kept the regression set within a word of tiny.en on the 240-clip
# run's checkpoint while keeping most of the domain gain. Not tuned further: each rung costs one
# export and one gate pass.
DEFAULT_MIXES = (1.0, 0.8, 0.6)


@dataclass(frozen=True)
class ImproveConfig:
    registry: str
    sources: tuple[str, ...]
    model: str = "tiny.en"  # the production model an empty registry starts from
    teacher: str | None = None  # None: the packaged Whisper base (models.packaged)
    language: str = "en"
    hotwords: str | None = None
    eval: str | None = None
    regression: str | None = None  # None: DEFAULT_REGRESSION
    # General (non-domain) speech, labelled by the teacher without hotwords and mixed into training
    # only (pipelines/improve/general.py); default: the bundled set; empty: the domain archive alone.
    general: tuple[str, ...] = (str(DEFAULT_GENERAL),)
    work: str | None = None  # local folder for passes, manifests and exports; None: under the cache
    dev_share: float = 0.1
    # WiSE-FT: each candidate is (1 - mix) * current + mix * fine-tuned, in weight space (see
    # pipelines/improve/interpolate.py; 1 takes the fine-tuned weights as they are); the gate promotes
    # the passing candidate with the lowest dev WER (gate.choose).
    mixes: tuple[float, ...] = DEFAULT_MIXES
    filters: FilterConfig = field(default_factory=FilterConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    train: TrainSettings = field(default_factory=TrainSettings)
    storage: StorageConfig = field(default_factory=StorageConfig)


@dataclass(frozen=True)
class Checked:
    """What the checks resolved: the teacher spec, reference sets, the registry and the work folder."""

    teacher: str
    registry: ModelRegistry
    work: Path
    eval: list[Reference] | None
    regression: list[Reference]
    archive: Archive


def check(cfg: ImproveConfig) -> Checked:
    """ImproveError naming the option when something the loop needs is missing or unwritable."""
    if not cfg.mixes or any(not 0.0 < mix <= 1.0 for mix in cfg.mixes):
        raise ImproveError(f"--mix must be above 0 and at most 1, not {' '.join(map(str, cfg.mixes)) or 'nothing'}")
    for option, value in (
        ("--l2sp", cfg.train.l2sp),
        ("--distill", cfg.train.distill_general),
        ("--distill-domain", cfg.train.distill_domain),
    ):
        if not value >= 0.0:
            raise ImproveError(f"{option} must be at least 0, not {value}")
    for option, value in (("--epochs", cfg.train.epochs), ("--batch-size", cfg.train.batch_size)):
        if value < 1:
            raise ImproveError(f"{option} must be at least 1, not {value}")
    if not 0.0 < cfg.train.lr < math.inf:
        raise ImproveError(f"--lr must be above 0, not {cfg.train.lr}")
    if len(set(cfg.mixes)) != len(cfg.mixes):
        raise ImproveError(f"--mix values must differ: {' '.join(map(str, cfg.mixes))}")
    teacher = cfg.teacher or _packaged_teacher()
    for option, spec in (("--teacher", teacher), ("--model", cfg.model)):
        try:
            resolve_model(spec, cfg.storage)
        except (ModelNotFoundError, OSError) as exc:
            raise ImproveError(f"{option} {spec}: {exc}") from exc
    registry = ModelRegistry(cfg.registry, cfg.storage)
    try:
        registry.check_writable()
    except RegistryError as exc:
        raise ImproveError(f"--registry: {exc}") from exc
    refs = {}
    for option, manifest in (("--eval", cfg.eval), ("--regression", cfg.regression or str(DEFAULT_REGRESSION))):
        try:
            refs[option] = load_references(manifest, cfg.storage, "en") if manifest else None
        except (OSError, ValueError, KeyError) as exc:
            raise ImproveError(f"{option} {manifest}: {exc}") from exc
    if missing := [s for s in cfg.general if not is_s3(s) and not Path(s).exists()]:
        raise ImproveError(f"--general: not found: {', '.join(missing)}")
    key = hashlib.sha256(registry.root.encode()).hexdigest()[:12]
    work = Path(cfg.work).expanduser().resolve() if cfg.work else CACHE_DIR / "improve" / key
    return Checked(teacher, registry, work, refs["--eval"], refs["--regression"], _archive(cfg))


def _archive(cfg: ImproveConfig) -> Archive:
    """SOURCEs with nightly tables read; refused when a table is unreadable or leaves nothing to learn from."""
    try:
        archive = open_archive(cfg.sources, cfg.storage)
    except (OSError, ValueError) as exc:  # StoreError (a Delta table voxray did not write) is a ValueError
        raise ImproveError(f"SOURCE: {exc}") from exc
    if not archive.plain and not archive.production:
        raise ImproveError(f"SOURCE: the tables {', '.join(archive.tables)} hold no file transcribed without error")
    return archive


def _packaged_teacher() -> str:
    from models.packaged import packaged_base

    folder = packaged_base()
    if folder is None:
        raise ImproveError("--teacher: none given and the packaged Whisper base is not installed")
    return str(folder)


@contextmanager
def _timed(phases: dict[str, float], name: str, log: Any) -> Iterator[None]:
    """Wall seconds of one phase of the loop, into the report's `phases` (where a run's time goes)."""
    started = time.perf_counter()
    yield
    phases[name] = round(time.perf_counter() - started, 1)
    log(f"phase {name}: {phases[name]} s")


def run_improve(cfg: ImproveConfig, checked: Checked, log: Any = print) -> dict[str, Any]:
    """The whole loop; returns the summary (see `summary`)."""
    started = time.perf_counter()
    phases: dict[str, float] = {}
    registry, work = checked.registry, checked.work
    if registry.pointer() is None:
        seed = registry.publish(resolve_model(cfg.model, cfg.storage), {"base": True, "source": cfg.model})
        log(f"registry {registry.root}: seeded with {cfg.model} as {seed}")
    current = registry.current()
    log(f"current model: {current}; teacher: {checked.teacher}")
    teacher_cfg = teacher_config(checked.teacher, cfg.storage, language=cfg.language, hotwords=cfg.hotwords)
    selection = _select(cfg, checked, current, teacher_cfg, phases, log)
    base = _report_base(cfg, checked, current, selection)
    base["phases"] = phases
    if len(selection.kept) < cfg.gate.min_kept_clips:
        why = f"only {len(selection.kept)} clips passed the filters (at least {cfg.gate.min_kept_clips} needed)"
        return _finish(cfg, base, None, None, Decision(False, (why,)), None, started, log)
    train_rows, dev_rows = _split(selection.kept, cfg.dev_share, checked.eval)
    general_paths: frozenset[str] = frozenset()
    if cfg.general:
        general = _general(cfg, checked, current, dev_rows, phases, log)
        base.update(general_seen=general.seen, general_kept=len(general.kept), general_removed=general.removed)
        train_rows = train_rows + list(general.kept)
        general_paths = frozenset(k.path for k in general.kept) if distills(cfg.train) else frozenset()
    train = write_manifest(work / "train.jsonl", train_rows, general_paths)
    val_refs = checked.eval if checked.eval is not None else [Reference(r.path, r.text) for r in dev_rows]
    val = write_manifest(work / "val.jsonl", [{"path": r.path, "text": r.text} for r in val_refs])
    with _timed(phases, "train", log):
        result = finetune(current, train, val, cfg.train, work, cfg.storage)
    log(f"fine-tuned: {result.steps} steps, val WER {result.baseline_wer} -> {result.best_wer}")
    refsets = {"dev": val_refs, "regression": checked.regression}
    before, ladder = _ladder(cfg, result, current, refsets, work, phases, log)
    shown, decision, verdict = ladder_verdict(before, ladder, cfg.gate)
    base.update(train_clips=len(train_rows), dev_clips=len(val_refs), dev_is_labelled=checked.eval is not None)
    base.update(finetune={k: v for k, v in dataclasses.asdict(result).items() if k != "data_digest"})
    base.update(verdict, **_regression_size(checked.regression, cfg.gate))
    log(f"regression bound: {base['max_regression_words']} of {base['regression_words']} reference words")
    wers = (dataclasses.asdict(before), dataclasses.asdict(shown.scores))
    return _finish(cfg, base, wers, shown.candidate, decision, registry, started, log)


@dataclass(frozen=True)
class Rung:
    """One candidate of the WiSE-FT ladder: its mix, export folder and gate scores."""

    mix: float
    candidate: Path
    scores: Scores

    def to_dict(self, gate: GateConfig, current: Scores) -> dict[str, Any]:
        verdict = decide(current, self.scores, gate)
        return {"mix": self.mix, "candidate": str(self.candidate), **dataclasses.asdict(self.scores),
                "passes": verdict.promote, "reasons": list(verdict.reasons)}  # fmt: skip


def ladder_verdict(before: Scores, ladder: dict[float, Rung], gate: GateConfig) -> tuple[Rung, Decision, dict]:
    """(the rung to report: the promoted one, else the lowest dev WER; the decision; the report's
    `mix` and `ladder`)."""
    chosen, decision = choose(before, {mix: rung.scores for mix, rung in ladder.items()}, gate)
    shown = ladder[chosen] if chosen is not None else min(ladder.values(), key=lambda r: (r.scores.dev, r.mix))
    return shown, decision, {"mix": chosen, "ladder": [rung.to_dict(gate, before) for rung in ladder.values()]}


def _ladder(
    cfg: ImproveConfig, result: Any, current: str, refsets: dict[str, list[Reference]], work: Path,
    phases: dict[str, float], log: Any,
) -> tuple[Scores, dict[float, Rung]]:  # fmt: skip
    """The current model's scores, and each mix of the fine-tuned checkpoint exported and scored."""
    name = f"candidate-{Path(result.best_checkpoint or '').name}"
    with _timed(phases, "export", log):
        folders = {mix: export_candidate(result, work / f"{name}-mix{mix:g}", cfg.storage, mix, current)
                   for mix in cfg.mixes}  # fmt: skip
    with _timed(phases, "gate", log):
        before = _scores(current, refsets, cfg.storage)
        ladder = {mix: Rung(mix, folder, _scores(str(folder), refsets, cfg.storage)) for mix, folder in folders.items()}
    for rung in ladder.values():
        log(f"mix {rung.mix:g}: dev {pct(rung.scores.dev)} (current {pct(before.dev)}), "
            f"regression {pct(rung.scores.regression)} (current {pct(before.regression)})")  # fmt: skip
    return before, ladder


def _scores(model: str, refsets: dict[str, list[Reference]], storage: StorageConfig) -> Scores:
    """Each set in its own pass: packing shares 30-second windows between clips, so a set scored
    alone gets the same windows for every model and every run, whatever the other set holds."""
    config = model_config(model, storage)
    rates = {name: corpus_wers(config, {name: refs})[0][name] for name, refs in refsets.items()}
    return Scores(dev=rates["dev"], regression=rates["regression"])


def _regression_size(refs: list[Reference], gate: GateConfig) -> dict[str, float]:
    """How many reference words the regression bound is (1 point of 141 words is 1.4 words)."""
    words = sum(len(normalize(r.text, "en").split()) for r in refs)
    return {"regression_words": words, "max_regression_words": round(gate.max_regression * words, 2)}


def _select(
    cfg: ImproveConfig, checked: Checked, current: str, teacher_cfg: Any, phases: dict[str, float], log: Any
) -> Selection:
    """Teacher pass over the archive, production transcripts (the tables' text, a production pass over
    plain sources only), then the filters."""
    archive, work = checked.archive, checked.work
    with _timed(phases, "teacher", log):
        teacher_rows = archive_pass(archive.teacher_sources(work), teacher_cfg, work / "teacher")
    plain: list[dict[str, Any]] = []
    if archive.plain:
        with _timed(phases, "production", log):
            plain = archive_pass(list(archive.plain), model_config(current, cfg.storage), work / "production")
    if archive.tables:
        log(f"nightly tables: {len(archive.production)} files with production transcripts, "
            f"{archive.table_errors} with error rows skipped")  # fmt: skip
    selection = select(teacher_rows, production_rows(archive, plain), cfg.filters)
    selection = with_skipped(selection, TABLE_ERROR, archive.table_errors)
    log(f"clips seen {selection.seen}, kept {len(selection.kept)}; removed: {_nonzero(selection.removed)}")
    log(f"teacher/production agreement removed {selection.removed[DISAGREE]}")
    return selection


def _general(
    cfg: ImproveConfig, checked: Checked, current: str, dev_rows: list[Labelled], phases: dict[str, float], log: Any
) -> Selection:
    """The general sources' teacher labels that pass the filters and are in none of the gate's sets."""
    gate_refs = [*(checked.eval or [Reference(r.path, r.text) for r in dev_rows]), *checked.regression]
    with _timed(phases, "general", log):
        general = general_selection(
            cfg.general, checked.teacher, current, cfg.language, checked.work, gate_refs, cfg.filters, cfg.storage
        )
    log(f"general speech: seen {general.seen}, kept {len(general.kept)} for training; "
        f"removed: {_nonzero(general.removed)}")  # fmt: skip
    return general


def _split(
    kept: tuple[Labelled, ...], share: float, eval_refs: list[Reference] | None
) -> tuple[list[Labelled], list[Labelled]]:
    """(train, dev): dev is a stable `share` of the kept clips (by path digest), none when --eval is given."""
    if eval_refs is not None:
        return list(kept), []
    ranked = sorted(kept, key=lambda k: hashlib.sha256(k.path.encode()).hexdigest())
    n_dev = max(1, round(share * len(kept)))
    dev = set(ranked[:n_dev])
    return [k for k in kept if k not in dev], [k for k in kept if k in dev]


def _report_base(cfg: ImproveConfig, checked: Checked, current: str, selection: Selection) -> dict[str, Any]:
    return {
        "sources": list(cfg.sources),
        "tables": list(checked.archive.tables),
        "production_from_tables": len(checked.archive.production),
        "base_model": current,
        "base_model_identity": model_identity(current, cfg.storage),
        "teacher": checked.teacher,
        "teacher_identity": model_identity(checked.teacher, cfg.storage),
        "hotwords": cfg.hotwords,
        "clips_seen": selection.seen,
        "clips_kept": len(selection.kept),
        "removed": selection.removed,
        "filters": cfg.filters.to_dict(),
        "gate": dataclasses.asdict(cfg.gate),
        "train": dataclasses.asdict(cfg.train),
        "mixes": list(cfg.mixes),
        "general": list(cfg.general),
    }


def _finish(
    cfg: ImproveConfig,
    report: dict[str, Any],
    wers: tuple[dict[str, float], dict[str, float]] | None,
    candidate: Path | None,
    decision: Decision,
    registry: ModelRegistry | None,
    started: float,
    log: Any,
) -> dict[str, Any]:
    before, after = wers or ({}, {})
    report.update(
        promoted=decision.promote,
        reasons=list(decision.reasons),
        dev_wer_before=before.get("dev"),
        dev_wer_after=after.get("dev"),
        regression_wer_before=before.get("regression"),
        regression_wer_after=after.get("regression"),
        candidate=str(candidate) if candidate else None,
        wall_s=round(time.perf_counter() - started, 1),
    )
    model = None
    if decision.promote and registry is not None and candidate is not None:
        spec = f"registry:{registry.root}"
        version = registry.publish(candidate, {**report, "config_fingerprint": _fingerprint(candidate, cfg)})
        model = registry.current()
        log(f"promoted {version}: {'; '.join(decision.reasons)} (now {spec})")
    else:
        log("not promoted, the current model stays: " + "; ".join(decision.reasons))
    return summary(report, model)


def _fingerprint(candidate: Path, cfg: ImproveConfig) -> str:
    return model_config(str(candidate), cfg.storage).fingerprint()


def summary(report: dict[str, Any], model: str | None) -> dict[str, Any]:
    """The `--summary` JSON: the issue's keys first, then the whole report."""
    keys = {
        "promoted": report["promoted"],
        "model": model,
        "eval_wer_before": report.get("dev_wer_before"),
        "eval_wer_after": report.get("dev_wer_after"),
        "regression_wer_before": report.get("regression_wer_before"),
        "regression_wer_after": report.get("regression_wer_after"),
        "clips_seen": report["clips_seen"],
        "clips_kept": report["clips_kept"],
    }
    return {**keys, "report": report}


def _nonzero(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"


def write_summary(path: str, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
