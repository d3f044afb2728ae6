#!/usr/bin/env bash
# Redaction's share of a job's wall time on the default engine, as whole processes, alternating:
# `voxray transcribe DIR --word-timestamps` against `voxray transcribe DIR --redact pii` (which
# implies word timestamps). Run without RAY_ADDRESS, so a job of up to 200 local files runs
# in-process as a user's would (docs/performance.md). Usage: scripts/redaction_share.sh DIR [ROUNDS]
set -euo pipefail
dir=$1
rounds=${2:-3}
out=$(mktemp -d)
py=${PYTHON:-.venv/bin/python}
for round in $(seq "$rounds"); do
  for mode in plain redact; do
    flags=(--word-timestamps)
    [ "$mode" = redact ] && flags=(--redact pii)
    start=$(date +%s.%N)
    env -u RAY_ADDRESS "$py" -m jobs.cli transcribe "$dir" --output "$out/$mode-$round" "${flags[@]}" > "$out/$mode-$round.log" 2>&1
    end=$(date +%s.%N)
    wall=$(echo "$end - $start" | bc)
    echo "round=$round mode=$mode wall_s=$wall $(grep -o 'rows: [0-9]*  ok: [0-9]*' "$out/$mode-$round.log")"
    eval "${mode}_wall=$wall"
  done
  echo "round=$round redaction_share=$(echo "scale=3; ($redact_wall - $plain_wall) / $redact_wall" | bc)"
done
rm -rf "$out"
