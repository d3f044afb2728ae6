"""Measure `voxray improve` end to end on the flywheel domain (scripts/make_flywheel_domain.py).

    python scripts/make_flywheel_domain.py --out /tmp/flywheel-domain
    python scripts/flywheel_eval.py --domain /tmp/flywheel-domain --work /tmp/flywheel-run

Steps, each a public `voxray` command: `voxray improve` on the unlabelled archive (timed; the gate
uses dev.jsonl, never test), then `voxray eval` (the batch transcription pipeline, with RTFx) on
test.jsonl for tiny.en, tiny.en with the glossary as hotwords, the teacher with the glossary, and
the registry's model without hotwords; then tiny.en and the registry's model on the 12 real clips of
tests/data/voices (general real speech that the gate's regression set does not hold). Results go to
WORK/results.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REGISTRY_MODEL = "registry model (no hotwords)"


def voxray(*args: str) -> str:
    print("$ voxray " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "jobs.cli", *args], check=True, stdout=subprocess.PIPE, text=True)
    return done.stdout


def eval_json(refs: Path, *model_args: str) -> dict:
    out = voxray("eval", "--refs", str(refs), "--json", *model_args)
    return json.loads(out.strip().splitlines()[-1])


def label_quality(domain: Path, work: Path) -> dict:
    """Analysis only (the loop never reads archive_truth.jsonl): the archive passes and the kept labels
    scored against the text the clips were spoken from, and the passes' wall times on the same clips."""
    import pyarrow.dataset as pads

    from pipelines.quality.wer import corpus_wer

    truth = {}
    for line in (domain / "archive_truth.jsonl").read_text().splitlines():
        row = json.loads(line)
        truth[str((domain / row["path"]).resolve())] = row["text"]
    out = {}
    for name in ("teacher", "production"):
        rows = pads.dataset(str(work / "work" / name), format="parquet").to_table().to_pylist()
        hyps = {r["path"]: r["text"] or "" for r in rows}
        paths = sorted(truth)
        out[f"{name}_archive_wer"] = corpus_wer([truth[p] for p in paths], [hyps.get(p, "") for p in paths], "en")
        out[f"{name}_processing_s"] = sum(r["processing_s"] or 0.0 for r in rows)
    kept = [json.loads(line) for line in (work / "work" / "train.jsonl").read_text().splitlines()]
    domain_kept = [k for k in kept if k["path"] in truth]
    out["kept_labels_wer"] = corpus_wer([truth[k["path"]] for k in domain_kept], [k["text"] for k in domain_kept], "en")
    out["kept"] = len(domain_kept)
    # `--general`'s kept labels, scored the same way: the bundled default (its record beside the folder,
    # make_general_dev.py --bundle) or `--general DOMAIN/general_train` (make_general_dev.py --train-out).
    from pipelines.improve.general import DEFAULT_GENERAL

    spoken = {}
    for record in (domain / "general_train_truth.jsonl", DEFAULT_GENERAL.with_suffix(".jsonl")):
        for line in record.read_text().splitlines() if record.exists() else []:
            row = json.loads(line)
            spoken[str((record.parent / row["path"]).resolve())] = row["text"]
    if spoken and len(kept) > len(domain_kept):
        general = [k for k in kept if k["path"] in spoken]
        out["general_kept"] = len(general)
        refs, hyps = [spoken[k["path"]] for k in general], [k["text"] for k in general]
        out["general_kept_labels_wer"] = corpus_wer(refs, hyps, "en")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--teacher", help="teacher spec (default: voxray improve's default, the packaged base)")
    p.add_argument("--skip-improve", action="store_true", help="only measure (the registry exists)")
    p.add_argument("--skip-teacher", action="store_true", help="do not run the teacher on test (the slowest)")
    args, improve_extra = p.parse_known_args()
    from models.packaged import packaged_base

    teacher = args.teacher or str(packaged_base())
    domain, work = args.domain.resolve(), args.work.resolve()
    registry = work / "registry"
    glossary = ", ".join(t for t in (domain / "glossary.txt").read_text().splitlines() if t.strip())
    results: dict = {}
    if not args.skip_improve:
        started = time.perf_counter()
        voxray(
            "improve", str(domain / "archive"), "--registry", str(registry), "--teacher", teacher,
            "--glossary", str(domain / "glossary.txt"), "--eval", str(domain / "dev.jsonl"),
            "--work", str(work / "work"), "--summary", str(work / "summary.json"), *improve_extra,
        )  # fmt: skip
        results["improve_wall_s"] = round(time.perf_counter() - started, 1)
        results["summary"] = json.loads((work / "summary.json").read_text())
    results["labels"] = label_quality(domain, work)
    test = domain / "test.jsonl"
    systems = {
        "tiny.en": ["--model", "tiny.en"],
        "tiny.en + glossary hotwords": ["--model", "tiny.en", "--hotwords", glossary],
        "teacher + glossary hotwords": ["--model", teacher, "--language", "en", "--hotwords", glossary],
        REGISTRY_MODEL: ["--model", f"registry:{registry}"],
    }
    if args.skip_teacher:
        del systems["teacher + glossary hotwords"]
    # General real speech the gate never sees (its regression set is another one): did the promoted model lose it?
    real = real_voices_manifest(work / "real_voices.jsonl")
    sets = {"test": (test, systems), "real_voices": (real, {k: systems[k] for k in ("tiny.en", REGISTRY_MODEL)})}
    for set_name, (refs, models) in sets.items():
        results[set_name] = {}
        for name, model_args in models.items():
            totals = eval_json(refs, *model_args)
            results[set_name][name] = {k: totals.get(k) for k in ("wer", "files", "audio_s", "rtfx", "wall_s")}
            (work / "results.json").write_text(json.dumps(results, indent=2))
    for set_name in sets:
        for name, row in results[set_name].items():
            print(f"{set_name:12s} {name:32s} WER {100 * row['wer']:5.1f}%  RTFx {row['rtfx']:.2f}")
    return 0


def real_voices_manifest(path: Path) -> Path:
    """The 12 real clips of tests/data/voices with their published texts (scripts/flywheel_wiseft.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from flywheel_wiseft import VOICE_TEXTS, VOICES

    rows = [{"path": str(VOICES / name), "text": text} for name, text in VOICE_TEXTS.items()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.exit(main())
