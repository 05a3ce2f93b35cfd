"""Interoperability with a client nobody here wrote: the OpenTelemetry JavaScript SDK
(pinned in tests/interop/package.json to the last release line that runs on Node 20)
sends spans, logs and metrics to a real otus-agent over OTLP/HTTP protobuf, and every
span, log record and metric point must arrive intact in the file exporter's output."""

import filecmp
import json
import os
import shutil
import subprocess

import pytest

from harness import BUILD, ROOT, free_port, read_ndjson, wait_for

INTEROP_SRC = os.path.join(ROOT, "tests", "interop")
INTEROP_DIR = os.path.join(BUILD, "interop")


@pytest.fixture(scope="module")
def node_sdk():
    """Installs the pinned SDK into build/interop (once; reused while the lock file is
    unchanged)."""
    os.makedirs(INTEROP_DIR, exist_ok=True)
    lock_src = os.path.join(INTEROP_SRC, "package-lock.json")
    lock_dst = os.path.join(INTEROP_DIR, "package-lock.json")
    fresh = (os.path.isdir(os.path.join(INTEROP_DIR, "node_modules")) and os.path.exists(lock_dst)
             and filecmp.cmp(lock_src, lock_dst, shallow=False))
    if not fresh:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(INTEROP_SRC, name), INTEROP_DIR)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=INTEROP_DIR, check=True, timeout=600)
    shutil.copy(os.path.join(INTEROP_SRC, "otel_js_send.js"), INTEROP_DIR)
    return INTEROP_DIR


def read_lines(path, n):
    def have():
        lines = read_ndjson(path)
        return lines if len(lines) >= n else None
    return wait_for(have, 15, what=f"{n} documents in {path}")


@pytest.mark.parametrize("mode", ["proto", "json"])
def test_otel_js_sdk_to_agent(node_sdk, start_agent, tmp_path, mode):
    otlp, tel = free_port(), free_port()
    a = start_agent(f"""
service:
  telemetry:
    listen: 127.0.0.1:{tel}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp}
exporters:
  file:
    path: {tmp_path}/out
    flush_interval: 50ms
pipelines:
  logs: [file]
  traces: [file]
  metrics: [file]
""")
    a.wait_http(tel)
    r = subprocess.run(["node", os.path.join(node_sdk, "otel_js_send.js"), f"http://127.0.0.1:{otlp}",
                        mode], capture_output=True, text=True, timeout=120, cwd=node_sdk)
    assert r.returncode == 0, r.stderr
    manifest = json.loads(r.stdout.strip().splitlines()[-1])
    assert manifest["failures"] == []

    # Spans: every field the SDK recorded.
    spans = {d["span_id"]: d for d in read_lines(f"{tmp_path}/out/traces.ndjson", 3)}
    assert len(spans) == 3
    kinds = {0: "internal", 1: "server", 2: "client"}  # api.SpanKind values
    for want in manifest["spans"]:
        got = spans[want["span_id"]]
        assert got["trace_id"] == want["trace_id"]
        assert got.get("parent_span_id", "") == want["parent_span_id"]
        assert got["name"] == want["name"]
        assert got["kind"] == kinds[want["kind"]]
        assert got["start_time_unix_nano"] == int(want["start"])
        assert got["end_time_unix_nano"] == int(want["end"])
        assert got.get("attributes", {}) == want["attributes"]
        assert [(e["name"], e["time_unix_nano"], e.get("attributes", {})) for e in got.get("events", [])] == \
            [(e["name"], int(e["time"]), e["attributes"]) for e in want["events"]]
        assert [(l["trace_id"], l["span_id"], l.get("attributes", {})) for l in got.get("links", [])] == \
            [(l["trace_id"], l["span_id"], l["attributes"]) for l in want["links"]]
        code = {0: "unset", 1: "ok", 2: "error"}[want["status"]["code"]]
        assert got["status"]["code"] == code
        if want["status"].get("message"):
            assert got["status"]["message"] == want["status"]["message"]
        assert got["service.name"] == f"js-interop-{mode}"
        assert got["service.version"] == "3.1.4"
        assert got["resource.attributes"]["service.instance.id"] == "instance-7"
        assert got["scope.name"] == "interop.tracer" and got["scope.version"] == "1.2.3"

    # Logs: both records, the first tied to the client span.
    logs = read_lines(f"{tmp_path}/out/logs.ndjson", 2)
    by_level = {d["log.level"]: d for d in logs}
    warn = by_level["WARN"]
    assert warn["message"] == "query slow"
    assert warn["event.severity"] == 13
    assert warn["trace.id"] == manifest["logs"][0]["trace_id"]
    assert warn["span.id"] == manifest["logs"][0]["span_id"]
    assert warn["attributes"] == {"db.rows": 12, "query.ms": 41.5}
    info = by_level["INFO"]
    assert info["body.structured"] == manifest["logs"][1]["body"]
    assert "trace.id" not in info
    assert info["scope.name"] == "interop.logger"

    # Metrics: every point with its value.
    def metric_docs():
        docs = read_ndjson(f"{tmp_path}/out/metrics.ndjson")
        names = {d["name"] for d in docs}
        want = {"interop.requests", "interop.latency", "interop.queue", "interop.temperature"}
        return docs if want <= names else None
    docs = wait_for(metric_docs, 15, what="metric points")
    # The SDK exports on forceFlush and again on shutdown (cumulative, same values):
    # keep the last point of each series.
    last = {}
    for d in docs:
        last[(d["name"], json.dumps(d.get("attributes", {}), sort_keys=True))] = d
    docs = list(last.values())
    counter = {d["attributes"]["route"]: d for d in docs if d["name"] == "interop.requests"}
    assert {k: v["value"] for k, v in counter.items()} == manifest["metrics"]["counter"]
    assert all(d["monotonic"] and d["temporality"] == "cumulative" for d in counter.values())
    assert counter["/a"]["unit"] == "{request}"
    (hist,) = [d for d in docs if d["name"] == "interop.latency"]
    assert hist["count"] == manifest["metrics"]["histogram"]["count"]
    assert abs(hist["sum"] - manifest["metrics"]["histogram"]["sum"]) < 1e-12
    assert sum(hist["bucket_counts"]) == 3 and len(hist["bucket_counts"]) == len(hist["explicit_bounds"]) + 1
    assert hist["min"] == 0.004 and hist["max"] == 1.7
    (updown,) = [d for d in docs if d["name"] == "interop.queue"]
    assert updown["value"] == manifest["metrics"]["updown"] and updown["monotonic"] is False
    (gauge,) = [d for d in docs if d["name"] == "interop.temperature"]
    assert gauge["type"] == "gauge" and gauge["value"] == manifest["metrics"]["gauge"]
    assert gauge["attributes"] == {"room": "lab"}
