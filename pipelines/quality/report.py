"""Reports of an evaluation: text report, comparison table, totals JSON, and the files it writes."""

from __future__ import annotations

import io
import json
import os
import posixpath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from models.common.config import StorageConfig
from models.common.schema import STATUS_OK
from models.common.storage import filesystem, is_s3, strip_scheme
from pipelines.quality.evaluate import DURATION_BUCKETS, PER_FILE_SCHEMA, SystemResult, duration_bucket

# ---------------------------------------------------------------------------------------------- report


def _pct(rate: float) -> str:
    return f"{100 * rate:.2f}"


def _short(path: str, sources: dict[str, str]) -> str:
    source = sources.get(path, "")
    return posixpath.join(source, posixpath.basename(path)) if source else posixpath.basename(path)


def render_report(result: SystemResult, worst: int = 10) -> str:
    t = result.totals()
    sources = {r["path"]: r["source"] for r in result.rows}
    lines = [
        f"system: {t['system']}",
        f"files: {t['files']}  ok: {t['ok']}  failed: {t['failed']}  missing: {t['missing']}  "
        f"audio: {t['audio_s']:.1f} s",
        f"WER: {_pct(t['wer'])} %  ({t['substitutions']} substitutions, {t['deletions']} deletions, "
        f"{t['insertions']} insertions over {t['ref_words']} reference words)",
        f"CER: {_pct(t['cer'])} %  ({t['ref_chars']} reference characters)",
    ]
    if "rtfx" in t:
        lines.append(f"RTFx: {t['rtfx']:.1f}  (transcription wall time {t['wall_s']:.1f} s)")
    lines += [f"note: {n}" for n in result.notes]
    failed = [r for r in result.rows if r["status"] != STATUS_OK]
    if failed:
        lines += ["", "not transcribed (all reference words count as deletions):"]
        lines += [f"  {r['status']:<8} {_short(r['path'], sources)}: {r['error']}" for r in failed]
    ranked = sorted(result.rows, key=lambda r: (-_rate(r), -_errors(r), r["path"]))
    ranked = [r for r in ranked if _errors(r) > 0][:worst]
    if ranked:
        lines += ["", f"worst files (top {len(ranked)} by error rate):"]
        lines.append(f"  {'rate %':>7} {'metric':<6} {'S':>3} {'D':>3} {'I':>3} {'ref':>4}  file")
        for r in ranked:
            units = r["ref_words"] if r["metric"] == "wer" else r["ref_chars"]
            s, d, i = _sdi(r)
            lines.append(
                f"  {_pct(_rate(r)):>7} {r['metric'].upper():<6} {s:>3} {d:>3} {i:>3} {units:>4}  "
                f"{_short(r['path'], sources)}"
            )
            lines.append(f"  {'':>7} ref: {r['reference_norm']}")
            lines.append(f"  {'':>7} hyp: {r['hypothesis_norm']}")
    return "\n".join(lines)


def render_comparison(results: list[SystemResult], worst: int = 10) -> str:
    totals = [r.totals() for r in results]
    width = max(len("system"), *(len(t["system"]) for t in totals))
    lines = [f"{'system':<{width}} {'files':>6} {'failed':>6} {'missing':>7} {'WER %':>7} {'CER %':>7} "
             f"{'S':>5} {'D':>5} {'I':>5} {'RTFx':>7}"]  # fmt: skip
    for t in totals:
        rtfx = f"{t['rtfx']:.1f}" if "rtfx" in t else "-"
        lines.append(
            f"{t['system']:<{width}} {t['files']:>6} {t['failed']:>6} {t['missing']:>7} {_pct(t['wer']):>7} "
            f"{_pct(t['cer']):>7} {t['substitutions']:>5} {t['deletions']:>5} {t['insertions']:>5} {rtfx:>7}"
        )
    base = results[0]
    for other in results[1:]:
        diffs = sorted(
            zip(base.rows, other.rows, strict=True),
            key=lambda ab: (-abs(_errors(ab[1]) - _errors(ab[0])), ab[0]["path"]),
        )
        diffs = [ab for ab in diffs if _errors(ab[0]) != _errors(ab[1])][:worst]
        sources = {r["path"]: r["source"] for r in base.rows}
        lines += ["", f"files that differ most ({other.label} vs {base.label}, errors):"]
        lines += [f"  {_errors(a):>3} -> {_errors(b):>3}  {_short(a['path'], sources)}" for a, b in diffs]
        if not diffs:
            lines.append("  (same error counts on every file)")
    for r in results:
        lines += [f"note ({r.label}): {n}" for n in r.notes]
    return "\n".join(lines)


def _rate(row: dict[str, Any]) -> float:
    return row["wer"] if row["metric"] == "wer" else row["cer"]


def _sdi(row: dict[str, Any]) -> tuple[int, int, int]:
    prefix = "" if row["metric"] == "wer" else "char_"
    return row[prefix + "substitutions"], row[prefix + "deletions"], row[prefix + "insertions"]


def _errors(row: dict[str, Any]) -> int:
    return sum(_sdi(row))


def totals_json(results: list[SystemResult]) -> str:
    """One system: its totals. Several (--compare): {"systems": [totals, ...]} in the order given."""
    if len(results) == 1:
        return json.dumps(results[0].totals())
    return json.dumps({"systems": [r.totals() for r in results]})


# ---------------------------------------------------------------------------------------------- outputs


def write_outputs(results: list[SystemResult], out: str, storage: StorageConfig) -> list[str]:
    """per_file.parquet (all systems, `system` column), totals.json and eval.png under OUT."""
    fs = filesystem(out, storage)
    root = strip_scheme(out) if is_s3(out) else os.path.abspath(out)
    fs.makedirs(root, exist_ok=True)
    prefix = "s3://" if is_s3(out) else ""
    written = []
    table = pa.Table.from_pylist([row for r in results for row in r.rows], schema=PER_FILE_SCHEMA)
    target = posixpath.join(root, "per_file.parquet")
    with fs.open(target, "wb") as fh:
        pq.write_table(table, fh)
    written.append(prefix + target)
    for name, data in (("totals.json", totals_json(results).encode()), ("eval.png", plot_png(results))):
        target = posixpath.join(root, name)
        with fs.open(target, "wb") as fh:
            fh.write(data)
        written.append(prefix + target)
    return written


def grouped_rates(result: SystemResult, key) -> dict[str, tuple[float, int]]:
    """Corpus error rate (each file's own metric) and file count per group."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in result.rows:
        groups.setdefault(key(row), []).append(row)
    out = {}
    for name, rows in groups.items():
        words, chars = result.counts(rows)
        # A group mixing WER and CER files is rare; its rate is then the word rate.
        out[name] = (chars.rate if all(r["metric"] == "cer" for r in rows) else words.rate, len(rows))
    return out


def plot_png(results: list[SystemResult]) -> bytes:
    """Error rate by duration bucket, by source folder and by file format, one bar per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [label for _, label in DURATION_BUCKETS] + ["unknown"]
    panels = [
        ("by duration", lambda r: duration_bucket(r["duration_s"]), lambda names: sorted(names, key=order.index)),
        ("by source folder", lambda r: r["source"], sorted),
        ("by format", lambda r: posixpath.splitext(r["path"])[1].lower() or "(none)", sorted),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
    width = 0.8 / len(results)
    for ax, (title, key, sort) in zip(axes[0], panels, strict=True):
        per_system = [grouped_rates(r, key) for r in results]
        names = sort({n for g in per_system for n in g})
        for i, (result, groups) in enumerate(zip(results, per_system, strict=True)):
            xs = [j + (i - (len(results) - 1) / 2) * width for j in range(len(names))]
            ys = [100 * groups.get(n, (0.0, 0))[0] for n in names]
            bars = ax.bar(xs, ys, width, label=result.label)
            ax.bar_label(bars, labels=[f"n={groups.get(n, (0, 0))[1]}" for n in names], fontsize=7)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"error rate {title}")
        ax.set_ylabel("WER % (CER % for CER languages)")
    if len(results) > 1:
        axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
