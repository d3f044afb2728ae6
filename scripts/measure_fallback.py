"""Whisper's temperature fallback, measured: WER, model CPU-seconds and repeatability per variant.

Each clip of each set is decoded alone (one clip per window; with --packed, clips packed in
seeded random groups as voxray packs them), windows 8 to a model call, through the pipeline's
preparation and model stage in this process (tools/bench/packing.py), twice: the windows in one
order and the same windows shuffled (other neighbours in each model call, as another job would
give). Per variant it prints each run's corpus WER, how many transcripts differ between the two
runs (0 for a fallback whose text is a function of the clip alone), the model's CPU-seconds and
those spent at t > 0, and (first run) how many decoded sequences were taken at a temperature
above 0 having passed the guards / were flagged (every temperature failed). A set is a manifest
(JSON lines with `path`, relative to the manifest's folder, and `text`); tiny.en int8, beam 5.
Documented in docs/performance.md ("A deterministic temperature fallback").

    python scripts/measure_fallback.py /tmp/shortclips-sets/dev/manifest.jsonl \\
        /tmp/flywheel-domain/dev.jsonl /tmp/flywheel-domain/general_dev.jsonl \\
        --variant sample --variant sample --variant beam:rp=0.5 --variant beam:rp=0.5,ngram=4 [--packed]

A variant: `sample` (Whisper's sampling, best of 5), or `beam:` with any of rp (repetition
penalty per unit of temperature), ngram (no_repeat_ngram_size), grow (beam width added per
step), patience.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from models import whisper_ct2_decode
from models.common.audio import SAMPLE_RATE
from models.common.profile import StageTimes
from models.whisper_decoding import sampling_options
from pipelines.config import TranscribeConfig
from pipelines.quality.wer import corpus_wer
from tools.bench.packing import PackedDecoder, load_clips, random_groups


def variant_options(spec: str) -> Any:
    """generate options per (temperature, beam_size) for a variant spec (see the module's help)."""
    if spec == "sample":
        return lambda t, beam, _fallback="sample": sampling_options(t, beam, "sample")
    params = {k: float(v) for k, v in (kv.split("=") for kv in spec.removeprefix("beam:").split(",") if kv)}

    def options(t: float, beam: int, _fallback: str = "beam") -> dict[str, Any]:
        if t <= 0:
            return {"beam_size": beam}
        step = round(t / 0.2)
        out: dict[str, Any] = {"beam_size": beam + int(params.get("grow", 0) * step)}
        if params.get("rp", 0):
            out["repetition_penalty"] = 1.0 + t * params["rp"]
        if params.get("ngram", 0):
            out["no_repeat_ngram_size"] = int(params["ngram"])
        if params.get("patience", 0):
            out["patience"] = params["patience"]
        return out

    return options


def load_set(manifest: Path) -> tuple[list[Path], list[str]]:
    entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    return [manifest.parent / e["path"] for e in entries], [e["text"] for e in entries]


def cpu_split(times: StageTimes) -> tuple[float, float]:
    """Model CPU-seconds in all, and at temperatures above 0."""
    model = sum(v for k, v in times.cpu.items() if k.startswith("model:"))
    hot = sum(v for k, v in times.cpu.items() if " t=" in k and not k.endswith("t=0.0"))
    return model, hot


class Chosen:
    """Counts, over decoded sequences, results taken at t > 0 that passed the guards or were flagged."""

    def __init__(self) -> None:
        self.hot, self.flagged = 0, 0
        decode = whisper_ct2_decode.CT2Decoder.decode

        def counted(decoder: Any, *args: Any, **kwargs: Any) -> Any:
            out = decode(decoder, *args, **kwargs)
            for segments, _seek, failed in out:
                self.flagged += int(failed or any(s["flagged"] for s in segments))
                self.hot += int(any(s["temperature"] > 0 and not s["flagged"] for s in segments))
            return out

        whisper_ct2_decode.CT2Decoder.decode = counted

    def take(self) -> str:
        out, self.hot, self.flagged = f"{self.hot}/{self.flagged}", 0, 0
        return out


def run(decoder: PackedDecoder, clips: list, groups: list[list[int]]) -> tuple[dict[str, str], float, float]:
    decoder.times.drain()
    texts = decoder.transcripts(clips, groups)
    return (texts, *cpu_split(decoder.times))


def groupings(decoder: PackedDecoder, clips: list, packed: bool, seed: int) -> tuple[list[list[int]], ...]:
    """The set's windows in order, and the same windows in a shuffled order (other batch neighbours)."""
    if packed:
        lengths = [p.length if p else 0 for p in decoder.placements(clips)]
        gap = int(decoder.config.chunking.pack_gap_s * SAMPLE_RATE)
        groups = random_groups(lengths, random.Random(seed), gap)
    else:
        groups = [[i] for i in range(len(clips))]
    shuffled = list(groups)
    random.Random(seed + 1).shuffle(shuffled)
    return groups, shuffled


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("manifests", nargs="+", type=Path)
    p.add_argument("--variant", action="append", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--packed", action="store_true", help="clips packed in seeded random groups, as voxray packs")
    args = p.parse_args()
    decoder = PackedDecoder(TranscribeConfig().validated())
    sets = {m: load_set(m) for m in args.manifests}
    clips = {m: load_clips(paths) for m, (paths, _) in sets.items()}
    chosen = Chosen()
    for spec in args.variant:
        whisper_ct2_decode.sampling_options = variant_options(spec)
        for m, (paths, refs) in sets.items():
            in_order, shuffled = groupings(decoder, clips[m], args.packed, args.seed)
            a, cpu_a, hot_a = run(decoder, clips[m], in_order)
            taken = chosen.take()
            b, cpu_b, hot_b = run(decoder, clips[m], shuffled)
            chosen.take()
            wers = [corpus_wer(refs, [t.get(str(x), "") for x in paths]) for t in (a, b)]
            differ = sum(a.get(str(x)) != b.get(str(x)) for x in paths)
            print(
                f"{spec:28s} {m.parent.name}/{m.name:18s} WER {wers[0]:.4f} {wers[1]:.4f}  differ {differ:2d}  "
                f"model CPU {cpu_a:6.1f} {cpu_b:6.1f}  t>0 {hot_a:6.1f} {hot_b:6.1f}  passed at t>0/flagged {taken}",
                flush=True,
            )


if __name__ == "__main__":
    main()
