"""`voxray eval --refs MANIFEST (--model M | --hyp DEST) [--compare ...] [--json] [--out DIR]`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from jobs.options import add_model_options, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="word/character error rates of a model or a transcript dataset against references",
        description="Scores transcripts against reference texts the way the Open ASR Leaderboard does: Whisper's "
        "text normalizer on both sides, then jiwer; corpus WER = all errors / all reference words. Languages "
        "written without spaces (zh, ja, th, ...) are scored by characters (CER). --model transcribes the "
        "references' audio first (and reports RTFx); --hyp reads an existing transcript dataset. A reference "
        "without a transcript, or whose transcription failed, counts as all deletions and is listed.",
    )
    p.add_argument(
        "--refs",
        required=True,
        metavar="MANIFEST",
        help="CSV, JSONL or Parquet with `path` and `text` (optional `duration_s`, `language`); "
        "relative paths are relative to the manifest",
    )
    p.add_argument(
        "--hyp",
        action="append",
        default=[],
        metavar="DEST",
        help="a transcript Parquet dataset (local folder or s3:// prefix) written by voxray; repeatable",
    )
    p.add_argument(
        "--compare-model",
        action="append",
        default=[],
        metavar="M",
        help="another model to run on the same references with the same flags (with --compare); repeatable",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="put every system given (--model, --compare-model, --hyp) side by side on the same references",
    )
    p.add_argument("--json", action="store_true", help="print the totals as one JSON object instead of a report")
    p.add_argument("--out", metavar="DIR", help="write per_file.parquet, totals.json and eval.png here")
    p.add_argument("--worst", type=int, default=10, metavar="N", help="how many of the worst files to list")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.quality.evaluate import (
        HYP_COLUMNS,
        evaluate,
        hypotheses_by_path,
        load_references,
        transcribe_references,
    )
    from pipelines.quality.report import render_comparison, render_report, totals_json, write_outputs
    from pipelines.store.reader import read_transcripts

    config = config_from_args(args)
    models = ([args.model] if args.model else []) + args.compare_model
    n_systems = len(models) + len(args.hyp)
    if n_systems == 0:
        return _fail("give --model M to transcribe the references, or --hyp DEST to score existing transcripts")
    if n_systems > 1 and not args.compare:
        return _fail("several systems given (--model/--compare-model/--hyp): add --compare to compare them")
    if args.compare and n_systems < 2:
        return _fail("--compare needs two systems, e.g. --model tiny.en --hyp DEST, or --hyp A --hyp B")
    # References default to the --language given (English when none): it picks the normalizer.
    try:
        refs = load_references(args.refs, config.storage, default_language=config.model.language)
    except (FileNotFoundError, ValueError) as exc:
        return _fail(f"cannot read references: {exc}")
    if not refs:
        return _fail(f"no references in {args.refs}")

    from models.registry import ModelNotFoundError
    from models.resolved import resolve

    runs = []
    for model in models:
        run_config = replace(config, model=replace(config.model, model=model))
        try:  # before Ray starts, so a typo fails fast; once per model: the run uses what was found
            runs.append((model, run_config, resolve(run_config.model, run_config.storage)))
        except ModelNotFoundError as exc:
            return _fail(str(exc))
    results = []
    for model, run_config, resolved in runs:
        hyps, wall_s = transcribe_references(refs, run_config, resolved)
        results.append(evaluate(refs, hyps, label=model, wall_s=wall_s))
    for dest in args.hyp:
        try:
            table = read_transcripts(dest, config.storage, HYP_COLUMNS)
        except (FileNotFoundError, OSError, ValueError) as exc:
            return _fail(f"cannot read transcripts: {exc}")
        results.append(evaluate(refs, hypotheses_by_path(table.to_pylist()), label=dest))
    _unique_labels(results)

    if args.json:
        print(totals_json(results))
    elif len(results) == 1:
        print(render_report(results[0], worst=args.worst))
    else:
        print(render_comparison(results, worst=args.worst))
    if args.out:
        written = write_outputs(results, args.out, config.storage)
        print(f"wrote {', '.join(written)}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _unique_labels(results) -> None:
    seen: dict[str, int] = {}
    for r in results:
        seen[r.label] = seen.get(r.label, 0) + 1
        if seen[r.label] > 1:
            r.label = f"{r.label} #{seen[r.label]}"
            for row in r.rows:
                row["system"] = r.label


def _fail(message: str) -> int:
    print(f"voxray eval: {message}", file=sys.stderr)
    return 2
