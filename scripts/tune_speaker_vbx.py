"""Measure VBx's speaker count on the evaluation set's dev split with cross-fitted PLDAs (tuning only).

Every dev mix is clustered with a PLDA trained on the other half of the dev mixes (even-numbered
mixes score the odd ones and the other way round), so no mix is scored by a model that saw it;
each (loop, Fa, Fb) of the grid prints the counts right and the mean DER. The options add what the
fourth round of docs/diarization.md tried: more PLDA training mixes drawn from the dev voices with
another seed (`--extra-mixes`), embeddings averaged with their neighbours in the same stretch of
speech (`--smooth`), and per-window pitch statistics appended to the embedding (`--pitch`); the
fifth round's tiny.en encoder statistics (`--whisper LAYER:K`: the mean and std of one encoder
layer's frames over each window, z-scored and reduced to K principal components on the training
half; `--dims 0` uses them alone). The sixth round's split test (`--split FA:MIN`: after VBx,
each speaker found is clustered again alone by VBx at evidence scale FA, started from the two
sides of its first principal component, and split where both sides keep MIN windows) and its
held-out check (`--heldout N`: N fresh mixes of the dev voices, another seed, scored with the
shipped PLDA, with and without the split test). Every cell prints the confusion of true against
found counts. The test split is never read. Needs espeak-ng and ffmpeg (the
set is built if missing); the windows and encoder statistics are cached next to the set, so a
rerun only clusters.

    python scripts/tune_speaker_vbx.py [--extra-mixes 96] [--smooth 1] [--pitch] [--dims 24]
        [--whisper 2:16] [--split 0.4:4] [--heldout 48] [--grid 0.9:0.25:7,0.8:0.2:5]
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import soundfile as sf

from models.common.audio import SAMPLE_RATE
from models.speaker_resemblyzer import EMBEDDING_DIM as EMB
from pipelines.config import DiarizeConfig, TranscribeConfig
from pipelines.speakers.cluster import speaker_turns
from pipelines.speakers.plda import train_plda
from pipelines.speakers.vbx import initial_gamma, vbx
from tools.bench import diarize_evalset as evalset
from tools.bench.diarize_eval import mix_windows, score_mix, window_speakers

# Pitch: 40 ms Hann frames every 10 ms, lags of 60-400 Hz; a frame is voiced where its normalised
# autocorrelation peak passes 0.5 within 40 dB of the recording's loudest frame.
FRAME, HOP = 640, 160
LAG_MIN, LAG_MAX = SAMPLE_RATE // 400, SAMPLE_RATE // 60
VOICED_PEAK, VOICED_RANGE_DB = 0.5, 40.0
Mix = tuple[str, dict, list[dict], np.ndarray]  # name, metadata, windows (time order), features


def frame_log_f0(x: np.ndarray) -> np.ndarray:
    """Log F0 of every 10 ms frame (nan where unvoiced)."""
    n = 1 + max(0, (len(x) - FRAME) // HOP)
    frames = x[np.minimum(np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None], len(x) - 1)].astype(np.float64)
    window = np.hanning(FRAME)
    frames = (frames - frames.mean(axis=1, keepdims=True)) * window
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * FRAME)) ** 2)[:, : LAG_MAX + 1]
    bias = np.fft.irfft(np.abs(np.fft.rfft(window, 2 * FRAME)) ** 2)[: LAG_MAX + 1]
    norm = ac / np.maximum(ac[:, :1], 1e-12) / (bias / bias[0])
    lags = norm[:, LAG_MIN:]
    peak = lags.max(axis=1)
    # The shortest lag within 90% of the peak: the period, not a multiple of it.
    lag = np.argmax(lags >= 0.9 * peak[:, None], axis=1) + LAG_MIN
    energy_db = 10 * np.log10(ac[:, 0] + 1e-12)
    voiced = (peak > VOICED_PEAK) & (energy_db > energy_db.max() - VOICED_RANGE_DB)
    return np.where(voiced, np.log(SAMPLE_RATE / lag), np.nan)


def pitch_features(x: np.ndarray, windows: list[dict]) -> np.ndarray:
    """Per window: median log F0, its 10-90% range, the voiced share (the recording's median where unvoiced)."""
    f0 = frame_log_f0(x)
    rows = []
    for w in windows:
        part = f0[int(w["start"] * SAMPLE_RATE / HOP) : int(w["end"] * SAMPLE_RATE / HOP)]
        voiced = part[~np.isnan(part)]
        q = np.percentile(voiced, [10, 50, 90]) if voiced.size >= 5 else [np.nan] * 3
        rows.append([q[1], q[2] - q[0], voiced.size / max(1, part.size)])
    out = np.array(rows)
    for j in range(out.shape[1]):
        bad = np.isnan(out[:, j])
        out[bad, j] = np.nanmedian(out[:, j]) if (~bad).any() else 0.0
    return out


def extra_mixes(root: Path, count: int) -> Path:
    """`count` more mixes of the dev voices, drawn with another seed (PLDA training data only)."""
    folder = evalset.cache_folder(root).with_name(evalset.cache_folder(root).name + f"-devx{count}")
    if (folder / "index.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    reals, index = evalset.real_utterances(), []
    rng, noise = random.Random("devx-extra-1"), np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            speakers = evalset.SPEAKER_COUNTS[i % len(evalset.SPEAKER_COUNTS)]
            condition = evalset.CONDITIONS[(i // len(evalset.SPEAKER_COUNTS)) % len(evalset.CONDITIONS)]
            mix, turns = evalset.build_mix("dev", speakers, rng, reals, Path(tmp))
            audio = evalset.channel(mix, condition, noise, Path(tmp))
            name = f"devx_{i:02d}_{speakers}spk_{condition}"
            sf.write(folder / f"{name}.flac", audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            meta = {"split": "devx", "speakers": sorted({t["speaker"] for t in turns}), "condition": condition,
                    "duration_s": round(audio.shape[0] / SAMPLE_RATE, 3), "turns": turns}  # fmt: skip
            (folder / f"{name}.json").write_text(json.dumps(meta))
            index.append({"name": name, "split": "devx"})
    (folder / "index.json").write_text(json.dumps(index))
    return folder


def whisper_stats(folder: Path, split: str, mixes: list[Mix]) -> dict[str, np.ndarray]:
    """Per mix (n windows, layers + 1, 768): the mean and std of tiny.en's encoder frames over each
    window, for the input embeddings and every layer (cached in the folder)."""
    import torch
    from transformers import WhisperModel

    from models.common.audio import N_SAMPLES, TIME_PRECISION_S
    from models.common.config import StorageConfig
    from models.features import LogMel
    from models.whisper_torch import resolve_torch_model

    cache = folder / f"whisper-stats-{split}.npz"
    if cache.exists():
        return dict(np.load(cache))
    encoder = WhisperModel.from_pretrained(resolve_torch_model("tiny.en", StorageConfig())).encoder.eval()
    mel, out = LogMel(), {}
    for name, _, windows, _ in mixes:
        audio = sf.read(folder / f"{name}.flac", dtype="float32")[0]
        with torch.inference_mode():
            chunks = [encoder(torch.from_numpy(mel(audio[c : c + N_SAMPLES]))[None], output_hidden_states=True)
                      for c in range(0, len(audio), N_SAMPLES)]  # fmt: skip
        frames = np.concatenate([torch.stack(c.hidden_states)[:, 0].numpy() for c in chunks], axis=1)
        rows = []
        for w in windows:
            a = round(w["start"] / TIME_PRECISION_S)
            part = frames[:, a : max(a + 2, round(w["end"] / TIME_PRECISION_S))]
            rows.append(np.concatenate([part.mean(axis=1), part.std(axis=1)], axis=1))
        out[name] = np.stack(rows).astype(np.float32)
    np.savez(cache, **out)
    return out


def with_whisper(folder: Path, split: str, mixes: list[Mix], layer: int) -> list[Mix]:
    stats = whisper_stats(folder, split, mixes)
    return [(n, meta, w, np.hstack([x, stats[n][:, layer]])) for n, meta, w, x in mixes]


def load_mixes(folder: Path, split: str, pitch: bool) -> list[Mix]:
    """The split's mixes with their speaker windows (computed once, cached in the folder)."""
    cache = folder / f"speaker-windows-{split}.pkl"
    windows: dict[str, list[dict]] = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    config, out = TranscribeConfig(diarize=DiarizeConfig(enabled=True)), []
    for entry in json.loads((folder / "index.json").read_text()):
        name = entry["name"]
        if entry["split"] != split:
            continue
        if name not in windows:
            windows[name] = mix_windows(folder / f"{name}.flac", config)
        found = sorted(windows[name], key=lambda w: (w["start"], w["end"]))
        meta = json.loads((folder / f"{name}.json").read_text())
        x = np.stack([np.frombuffer(w["embedding"], dtype=np.float32) for w in found]).astype(np.float64)
        if pitch:
            x = np.hstack([x, pitch_features(sf.read(folder / f"{name}.flac", dtype="float32")[0], found)])
        out.append((name, meta, found, x))
    cache.write_bytes(pickle.dumps(windows))
    return out


def smoothed(mix: Mix, k: int) -> np.ndarray:
    """Each window's embedding averaged with up to k neighbours each side in its stretch of speech."""
    _, _, windows, x = mix
    if k == 0:
        return x
    stretch = np.cumsum([0] + [b["start"] >= a["end"] - 1e-6 for a, b in pairwise(windows)])
    emb = x[:, :EMB].copy()
    for i in range(len(windows)):
        near = [j for j in range(max(0, i - k), min(len(windows), i + k + 1)) if stretch[j] == stretch[i]]
        emb[i] = x[near, :EMB].mean(axis=0)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return np.hstack([emb, x[:, EMB:]])


Projection = tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]
Setting = tuple[float, float, float]  # VBx's loop probability, Fa, Fb
Split = tuple[float, int]  # the split test's Fa and least windows a side
Score = tuple[int, int, float]  # reference count, found count, DER


def fit(mixes: list[tuple[Mix, np.ndarray]], dims: int, tail_dims: int = 0) -> Projection:
    """PLDA on the single-speaker windows (a class per speaker in a mix): the embedding's first
    `dims` principal components, the appended features z-scored (PLDA weighs them), reduced to
    their first `tail_dims` principal components where that is not 0."""
    rows, names = [], []
    for (name, meta, windows, _), x in mixes:
        for row, speaker in zip(x, window_speakers(windows, meta["turns"]), strict=True):
            if speaker is not None:
                rows.append(row)
                names.append(f"{name}|{speaker}")
    _, labels = np.unique(names, return_inverse=True)
    keep = np.bincount(labels)[labels] >= 2
    x, labels = np.stack(rows)[keep], labels[keep]
    mean = x.mean(axis=0)
    pca = np.linalg.svd(x[:, :EMB] - mean[:EMB], full_matrices=False)[2][:dims]
    tail = x.shape[1] - EMB
    scale = 1.0 / ((x[:, EMB:] - mean[EMB:]).std(axis=0) + 1e-6) if tail else np.ones(0)
    basis = np.eye(tail)
    if tail_dims:
        basis = np.linalg.svd((x[:, EMB:] - mean[EMB:]) * scale, full_matrices=False)[2][:tail_dims]

    def reduce(v: np.ndarray) -> np.ndarray:
        return np.hstack([(v[:, :EMB] - mean[:EMB]) @ pca.T, ((v[:, EMB:] - mean[EMB:]) * scale) @ basis.T])

    model = train_plda(reduce(x), labels, dims + basis.shape[0])
    return (lambda v: model.project(reduce(v))), model.phi


def split_pass(y: np.ndarray, phi: np.ndarray, labels: np.ndarray, setting: Setting, split: Split) -> np.ndarray:
    """Each speaker VBx found, clustered again alone (VBx at evidence scale split[0], started from
    the two sides of its first principal component), split where both sides keep split[1] windows."""
    fa, least = split
    out, fresh = labels.copy(), int(labels.max()) + 1
    for speaker in np.unique(labels):
        idx = np.flatnonzero(labels == speaker)
        if idx.size < 2 * least:
            continue
        centred = y[idx] - y[idx].mean(axis=0)
        sides = (centred @ np.linalg.svd(centred, full_matrices=False)[2][0] > 0).astype(int)
        result = vbx(y[idx], phi, initial_gamma(sides, 5.0), setting[0], fa, setting[2])
        side = np.argmax(result.gamma, axis=1)
        if (np.bincount(side, minlength=2) >= least).all():
            out[idx[side == 1]] = fresh
            fresh += 1
    return np.unique(out, return_inverse=True)[1]


def count_and_der(mix: Mix, x: np.ndarray, proj: Projection, setting: Setting, split: Split | None = None) -> Score:
    """(reference count, found count, DER) of one mix."""
    name, meta, windows, raw = mix
    cfg = DiarizeConfig(enabled=True)
    if len(windows) < 2:
        labels = np.zeros(len(windows), dtype=int)
    else:
        first = np.unique(fcluster_at(raw[:, :EMB], cfg), return_inverse=True)[1]
        loop, fa, fb = setting
        y = proj[0](x)
        result = vbx(y, proj[1], initial_gamma(first, cfg.vbx_init_smoothing), loop, fa, fb)
        labels = np.unique(np.argmax(result.gamma, axis=1), return_inverse=True)[1]
        if split:
            labels = split_pass(y, proj[1], labels, setting, split)
    starts, ends = np.array([w["start"] for w in windows]), np.array([w["end"] for w in windows])
    score = score_mix(name, meta, speaker_turns(starts, ends, labels))
    return score.reference_speakers, score.hypothesis_speakers, score.der


def report(label: str, results: list[Score]) -> None:
    right = sum(r == h for r, h, _ in results)
    confusion = Counter((r, h) for r, h, _ in results if r != h)
    wrong = ", ".join(f"{r}->{h}: {n}" for (r, h), n in sorted(confusion.items()))
    der = 100 * np.mean([d for *_, d in results])
    print(f"{label}: count right {right} of {len(results)} (split {sum(h > r for r, h, _ in results)}, "
          f"merged {sum(h < r for r, h, _ in results)}; {wrong}), mean DER {der:.2f}%", flush=True)  # fmt: skip


def shipped() -> Projection:
    from pipelines.speakers.plda import load_plda

    plda = load_plda()
    return (lambda v: plda.project(v[:, :EMB])), plda.phi


def fcluster_at(x: np.ndarray, cfg: DiarizeConfig) -> np.ndarray:
    """VBx's start, as the pipeline makes it: the merge tree stopped at vbx_init_threshold."""
    from scipy.cluster.hierarchy import fcluster, linkage

    return fcluster(linkage(x, method=cfg.linkage, metric="cosine"), cfg.vbx_init_threshold, "distance") - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=evalset.default_cache_root())
    parser.add_argument("--extra-mixes", type=int, default=0, help="more dev-voice mixes for the PLDA (0: none)")
    parser.add_argument("--smooth", type=int, default=0, help="average each window with k neighbours each side")
    parser.add_argument("--pitch", action="store_true", help="append log F0 median, range, voiced share")
    parser.add_argument("--dims", type=int, default=24, help="the embedding's PCA dimensions before the PLDA")
    parser.add_argument("--whisper", help="LAYER:K: append tiny.en encoder layer LAYER's window stats, K PCA dims")
    parser.add_argument("--split", help="FA:MIN: test each speaker found for two voices (sixth round)")
    parser.add_argument("--heldout", type=int, default=0, help="also score N fresh dev-voice mixes, shipped PLDA")
    parser.add_argument("--grid", default="0.9:0.25:7,0.8:0.2:5,0.95:0.3:8,0.9:0.3:10,0.7:0.2:6,0.9:0.4:15")
    args = parser.parse_args()
    folder = evalset.build(args.root)
    dev = load_mixes(folder, "dev", args.pitch)
    more = load_mixes(extra_mixes(args.root, args.extra_mixes), "devx", args.pitch) if args.extra_mixes else []
    layer, tail_dims = (int(v) for v in args.whisper.split(":")) if args.whisper else (0, 0)
    if args.whisper:
        dev = with_whisper(folder, "dev", dev, layer)
        more = with_whisper(extra_mixes(args.root, args.extra_mixes), "devx", more, layer) if more else []
    dev_x = [(m, smoothed(m, args.smooth)) for m in dev]
    more_x = [(m, smoothed(m, args.smooth)) for m in more]
    # Cross-fitting: the even-numbered mixes are scored by the odd ones' PLDA and the other way round.
    folds = [fit(dev_x[1::2] + more_x, args.dims, tail_dims), fit(dev_x[0::2] + more_x, args.dims, tail_dims)]
    split = (float(args.split.split(":")[0]), int(args.split.split(":")[1])) if args.split else None
    # Held out: mixes drawn after the --extra-mixes ones' seed start; only for the plain d-vector.
    heldout = load_mixes(extra_mixes(args.root, args.heldout), "devx", False) if args.heldout else []
    for text in args.grid.split(","):
        loop, fa, fb = (float(v) for v in text.split(":"))
        setting = (loop, fa, fb)
        label = f"loop {loop} Fa {fa} Fb {fb}" + (f" split {args.split}" if split else "")
        report(label, [count_and_der(m, x, folds[i % 2], setting, split) for i, (m, x) in enumerate(dev_x)])
        for test in [None, split] if heldout and split else [None] if heldout else []:
            results = [count_and_der(m, m[3], shipped(), setting, test) for m in heldout]
            report(f"  held out ({args.heldout} mixes, shipped PLDA){' split ' + args.split if test else ''}", results)


if __name__ == "__main__":
    main()
