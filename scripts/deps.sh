#!/usr/bin/env bash
# The dependency step: checks that every Debian package Otus needs is installed and
# installs the missing ones with apt-get (as root, or through sudo). Without either it
# prints the exact apt-get line and fails. Package services (prometheus) are never left
# running: tests start their own.
#
# Usage: scripts/deps.sh [--bench] [--fuzz] [--check]
#   --bench  also the load-generation tools make bench uses
#   --fuzz   also the libFuzzer toolchain make fuzz uses
#   --check  only report; install nothing (exit 1 when something is missing)
set -euo pipefail

build=(gcc make pkg-config libuv1-dev libcurl4-openssl-dev libprotobuf-c-dev
       protobuf-c-compiler zlib1g-dev libdeflate-dev libyaml-dev libhttp-parser-dev libjansson-dev)
test=(libcmocka-dev python3 python3-pytest python3-protobuf protobuf-compiler
      prometheus curl nodejs npm openssl ca-certificates)
bench=(wrk valgrind)
fuzz=(clang libclang-rt-14-dev)

want=("${build[@]}" "${test[@]}")
check_only=0
for arg in "$@"; do
  case "$arg" in
    --bench) want+=("${bench[@]}") ;;
    --fuzz) want+=("${fuzz[@]}") ;;
    --check) check_only=1 ;;
    *) echo "deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

# nodejs/npm: a machine that already has a node >= 20 (from any source) needs neither.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  want=($(printf '%s\n' "${want[@]}" | grep -vxE 'nodejs|npm'))
fi

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ $check_only -eq 1 ]; then
  echo "deps.sh: missing packages; install them with: $line" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "deps.sh: missing packages and no root or sudo to install them. Run as root:" >&2
  echo "  apt-get update && $line" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2

# Keep package maintainer scripts from starting services (prometheus) during the
# install: policy-rc.d exit 101 means "action forbidden" to invoke-rc.d.
policy=/usr/sbin/policy-rc.d
placed_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  placed_policy=1
fi
cleanup() { if [ $placed_policy -eq 1 ]; then "${sudo[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# If the prometheus package did start a system service anyway, stop and disable it:
# the tests start their own Prometheus on free ports.
if dpkg-query -W -f='${db:Status-Status}' prometheus 2>/dev/null | grep -qx installed; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    "${sudo[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    command -v update-rc.d >/dev/null 2>&1 &&
      "${sudo[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
fi

still=()
for p in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || still+=("$p")
done
if [ ${#still[@]} -gt 0 ]; then
  echo "deps.sh: could not install: ${still[*]}" >&2
  exit 1
fi
