"""The OTLP/HTTP receiver over real sockets: every signal as protobuf and gzip, what the
file exporter writes for them (field by field), partial success, and every refusal
with its status code and body."""

import gzip
import json
import os
import socket

import pytest

from harness import free_port, read_ndjson, read_response, wait_for
import otlp_data as od


def agent_config(tmp_path, otlp_port, tel_port, extra_receiver="", buffer="", file_extra=""):
    return f"""
service:
  data_dir: {tmp_path}/data
  telemetry:
    listen: 127.0.0.1:{tel_port}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp_port}
{extra_receiver}
{buffer}
exporters:
  file:
    path: {tmp_path}/out
    flush_interval: 50ms
{file_extra}
pipelines:
  logs: [file]
  traces: [file]
  metrics: [file]
"""


def read_docs(tmp_path, signal, n, timeout=10):
    path = os.path.join(str(tmp_path), "out", f"{signal}.ndjson")

    def have():
        docs = read_ndjson(path)
        return docs if len(docs) >= n else None

    return wait_for(have, timeout, what=f"{n} {signal} documents")


@pytest.fixture
def agent(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    a = start_agent(agent_config(tmp_path, otlp, tel))
    a.wait_http(tel)
    a.otlp, a.tel = otlp, tel
    return a


def test_logs_protobuf_to_file(agent, tmp_path):
    req = od.logs_request(n=3, resource={"host.name": "h1", "service.version": "2.0",
                                        "deployment.environment": "prod"},
                          attrs={"http.method": "GET", "user": {"id": 7, "tier": "gold"},
                                 "ratio": 0.5, "ok": True, "blob": b"\x00\xff",
                                 "tags": ["a", "b"]})
    status, headers, body = od.send(agent.otlp, "logs", req)
    assert status == 200
    assert headers["content-type"] == "application/x-protobuf"
    resp = od.RESPONSES["logs"]()
    resp.ParseFromString(body)
    assert not resp.HasField("partial_success")
    docs = read_docs(tmp_path, "logs", 3)
    assert len(docs) == 3
    d = docs[1]
    assert d["@timestamp"] == "2023-11-14T22:13:20.000000001Z"
    assert d["message"] == "record 1"
    assert d["log.level"] == "INFO"
    assert d["event.severity"] == 9
    assert d["trace.id"] == od.trace_id(1).hex()
    assert d["span.id"] == od.span_id(1).hex()
    assert d["service.name"] == "checkout"
    assert d["service.version"] == "2.0"
    assert d["host.name"] == "h1"
    assert d["resource.attributes"] == {"deployment.environment": "prod"}
    assert d["scope.name"] == "otus.test" and d["scope.version"] == "1.0"
    assert d["attributes"] == {"seq": 1, "http.method": "GET", "user.id": 7, "user.tier": "gold",
                               "ratio": 0.5, "ok": True, "blob": "AP8=", "tags": ["a", "b"]}


def test_structured_and_scalar_bodies(agent, tmp_path):
    od.send(agent.otlp, "logs", od.logs_request(n=1, body={"event": "login", "n": 3}))
    od.send(agent.otlp, "logs", od.logs_request(n=1, start=1, body=42))
    docs = read_docs(tmp_path, "logs", 2)
    assert docs[0]["body.structured"] == {"event": "login", "n": 3}
    assert "message" not in docs[0]
    assert docs[1]["message"] == "42"


def test_traces_gzip_to_file(agent, tmp_path):
    req = od.traces_request(n=2)
    sp = req.resource_spans[0].scope_spans[0].spans[1]
    sp.parent_span_id = od.span_id(0)
    sp.trace_state = "rojo=00f067aa0ba902b7"
    sp.status.code = 2
    sp.status.message = "boom"
    ev = sp.events.add(time_unix_nano=od.T0 + 1700, name="exception")
    od.add_attrs(ev.attributes, {"exception.type": "IOError"})
    ln = sp.links.add(trace_id=od.trace_id(9), span_id=od.span_id(9), trace_state="k=v")
    od.add_attrs(ln.attributes, {"link.kind": "retry"})
    sp.dropped_events_count = 2
    status, _, _ = od.send(agent.otlp, "traces", req, gzip=True)
    assert status == 200
    docs = read_docs(tmp_path, "traces", 2)
    d = docs[1]
    assert d["trace_id"] == od.trace_id(1).hex()
    assert d["span_id"] == od.span_id(1).hex()
    assert d["parent_span_id"] == od.span_id(0).hex()
    assert d["trace_state"] == "rojo=00f067aa0ba902b7"
    assert d["name"] == "op 1" and d["kind"] == "server"
    assert d["start_time_unix_nano"] == od.T0 + 1000
    assert d["end_time_unix_nano"] == od.T0 + 1500
    assert d["duration_ns"] == 500
    assert d["status"] == {"code": "error", "message": "boom"}
    assert d["service.name"] == "api"
    assert d["attributes"] == {"seq": 1}
    assert d["events"] == [{"time": "2023-11-14T22:13:20.000001700Z", "time_unix_nano": od.T0 + 1700,
                            "name": "exception", "attributes": {"exception.type": "IOError"}}]
    assert d["links"] == [{"trace_id": od.trace_id(9).hex(), "span_id": od.span_id(9).hex(),
                           "trace_state": "k=v", "attributes": {"link.kind": "retry"}}]
    assert d["dropped_events_count"] == 2


def test_metrics_every_kind_to_file(agent, tmp_path):
    req = od.metrics_request(value=3.5, name="temperature")
    sm = req.resource_metrics[0].scope_metrics[0]
    s = sm.metrics.add(name="requests", unit="{request}")
    s.sum.is_monotonic = True
    s.sum.aggregation_temporality = 2
    p = s.sum.data_points.add(start_time_unix_nano=od.T0 - 10, time_unix_nano=od.T0, as_int=17)
    od.add_attrs(p.attributes, {"route": "/a"})
    ex = p.exemplars.add(time_unix_nano=od.T0, as_double=1.0, trace_id=od.trace_id(1),
                         span_id=od.span_id(1))
    h = sm.metrics.add(name="latency", unit="s")
    h.histogram.aggregation_temporality = 1
    hp = h.histogram.data_points.add(time_unix_nano=od.T0, count=6, sum=4.5, min=0.1, max=2.0)
    hp.bucket_counts.extend([1, 2, 3])
    hp.explicit_bounds.extend([0.5, 1.0])
    e = sm.metrics.add(name="sizes")
    e.exponential_histogram.aggregation_temporality = 2
    ep = e.exponential_histogram.data_points.add(time_unix_nano=od.T0, count=5, scale=1,
                                                 zero_count=1)
    ep.positive.offset = -1
    ep.positive.bucket_counts.extend([2, 2])
    q = sm.metrics.add(name="legacy")
    qp = q.summary.data_points.add(time_unix_nano=od.T0, count=10, sum=20.0)
    qp.quantile_values.add(quantile=0.5, value=1.5)
    assert od.send(agent.otlp, "metrics", req)[0] == 200
    docs = {d["name"]: d for d in read_docs(tmp_path, "metrics", 5)}
    assert docs["temperature"]["type"] == "gauge" and docs["temperature"]["value"] == 3.5
    r = docs["requests"]
    assert (r["type"], r["temporality"], r["monotonic"], r["value"]) == ("sum", "cumulative", True, 17)
    assert r["attributes"] == {"route": "/a"} and r["unit"] == "{request}"
    assert r["exemplars"][0]["trace_id"] == od.trace_id(1).hex()
    l = docs["latency"]
    assert (l["count"], l["sum"], l["min"], l["max"]) == (6, 4.5, 0.1, 2.0)
    assert l["bucket_counts"] == [1, 2, 3] and l["explicit_bounds"] == [0.5, 1.0]
    assert l["temporality"] == "delta"
    s_ = docs["sizes"]
    assert (s_["scale"], s_["zero_count"], s_["positive"]) == (1, 1, {"offset": -1, "bucket_counts": [2, 2]})
    assert "sum" not in s_
    assert docs["legacy"]["quantiles"] == [{"quantile": 0.5, "value": 1.5}]


def test_partial_success_for_invalid_ids(agent, tmp_path):
    req = od.traces_request(n=4)
    spans = req.resource_spans[0].scope_spans[0].spans
    spans[1].trace_id = b"\x00" * 16          # all zero: invalid
    spans[2].span_id = b"\x01\x02\x03"        # wrong length
    status, _, body = od.send(agent.otlp, "traces", req)
    assert status == 200
    resp = od.RESPONSES["traces"]()
    resp.ParseFromString(body)
    assert resp.partial_success.rejected_spans == 2
    assert "invalid trace_id" in resp.partial_success.error_message
    docs = read_docs(tmp_path, "traces", 2)
    assert sorted(d["name"] for d in docs) == ["op 0", "op 3"]
    # Metrics: an unnamed metric's points and a malformed histogram point are rejected.
    m = od.metrics_request()
    sm = m.resource_metrics[0].scope_metrics[0]
    sm.metrics.add(name="").gauge.data_points.add(as_double=1)
    bad = sm.metrics.add(name="h").histogram.data_points.add(count=1)
    bad.bucket_counts.extend([1, 0])
    status, _, body = od.send(agent.otlp, "metrics", m)
    resp = od.RESPONSES["metrics"]()
    resp.ParseFromString(body)
    assert status == 200 and resp.partial_success.rejected_data_points == 2


def test_refusals(agent):
    p = agent.otlp
    # Wrong method.
    s, h, _ = od.post(p, "/v1/logs", None, method="GET")
    assert s == 405 and h["allow"] == "POST"
    # Unknown path.
    assert od.post(p, "/v1/profiles", b"x")[0] == 404
    # Unsupported media type and encoding.
    assert od.post(p, "/v1/logs", b"x", content_type="text/plain")[0] == 415
    assert od.post(p, "/v1/logs", b"x", content_type=None)[0] == 415
    s, _, body = od.post(p, "/v1/logs", b"x", encoding="br")
    assert s == 415 and "Content-Encoding" in od.status_message(body).message
    # Malformed protobuf: 400 with a google.rpc.Status (INVALID_ARGUMENT).
    s, h, body = od.post(p, "/v1/traces", b"\x0a\xff\xff\xff\xff\x0f")
    assert s == 400 and h["content-type"] == "application/x-protobuf"
    st = od.status_message(body)
    assert st.code == 3 and "protobuf" in st.message
    # Broken gzip.
    s, _, body = od.post(p, "/v1/logs", b"\x1f\x8bnot really", encoding="gzip")
    assert s == 400 and "gzip" in od.status_message(body).message
    # Still serving.
    assert od.send(p, "logs", od.logs_request(n=1))[0] == 200


def test_request_size_limits(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    a = start_agent(agent_config(tmp_path, otlp, tel,
                                 extra_receiver="    max_request_bytes: 64KiB"))
    a.wait_http(tel)
    big = od.logs_request(n=2000)
    body = big.SerializeToString()
    assert len(body) > 64 * 1024
    assert od.post(otlp, "/v1/logs", body)[0] == 413
    # A small gzip body that inflates past the limit is refused the same way.
    bomb = gzip.compress(body)
    assert len(bomb) < 64 * 1024
    s, _, resp = od.post(otlp, "/v1/logs", bomb, encoding="gzip")
    assert s == 413
    assert "max_request_bytes" in od.status_message(resp).message
    assert od.send(otlp, "logs", od.logs_request(n=10))[0] == 200


def test_bearer_token(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    a = start_agent(agent_config(tmp_path, otlp, tel,
                                 extra_receiver="    bearer_token: s3cr3t-token"))
    a.wait_http(tel)
    body = od.logs_request(n=1).SerializeToString()
    s, h, _ = od.post(otlp, "/v1/logs", body)
    assert s == 401 and h["www-authenticate"] == "Bearer"
    assert od.post(otlp, "/v1/logs", body, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert od.post(otlp, "/v1/logs", body, headers={"Authorization": "Bearer s3cr3t-toke"})[0] == 401
    assert od.post(otlp, "/v1/logs", body, headers={"Authorization": "Basic s3cr3t-token"})[0] == 401
    assert od.post(otlp, "/v1/logs", body, headers={"Authorization": "Bearer s3cr3t-token"})[0] == 200
    assert od.post(otlp, "/v1/logs", body, headers={"Authorization": "bearer s3cr3t-token"})[0] == 200
    assert "s3cr3t" not in a.output()


def test_memory_limit_gives_503_with_retry_after(start_agent, tmp_path):
    """With a small memory budget and an exporter that holds data for a long time,
    the receiver refuses with 503 + Retry-After instead of growing, and takes data
    again once the exporter has sent it."""
    otlp, tel = free_port(), free_port()
    cfg = agent_config(tmp_path, otlp, tel, buffer="buffer:\n  max_bytes: 1MiB")
    cfg = cfg.replace("flush_interval: 50ms", "flush_interval: 3s")
    a = start_agent(cfg)
    a.wait_http(tel)
    accepted = refused = 0
    retry_after = None
    for i in range(40):
        s, h, body = od.send(otlp, "logs", od.logs_request(n=200, start=i * 200))
        if s == 200:
            accepted += 1
        else:
            assert s == 503
            assert od.status_message(body).code == 14
            retry_after = h.get("retry-after")
            refused += 1
    assert accepted > 0 and refused > 0 and retry_after is not None
    from harness import http
    assert http("GET", f"http://127.0.0.1:{tel}/readyz")[0] == 503
    docs = read_docs(tmp_path, "logs", accepted * 200, timeout=15)
    assert len(docs) == accepted * 200
    wait_for(lambda: od.send(otlp, "logs", od.logs_request(n=1, start=99999))[0] == 200,
             timeout=10, what="the receiver to accept again")
    metrics = http("GET", f"http://127.0.0.1:{tel}/metrics")[2].decode()
    assert 'otus_receiver_refused_requests_total{signal="logs",reason="memory"}' in metrics


def test_bad_client_does_not_disturb_others(agent):
    keep = socket.create_connection(("127.0.0.1", agent.otlp))
    body = od.logs_request(n=1).SerializeToString()
    req = (b"POST /v1/logs HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-protobuf\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    keep.sendall(req)
    assert read_response(keep)[0] == 200
    bad = socket.create_connection(("127.0.0.1", agent.otlp))
    bad.sendall(b"POST /v1/logs HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
    assert read_response(bad)[0] == 400
    keep.sendall(req)
    assert read_response(keep)[0] == 200


def test_self_metrics_count_what_happened(agent, tmp_path):
    od.send(agent.otlp, "logs", od.logs_request(n=5))
    od.post(agent.otlp, "/v1/logs", b"junk")
    read_docs(tmp_path, "logs", 5)
    from harness import http

    def sent():
        m = http("GET", f"http://127.0.0.1:{agent.tel}/metrics")[2].decode()
        return m if 'otus_exporter_sent_records_total{exporter="file"} 5' in m else None
    m = wait_for(sent, what="sent count")
    assert 'otus_receiver_accepted_records_total{signal="logs"} 5' in m
    assert 'otus_receiver_refused_requests_total{signal="logs",reason="malformed"} 1' in m
    assert 'otus_http_requests_total{path="/v1/logs",code="200"} 1' in m
    assert 'otus_http_requests_total{path="/v1/logs",code="400"} 1' in m
    assert "otus_process_resident_memory_bytes " in m
    assert "# TYPE otus_exporter_queue_records gauge" in m


def test_signals_sent_together_keep_their_files(start_agent, tmp_path):
    """Batches of different signals queued together for one exporter are sent in
    groups of one signal each."""
    otlp, tel = free_port(), free_port()
    a = start_agent(agent_config(tmp_path, otlp, tel).replace("flush_interval: 50ms",
                                                                "flush_interval: 400ms"))
    a.wait_http(tel)
    for i in range(3):
        assert od.send(otlp, "logs", od.logs_request(n=2, start=i * 2))[0] == 200
        assert od.send(otlp, "traces", od.traces_request(n=2, start=i * 2))[0] == 200
        assert od.send(otlp, "metrics", od.metrics_request(value=float(i)))[0] == 200
    logs = read_docs(tmp_path, "logs", 6)
    traces = read_docs(tmp_path, "traces", 6)
    metrics = read_docs(tmp_path, "metrics", 3)
    assert all("message" in d for d in logs) and len(logs) == 6
    assert all("span_id" in d for d in traces) and len(traces) == 6
    assert all(d["type"] == "gauge" for d in metrics) and len(metrics) == 3


def test_empty_and_huge_batches(agent, tmp_path):
    # An empty request (no resources at all) and one with an empty scope are fine.
    assert od.send(agent.otlp, "logs", od.logs_request(n=0))[0] == 200
    assert od.post(agent.otlp, "/v1/traces", b"")[0] == 200
    # 40,000 records in one request, under the 8 MiB default limit.
    big = od.logs_request(n=40000)
    assert len(big.SerializeToString()) < 8 << 20
    status, _, body = od.send(agent.otlp, "logs", big)
    assert status == 200
    docs = read_docs(tmp_path, "logs", 40000, timeout=30)
    assert len(docs) == 40000
    assert [d["attributes"]["seq"] for d in docs] == list(range(40000))


def parse_metrics(text):
    """Prometheus text into {(name, frozenset(labels)): value}."""
    import re
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def test_loss_accounting_invariant(start_agent, tmp_path):
    """At every moment, for every exporter:
    accepted = sent + failed + dropped + queued + in flight."""
    from harness import http
    otlp, tel = free_port(), free_port()
    cfg = agent_config(tmp_path, otlp, tel, file_extra="    queue_max_bytes: 64KiB")
    a = start_agent(cfg.replace("flush_interval: 50ms", "flush_interval: 300ms"))
    a.wait_http(tel)

    def check():
        m = parse_metrics(http("GET", f"http://127.0.0.1:{tel}/metrics")[2].decode())
        ex = frozenset({("exporter", "file")})
        dropped = sum(v for (n, l), v in m.items()
                      if n == "otus_exporter_dropped_records_total" and ("exporter", "file") in l)
        acc = m[("otus_exporter_accepted_records_total", ex)]
        rest = (m[("otus_exporter_sent_records_total", ex)] + m[("otus_exporter_failed_records_total", ex)]
                + dropped + m[("otus_exporter_queue_records", ex)]
                + m[("otus_exporter_in_flight_records", ex)])
        assert acc == rest, (acc, rest)
        return m, dropped
    for i in range(30):
        od.send(otlp, "logs", od.logs_request(n=50, start=i * 50))
        check()
    # The small queue limit made some records drop for this exporter (and be counted).
    wait_for(lambda: check()[0][("otus_exporter_queue_records", frozenset({("exporter", "file")}))] == 0,
             what="queue to drain")
    m, dropped = check()
    assert dropped > 0
    written = len(read_docs(tmp_path, "logs", 1))
    assert written == m[("otus_exporter_sent_records_total", frozenset({("exporter", "file")}))]


def test_json_requests_match_protobuf_ones(agent, tmp_path):
    """The same requests sent as OTLP/JSON (plain and gzip) produce the same documents
    as protobuf does; answers come back as JSON."""
    logs = od.logs_request(n=2, attrs={"user": {"id": 7}, "ratio": 0.5, "blob": b"\x01\x02"})
    s, h, body = od.send_json(agent.otlp, "logs", logs)
    assert s == 200 and h["content-type"] == "application/json"
    assert json.loads(body) == {}
    s, _, _ = od.send_json(agent.otlp, "traces", od.traces_request(n=2), gzip=True)
    assert s == 200
    m = od.metrics_request(value=2.5)
    assert od.send_json(agent.otlp, "metrics", m)[0] == 200
    assert od.send(agent.otlp, "logs", logs)[0] == 200
    docs = read_docs(tmp_path, "logs", 4)
    assert docs[0] == docs[2] and docs[1] == docs[3]
    assert docs[0]["attributes"]["blob"] == "AQI="
    traces = read_docs(tmp_path, "traces", 2)
    assert traces[1]["trace_id"] == od.trace_id(1).hex()
    assert read_docs(tmp_path, "metrics", 1)[0]["value"] == 2.5


def test_json_partial_success_and_errors(agent):
    req = od.traces_request(n=3)
    req.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x00" * 8
    s, _, body = od.send_json(agent.otlp, "traces", req)
    assert s == 200
    ps = json.loads(body)["partialSuccess"]
    assert ps["rejectedSpans"] == "1" and "invalid" in ps["errorMessage"]
    # Malformed JSON: 400 with a JSON google.rpc.Status naming the problem.
    s, h, body = od.post(agent.otlp, "/v1/traces", b'{"resourceSpans":[{"scopeSpans":[{"spans":'
                         b'[{"traceId":"xyz"}]}]}]}', content_type="application/json")
    assert s == 400 and h["content-type"] == "application/json"
    st = json.loads(body)
    assert st["code"] == 3
    assert "resourceSpans[0].scopeSpans[0].spans[0].traceId" in st["message"]
    s, _, body = od.post(agent.otlp, "/v1/logs", b"not json", content_type="application/json")
    assert s == 400 and json.loads(body)["code"] == 3
    # A charset parameter on the media type is fine.
    s, _, _ = od.post(agent.otlp, "/v1/logs", od.to_otlp_json(od.logs_request(n=1)),
                      content_type="application/json; charset=utf-8")
    assert s == 200


def test_refused_before_the_body_on_a_kept_connection(start_agent, tmp_path):
    """A request refused from its headers alone (wrong token, or a body the memory budget
    cannot hold) is answered without its body being stored, and the same connection
    carries the next request."""
    import http.client
    otlp, tel = free_port(), free_port()
    cfg = agent_config(tmp_path, otlp, tel, extra_receiver="    bearer_token: tok",
                       buffer="buffer:\n  max_bytes: 1MiB")
    a = start_agent(cfg)
    a.wait_http(tel)
    conn = http.client.HTTPConnection("127.0.0.1", otlp, timeout=10)
    small = od.logs_request(n=3).SerializeToString()
    big = od.logs_request(n=3000).SerializeToString()
    assert len(big) * 5 > 1 << 20
    s, h, body = od.post(otlp, "/v1/logs", big, headers={"Authorization": "Bearer nope"}, conn=conn)
    assert s == 401
    s, h, body = od.post(otlp, "/v1/logs", big, headers={"Authorization": "Bearer tok"}, conn=conn)
    assert s == 503 and h["retry-after"] == "1"
    assert "memory limit" in od.status_message(body).message
    s, _, _ = od.post(otlp, "/v1/logs", small, headers={"Authorization": "Bearer tok"}, conn=conn)
    assert s == 200
    conn.close()
    docs = read_docs(tmp_path, "logs", 3)
    assert len(docs) == 3
    # With Expect: 100-continue the refusal comes at once, without waiting for a body.
    s = socket.create_connection(("127.0.0.1", otlp))
    s.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-protobuf\r\n"
              b"Authorization: Bearer tok\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(big))
    r = read_response(s)
    assert r is not None and r[0] == 503


def test_null_exporter_counts_and_discards(start_agent, tmp_path):
    from harness import http
    otlp, tel = free_port(), free_port()
    a = start_agent(f"""
service:
  telemetry:
    listen: 127.0.0.1:{tel}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp}
exporters:
  null:
    flush_interval: 20ms
pipelines:
  logs: [null]
  traces: [null]
  metrics: [null]
""")
    a.wait_http(tel)
    assert od.send(otlp, "logs", od.logs_request(n=7))[0] == 200
    assert od.send(otlp, "traces", od.traces_request(n=5))[0] == 200
    wait_for(lambda: 'otus_exporter_sent_records_total{exporter="null"} 12' in
             http("GET", f"http://127.0.0.1:{tel}/metrics")[2].decode(), what="12 records sent")
    assert a.stop() == 0
