"""Measure `voxray improve` end to end on the flywheel domain (scripts/make_flywheel_domain.py).

    python scripts/make_flywheel_domain.py --out /tmp/flywheel-domain
    python scripts/flywheel_eval.py --domain /tmp/flywheel-domain --work /tmp/flywheel-run

Steps, each a public `voxray` command: `voxray improve` on the unlabelled archive (timed; the gate
uses dev.jsonl, never test), then `voxray eval` (the batch transcription pipeline, with RTFx) on
test.jsonl for tiny.en, tiny.en with the glossary as hotwords, the teacher with the glossary, and
the registry's model without hotwords. Results go to WORK/results.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def voxray(*args: str) -> str:
    print("$ voxray " + " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "jobs.cli", *args], check=True, stdout=subprocess.PIPE, text=True)
    return done.stdout


def eval_json(refs: Path, *model_args: str) -> dict:
    out = voxray("eval", "--refs", str(refs), "--json", *model_args)
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--teacher", help="teacher spec (default: voxray improve's default, the packaged base)")
    p.add_argument("--skip-improve", action="store_true", help="only measure (the registry exists)")
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
    test = domain / "test.jsonl"
    systems = {
        "tiny.en": ["--model", "tiny.en"],
        "tiny.en + glossary hotwords": ["--model", "tiny.en", "--hotwords", glossary],
        "teacher + glossary hotwords": ["--model", teacher, "--language", "en", "--hotwords", glossary],
        "registry model (no hotwords)": ["--model", f"registry:{registry}"],
    }
    results["test"] = {}
    for name, model_args in systems.items():
        totals = eval_json(test, *model_args)
        results["test"][name] = {k: totals.get(k) for k in ("wer", "files", "audio_s", "rtfx", "wall_s")}
        (work / "results.json").write_text(json.dumps(results, indent=2))
    for name, row in results["test"].items():
        print(f"{name:32s} WER {100 * row['wer']:5.1f}%  RTFx {row['rtfx']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
