"""General real speech before and after `voxray improve`, on a set the gate never selects on.

    python scripts/make_general_dev.py --real-out /tmp/general_real.jsonl
    python scripts/flywheel_general.py --refs /tmp/general_real.jsonl --before tiny.en \
        --after registry:WORK/registry --out /tmp/general-eval [--no-pack]

Both models transcribe the references through the batch pipeline (`voxray eval --compare --out`,
each model in its own pass, so packing gives both the same windows). Printed (and written to
OUT/paired.json): each model's corpus WER; the paired per-utterance count, i.e. over utterances
where the two differ, how many word errors the after-model removed (gained) and added (lost);
and a bootstrap over utterances (resampled with replacement, 10,000 times, seeded) of the WER
difference, with its 95% interval and the share of resamples where the after-model is worse by
more than 1 point. With ~100-150 reference words one word is about a point, so read the count,
not only the rates.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

BOUND = 0.01  # issue 23's target: general real speech at most 1 point worse


def run_eval(refs: Path, before: str, after: str, out: Path, extra: list[str]) -> None:
    cmd = [sys.executable, "-m", "jobs.cli", "eval", "--refs", str(refs), "--model", before]
    cmd += ["--compare-model", after, "--compare", "--json", "--out", str(out), *extra]
    print("$ voxray " + " ".join(cmd[3:]), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def errors_by_path(out: Path, system: str) -> dict[str, tuple[int, int]]:
    """(word errors, reference words) of each utterance of one system."""
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "per_file.parquet").to_pylist()
    return {
        r["path"]: (r["substitutions"] + r["deletions"] + r["insertions"], r["ref_words"])
        for r in rows
        if r["system"] == system
    }


def paired(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], seed: int = 0) -> dict:
    paths = sorted(before)
    if sorted(after) != paths:
        raise SystemExit("the two systems scored different utterances")
    eb = np.array([before[p][0] for p in paths], dtype=float)
    ea = np.array([after[p][0] for p in paths], dtype=float)
    words = np.array([before[p][1] for p in paths], dtype=float)
    diff = ea - eb
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(paths), size=(10_000, len(paths)))
    boot = diff[idx].sum(axis=1) / words[idx].sum(axis=1)
    return {
        "utterances": len(paths),
        "ref_words": int(words.sum()),
        "wer_before": eb.sum() / words.sum(),
        "wer_after": ea.sum() / words.sum(),
        "difference_points": 100 * diff.sum() / words.sum(),
        "one_point_in_words": words.sum() / 100,
        "words_gained": int(-diff[diff < 0].sum()),
        "words_lost": int(diff[diff > 0].sum()),
        "utterances_better": int((diff < 0).sum()),
        "utterances_worse": int((diff > 0).sum()),
        "bootstrap_95_points": [float(100 * np.percentile(boot, q)) for q in (2.5, 97.5)],
        "bootstrap_share_worse_than_bound": float((boot > BOUND).mean()),
        "changed": {p: [int(eb[i]), int(ea[i])] for i, p in enumerate(paths) if diff[i] != 0},
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--refs", type=Path, required=True)
    p.add_argument("--before", required=True, help="model spec of the current model (e.g. tiny.en)")
    p.add_argument("--after", required=True, help="model spec of the candidate (a folder, registry:DIR)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--reuse", action="store_true", help="score OUT/per_file.parquet again, transcribe nothing")
    args, extra = p.parse_known_args()
    out = args.out.resolve()
    if not args.reuse:
        run_eval(args.refs.resolve(), args.before, args.after, out, extra)
    result = paired(errors_by_path(out, args.before), errors_by_path(out, args.after))
    result.update(before=args.before, after=args.after, refs=str(args.refs), flags=extra)
    (out / "paired.json").write_text(json.dumps(result, indent=2))
    lo, hi = result["bootstrap_95_points"]
    print(
        f"{result['utterances']} utterances, {result['ref_words']} words: WER {100 * result['wer_before']:.1f}% -> "
        f"{100 * result['wer_after']:.1f}% ({result['difference_points']:+.1f} points); words gained "
        f"{result['words_gained']}, lost {result['words_lost']} ({result['utterances_better']} utterances better, "
        f"{result['utterances_worse']} worse); bootstrap 95% [{lo:+.1f}, {hi:+.1f}] points, "
        f"P(worse than 1 point) {result['bootstrap_share_worse_than_bound']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
