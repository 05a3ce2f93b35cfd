#!/usr/bin/env bash
# Runs every benchmark binary under build/bench and keeps the output in
# build/bench/results.txt. Benchmarks measure; they never pass or fail on speed.
set -euo pipefail
BUILD=${BUILD:-build}
out="$BUILD/bench/results.txt"
: > "$out"
for b in "$BUILD"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")" | tee -a "$out"
  "$b" | tee -a "$out"
done
echo "results in $out"
