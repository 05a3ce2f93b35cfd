#!/usr/bin/env bash
# Runs Otus's tests and ends with one summary line, "tests: N passed, M failed".
#
#   scripts/run-tests.sh                  unit tests, then integration tests
#   scripts/run-tests.sh --unit [NAME]    unit test binaries (NAME: a prefix, e.g. test_json)
#   scripts/run-tests.sh --integration [EXPR]   pytest, EXPR passed to -k
#
# Unit tests are the cmocka binaries build/tests/test_*; integration tests are pytest
# under tests/integration, run with Debian's python3. Exits non-zero when anything
# failed or when no test ran at all.
set -uo pipefail

BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
mode=all
filter=
case "${1:-}" in
  --unit) mode=unit; filter=${2:-} ;;
  --integration) mode=integration; filter=${2:-} ;;
  "") ;;
  *) echo "usage: $0 [--unit [NAME] | --integration [EXPR]]" >&2; exit 2 ;;
esac

passed=0
failed=0
skipped=0
failures=()

run_unit() {
  local bin out rc p f
  for bin in "$BUILD"/tests/test_*; do
    [ -x "$bin" ] || continue
    case "$(basename "$bin")" in "$filter"*) ;; *) continue ;; esac
    out=$(timeout 600 "$bin" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -n1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -n1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      f=1 # crashed or timed out before cmocka could report
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
      failures+=("$(basename "$bin")")
      printf '%s\n' "$out" | grep -vE '^\[ +(RUN|OK) +\]' | sed 's/^/    /'
    fi
    printf '  unit  %-28s %3d passed, %d failed\n' "$(basename "$bin")" "$p" "$f"
  done
}

run_integration() {
  local xml="$BUILD/integration.xml" args rc
  rm -f "$xml"
  args=(-m pytest -q -p no:cacheprovider -o console_output_style=classic --junitxml="$xml"
        --rootdir=. --confcutdir=tests/integration tests/integration)
  [ -n "$filter" ] && args+=(-k "$filter")
  OTUS_BUILD="$BUILD" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "${args[@]}"
  rc=$?
  if [ ! -f "$xml" ]; then
    echo "  integration: pytest produced no report (exit $rc)"
    failed=$((failed + 1))
    failures+=("pytest")
    return
  fi
  read -r t f e s < <("$PYTHON" - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tot = lambda k: sum(int(s.get(k, 0)) for s in suites)
print(tot("tests"), tot("failures"), tot("errors"), tot("skipped"))
PY
)
  passed=$((passed + t - f - e - s))
  failed=$((failed + f + e))
  skipped=$((skipped + s))
  if [ $((f + e)) -ne 0 ]; then failures+=("integration"); fi
  if [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ] && [ "$t" -gt 0 ]; then
    failed=$((failed + 1)) # pytest itself failed (collection error, internal error)
    failures+=("pytest exit $rc")
  fi
}

if [ "$mode" = all ] || [ "$mode" = unit ]; then run_unit; fi
if [ "$mode" = all ] || [ "$mode" = integration ]; then run_integration; fi

total=$((passed + failed))
if [ ${#failures[@]} -gt 0 ]; then
  echo "failed: ${failures[*]}"
fi
if [ "$skipped" -gt 0 ]; then
  echo "tests: $passed passed, $failed failed, $skipped skipped"
else
  echo "tests: $passed passed, $failed failed"
fi
if [ "$total" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
[ "$failed" -eq 0 ]
