#!/usr/bin/env bash
# Writes docs/configuration.md (or the file given) from the configuration tables
# compiled into otus-agent, so the reference can never drift from the code.
#   scripts/gen-config-doc.sh [OUTPUT] ; BUILD selects the build tree.
set -euo pipefail
BUILD=${BUILD:-build}
out=${1:-docs/configuration.md}
agent="$BUILD/bin/otus-agent"
{
  cat <<'HEAD'
# otus-agent configuration reference

otus-agent reads one YAML file (`otus-agent --config FILE`); without one it runs on its
embedded default. Unknown keys, wrong types and bad values are errors that name the
file, the line and the key; `otus-agent --config FILE --check-config` validates a file
without starting anything. `SIGHUP` reloads the file; a bad new file is refused and the
running configuration kept.

Values:
- durations: `500ms`, `5s`, `5m`, `1h30m` (units `ns`, `us`, `ms`, `s`, `m`, `h`, `d`)
- sizes: `512KiB`, `8MiB`, `1GiB` (binary), `5MB` (decimal), or plain bytes
- booleans: `true` / `false`
- any scalar may use `${VAR}` or `${VAR:-default}` from the environment; `$$` is `$`

This table is generated from the agent's own configuration tables
(`scripts/gen-config-doc.sh`); `otus-agent --help` prints the same.

HEAD
  "$agent" --help | sed -n '/^Configuration keys:/,$p' | tail -n +3
} > "$out"
