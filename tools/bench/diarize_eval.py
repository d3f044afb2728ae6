"""Score the diarizer on the evaluation set (tools/bench/diarize_evalset.py), split by split.

Each mix goes through the same windows, embeddings and clustering as `voxray transcribe
--diarize` (pipelines/speakers/offline.py), without the speech model. Per mix: DER (collar
0.25 s, overlap skipped), DER with overlap scored, JER, and the speaker count; per split: their
means, the pooled DER (errors over all mixes' speech) and the share of mixes whose count is right.
Speaker windows can be kept between runs (`windows_cache`), so clustering choices are compared
on the same embeddings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.speakers.cluster import Turn, diarize_windows


@dataclass(frozen=True)
class MixScore:
    name: str
    split: str
    condition: str
    duration_s: float
    reference_speakers: int
    hypothesis_speakers: int
    der: float  # collar 0.25 s, overlap skipped
    der_overlap: float  # collar 0.25 s, overlap scored
    jer: float


def mix_windows(path: Path, config: Any) -> list[dict]:
    from pipelines.decode import decode_audio
    from pipelines.windows import blocks_of
    from tools.bench.offline_speakers import stream_windows

    return stream_windows(blocks_of(decode_audio(str(path)).samples[0]), config)


def window_speakers(windows: list[dict], turns: list[dict]) -> list[str | None]:
    """The reference speaker of each window (in the windows' order), or None where the window
    reaches into another speaker's turn or into a pause of more than a tenth of it."""
    out: list[str | None] = []
    for w in windows:
        cover: dict[str, float] = {}
        for t in turns:
            overlap = min(w["end"], t["end_s"]) - max(w["start"], t["start_s"])
            if overlap > 0:
                cover[t["speaker"]] = cover.get(t["speaker"], 0.0) + overlap
        alone = len(cover) == 1 and next(iter(cover.values())) >= 0.9 * (w["end"] - w["start"])
        out.append(next(iter(cover)) if alone else None)
    return out


def score_mix(name: str, meta: dict[str, Any], turns: list[Turn]) -> MixScore:
    from pipelines.quality.diarization import der, jer

    ref = meta["turns"]
    return MixScore(
        name=name,
        split=meta["split"],
        condition=meta["condition"],
        duration_s=meta["duration_s"],
        reference_speakers=len(meta["speakers"]),
        hypothesis_speakers=len({t.speaker for t in turns}),
        der=round(der(ref, turns), 4),
        der_overlap=round(der(ref, turns, skip_overlap=False), 4),
        jer=round(jer(ref, turns), 4),
    )


def evaluate(
    folder: Path,
    config: Any,
    splits: tuple[str, ...] = ("dev", "test"),
    windows_cache: dict[str, list[dict]] | None = None,
    diarize: Callable[[list[dict]], list[Turn]] | None = None,
    given_count: bool = False,
) -> list[MixScore]:
    """Score every mix of `splits`; `diarize` replaces the configured clustering (for tuning);
    `given_count` gives each mix its true number of speakers, as --num-speakers would."""
    cache = {} if windows_cache is None else windows_cache
    cluster = diarize or (lambda windows: diarize_windows(windows, config.diarize))
    out = []
    for entry in json.loads((folder / "index.json").read_text()):
        if entry["split"] not in splits:
            continue
        name = entry["name"]
        if name not in cache:
            cache[name] = mix_windows(folder / f"{name}.flac", config)
        meta = json.loads((folder / f"{name}.json").read_text())
        if given_count:
            told = replace(config.diarize, num_speakers=len(meta["speakers"]), min_speakers=None, max_speakers=None)
            out.append(score_mix(name, meta, diarize_windows(cache[name], told)))
        else:
            out.append(score_mix(name, meta, cluster(cache[name])))
    return out


def summarise(scores: list[MixScore]) -> dict[str, dict[str, float]]:
    """Per split: mean DER, DER with overlap, JER, count accuracy, mixes."""
    out = {}
    for split in sorted({s.split for s in scores}):
        rows = [s for s in scores if s.split == split]
        out[split] = {
            "mixes": len(rows),
            "mean_der": round(float(np.mean([r.der for r in rows])), 4),
            "mean_der_overlap": round(float(np.mean([r.der_overlap for r in rows])), 4),
            "mean_jer": round(float(np.mean([r.jer for r in rows])), 4),
            "count_accuracy": round(float(np.mean([r.hypothesis_speakers == r.reference_speakers for r in rows])), 4),
            "median_der": round(float(np.median([r.der for r in rows])), 4),
            "max_der": round(float(np.max([r.der for r in rows])), 4),
        }
    return out


def as_rows(scores: list[MixScore]) -> list[dict[str, Any]]:
    return [asdict(s) for s in scores]
