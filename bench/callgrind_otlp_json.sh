#!/usr/bin/env bash
# Instructions per record of OTLP/JSON decoding (bench_otlp_json.c) under callgrind:
# for the logs and the traces request, the instructions spent inside
# otus_otlp_json_decode (the whole decode) and inside otus_json_parse (the parse
# alone) over N requests, divided by N times the request's 100 records. Instruction
# counts are stable on a shared machine where times are not.
#
#   bench/callgrind_otlp_json.sh [BUILD]      (after make build/bench/bench_otlp_json)
set -euo pipefail
BUILD=${1:-${BUILD:-build}}
bin="$BUILD/bench/bench_otlp_json"
n=20
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

instructions() {
  local fn=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" --toggle-collect="$fn" \
    "$bin" "$@" >/dev/null 2>"$tmp/err"
  sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/out"
}

for sig in logs traces; do
  decode=$(instructions otus_otlp_json_decode decode "$sig" "$n")
  parse=$(instructions otus_json_parse parse "$sig" "$n")
  echo "$sig  decode $(( decode / (n * 100) )) instructions/record" \
    " parse $(( parse / (n * 100) )) instructions/record"
done
