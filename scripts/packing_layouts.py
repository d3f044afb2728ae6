"""Words lost against speed for layouts of packed windows (issue 21 item 1: encoder contamination).

A packed clip is decoded as its own sequence, but its encoder output comes from one pass over the
whole window, where self-attention mixes in its neighbours' audio. This runs one clip set
(scripts/make_clip_sets.py) in this process through the pipeline's own preparation and model stage
(tools/bench/packing.py, the safety net and `incomplete_clip` included), each clip alone (cached:
what `--no-pack` does) and then under each layout, in tasks of 8 files in path order as the pipeline
packs them:

- `default`: `pack_windows` (first fit, longest first, `pack_gap_s` 1 s, up to 30 s a window);
- `gap2`, `gap4`: 2 or 4 s of silence between clips;
- `fill20`, `fill15`: at most 20 or 15 s of a window filled (fewer clips, more windows);
- `two`: at most two clips a window;
- `order`: first fit in path order (clips of unlike lengths together);
- `reversed`: the default windows with their clips in the opposite order (for the cross-check);
- `solo`: each clip alone in its window but at its default offset (no neighbour, same position;
  decoded as a whole window, as an unpacked clip is);
- `single`: no packing, each window its own model call (against "alone", the cache, which is
  `--no-pack`'s eight windows a call in path order: what batch composition changes);
- `quiet`: `solo` with a second of digital silence as a window-mate, so the clip is decoded as its
  own sequence exactly as in `default`, from an encoder pass that holds no other speech.

`--variants` runs the `default` layout once per way of putting a packed clip before the decoder
(`model.clip_input`, `models.common.config.ClipInput`; VARIANTS below), each as a row `default@NAME`.

Per layout: windows, CPU-s of the run, files and words lost (reference words the clip's alone
transcript gets right and its transcript under the layout deletes, as `voxray bench --scenarios
short-sets` counts them), words gained (the other way), WER. Then a cross-check against each other
layout: the default's transcripts, with every clip whose transcript differs under that layout taken
alone; its cost is both packed runs plus those clips decoded alone. Per-clip transcripts go to
`--out` (JSON, rewritten after each layout).

    python scripts/packing_layouts.py SET_FOLDER --cache DIR --out FILE [--layouts default,gap2,...]
    python scripts/packing_layouts.py SET_FOLDER --cache DIR --out FILE --layouts "" --variants span,zero,...
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from models.common.audio import N_SAMPLES, SAMPLE_RATE
from models.common.config import ClipInput
from pipelines.batch.packing import pack_windows
from pipelines.config import TranscribeConfig
from pipelines.listing import AUDIO_EXTENSIONS
from pipelines.quality.wer import ErrorCounts, normalize, word_errors
from pipelines.windows import Stretch, plan_unit
from tools.bench.bench_shortsets import _deleted, _hit
from tools.bench.packing import Clip, PackedDecoder, load_clips, reversed_order

TASK_FILES = 8  # files per preparation task for a job of a few hundred short clips (pipelines/batch/run.py)
Windows = list[list[Stretch]]
# Ways of putting a packed clip before the decoder (issue 21: the words it loses against alone).
VARIANTS = {
    "span": ClipInput(),
    "zero": ClipInput(silence=0.0),
    "nostart": ClipInput(forced_start=False),
    "zero-nostart": ClipInput(silence=0.0, forced_start=False),
    "prefix": ClipInput(splice="prefix"),
    "prefix-zero": ClipInput(splice="prefix", silence=0.0),
    "window": ClipInput(splice="window"),
    "window-nostart": ClipInput(splice="window", forced_start=False),
}


def layouts(config: TranscribeConfig, silent: int) -> dict[str, Callable[[Windows], Windows]]:
    """The layouts by name; `silent` is the unit of a clip of digital silence (for `quiet`)."""
    cfg = config.chunking

    def fit(
        gap_s: float = cfg.pack_gap_s, fill_s: float = 30.0, most: int | None = None, longest: bool = True
    ) -> Callable:
        spaced = replace(cfg, pack_gap_s=gap_s)
        fill = int(fill_s * SAMPLE_RATE)
        return lambda ws: pack_windows(ws, spaced, fill=fill, max_clips=most, longest_first=longest)

    return {
        "default": lambda ws: pack_windows(ws, cfg),
        "gap2": fit(gap_s=2.0),
        "gap4": fit(gap_s=4.0),
        "fill20": fit(fill_s=20.0),
        "fill15": fit(fill_s=15.0),
        "two": fit(most=2),
        "order": fit(longest=False),
        "reversed": lambda ws: reversed_order(pack_windows(ws, cfg), int(cfg.pack_gap_s * SAMPLE_RATE)),
        "solo": lambda ws: [[s] for w in pack_windows(ws, cfg) for s in w],
        "quiet": lambda ws: [with_silence(s, silent) for w in pack_windows(ws, cfg) for s in w],
        "single": lambda ws: ws,
    }


def with_silence(s: Stretch, silent: int) -> list[Stretch]:
    """Clip `s` at its packed offset with a second of digital silence as its only window-mate.

    The window counts as packed, so the clip is decoded as its own sequence as in `default`, but
    its encoder pass holds no other speech: what is left is the effect of its position.
    """
    second = SAMPLE_RATE
    at = s.window_offset + s.length + second if s.window_offset + s.length + 2 * second <= N_SAMPLES else 0
    return [s, Stretch(silent, at, 0, second)] if at else [Stretch(silent, 0, 0, second), s]


def task_windows(clips: list[Clip], config: TranscribeConfig, layout: Callable[[Windows], Windows]) -> Windows:
    """The layout's windows, task by task (TASK_FILES files in path order), as the pipeline packs them."""
    out: Windows = []
    for first in range(0, len(clips), TASK_FILES):
        windows: Windows = []
        for i in range(first, min(first + TASK_FILES, len(clips))):
            windows += plan_unit(clips[i].audio, i, config.chunking)
        out += layout(windows)
    return out


def score(refs: dict[str, str], alone: dict[str, str], texts: dict[str, str]) -> dict[str, float]:
    lost = {
        p: len(_hit(normalize(r), normalize(alone[p])) & _deleted(normalize(r), normalize(texts[p])))
        for p, r in refs.items()
    }
    gained = {
        p: len(_hit(normalize(r), normalize(texts[p])) & _deleted(normalize(r), normalize(alone[p])))
        for p, r in refs.items()
    }
    errors = sum((word_errors(normalize(r), normalize(texts[p])) for p, r in refs.items()), ErrorCounts())
    return {
        "files_lost": sum(v > 0 for v in lost.values()),
        "words_lost": sum(lost.values()),
        "files_gained": sum(v > 0 for v in gained.values()),
        "words_gained": sum(gained.values()),
        "wer": round(100 * errors.rate, 2),
        "changed": sum(normalize(alone[p]) != normalize(texts[p]) for p in refs),
    }  # fmt: skip


def cross_check(
    result: dict, texts_by: dict[str, dict[str, str]], other: str, alone: dict, refs: dict[str, str]
) -> dict[str, float]:
    """Default packing, with every clip whose transcript differs under layout `other` taken alone.

    Its cost: both packed runs, plus those clips decoded alone (at the alone run's CPU-s a clip).
    """
    a, b = texts_by["default"], texts_by[other]
    differ = {q for q in a if normalize(a[q]) != normalize(b[q])}
    checked = {q: alone["texts"][q] if q in differ else a[q] for q in a}
    cost = result["default"]["cpu_s"] + result[other]["cpu_s"] + alone["cpu_s"] / len(a) * len(differ)
    return {"differ": len(differ), "cpu_s": round(cost, 1), **score(refs, alone["texts"], checked)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("--cache", type=Path, required=True, help="folder for the alone transcripts")
    p.add_argument("--out", type=Path, required=True, help="JSON file for per-clip transcripts and totals")
    p.add_argument(
        "--layouts", default="default,reversed,gap2,gap4,fill20,two,order,solo", help="LAYOUT or LAYOUT@VARIANT"
    )
    p.add_argument("--variants", default="", help=f"default layout per ClipInput: {','.join(VARIANTS)}")
    args = p.parse_args()
    entries = [json.loads(line) for line in (args.folder / "manifest.jsonl").read_text().splitlines() if line]
    refs = {str(args.folder / e["path"]): e["text"] for e in entries}
    clips = load_clips(sorted(f for f in args.folder.iterdir() if f.suffix.lower() in AUDIO_EXTENSIONS))
    silence = Clip("digital silence", np.zeros(N_SAMPLES, dtype=np.float32))
    config = TranscribeConfig().validated()
    decoders: dict[tuple[str, bool], PackedDecoder] = {}

    def decoder_for(variant: str, single: bool) -> PackedDecoder:
        """The pipeline's model stage with the variant's clip input; `single`: one window a call."""
        if (variant, single) not in decoders:
            model = replace(config.model, clip_input=VARIANTS[variant])
            batch = {"batch": 1} if single else {}
            decoders[(variant, single)] = PackedDecoder(replace(config, model=model), **batch)
        return decoders[(variant, single)]

    decoder = decoder_for("span", single=False)
    cache = args.cache / f"alone-{args.folder.parent.name}-{args.folder.name}.json"
    if not cache.exists():
        args.cache.mkdir(parents=True, exist_ok=True)
        cpu = time.process_time()
        texts = decoder.window_transcripts(clips, task_windows(clips, config, lambda ws: ws))
        cache.write_text(json.dumps({"texts": texts, "cpu_s": time.process_time() - cpu}))
    alone = json.loads(cache.read_text())
    refs = {c.path: refs.get(c.path, "") for c in clips}
    result: dict = {"alone": {"cpu_s": round(alone["cpu_s"], 1), **score(refs, alone["texts"], alone["texts"])}}
    texts_by: dict[str, dict[str, str]] = {}
    runs = [(n, *(n.split("@") if "@" in n else (n, "span"))) for n in args.layouts.split(",") if n]
    runs += [(f"default@{v}", "default", v) for v in args.variants.split(",") if v]
    for name, layout, variant in runs:
        windows = task_windows(clips, config, layouts(config, len(clips))[layout])
        cpu = time.process_time()
        texts = decoder_for(variant, layout == "single").window_transcripts([*clips, silence], windows)
        cpu = time.process_time() - cpu
        texts_by[name] = {c.path: texts.get(c.path, "") for c in clips}
        result[name] = {"windows": len(windows), "cpu_s": round(cpu, 1), **score(refs, alone["texts"], texts_by[name])}
        print(args.folder, name, result[name], flush=True)
        args.out.write_text(json.dumps({"totals": result, "texts": texts_by, "alone": alone["texts"], "refs": refs}))
    for name in [n for n in texts_by if n != "default" and "default" in texts_by]:
        result[f"cross-check {name}"] = cross_check(result, texts_by, name, alone, refs)
        print(args.folder, f"cross-check default/{name}", result[f"cross-check {name}"], flush=True)
    args.out.write_text(json.dumps({"totals": result, "texts": texts_by, "alone": alone["texts"], "refs": refs}))


if __name__ == "__main__":
    main()
