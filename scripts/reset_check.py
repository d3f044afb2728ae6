"""`voxray transcribe s3://... --output s3://...` with and without a faulty network between it and S3.

    PYTHONPATH=. python scripts/reset_check.py --copies 2 --reset-rate 0.05 --delay-rate 0.05

Starts SeaweedFS (tests/s3server.py), uploads the speech fixtures `--copies` times, and runs the
same transcription twice: straight to the server, then through tests/faultproxy.py, which resets a
share of replies mid-way (TCP RST) and holds another share `--delay-s`. Prints each run's wall time,
exit code, rows (ok, lost, duplicated) and the proxy's counts, and the slowdown. Needs no ffmpeg.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.faultproxy import FaultProxy  # noqa: E402
from tests.outage import count_paths, parquet_rows, run_with_outage, upload_copies  # noqa: E402
from tests.s3server import SeaweedS3  # noqa: E402


class _Through:
    """The server as seen through the proxy: same keys, the proxy's URL."""

    def __init__(self, s3: SeaweedS3, url: str) -> None:
        self._s3, self.endpoint_url = s3, url

    def env(self) -> dict[str, str]:
        return {**self._s3.env(), "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ENDPOINT_URL_S3": self.endpoint_url}

    running = True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--reset-rate", type=float, default=0.05)
    parser.add_argument("--delay-rate", type=float, default=0.05)
    parser.add_argument("--delay-s", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clips = sorted((REPO / "tests" / "data" / "speech").glob("*.wav"))
    expected = len(clips) * args.copies
    bad = 0
    with SeaweedS3() as s3:
        source = upload_copies(s3, clips, "audio", args.copies)
        s3.make_bucket("out")
        walls = {}
        for label in ("direct", "faulty"):
            dest = f"s3://out/{label}"
            cmd = ["transcribe", source, "--output", dest]
            if label == "direct":
                run = run_with_outage(s3, cmd, kill_after_s=None, down_s=0)
                stats = ""
            else:
                proxy = FaultProxy(
                    s3.ports["s3"],
                    reset_rate=args.reset_rate,
                    delay_rate=args.delay_rate,
                    delay_s=args.delay_s,
                    seed=args.seed,
                )
                with proxy:
                    run = run_with_outage(_Through(s3, proxy.url), cmd, kill_after_s=None, down_s=0)  # type: ignore[arg-type]
                stats = str(proxy.stats)
            rows = parquet_rows(s3, dest)
            distinct, duplicated, statuses = count_paths(rows)
            lost = expected - distinct
            bad += lost + duplicated + (run.code != 0)
            walls[label] = run.wall_s
            print(f"{label}: exit {run.code}  wall {run.wall_s:.1f} s  rows {len(rows)} {dict(statuses)}  "
                  f"lost {lost}  duplicated {duplicated}  retries {run.retried}  {stats}", flush=True)  # fmt: skip
        print(f"slowdown through the faulty network: {walls['faulty'] / walls['direct']:.2f}x")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
