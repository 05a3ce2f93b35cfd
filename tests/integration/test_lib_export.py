"""libotus export over OTLP/HTTP, end to end with the otus-demo program (linked against
libotus.so, configured only through the environment) and a receiver in the test that
decodes what arrives: content, headers and encoding, per-signal endpoints, retries
after 503 with Retry-After, no retry after 400, shutdown deadlines with the agent
absent or silent, the disabled SDK, and fork."""

import gzip
import http.server
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from harness import BUILD, free_port

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

DEMO = os.path.join(BUILD, "bin", "otus-demo")

DECODERS = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}


class Receiver:
    """An OTLP/HTTP receiver: records every request; answers from a script of
    (status, headers[, body]) per request, then 200."""

    def __init__(self, script=None):
        self.requests = []
        self.script = list(script or [])
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    status, headers, *rest = outer.script.pop(0) if outer.script else (200, {})
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body, "status": status})
                answer = rest[0] if rest else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def decoded(self, signal, accepted_only=True):
        out = []
        for r in self.requests:
            if not r["path"].endswith(signal) and signal in DECODERS:
                continue
            if accepted_only and r["status"] != 200:
                continue
            body = r["body"]
            if r["headers"].get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            msg = DECODERS[signal]()
            msg.ParseFromString(body)
            out.append(msg)
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def run_demo(args, env, timeout=30):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTUS_"))}
    full.update(env)
    p = subprocess.run([DEMO] + list(args), env=full, capture_output=True, text=True,
                       timeout=timeout)
    events = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    return p, events


def attrs(kvs):
    out = {}
    for kv in kvs:
        v = kv.value
        kind = v.WhichOneof("value")
        out[kv.key] = getattr(v, kind) if kind not in ("array_value", "kvlist_value") else v
    return out


def spans_of(receiver):
    return [s for req in receiver.decoded("traces") for rs in req.resource_spans
            for ss in rs.scope_spans for s in ss.spans]


def logs_of(receiver):
    return [l for req in receiver.decoded("logs") for rl in req.resource_logs
            for sl in rl.scope_logs for l in sl.log_records]


def metrics_of(receiver):
    out = {}
    for req in receiver.decoded("metrics"):
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out[m.name] = m
    return out


def test_everything_recorded_arrives(receiver):
    p, ev = run_demo(["emit"], {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "checkout",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,team=a%20b",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=secret",
        "OTUS_LOG_OUTPUT": "none",
    })
    assert p.returncode == 0, p.stderr
    emitted, shutdown = ev[0], ev[-1]
    assert shutdown["rc"] == 0

    # Requests: paths, headers, gzip.
    paths = {r["path"] for r in receiver.requests}
    assert paths == {"/v1/traces", "/v1/metrics", "/v1/logs"}
    for r in receiver.requests:
        assert r["headers"]["Content-Type"] == "application/x-protobuf"
        assert r["headers"]["Content-Encoding"] == "gzip"
        assert r["headers"]["x-api-key"] == "secret"
        assert r["headers"]["User-Agent"].startswith("OTel-OTLP-Exporter-C/")

    # Resource.
    req = receiver.decoded("traces")[0]
    res = attrs(req.resource_spans[0].resource.attributes)
    assert res["service.name"] == "checkout"
    assert res["deployment.environment"] == "test"
    assert res["team"] == "a b"
    assert res["telemetry.sdk.name"] == "otus"
    assert res["process.pid"] == shutdown["pid"]

    # Spans: a server span and its client child, by the HTTP conventions.
    spans = {s.name: s for s in spans_of(receiver)}
    assert set(spans) == {"GET /users/{id}", "GET"}
    server, client = spans["GET /users/{id}"], spans["GET"]
    assert server.trace_id.hex() == emitted["trace_id"]
    assert server.span_id.hex() == emitted["server_span"]
    assert client.span_id.hex() == emitted["client_span"]
    assert client.parent_span_id == server.span_id
    assert server.kind == 2 and client.kind == 3
    sa = attrs(server.attributes)
    assert sa["http.request.method"] == "GET"
    assert sa["url.path"] == "/users/42"
    assert sa["http.route"] == "/users/{id}"
    assert sa["url.scheme"] == "http"
    assert sa["http.response.status_code"] == 200
    assert sa["user.id"] == "u-42" and sa["retries"] == 2 and sa["cached"] is True
    assert [v.string_value for v in sa["tags"].array_value.values] == ["a", "b"]
    assert server.status.code == 0  # 2xx: unset
    assert server.events[0].name == "cache.miss"
    ca = attrs(client.attributes)
    assert ca["url.full"] == "http://db.local:5432/query"
    assert ca["server.address"] == "db.local" and ca["server.port"] == 5432
    assert ca["http.response.status_code"] == 503
    assert ca["error.type"] == "503"
    assert client.status.code == 2  # ERROR
    assert server.start_time_unix_nano <= client.start_time_unix_nano
    assert client.end_time_unix_nano <= server.end_time_unix_nano
    # The client injected its own context.
    assert emitted["outgoing"] == [
        f"traceparent: 00-{emitted['trace_id']}-{emitted['client_span']}-01"]

    # Logs: tied to the span they were made in.
    logs = {l.body.string_value: l for l in logs_of(receiver)}
    assert logs["loading user"].span_id.hex() == emitted["server_span"]
    assert logs["loading user"].trace_id.hex() == emitted["trace_id"]
    assert logs["loading user"].severity_number == 9
    assert attrs(logs["loading user"].attributes) == {"user.id": "u-42", "items": 3}
    assert logs["database slow"].span_id.hex() == emitted["client_span"]
    assert logs["database slow"].severity_text == "WARN"
    assert logs["outside any span"].trace_id == b""
    assert logs["outside any span"].flags == 0

    # Metrics: exact values, cumulative.
    m = metrics_of(receiver)
    req_points = {attrs(p.attributes)["http.route"]: p for p in m["demo.requests"].sum.data_points}
    assert req_points["/users"].as_int == 3 and req_points["/orders"].as_int == 2
    assert m["demo.requests"].sum.is_monotonic
    assert m["demo.requests"].sum.aggregation_temporality == 2
    assert m["demo.inflight"].sum.data_points[0].as_int == 3
    assert not m["demo.inflight"].sum.is_monotonic
    assert m["demo.temperature"].gauge.data_points[0].as_double == 21.5
    h = m["demo.latency"].histogram.data_points[0]
    assert list(h.explicit_bounds) == [0.1, 0.5, 1.0]
    assert list(h.bucket_counts) == [1, 1, 1, 1]
    assert h.count == 4 and abs(h.sum - 3.95) < 1e-9 and h.min == 0.05 and h.max == 3.0
    e = m["demo.size"].exponential_histogram.data_points[0]
    assert e.count == 100 and sum(e.positive.bucket_counts) == 100 and len(e.positive.bucket_counts) <= 160
    # The HTTP helpers' duration histograms, in seconds with the advisory buckets.
    d = m["http.server.request.duration"]
    assert d.unit == "s"
    dp = d.histogram.data_points[0]
    assert list(dp.explicit_bounds) == [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
                                        1, 2.5, 5, 7.5, 10]
    assert attrs(dp.attributes) == {"http.request.method": "GET", "url.scheme": "http",
                                    "http.route": "/users/{id}", "http.response.status_code": 200,
                                    "network.protocol.version": "1.1"}
    c = m["http.client.request.duration"].histogram.data_points[0]
    assert attrs(c.attributes)["error.type"] == "503"
    # The library's own counters.
    assert "otus.lib.spans.dropped" in m and "otus.lib.export.failures" in m


def test_incoming_traceparent_continues_the_trace(receiver):
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    p, ev = run_demo(["emit"], {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                                "OTUS_DEMO_TRACEPARENT": tp, "OTUS_LOG_OUTPUT": "none"})
    assert p.returncode == 0, p.stderr
    server = [s for s in spans_of(receiver) if s.kind == 2][0]
    assert server.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert server.parent_span_id.hex() == "b7ad6b7169203331"
    assert server.flags == 0x301  # sampled, remote parent
    # An unsampled caller: parent-based sampling records nothing of this trace.
    r2 = Receiver()
    try:
        tp0 = tp[:-2] + "00"
        run_demo(["emit"], {"OTEL_EXPORTER_OTLP_ENDPOINT": r2.url, "OTUS_DEMO_TRACEPARENT": tp0,
                            "OTUS_LOG_OUTPUT": "none"})
        assert spans_of(r2) == []
    finally:
        r2.close()


def test_per_signal_endpoint_used_as_given(receiver):
    p, ev = run_demo(["emit"], {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url + "/base/",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url + "/custom/spans",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": receiver.url,
        "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
        "OTUS_LOG_OUTPUT": "none",
    })
    assert p.returncode == 0, p.stderr
    paths = sorted(r["path"] for r in receiver.requests)
    assert paths == ["/", "/base/v1/metrics", "/custom/spans"]
    assert all("Content-Encoding" not in r["headers"] for r in receiver.requests)


def test_retry_after_503_then_delivered_once():
    r = Receiver(script=[(503, {"Retry-After": "1"})])
    try:
        t0 = time.monotonic()
        p, ev = run_demo(["emit"], {
            "OTEL_EXPORTER_OTLP_ENDPOINT": r.url,
            "OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none", "OTUS_LOG_OUTPUT": "none",
        })
        took = time.monotonic() - t0
        assert p.returncode == 0, p.stderr
        assert [x["status"] for x in r.requests] == [503, 200]
        assert took >= 1.0  # waited as the peer asked
        assert len(spans_of(r)) == 2  # delivered exactly once
        assert ev[-1]["spans_exported"] == 2 and ev[-1]["export_failures"] == 1
    finally:
        r.close()


def test_partial_success_counts_the_rejected():
    # ExportTraceServiceResponse{partial_success{error_message, rejected_spans: 1}},
    # the message's fields in the order a peer may choose: error_message first.
    ps = b"\x12\x0bbad span id" + b"\x08\x01"
    answer = b"\x0a" + bytes([len(ps)]) + ps
    r = Receiver(script=[(200, {}, answer)])
    try:
        p, ev = run_demo(["emit"], {
            "OTEL_EXPORTER_OTLP_ENDPOINT": r.url, "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none", "OTUS_LOG_OUTPUT": "none",
        })
        assert p.returncode == 0, p.stderr
        assert [x["status"] for x in r.requests] == [200]  # not sent again
        assert ev[-1]["spans_exported"] == 1 and ev[-1]["export_dropped"] == 1
        assert "the peer rejected 1 of 2 spans" in p.stderr
    finally:
        r.close()


def test_no_retry_after_400():
    r = Receiver(script=[(400, {})])
    try:
        p, ev = run_demo(["emit"], {
            "OTEL_EXPORTER_OTLP_ENDPOINT": r.url, "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none", "OTUS_LOG_OUTPUT": "none",
        })
        assert [x["status"] for x in r.requests] == [400]
        assert ev[-1]["rc"] == -10  # OTUS_ERR_HTTP_REJECT
        assert ev[-1]["export_dropped"] == 2  # counted, not silently lost
        assert "refused" in p.stderr
    finally:
        r.close()


def test_agent_absent_shutdown_is_quick_and_counts():
    port = free_port()  # nothing listens
    p, ev = run_demo(["emit"], {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                                "OTUS_DEMO_SHUTDOWN_MS": "3000"})
    sd = ev[-1]
    assert p.returncode == 3
    assert sd["rc"] == -8  # OTUS_ERR_CONNECT
    assert sd["ms"] < 1000
    assert sd["spans_exported"] == 0 and sd["export_dropped"] > 0
    # The service's own logs were still written, as JSON lines, with trace context.
    lines = [json.loads(l) for l in p.stderr.splitlines() if l.startswith("{")]
    app = [l for l in lines if l.get("logger") != "otus"]
    assert [l["message"] for l in app] == ["loading user", "database slow", "outside any span"]
    assert app[0]["trace_id"] == ev[0]["trace_id"] and app[0]["span_id"] == ev[0]["server_span"]
    assert app[0]["trace_flags"] == "01"
    assert "trace_id" not in app[2]


def test_silent_agent_shutdown_keeps_its_deadline():
    # Accepts connections and never answers.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    port = s.getsockname()[1]
    try:
        t0 = time.monotonic()
        p, ev = run_demo(["emit"], {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                                    "OTUS_DEMO_SHUTDOWN_MS": "1500", "OTUS_LOG_OUTPUT": "none"})
        took = time.monotonic() - t0
        sd = ev[-1]
        assert sd["rc"] == -7  # OTUS_ERR_TIMEOUT
        assert 1400 <= sd["ms"] <= 2200
        assert took < 5
        assert sd["export_dropped"] > 0
    finally:
        s.close()


def test_flood_with_agent_absent_is_bounded():
    port = free_port()
    p, ev = run_demo(["flood", "200000"], {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                                            "OTUS_LOG_OUTPUT": "none", "OTUS_DEMO_SHUTDOWN_MS": "500"})
    sd = ev[-1]
    # Everything is accounted for: dropped on the spot or given up on at the end.
    assert sd["spans_dropped"] + sd["export_dropped"] >= 200000
    assert sd["ms"] < 1500


def test_sdk_disabled_exports_nothing_but_logs():
    r = Receiver()
    try:
        p, ev = run_demo(["emit"], {"OTEL_EXPORTER_OTLP_ENDPOINT": r.url, "OTEL_SDK_DISABLED": "true"})
        assert ev[0]["init"] == -15  # OTUS_ERR_DISABLED: informational
        assert r.requests == []
        app = [json.loads(l) for l in p.stderr.splitlines() if l.startswith("{")]
        assert [l["message"] for l in app] == ["loading user", "database slow", "outside any span"]
        assert "trace_id" not in app[0]  # no span recorded, no context made up
    finally:
        r.close()


@pytest.mark.skipif("asan" in os.environ.get("OTUS_BUILD", ""),
                    reason="the sanitizer's allocator (gcc 12's libasan) takes no lock around "
                    "fork(): a child whose parent had another thread inside malloc can block "
                    "forever in its first malloc; glibc's malloc is fork-safe")
def test_fork_child_exports_its_own(receiver):
    p, ev = run_demo(["fork"], {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                                "OTUS_LOG_OUTPUT": "none"})
    assert p.returncode == 0, p.stderr + p.stdout
    shut = [e for e in ev if e["event"] == "shutdown"]
    assert len(shut) == 2
    child_pid, parent_pid = shut[0]["pid"], shut[1]["pid"]
    by_pid = {}
    for req in receiver.decoded("traces"):
        for rs in req.resource_spans:
            pid = attrs(rs.resource.attributes)["process.pid"]
            by_pid.setdefault(pid, []).extend(s.name for ss in rs.scope_spans for s in ss.spans)
    # The child starts clean: no span of the parent's is exported twice.
    assert sorted(by_pid[child_pid]) == ["child-work"]
    assert sorted(by_pid[parent_pid]) == ["parent-before-fork", "parent-work"]
    child_logs = [l for l in logs_of(receiver) if l.body.string_value == "in the child"]
    assert len(child_logs) == 1
    m = [mm for req in receiver.decoded("metrics") for rm in req.resource_metrics
         if attrs(rm.resource.attributes)["process.pid"] == child_pid
         for sm in rm.scope_metrics for mm in sm.metrics if mm.name == "demo.child.work"]
    assert m and m[0].sum.data_points[0].as_int == 1
