"""Sweep the WiSE-FT mix of a finished `voxray improve` run, without retraining.

    python scripts/flywheel_wiseft.py --domain /tmp/flywheel-domain --run /tmp/flywheel-run \
        --checkpoint RUN/work/runs/improve-*/checkpoint_*/model --stage dev
    python scripts/flywheel_wiseft.py ... --stage held-out --mixes 0 0.4 1

For each mix a, theta = (1 - a) * base + a * fine-tuned (pipelines/improve/interpolate.py), exported
to CTranslate2 int8 as improve does, then scored through the batch pipeline (the gate's
`corpus_wers`). Stage `dev` scores the sets the mix may be chosen on: the domain's dev.jsonl and a
general-speech dev set disjoint from the gate's regression set (GENERAL_DEV: the real voices under
tests/data/voices, LibriVox and CMU recordings with their published texts; the 24 espeak-ng
general sentences under tests/data/speech; 50 Harvard sentences, scripts/make_general_dev.py), and
picks the mix by `choose`. Stage `held-out` scores the regression set (the bundled
real speech) and test.jsonl, only for mixes chosen before. Stage `probe` scores what the loop's gate
sees (dev.jsonl, the regression set) and the 12 real voices it never sees; `--revert REGEX` puts the
matching tensors back to the base's (which weights carry the gain, which the loss). Results:
OUT/wiseft-STAGE[-revert-REGEX].json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VOICES = REPO / "tests" / "data" / "voices"
# Published texts of tests/data/voices (scripts/make_realspeech.py): pocketsphinx 5.1.1's
# test/data/librivox/*.txt (sas-00..04 are 0870, 0880, 0890, 0920, 0930, in order) and
# test/data/cards/cards.transcription; CMU ARCTIC prompts a0007 (awb) and a0009 (slt).
VOICE_TEXTS = {
    "sas-00.flac": "and mister john dashwood had then leisure to consider how much there might be prudently in "
    "his power to do for them",
    "sas-01.flac": "he was not an ill disposed young man",
    "sas-02.flac": "unless to be rather cold hearted and rather selfish is to be ill disposed",
    "sas-03.flac": "had he married a more a amiable woman he might have been made still more respectable than he was",
    "sas-04.flac": "he might even have been made amiable himself",
    "cards-00.flac": "ten of clubs",
    "cards-01.flac": "four queen of clubs",
    "cards-02.flac": "seven of clubs",
    "cards-03.flac": "five five",
    "cards-04.flac": "eight of spades four of clubs seven of hearts",
    "awb-00.flac": "And you always want to see it in the superlative degree.",
    "slt-00.flac": "He turned sharply, and faced Gregson across the table.",
}


def general_dev(domain: Path) -> dict[str, list]:
    """The general-speech dev sets, each alone and pooled (`general_dev`, what the mix is chosen on)."""
    from pipelines.quality.evaluate import Reference, path_key

    real = [Reference(path_key(str(VOICES / name)), text) for name, text in VOICE_TEXTS.items()]
    speech = REPO / "tests" / "data" / "speech"
    rows = [json.loads(line) for line in (speech / "manifest.jsonl").read_text().splitlines() if line.strip()]
    espeak = [Reference(path_key(str(speech / r["path"])), r["text"]) for r in rows]
    harvard = refs(domain / "general_dev.jsonl")  # scripts/make_general_dev.py
    sets = {"general_real_dev": real, "general_espeak_dev": espeak, "general_harvard_dev": harvard}
    return {**sets, "general_dev": real + espeak + harvard}


def choose(mixes: dict[str, dict], margin: float) -> str:
    """The mix with the lowest domain dev WER among those at most `margin` worse than the base (mix 0)
    on the pooled general dev set: the gate's rule, applied to dev sets only."""
    limit = mixes["0.00"]["general_dev"] + margin
    fit = [m for m, r in mixes.items() if r["general_dev"] <= limit]
    return min(fit, key=lambda m: (mixes[m]["domain_dev"], float(m)))


def stage_sets(stage: str, domain: Path) -> dict[str, list]:
    """dev: what a mix may be chosen on; held-out: the regression set and test; probe: the loop's gate
    sets (domain dev, regression) and the real voices the gate never sees."""
    from pipelines.improve.run import DEFAULT_REGRESSION

    if stage == "dev":
        return {"domain_dev": refs(domain / "dev.jsonl"), **general_dev(domain)}
    if stage == "held-out":
        return {"regression": refs(DEFAULT_REGRESSION), "domain_test": refs(domain / "test.jsonl")}
    real = general_dev(domain)["general_real_dev"]
    return {"domain_dev": refs(domain / "dev.jsonl"), "regression": refs(DEFAULT_REGRESSION), "real": real}


def refs(manifest: Path) -> list:
    from models.common.config import StorageConfig
    from pipelines.quality.evaluate import load_references

    return load_references(str(manifest), StorageConfig(), "en")


def candidate(base_hf: Path, tuned: Path, mix: float, out: Path, revert: str | None = None) -> Path:
    """The CTranslate2 int8 folder of the mix (cached under `out`); tensors whose name matches the
    regular expression `revert` are the base's (which parameters carry the gain, which the loss)."""
    from models.ct2_export import export_ct2
    from pipelines.improve.interpolate import interpolate_weights

    dest = out / (f"mix-{mix:.2f}" + (f"-revert-{_slug(revert)}" if revert else ""))
    if not (dest / "ct2" / "model.bin").exists():
        mixed = interpolate_weights(base_hf, tuned, mix, dest / "hf")
        if revert:
            _revert(base_hf, mixed, revert)
        export_ct2(mixed, dest / "ct2", quantization="int8", force=True)
    return dest / "ct2"


def _slug(pattern: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", pattern).strip("_")


def _revert(base_hf: Path, folder: Path, pattern: str) -> None:
    from safetensors.torch import load_file, save_file

    from pipelines.improve.interpolate import WEIGHTS

    base, mixed = load_file(str(base_hf / WEIGHTS)), load_file(str(folder / WEIGHTS))
    hits = [k for k in mixed if re.search(pattern, k)]
    if not hits:
        raise SystemExit(f"--revert {pattern}: no tensor matches")
    for k in hits:
        mixed[k] = base[k].to(mixed[k].dtype).contiguous()
    save_file(mixed, str(folder / WEIGHTS), metadata={"format": "pt"})
    print(f"reverted {len(hits)} tensors to the base: {', '.join(hits[:4])}...", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", type=Path, required=True)
    p.add_argument("--run", type=Path, required=True, help="flywheel_eval's --work (holds registry/)")
    p.add_argument("--checkpoint", type=Path, required=True, help="the fine-tuned transformers folder")
    p.add_argument("--stage", choices=("dev", "held-out", "probe"), required=True)
    p.add_argument("--mixes", type=float, nargs="+", default=[0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    p.add_argument("--out", type=Path, help="where exports and results go (default: RUN)")
    p.add_argument("--revert", help="regular expression: matching tensors are taken from the base (e.g. embed_tokens)")
    p.add_argument("--margin", type=float, default=0.01, help="general dev WER the mix may lose (0.01: 1 point)")
    args = p.parse_args()
    from models.common.config import StorageConfig
    from models.versions import ModelRegistry
    from models.whisper_torch import resolve_torch_model
    from pipelines.batch.run import ensure_ray
    from pipelines.improve.passes import corpus_wers, model_config

    registry = ModelRegistry(str(args.run / "registry"))
    base_ct2 = str(Path(registry.root) / "versions" / registry.versions()[0])
    base_hf = Path(resolve_torch_model(base_ct2, StorageConfig()))
    sets = stage_sets(args.stage, args.domain)
    ensure_ray()
    out = args.out or args.run
    out.mkdir(parents=True, exist_ok=True)
    tag = args.stage + (f"-revert-{_slug(args.revert)}" if args.revert else "")
    results = {"base": base_ct2, "checkpoint": str(args.checkpoint), "stage": args.stage, "revert": args.revert}
    results["mixes"] = {}
    for mix in args.mixes:
        started = time.perf_counter()
        model = base_ct2 if mix == 0 else str(candidate(base_hf, args.checkpoint, mix, out / "wiseft", args.revert))
        rates, hyps, wall = corpus_wers(model_config(model, StorageConfig()), sets)
        row = {**rates, "pass_s": round(wall, 1), "s": round(time.perf_counter() - started)}
        row["hypotheses"] = {r.path: (hyps.get(r.path) or {}).get("text") for refs_ in sets.values() for r in refs_}
        results["mixes"][f"{mix:.2f}"] = row
        print(f"mix {mix:.2f}: " + "  ".join(f"{k} {100 * v:5.1f}%" for k, v in rates.items()), flush=True)
        (out / f"wiseft-{tag}.json").write_text(json.dumps(results, indent=2))
    if args.stage == "dev" and "0.00" in results["mixes"]:
        results["chosen"] = choose(results["mixes"], args.margin)
        print(f"chosen on dev: mix {results['chosen']}")
        (out / f"wiseft-{tag}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
