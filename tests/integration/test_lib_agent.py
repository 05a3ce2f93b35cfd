"""End to end: a program linking libotus.so sends to a real otus-agent, and the agent's
file exporter shows exactly what was recorded: the spans with their parentage, the log
records tied to their spans, the metric values, and the request duration's exemplar
pointing at its trace; the agent's Prometheus endpoint shows the same metric values."""

import json
import os
import re

from harness import free_port, http, wait_for
from test_lib_export import run_demo


def agent_config(tmp_path, otlp, tel, prom):
    return f"""
service:
  data_dir: {tmp_path}/data
  telemetry:
    listen: 127.0.0.1:{tel}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp}
exporters:
  file:
    path: {tmp_path}/out
    flush_interval: 20ms
  prometheus:
    listen: 127.0.0.1:{prom}
pipelines:
  logs: [file]
  traces: [file]
  metrics: [file, prometheus]
"""


def read_ndjson(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def test_demo_through_the_agent(start_agent, tmp_path):
    otlp, tel, prom = free_port(), free_port(), free_port()
    agent = start_agent(agent_config(tmp_path, otlp, tel, prom))
    agent.wait_http(tel)
    agent.wait_http(prom, "/metrics")
    p, ev = run_demo(["emit"], {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp}",
                                "OTEL_SERVICE_NAME": "e2e-demo", "OTUS_LOG_OUTPUT": "none"})
    assert p.returncode == 0, p.stderr
    emitted, shutdown = ev[0], ev[-1]
    assert shutdown["rc"] == 0 and shutdown["export_failures"] == 0

    out = tmp_path / "out"
    wait_for(lambda: len(read_ndjson(out / "traces.ndjson")) == 2
             and len(read_ndjson(out / "logs.ndjson")) == 3
             and any(d["name"] == "http.server.request.duration"
                     for d in read_ndjson(out / "metrics.ndjson")), what="all three signals")

    spans = {s["name"]: s for s in read_ndjson(out / "traces.ndjson")}
    server, client = spans["GET /users/{id}"], spans["GET"]
    assert server["trace_id"] == client["trace_id"] == emitted["trace_id"]
    assert server["span_id"] == emitted["server_span"]
    assert client["span_id"] == emitted["client_span"]
    assert client["parent_span_id"] == server["span_id"]
    assert server["kind"] == "server" and client["kind"] == "client"
    assert client["status"]["code"] == "error"
    assert server["attributes"]["http.route"] == "/users/{id}"
    assert server["attributes"]["http.response.status_code"] == 200
    assert server["attributes"]["tags"] == ["a", "b"]
    assert server["service.name"] == "e2e-demo"
    assert 0 < client["duration_ns"] <= server["duration_ns"]

    logs = {l["message"]: l for l in read_ndjson(out / "logs.ndjson")}
    assert logs["loading user"]["trace.id"] == emitted["trace_id"]
    assert logs["loading user"]["span.id"] == emitted["server_span"]
    assert logs["loading user"]["attributes"] == {"user.id": "u-42", "items": 3}
    assert logs["database slow"]["span.id"] == emitted["client_span"]
    assert logs["database slow"]["log.level"] == "WARN"
    assert "trace.id" not in logs["outside any span"]

    points = read_ndjson(out / "metrics.ndjson")

    def point(name, **attrs):
        found = [d for d in points if d["name"] == name
                 and all(d.get("attributes", {}).get(k) == v for k, v in attrs.items())]
        assert len(found) == 1, (name, attrs, found)
        return found[0]

    assert point("demo.requests", **{"http.route": "/users"})["value"] == 3
    assert point("demo.requests", **{"http.route": "/orders"})["value"] == 2
    assert point("demo.inflight")["value"] == 3
    assert point("demo.temperature")["value"] == 21.5
    lat = point("demo.latency")
    assert lat["bucket_counts"] == [1, 1, 1, 1] and lat["count"] == 4
    assert point("demo.size")["count"] == 100
    dur = point("http.server.request.duration")
    assert dur["unit"] == "s" and dur["count"] == 1
    # The sampled request's duration carries its trace as an exemplar.
    ex = dur["exemplars"]
    assert len(ex) == 1
    assert ex[0]["trace_id"] == emitted["trace_id"]
    assert ex[0]["span_id"] == emitted["server_span"]
    assert point("http.client.request.duration")["attributes"]["error.type"] == "503"

    # The Prometheus endpoint shows the same values, under the service's job.
    status, _, body = http("GET", f"http://127.0.0.1:{prom}/metrics")
    assert status == 200
    samples = {}
    for line in body.decode().splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$', line)
        if m:
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m[2]))
            samples.setdefault(m[1], []).append((labels, float(m[3])))

    def prom_value(name, **labels):
        found = [v for l, v in samples.get(name, [])
                 if l.get("job") == "e2e-demo" and all(l.get(k) == v for k, v in labels.items())]
        assert len(found) == 1, (name, labels, samples.get(name))
        return found[0]

    assert prom_value("demo_requests_total", http_route="/users") == 3
    assert prom_value("demo_requests_total", http_route="/orders") == 2
    assert prom_value("demo_inflight") == 3
    assert prom_value("demo_temperature_celsius") == 21.5
    assert prom_value("demo_latency_seconds_bucket", le="0.5") == 2
    assert prom_value("demo_size_bytes_count") == 100
    assert prom_value("http_server_request_duration_seconds_count") == 1
    assert prom_value("http_server_request_duration_seconds_bucket", le="+Inf") == 1
