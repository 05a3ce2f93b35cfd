#!/usr/bin/env bash
# make demo: starts otus-agent on free local ports with its data under build/demo,
# runs the libotus demo program against it (a traced HTTP request with a client call,
# logs inside the spans, metrics), then shows what arrived: the spans and logs the
# file exporter wrote and the series on the Prometheus endpoint. Stops the agent.
set -euo pipefail
BUILD=${BUILD:-build}
dir="$BUILD/demo"
rm -rf "$dir"
mkdir -p "$dir"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
otlp=$(port)
tel=$(port)
cat > "$dir/otus.yaml" <<YAML
service:
  data_dir: $dir/data
  telemetry:
    listen: 127.0.0.1:$tel
receivers:
  otlp:
    listen: 127.0.0.1:$otlp
exporters:
  file:
    path: $dir/export
    flush_interval: 100ms
  prometheus:
    listen: 127.0.0.1:$tel
pipelines:
  logs: [file]
  traces: [file]
  metrics: [prometheus]
YAML
"$BUILD/bin/otus-agent" --config "$dir/otus.yaml" 2> "$dir/agent.log" &
agent=$!
trap 'kill -TERM $agent 2>/dev/null || true; wait $agent 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "127.0.0.1:$tel/healthz" >/dev/null && break; sleep 0.05; done
echo "== otus-agent on 127.0.0.1:$otlp (OTLP) and 127.0.0.1:$tel (metrics, health)"
echo "== otus-demo emit (libotus, OTEL_SERVICE_NAME=checkout)"
OTEL_SERVICE_NAME=checkout OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$otlp" \
  OTUS_LOG_OUTPUT=none "$BUILD/bin/otus-demo" emit
sleep 0.5
echo "== spans ($dir/export/traces.ndjson)"
/usr/bin/python3 - "$dir/export/traces.ndjson" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(f"  {d['trace_id']} {d['span_id']} parent={d.get('parent_span_id', '-'):16} "
          f"{d['kind']:8} {d['duration_ns'] / 1e6:8.3f} ms  {d['name']}")
PY
echo "== logs ($dir/export/logs.ndjson)"
/usr/bin/python3 - "$dir/export/logs.ndjson" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(f"  {d.get('log.level', '-'):5} trace={d.get('trace.id', '-')} span={d.get('span.id', '-')}  {d.get('message', '')}")
PY
echo "== Prometheus endpoint (series from checkout)"
curl -s "127.0.0.1:$tel/metrics" > "$dir/metrics.txt"
grep -v '^#' "$dir/metrics.txt" | grep 'job="checkout"' | grep -v '_bucket{' || true
echo "   (histogram buckets and the agent's own otus_* series: $dir/metrics.txt)"
