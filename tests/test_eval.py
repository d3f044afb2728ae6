"""`voxray eval` end to end: the bundled model on the committed fixtures, and transcript datasets
written here with known texts so every number is worked out by hand below."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import matplotlib.image
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.cli import main
from models.common.config import StorageConfig
from models.common.schema import TRANSCRIPT_SCHEMA
from pipelines.quality.evaluate import HYP_COLUMNS
from pipelines.store.reader import read_parquet_tree
from tests.fixtures_ray import ray_local  # noqa: F401

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOTAL_KEYS = {"wer", "cer", "files", "audio_s", "substitutions", "insertions", "deletions"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def transcripts(rows: list[dict]) -> pa.Table:
    """Transcript rows as `voxray transcribe` writes them; columns not given are null."""
    full = [{"status": "ok", "transcribed_at": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), **r} for r in rows]
    return pa.Table.from_pylist(full, schema=TRANSCRIPT_SCHEMA)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["eval", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_eval_bundled_model_on_fixtures(ray_local, tmp_path: Path, speech_manifest: list[dict], bad_dir, capsys):  # noqa: F811
    # 24 real clips plus one file that cannot be decoded: 25 references, one Ray run.
    bad = {"path": str(bad_dir / "not_audio.wav"), "text": "This file is not audio."}
    refs = [{"path": r["path"], "text": r["text"], "duration_s": r["duration_s"]} for r in speech_manifest] + [bad]
    manifest = write_jsonl(tmp_path / "refs.jsonl", refs)
    out_dir = tmp_path / "report"

    rc, stdout, _ = run_cli(
        capsys, "--refs", str(manifest), "--model", "tiny.en", "--device", "cpu", "--json", "--out", str(out_dir)
    )
    assert rc == 0
    totals = last_json(stdout)
    assert TOTAL_KEYS | {"rtfx"} <= totals.keys()
    assert totals["files"] == 25
    assert (totals["ok"], totals["failed"], totals["missing"]) == (24, 1, 0)
    assert [f["path"] for f in totals["failed_files"]] == [bad["path"]]

    rows = pq.read_table(out_dir / "per_file.parquet").to_pylist()
    assert sorted(r["path"] for r in rows) == sorted(r["path"] for r in refs)  # one row per reference
    # The undecodable file counts as all deletions: "this file is not audio" is 5 words.
    failed = next(r for r in rows if r["path"] == bad["path"])
    assert failed["status"] == "error" and failed["error"]
    assert (failed["deletions"], failed["substitutions"], failed["insertions"], failed["hits"]) == (5, 0, 0, 0)
    assert failed["wer"] == 1.0

    # Totals are the per-file sums, and WER is pooled errors over pooled reference words.
    for key in ("substitutions", "deletions", "insertions", "hits", "ref_words", "ref_chars"):
        assert totals[key] == sum(r[key] for r in rows), key
    errors = totals["substitutions"] + totals["deletions"] + totals["insertions"]
    assert totals["wer"] == pytest.approx(errors / totals["ref_words"])
    char_errors = sum(r["char_substitutions"] + r["char_deletions"] + r["char_insertions"] for r in rows)
    assert totals["cer"] == pytest.approx(char_errors / totals["ref_chars"])
    # Reference words counted independently of the code under test.
    from whisper_normalizer.english import EnglishTextNormalizer

    normalize = EnglishTextNormalizer()
    assert totals["ref_words"] == sum(len(normalize(r["text"]).split()) for r in refs)
    # Decoded durations match the fixture generator's (rounded to 1 ms each: 24 * 0.5 ms at most).
    assert totals["audio_s"] == pytest.approx(sum(r["duration_s"] for r in speech_manifest), abs=0.015)
    assert totals["rtfx"] == pytest.approx(totals["audio_s"] / totals["wall_s"], rel=1e-3)
    # The model really recognised speech: `voxray eval` measured 17.6 % WER on these fixtures (README);
    # misjoined paths or broken features give 90 % and more.
    assert 0 < totals["wer"] < 0.5

    assert json.loads((out_dir / "totals.json").read_text()) == totals
    png = (out_dir / "eval.png").read_bytes()
    assert png.startswith(PNG_MAGIC)
    height, width, _ = matplotlib.image.imread(out_dir / "eval.png").shape
    assert width > 400 and height > 200


@pytest.fixture
def hand_case(tmp_path: Path) -> dict:
    """Four references and a transcript dataset (two part files, one in a subfolder).

    a.wav  "the cat sat on the mat" vs "so the bat sat on the": S=1 D=1 I=1 of 6 words
    b.wav  "Hello, World!" vs "hello world": normalized equal, 0 of 2
    c.wav  "good morning to you", transcription failed: D=4 of 4
    d.wav  "see you later", no transcript at all: D=3 of 3
    extra.wav has a transcript but no reference: ignored.
    Corpus: S=1, D=1+4+3=8, I=1 -> WER 10 / 15.
    CER: a.wav "the cat sat on the mat" (22 chars) vs "so the bat sat on the" (21): the alignment
    inserts "so " (3), substitutes c->b (1) and deletes " mat" (4) = 8; b 0 of 11; c 19 deleted of 19;
    d 13 deleted of 13. CER = (8 + 19 + 13) / (22 + 11 + 19 + 13) = 40 / 65.
    """
    audio = tmp_path / "audio"
    refs = [
        {"path": "audio/a.wav", "text": "the cat sat on the mat", "duration_s": 9.0},
        {"path": "audio/b.wav", "text": "Hello, World!"},
        {"path": "audio/c.wav", "text": "good morning to you", "duration_s": 1.0},
        {"path": "audio/d.wav", "text": "see you later", "duration_s": 3.0},
    ]
    manifest = write_jsonl(tmp_path / "refs.jsonl", refs)
    dest = tmp_path / "transcripts"
    (dest / "day=2").mkdir(parents=True)
    pq.write_table(
        transcripts(
            [
                {"path": str(audio / "a.wav"), "text": " so the bat sat on the", "duration_s": 2.0},
                {"path": str(audio / "extra.wav"), "text": "whatever", "duration_s": 5.0},
            ]
        ),
        dest / "part-0.parquet",
    )
    pq.write_table(
        transcripts(
            [
                {"path": str(audio / "b.wav"), "text": "hello world", "duration_s": 1.5},
                {"path": str(audio / "c.wav"), "status": "error", "error": "cannot decode c.wav: invalid data"},
            ]
        ),
        dest / "day=2" / "part-1.parquet",
    )
    return {"manifest": manifest, "dest": dest, "audio": audio}


def test_eval_hyp_dataset_hand_checked(hand_case: dict, tmp_path: Path, capsys):
    out_dir = tmp_path / "out"
    rc, stdout, _ = run_cli(
        capsys, "--refs", str(hand_case["manifest"]), "--hyp", str(hand_case["dest"]), "--json", "--out", str(out_dir)
    )
    assert rc == 0
    t = last_json(stdout)
    assert t.keys() >= TOTAL_KEYS
    assert "rtfx" not in t  # nothing was transcribed here, so there is no speed to report
    assert (t["files"], t["ok"], t["failed"], t["missing"]) == (4, 2, 1, 1)
    assert (t["substitutions"], t["deletions"], t["insertions"], t["ref_words"]) == (1, 8, 1, 15)
    assert t["wer"] == pytest.approx(10 / 15)
    assert t["cer"] == pytest.approx(40 / 65)
    # Durations: a and b from the transcripts (2.0, 1.5: the decoder's value wins over the manifest's
    # 9.0), c and d from the manifest (1.0, 3.0).
    assert t["audio_s"] == pytest.approx(7.5)
    audio = hand_case["audio"]
    assert {f["path"]: f["error"] for f in t["failed_files"]} == {
        str(audio / "c.wav"): "cannot decode c.wav: invalid data",
        str(audio / "d.wav"): "no transcript for this file",
    }
    rows = {os.path.basename(r["path"]): r for r in pq.read_table(out_dir / "per_file.parquet").to_pylist()}
    assert sorted(rows) == ["a.wav", "b.wav", "c.wav", "d.wav"]
    assert (rows["a.wav"]["substitutions"], rows["a.wav"]["deletions"], rows["a.wav"]["insertions"]) == (1, 1, 1)
    assert rows["a.wav"]["wer"] == pytest.approx(3 / 6)
    assert rows["b.wav"]["wer"] == 0.0
    assert (rows["c.wav"]["status"], rows["c.wav"]["deletions"]) == ("error", 4)
    assert (rows["d.wav"]["status"], rows["d.wav"]["deletions"]) == ("missing", 3)

    # The human report lists the untranscribed files and the worst ones.
    rc, report, _ = run_cli(capsys, "--refs", str(hand_case["manifest"]), "--hyp", str(hand_case["dest"]))
    assert rc == 0
    assert "WER: 66.67 %" in report
    assert "error    audio/c.wav: cannot decode c.wav: invalid data" in report
    assert "missing  audio/d.wav: no transcript for this file" in report
    assert "ref: the cat sat on the mat" in report and "hyp: so the bat sat on the" in report


def test_eval_compare_two_runs(hand_case: dict, tmp_path: Path, capsys):
    # Run B fixed a.wav (0 errors) and c.wav ("good morning to you" vs "good morning": D=2),
    # still lacks d.wav (D=3) and lost b.wav (D=2). Errors 0 + 2 + 2 + 3 = 7 of 15.
    audio = hand_case["audio"]
    run_b = tmp_path / "run_b"
    run_b.mkdir()
    rows = [
        {"path": str(audio / "a.wav"), "text": "The cat sat on the mat."},
        {"path": str(audio / "c.wav"), "text": "good morning"},
    ]
    pq.write_table(transcripts(rows), run_b / "part-0.parquet")

    rc, stdout, _ = run_cli(
        capsys, "--refs", str(hand_case["manifest"]), "--hyp", str(hand_case["dest"]), "--hyp", str(run_b), "--compare",
        "--json",
    )  # fmt: skip
    assert rc == 0
    a, b = last_json(stdout)["systems"]
    assert (a["system"], b["system"]) == (str(hand_case["dest"]), str(run_b))
    assert a["wer"] == pytest.approx(10 / 15)
    assert b["wer"] == pytest.approx(7 / 15)
    assert (b["substitutions"], b["deletions"], b["insertions"]) == (0, 7, 0)
    assert b["missing"] == 2 and a["missing"] == 1

    rc, table, _ = run_cli(
        capsys, "--refs", str(hand_case["manifest"]), "--hyp", str(hand_case["dest"]), "--hyp", str(run_b), "--compare"
    )
    assert rc == 0
    assert "66.67" in table and "46.67" in table
    # a.wav went from 3 errors to 0, the biggest change, so it heads the list.
    assert table.split("differ most")[1].splitlines()[1].split() == ["3", "->", "0", "audio/a.wav"]

    # Two systems without --compare is a usage error, not a silent pick of one.
    rc, _, err = run_cli(
        capsys, "--refs", str(hand_case["manifest"]), "--hyp", str(hand_case["dest"]), "--hyp", str(run_b)
    )
    assert rc == 2 and "--compare" in err


def test_newest_row_wins_after_a_rerun(hand_case: dict, capsys):
    # An --append rerun added a newer row for c.wav that succeeded: the newer one is scored, so
    # c.wav has 0 errors and the corpus 3 (a.wav) + 3 (d.wav missing) = 6 of 15.
    audio = hand_case["audio"]
    later = dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc)
    row = {"path": str(audio / "c.wav"), "text": "Good morning to you!", "transcribed_at": later}
    pq.write_table(transcripts([row]), hand_case["dest"] / "part-2.parquet")
    rc, stdout, _ = run_cli(capsys, "--refs", str(hand_case["manifest"]), "--hyp", str(hand_case["dest"]), "--json")
    assert rc == 0
    t = last_json(stdout)
    assert (t["failed"], t["missing"]) == (0, 1)
    assert t["wer"] == pytest.approx(6 / 15)


def test_plain_scan_skips_staging_folders(tmp_path: Path):
    # Files under _-prefixed folders (uncommitted staging) are not transcripts yet.
    dest = tmp_path / "t"
    (dest / "_staging").mkdir(parents=True)
    pq.write_table(transcripts([{"path": "/x/a.wav", "text": "kept"}]), dest / "part-0.parquet")
    pq.write_table(transcripts([{"path": "/x/b.wav", "text": "uncommitted"}]), dest / "_staging" / "part-1.parquet")
    table = read_parquet_tree(str(dest), StorageConfig(), HYP_COLUMNS)
    assert table.column("path").to_pylist() == ["/x/a.wav"]


def test_chinese_references_scored_by_characters(tmp_path: Path, capsys):
    # 今天天气很好。 vs 今天天汽很好: 1 substitution in 6 characters (the full stop is normalized away).
    manifest = write_jsonl(tmp_path / "refs.jsonl", [{"path": "zh.wav", "text": "今天天气很好。", "language": "zh"}])
    dest = tmp_path / "t"
    dest.mkdir()
    pq.write_table(transcripts([{"path": str(tmp_path / "zh.wav"), "text": "今天天汽很好"}]), dest / "p.parquet")
    rc, stdout, _ = run_cli(capsys, "--refs", str(manifest), "--hyp", str(dest), "--json")
    assert rc == 0
    t = last_json(stdout)
    assert t["metric"] == "cer"
    assert t["cer"] == pytest.approx(1 / 6)
    assert (t["char_substitutions"], t["ref_chars"]) == (1, 6)


def test_eval_on_s3(s3_server, tmp_path: Path, capsys, monkeypatch):
    # Manifest, transcripts and report all in object storage; relative manifest paths resolve
    # against the manifest's prefix. "The red house." vs "the bed house": 1 substitution of 3 words.
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.make_bucket("eval-s3")
    client = s3_server.client()
    refs = json.dumps({"path": "audio/x.wav", "text": "The red house."}) + "\n"
    client.put_object(Bucket=bucket, Key="refs.jsonl", Body=refs.encode())
    local = tmp_path / "p.parquet"
    pq.write_table(transcripts([{"path": f"s3://{bucket}/audio/x.wav", "text": "the bed house"}]), local)
    client.put_object(Bucket=bucket, Key="transcripts/part-0.parquet", Body=local.read_bytes())

    rc, stdout, _ = run_cli(
        capsys, "--refs", f"s3://{bucket}/refs.jsonl", "--hyp", f"s3://{bucket}/transcripts", "--json",
        "--out", f"s3://{bucket}/report", "--s3-endpoint", s3_server.endpoint_url,
    )  # fmt: skip
    assert rc == 0
    t = last_json(stdout)
    assert t["wer"] == pytest.approx(1 / 3)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="report/")["Contents"]}
    assert keys == {"report/per_file.parquet", "report/totals.json", "report/eval.png"}
    png = client.get_object(Bucket=bucket, Key="report/eval.png")["Body"].read()
    assert png.startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--refs", "{tmp}/nope.jsonl", "--hyp", "{tmp}"], "cannot read references"),
        (["--refs", "{tmp}/refs.jsonl"], "give --model"),
        (["--refs", "{tmp}/refs.jsonl", "--hyp", "{tmp}/empty"], "no Parquet files"),
        (["--refs", "{tmp}/notext.jsonl", "--hyp", "{tmp}"], "lacks column"),
        (["--refs", "{tmp}/refs.jsonl", "--model", "{tmp}/no-such-model"], "model folder not found"),
    ],
)
def test_eval_bad_input_is_a_clear_error(tmp_path: Path, capsys, argv: list[str], message: str):
    write_jsonl(tmp_path / "refs.jsonl", [{"path": "a.wav", "text": "hello"}])
    write_jsonl(tmp_path / "notext.jsonl", [{"path": "a.wav"}])
    (tmp_path / "empty").mkdir()
    rc, _, err = run_cli(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert rc == 2
    assert message in err
