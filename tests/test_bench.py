"""The benchmark's own measurements: what they read must be the thing they claim to read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tools.bench.benchmark import BenchConfig, bench_memory, bench_overhead

REPO = Path(__file__).resolve().parent.parent


def test_inference_modules_load_without_torch() -> None:
    # CTranslate2 inference actors import these; torch would cost each actor ~1.7 s and ~470 MB.
    code = "import sys, pipelines.batch.infer, models.whisper_ct2; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_bench_runs_without_soundfile(tmp_path: Path) -> None:
    # soundfile is a test-only dependency: `voxray bench` (and the FLAC files it writes) must work
    # where only the runtime dependencies are installed. Blocking the import stands in for that.
    code = (
        "import sys; sys.modules['soundfile'] = None\n"
        "import numpy as np, jobs.bench\n"
        "from tools.bench.benchmark import FlacWriter\n"
        "from pipelines.decode import decode_audio\n"
        "x = (0.5 * np.sin(np.arange(48000) / 10)).astype(np.float32)\n"
        f"with FlacWriter({str(tmp_path / 'a.flac')!r}) as out:\n    out.write(x[:20000]); out.write(x[20000:])\n"
        f"y = decode_audio({str(tmp_path / 'a.flac')!r}).samples[0]\n"
        "print(y.shape[0], float(abs(y - x).max()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    n, error = out.stdout.split()
    assert int(n) == 48000 and float(error) < 1e-4  # 16-bit PCM: one step is 3e-5


@pytest.mark.slow
def test_memory_peak_is_the_childs_own_not_the_parents(tmp_path: Path) -> None:
    # Linux copies a parent's peak RSS into the child's ru_maxrss across fork and exec; a bench
    # process grown large must not make the prepare stage look large. Hold 2 GiB here, then measure.
    ballast = np.ones(2 * 1024**3 // 8)
    [measurement] = bench_memory(BenchConfig(memory_hours=0.25, out=tmp_path), tmp_path)
    assert measurement.extra["windows"] > 0
    # The stage itself peaks at about 0.8 GB (its imports alone are about 0.57 GB); an inherited
    # reading would be at least the 2 GiB held here.
    assert 100 < measurement.extra["peak_rss_mb"] < 1500
    assert ballast[-1] == 1.0


@pytest.mark.slow
def test_overhead_counts_every_file_once_in_a_fresh_process(tmp_path: Path) -> None:
    # The archive-scale rate is only a rate if every unreadable file got its row, exactly once.
    [measurement] = bench_overhead(BenchConfig(overhead_files=300, out=tmp_path), tmp_path)
    extra = measurement.extra
    assert extra["exit_code"] == 0
    assert extra["rows"] == extra["distinct_paths"] == 300
    # Random bytes rarely decode as audio (files 11241 and 15280 of the bench's seed do); these don't.
    assert extra["error_rows"] == 300
    assert extra["files_per_s_after_ray_start"] > extra["files_per_s"] > 0
    assert 50 < extra["driver_peak_rss_mb"] < 4000


def test_short_sets_count_the_words_a_packed_clip_loses_that_it_gets_right_alone() -> None:
    from tools.bench.bench_shortsets import words_lost

    refs = ["the cat sat on the mat", "hello there", "", "red green blue"]
    alone = ["The cat sat on the mat.", "Hello there, hello there.", "", "red green"]
    packed = ["The cat sat.", "Hello there.", "uh", "red"]
    # "on the mat" is lost; the repetition alone made up and "blue", missed alone too, are not;
    # neither is noise written for a silent clip. "green" is lost.
    assert words_lost(refs, alone, packed) == {
        "files_losing_words_vs_no_pack": 2,
        "words_lost_vs_no_pack": 4,
        "reference_words": 11,
    }
