#!/usr/bin/env bash
# Instructions per record of the OTLP decoders (bench_otlp_decode.c) under callgrind:
# for each signal and decoder, the instruction count of N decodes minus that of 0
# decodes, divided by N times the request's 100 records. Instruction counts are stable
# on a shared machine where times are not.
#
#   bench/callgrind_otlp_decode.sh [BUILD]      (after make build/bench/bench_otlp_decode)
set -euo pipefail
BUILD=${1:-${BUILD:-build}}
bin="$BUILD/bench/bench_otlp_decode"
n=200
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$@" >/dev/null 2>"$tmp/err"
  sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/out"
}

for sig in logs traces metrics; do
  line="$sig"
  for dec in protobuf-c otus; do
    base=$(instructions "$sig" "$dec" 0)
    full=$(instructions "$sig" "$dec" "$n")
    line="$line  $dec $(( (full - base) / (n * 100) )) instructions/record"
  done
  echo "$line"
done
