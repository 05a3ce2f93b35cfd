"""The OTLP/HTTP exporter ("jaeger" and "otlp") with the real agent, against the OTLP
stand-in (tests/standins/otlp_standin.py) and against a second otus-agent: spans of a
multi-service scenario arrive field for field, failures are retried as OTLP/HTTP says
(503s, 429 with Retry-After, network errors) and nothing arrives twice, 400-class
answers and partial_success are counted, and all three signals go end to end through
two agents."""

import os
import sys
import time

import pytest

from harness import free_port, http, wait_for
import otlp_data as od
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "standins"))
from otlp_standin import Answer, OtlpStandin  # noqa: E402


@pytest.fixture
def standin():
    s = OtlpStandin().start()
    yield s
    s.stop()


def agent_config(tmp_path, otlp, tel, exporters, pipelines, shutdown="10s"):
    return f"""
service:
  data_dir: {tmp_path}/data
  shutdown_timeout: {shutdown}
  telemetry:
    listen: 127.0.0.1:{tel}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp}
exporters:
{exporters}
pipelines:
{pipelines}
"""


def start(start_agent, tmp_path, exporters, pipelines, subdir=None, shutdown="10s"):
    otlp, tel = free_port(), free_port()
    d = tmp_path / subdir if subdir else tmp_path
    d.mkdir(exist_ok=True)
    a = start_agent(agent_config(d, otlp, tel, exporters, pipelines, shutdown), subdir=subdir)
    a.wait_http(tel)
    a.otlp, a.tel = otlp, tel
    return a


def metric_value(agent, name, **labels):
    text = http("GET", f"http://127.0.0.1:{agent.tel}/metrics")[2].decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = None
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
        elif want == "" and line.startswith(name + " "):
            total = float(line.rsplit(" ", 1)[1])
    return total


# ---- a multi-service scenario -------------------------------------------------------------------

SERVICES = ("frontend", "checkout", "payments")


def tid(n):
    return bytes.fromhex("5b8efff798038103d269b633813fc6%02x" % n)


def sid(service, n):
    return bytes([0xA0 + SERVICES.index(service), 0, 0, 0, 0, 0, 0, n])


def scenario(trace_no):
    """Three requests, one per service, as three SDKs would send them for one trace:
    frontend -> checkout -> payments, nested spans, an error, events, links, every
    attribute type, trace state, flags and dropped counts."""
    t = tid(trace_no)
    t0 = od.T0 + trace_no * 10_000_000_000
    reqs = []
    for si, service in enumerate(SERVICES):
        req = trace_pb.ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.schema_url = "https://opentelemetry.io/schemas/1.24.0"
        od.add_attrs(rs.resource.attributes, {
            "service.name": service, "service.version": f"1.{si}.0", "host.name": f"web-{si}",
            "deployment.environment": "prod", "process.pid": 4000 + si,
        })
        rs.resource.dropped_attributes_count = si
        ss = rs.scope_spans.add()
        ss.schema_url = "https://opentelemetry.io/schemas/1.21.0"
        ss.scope.name = f"io.otus.{service}"
        ss.scope.version = "0.9.1"
        od.add_attrs(ss.scope.attributes, {"otel.scope.kind": "manual"})
        ss.scope.dropped_attributes_count = 1
        # One server span per service, with two nested internal/client spans.
        parent = sid(SERVICES[si - 1], 3) if si else b""
        server = ss.spans.add(trace_id=t, span_id=sid(service, 1), parent_span_id=parent,
                              name=f"{service} /api/{service}", kind=2,
                              trace_state=f"otus=s{si},vendor=x{trace_no}", flags=0x301)
        server.start_time_unix_nano = t0 + si * 1_000_000 + 123
        server.end_time_unix_nano = t0 + 90_000_000 - si * 1_000_000 + 987
        od.add_attrs(server.attributes, {
            "http.request.method": "POST", "http.response.status_code": 200 if si < 2 else 502,
            "http.route": f"/api/{service}", "ratio": 0.25 + si, "ok": si != 2,
            "payload": b"\x00\x01\xfe\xff", "tags": ["a", "b", 3, 1.5, True],
            "user": {"id": 42, "tier": "gold", "roles": ["admin", "dev"], "meta": {"x": "y"}},
            "empty": "",
        })
        server.dropped_attributes_count = 2
        inner = ss.spans.add(trace_id=t, span_id=sid(service, 2), parent_span_id=sid(service, 1),
                             name=f"{service} work", kind=1)
        inner.start_time_unix_nano = server.start_time_unix_nano + 1
        inner.end_time_unix_nano = server.end_time_unix_nano - 1
        ev = inner.events.add(time_unix_nano=inner.start_time_unix_nano + 5, name="cache miss")
        od.add_attrs(ev.attributes, {"cache.key": f"k{trace_no}", "size": 1024})
        ev.dropped_attributes_count = 1
        inner.events.add(time_unix_nano=inner.start_time_unix_nano + 9, name="retry")
        inner.dropped_events_count = 3
        client = ss.spans.add(trace_id=t, span_id=sid(service, 3), parent_span_id=sid(service, 2),
                              name=f"{service} call", kind=3 if si < 2 else 4)
        client.start_time_unix_nano = inner.start_time_unix_nano + 2
        client.end_time_unix_nano = inner.end_time_unix_nano - 2
        ln = client.links.add(trace_id=tid(trace_no + 100), span_id=sid(service, 9),
                              trace_state="linked=1", flags=0x100)
        od.add_attrs(ln.attributes, {"link.reason": "batch", "n": -7})
        ln.dropped_attributes_count = 4
        client.dropped_links_count = 1
        if si == 2:
            server.status.code = 2
            server.status.message = "card declined"
            client.status.code = 2
            client.status.message = "upstream 502"
            exc = client.events.add(time_unix_nano=client.end_time_unix_nano, name="exception")
            od.add_attrs(exc.attributes, {"exception.type": "DeclinedError",
                                          "exception.message": "card declined",
                                          "exception.stacktrace": "at pay()\nat main()"})
        else:
            server.status.code = 1
        reqs.append(req)
    return reqs


def canonical(entries):
    """A sortable form of (resource entry, scope entry, record) triples, exact to the bit."""
    out = []
    for res, scope, rec in entries:
        out.append((res.resource.SerializeToString(deterministic=True), res.schema_url,
                    scope.scope.SerializeToString(deterministic=True), scope.schema_url,
                    rec.SerializeToString(deterministic=True)))
    return sorted(out)


def sent_entries(reqs, signal):
    out = []
    for r in reqs:
        if signal == "traces":
            out += [(rs, ss, sp) for rs in r.resource_spans for ss in rs.scope_spans
                    for sp in ss.spans]
        elif signal == "logs":
            out += [(rl, sl, lr) for rl in r.resource_logs for sl in rl.scope_logs
                    for lr in sl.log_records]
        else:
            out += [(rm, sm, m) for rm in r.resource_metrics for sm in rm.scope_metrics
                    for m in sm.metrics]
    return out


def jaeger_exporter(standin, extra=""):
    return f"""  jaeger:
    endpoint: {standin.url('/v1/traces')}
    flush_interval: 50ms
    retry:
      initial_interval: 50ms
      max_interval: 200ms
{extra}"""


# ---- done when: a multi-service scenario arrives identical -------------------------------------

def test_multi_service_spans_arrive_identical(start_agent, tmp_path, standin):
    a = start(start_agent, tmp_path, jaeger_exporter(standin), "  traces: [jaeger]")
    sent = []
    for trace_no in range(4):
        for i, req in enumerate(scenario(trace_no)):
            assert od.send(a.otlp, "traces", req, gzip=bool(i % 2))[0] == 200
            sent.append(req)
    want = canonical(sent_entries(sent, "traces"))
    assert len(want) == 4 * 3 * 3
    standin.wait(lambda: len(standin.records("traces")) >= len(want), what="every span")
    time.sleep(0.2)
    got = canonical(standin.records("traces"))
    assert got == want
    # Batches of one resource were merged, as an SDK sends them: one entry per service
    # in every request.
    for r in standin.requests("traces"):
        services = [kv.value.string_value for rs in r.message.resource_spans
                    for kv in rs.resource.attributes if kv.key == "service.name"]
        assert len(services) == len(set(services))
        assert r.compressed and r.encoding == "protobuf"
        assert r.headers["content-type"] == "application/x-protobuf"
    wait_for(lambda: metric_value(a, "otus_exporter_sent_records_total",
                                  exporter="jaeger") == len(want), 10, what="spans counted sent")


def test_fields_from_a_newer_otlp_pass_through(start_agent, tmp_path, standin):
    """Fields the agent's OTLP definitions do not have (a newer SDK's) are forwarded as
    they came: an unknown varint on a span, an unknown message on a resource."""
    from opentelemetry.proto.trace.v1 import trace_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2
    a = start(start_agent, tmp_path, jaeger_exporter(standin), "  traces: [jaeger]")
    req = od.traces_request(n=2)
    span_extra = b"\x98\x06\x2a"          # field 99, varint 42
    res_extra = b"\xa2\x06\x03abc"        # field 100, length-delimited "abc"
    for rs in req.resource_spans:
        r = resource_pb2.Resource()
        r.ParseFromString(rs.resource.SerializeToString() + res_extra)
        rs.resource.CopyFrom(r)
        for ss in rs.scope_spans:
            for sp in ss.spans:
                t = trace_pb2.Span()
                t.ParseFromString(sp.SerializeToString() + span_extra)
                sp.CopyFrom(t)
    assert od.send(a.otlp, "traces", req)[0] == 200
    standin.wait(lambda: len(standin.records("traces")) >= 2, what="2 spans")
    for rs, _, sp in standin.records("traces"):
        assert sp.SerializeToString().endswith(span_extra)
        assert rs.resource.SerializeToString().endswith(res_extra)
    assert a.stop() == 0


# ---- done when: 5 x 503, then 429 Retry-After: 2 ---------------------------------------------------

def test_503s_and_429_retry_after_deliver_exactly_once(start_agent, tmp_path, standin):
    standin.fail(5, 503)
    standin.plan(Answer(429, retry_after=2))
    # One send at a time, so the send that got the 429 is the next request too. The
    # breaker opens after the 5th 503 and lets a probe through 200 ms later.
    a = start(start_agent, tmp_path, jaeger_exporter(standin, """    max_in_flight: 1
    breaker:
      failure_threshold: 5
      open_timeout: 200ms"""), "  traces: [jaeger]")
    sent = []
    for i in range(6):
        req = od.traces_request(n=50, service=f"svc{i % 3}", start=i * 50)
        assert od.send(a.otlp, "traces", req)[0] == 200
        sent.append(req)
    standin.wait(lambda: len(standin.records("traces")) >= 300, timeout=30, what="300 spans")
    time.sleep(0.5)
    ids = [sp.span_id for _, _, sp in standin.records("traces")]
    assert len(ids) == 300 and len(set(ids)) == 300  # every span, exactly once
    assert canonical(standin.records("traces")) == canonical(sent_entries(sent, "traces"))
    statuses = [t.status for t in standin.attempts]
    assert statuses[:6] == [503] * 5 + [429]
    # Not before the Retry-After delay: the next request came 2 s after the 429 was
    # answered (10 ms allowed for the agent's millisecond clock).
    t429 = standin.attempts[5].answered_at
    gap = standin.attempts[6].at - t429
    assert gap >= 2.0 - 0.01
    assert metric_value(a, "otus_otlp_retries_total", exporter="jaeger") >= 6
    assert metric_value(a, "otus_exporter_sent_records_total", exporter="jaeger") == 300
    assert metric_value(a, "otus_exporter_dropped_records_total", exporter="jaeger") == 0


def test_breaker_with_many_sends_in_flight(start_agent, tmp_path, standin):
    """Four sends at once against a failing backend: the breaker opens, lets one probe
    through at a time, and once the backend is back every span arrives exactly once."""
    standin.fail(12, 503)
    a = start(start_agent, tmp_path, jaeger_exporter(standin, """    max_in_flight: 4
    max_batch_records: 20
    breaker:
      failure_threshold: 3
      open_timeout: 100ms
      max_open_timeout: 200ms"""), "  traces: [jaeger]")
    for i in range(8):
        assert od.send(a.otlp, "traces", od.traces_request(n=20, start=i * 20))[0] == 200
    standin.wait(lambda: len(standin.records("traces")) >= 160, timeout=30, what="160 spans")
    time.sleep(0.3)
    ids = [sp.span_id for _, _, sp in standin.records("traces")]
    assert len(ids) == 160 and len(set(ids)) == 160
    assert metric_value(a, "otus_exporter_breaker_state", exporter="jaeger") == 0
    assert metric_value(a, "otus_exporter_breaker_transitions_total", exporter="jaeger",
                        to="open") >= 1
    assert metric_value(a, "otus_exporter_breaker_transitions_total", exporter="jaeger",
                        to="closed") >= 1
    assert "is open" in a.output()
    wait_for(lambda: metric_value(a, "otus_exporter_sent_records_total",
                                  exporter="jaeger") == 160, 10, what="160 spans counted sent")


def test_network_errors_are_retried(start_agent, tmp_path):
    port = free_port()
    a = start(start_agent, tmp_path, f"""  jaeger:
    endpoint: http://127.0.0.1:{port}/v1/traces
    flush_interval: 20ms
    retry:
      initial_interval: 50ms
      max_interval: 300ms
    breaker:
      open_timeout: 200ms""", "  traces: [jaeger]")
    assert od.send(a.otlp, "traces", od.traces_request(n=10))[0] == 200
    wait_for(lambda: (metric_value(a, "otus_otlp_requests_total", exporter="jaeger",
                                   outcome="network") or 0) >= 2, what="failed attempts")
    s = OtlpStandin(port).start()
    try:
        s.wait(lambda: len(s.records("traces")) == 10, what="spans after the backend came up")
        # The stand-in keeps a request before it answers: the count follows the answer.
        wait_for(lambda: metric_value(a, "otus_exporter_sent_records_total",
                                      exporter="jaeger") == 10, 10, what="10 spans counted sent")
    finally:
        s.stop()


# ---- answers that are final -------------------------------------------------------------------------

def test_partial_success_counts_rejected_as_failed(start_agent, tmp_path, standin):
    standin.plan(Answer(200, rejected=3, message="3 spans had no name"))
    a = start(start_agent, tmp_path, jaeger_exporter(standin), "  traces: [jaeger]")
    assert od.send(a.otlp, "traces", od.traces_request(n=10))[0] == 200
    standin.wait(lambda: standin.requests("traces"), what="a request")
    wait_for(lambda: metric_value(a, "otus_exporter_failed_records_total", exporter="jaeger") == 3,
             what="3 failed records")
    assert metric_value(a, "otus_exporter_sent_records_total", exporter="jaeger") == 7
    assert metric_value(a, "otus_otlp_partial_rejected_records_total", exporter="jaeger") == 3
    assert metric_value(a, "otus_otlp_requests_total", exporter="jaeger", outcome="partial") == 1
    time.sleep(0.3)
    assert len(standin.attempts) == 1  # a partial success is never retried
    wait_for(lambda: "3 spans had no name" in a.output(), what="the message logged")


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500])
def test_final_statuses_are_not_retried(start_agent, tmp_path, standin, status):
    standin.plan(Answer(status, message=f"refused with {status}"))
    a = start(start_agent, tmp_path, jaeger_exporter(standin), "  traces: [jaeger]")
    assert od.send(a.otlp, "traces", od.traces_request(n=4))[0] == 200
    wait_for(lambda: metric_value(a, "otus_exporter_failed_records_total", exporter="jaeger") == 4,
             what="4 failed records")
    time.sleep(0.5)
    assert [t.status for t in standin.attempts] == [status]
    assert metric_value(a, "otus_otlp_retries_total", exporter="jaeger") == 0
    assert f"refused with {status}" in a.output()


def test_gives_up_after_max_elapsed(start_agent, tmp_path, standin):
    standin.fail(1000, 503)
    a = start(start_agent, tmp_path, jaeger_exporter(standin, """      max_elapsed: 600ms
    breaker:
      failure_threshold: 1000"""), "  traces: [jaeger]")
    assert od.send(a.otlp, "traces", od.traces_request(n=5))[0] == 200
    wait_for(lambda: metric_value(a, "otus_exporter_dropped_records_total", exporter="jaeger",
                                  reason="gave_up") == 5, what="5 dropped records")
    assert len(standin.attempts) >= 2
    assert not standin.records("traces")


def test_shutdown_deadline_ends_retries(start_agent, tmp_path, standin):
    standin.fail(1000, 503)
    a = start(start_agent, tmp_path, jaeger_exporter(standin), "  traces: [jaeger]",
              shutdown="1s")
    assert od.send(a.otlp, "traces", od.traces_request(n=5))[0] == 200
    standin.wait(lambda: len(standin.attempts) >= 2, what="retries")
    t0 = time.monotonic()
    assert a.stop() == 0
    assert time.monotonic() - t0 < 5


# ---- headers, compression, endpoints ---------------------------------------------------------------

def test_headers_compression_and_signal_endpoints(start_agent, tmp_path, standin):
    standin.add_path("/custom/spans", "traces")
    exporters = f"""  otlp:
    endpoint: {standin.url('/base/')}
    traces_endpoint: {standin.url('/custom/spans')}
    compression: none
    flush_interval: 20ms
    headers:
      authorization: "Bearer s3cret"
      x-tenant: team-a"""
    standin.add_path("/base/v1/logs", "logs")
    a = start(start_agent, tmp_path, exporters, "  traces: [otlp]\n  logs: [otlp]")
    assert od.send(a.otlp, "traces", od.traces_request(n=3))[0] == 200
    assert od.send(a.otlp, "logs", od.logs_request(n=2))[0] == 200
    standin.wait(lambda: len(standin.requests()) >= 2, what="two requests")
    paths = sorted(t.path for t in standin.attempts)
    assert paths == ["/base/v1/logs", "/custom/spans"]
    for r in standin.requests():
        assert r.headers["authorization"] == "Bearer s3cret"
        assert r.headers["x-tenant"] == "team-a"
        assert not r.compressed and "content-encoding" not in r.headers
        assert r.headers["user-agent"].startswith("otus-agent/")


def test_bad_configuration_is_refused(start_agent, tmp_path):
    for bad, what in [("endpoint: ftp://x", "endpoint"),
                      ("endpoint: http://user:pw@host:4318", "credentials"),
                      ("compression: brotli", "compression"),
                      ("headers:\n      content-type: text/plain", "content-type")]:
        otlp, tel = free_port(), free_port()
        d = tmp_path / f"bad{abs(hash(bad))}"
        d.mkdir()
        a = start_agent(agent_config(d, otlp, tel, f"  otlp:\n    {bad}", "  logs: [otlp]"),
                        subdir=d.name)
        assert a.proc.wait(10) == 1
        assert what in a.output()


# ---- done when: agent -> agent, all three signals -------------------------------------------------

def rich_metrics(service):
    req = metrics_pb.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    od.add_attrs(rm.resource.attributes, {"service.name": service})
    sm = rm.scope_metrics.add()
    sm.scope.name = "otus.test"
    g = sm.metrics.add(name="queue.depth", unit="1", description="items")
    g.gauge.data_points.add(time_unix_nano=od.T0, as_int=17)
    s = sm.metrics.add(name="requests", unit="1")
    s.sum.aggregation_temporality = 2
    s.sum.is_monotonic = True
    dp = s.sum.data_points.add(start_time_unix_nano=od.T0 - 10, time_unix_nano=od.T0,
                               as_double=12.5)
    od.add_attrs(dp.attributes, {"route": "/a"})
    ex = dp.exemplars.add(time_unix_nano=od.T0, as_double=1.5, trace_id=od.trace_id(1),
                          span_id=od.span_id(1))
    od.add_attrs(ex.filtered_attributes, {"user": "u1"})
    h = sm.metrics.add(name="latency", unit="ms")
    h.histogram.aggregation_temporality = 1
    hp = h.histogram.data_points.add(time_unix_nano=od.T0, count=6, sum=21.0, min=0.5, max=9.0,
                                     bucket_counts=[1, 2, 3], explicit_bounds=[1.0, 5.0])
    od.add_attrs(hp.attributes, {"route": "/b"})
    e = sm.metrics.add(name="size", unit="By")
    e.exponential_histogram.aggregation_temporality = 2
    ep = e.exponential_histogram.data_points.add(time_unix_nano=od.T0, count=3, sum=7.0, scale=-2,
                                                 zero_count=1, zero_threshold=0.001)
    ep.positive.offset = -3
    ep.positive.bucket_counts.extend([1, 0, 1])
    ep.negative.offset = 2
    ep.negative.bucket_counts.extend([0])
    q = sm.metrics.add(name="rtt", unit="s")
    qp = q.summary.data_points.add(time_unix_nano=od.T0, count=4, sum=2.0)
    qp.quantile_values.add(quantile=0.5, value=0.4)
    qp.quantile_values.add(quantile=0.99, value=1.2)
    return req


def test_agent_forwards_all_signals_to_second_agent(start_agent, tmp_path, standin):
    # second agent: receives OTLP and forwards every signal to the stand-in
    b = start(start_agent, tmp_path, f"""  otlp:
    endpoint: {standin.url()}
    flush_interval: 50ms""", "  traces: [otlp]\n  metrics: [otlp]\n  logs: [otlp]",
              subdir="gateway")
    # first agent: the one on the host, forwarding to the gateway agent
    a = start(start_agent, tmp_path, f"""  otlp/gateway:
    endpoint: http://127.0.0.1:{b.otlp}
    flush_interval: 50ms""", "  traces: [otlp/gateway]\n  metrics: [otlp/gateway]\n"
              "  logs: [otlp/gateway]", subdir="host")
    traces = [r for n in range(2) for r in scenario(n)]
    logs = [od.logs_request(n=5, service=s, start=i * 5,
                            attrs={"k": {"nested": [1, 2.5, "x", b"\x01"]}})
            for i, s in enumerate(SERVICES)]
    metrics = [rich_metrics(s) for s in SERVICES]
    for r in traces:
        assert od.send(a.otlp, "traces", r, gzip=True)[0] == 200
    for r in logs:
        assert od.send(a.otlp, "logs", r)[0] == 200
    for r in metrics:
        assert od.send(a.otlp, "metrics", r)[0] == 200
    for signal, reqs in (("traces", traces), ("logs", logs), ("metrics", metrics)):
        want = canonical(sent_entries(reqs, signal))
        standin.wait(lambda: len(standin.records(signal)) >= len(want), what=f"every {signal}")
        assert canonical(standin.records(signal)) == want, signal
    assert metric_value(b, "otus_receiver_accepted_records_total", signal="traces") == 18
    for sig, n in (("traces", 18), ("logs", 15), ("metrics", 3 * 5)):
        assert metric_value(a, "otus_receiver_accepted_records_total", signal=sig) == n
    for agent, name in ((a, "otlp/gateway"), (b, "otlp")):
        wait_for(lambda: metric_value(agent, "otus_exporter_sent_records_total",
                                      exporter=name) == 48, 10, what=f"48 records sent by {name}")


def test_json_encoding_arrives_identical(start_agent, tmp_path, standin):
    a = start(start_agent, tmp_path, f"""  otlp:
    endpoint: {standin.url()}
    encoding: json
    flush_interval: 50ms""", "  traces: [otlp]\n  metrics: [otlp]\n  logs: [otlp]")
    traces = scenario(7)
    logs = [od.logs_request(n=4, service="json", attrs={"k": [1, 2.5, "x", b"\x00\xff"]})]
    metrics = [rich_metrics("json")]
    for signal, reqs in (("traces", traces), ("logs", logs), ("metrics", metrics)):
        for r in reqs:
            assert od.send(a.otlp, signal, r)[0] == 200
    for signal, reqs in (("traces", traces), ("logs", logs), ("metrics", metrics)):
        want = canonical(sent_entries(reqs, signal))
        standin.wait(lambda: len(standin.records(signal)) >= len(want), what=f"every {signal}")
        assert canonical(standin.records(signal)) == want, signal
    for r in standin.requests():
        assert r.encoding == "json" and r.compressed
        assert r.headers["content-type"] == "application/json"


def test_reload_replaces_the_exporter_without_loss(start_agent, tmp_path, standin):
    """SIGHUP with changed settings: a new instance takes over the queue while the old one
    finishes; spans before and after arrive once, and the metrics stay readable."""
    import signal as sig
    otlp, tel = free_port(), free_port()
    cfg = lambda timeout: agent_config(tmp_path, otlp, tel, jaeger_exporter(
        standin, f"    timeout: {timeout}"), "  traces: [jaeger]")
    a = start_agent(cfg("5s"))
    a.wait_http(tel)
    a.otlp, a.tel = otlp, tel
    assert od.send(otlp, "traces", od.traces_request(n=10, start=0))[0] == 200
    standin.wait(lambda: len(standin.records("traces")) >= 10, what="first spans")
    for i in range(3):
        a.rewrite_config(cfg(f"{6 + i}s"))
        a.signal(sig.SIGHUP)
        wait_for(lambda: a.output().count("replaced") >= i + 1, what="reload")
        assert od.send(otlp, "traces", od.traces_request(n=10, start=10 + i * 10))[0] == 200
    standin.wait(lambda: len(standin.records("traces")) >= 40, what="every span")
    ids = [sp.span_id for _, _, sp in standin.records("traces")]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert metric_value(a, "otus_otlp_requests_total", exporter="jaeger") >= 1
    assert metric_value(a, "otus_exporter_breaker_state", exporter="jaeger") == 0
    assert a.stop() == 0


def test_413_splits_the_send_into_smaller_requests(start_agent, tmp_path):
    """A body over the endpoint's limit comes back 413: the send goes again as requests
    of half as many batches, down to single batches; a single batch over the limit is
    refused for good."""
    s = OtlpStandin(max_body=3000).start()
    try:
        a = start(start_agent, tmp_path, f"""  jaeger:
    endpoint: {s.url('/v1/traces')}
    compression: none
    flush_interval: 400ms""", "  traces: [jaeger]")
        for i in range(6):
            assert od.send(a.otlp, "traces", od.traces_request(n=10, start=i * 10))[0] == 200
        s.wait(lambda: len(s.records("traces")) >= 60, what="60 spans")
        time.sleep(0.3)
        ids = [sp.span_id for _, _, sp in s.records("traces")]
        assert len(ids) == 60 and len(set(ids)) == 60
        assert 413 in [t.status for t in s.attempts]
        assert all(r.size <= 3000 for r in s.requests())
        # One batch alone over the limit cannot be split: failed, not retried.
        n_attempts = len(s.attempts)
        assert od.send(a.otlp, "traces", od.traces_request(n=60, start=100))[0] == 200
        wait_for(lambda: metric_value(a, "otus_exporter_failed_records_total",
                                      exporter="jaeger") == 60, what="60 failed spans")
        time.sleep(0.3)
        assert [t.status for t in s.attempts[n_attempts:]] == [413]
        assert metric_value(a, "otus_exporter_sent_records_total", exporter="jaeger") == 60
    finally:
        s.stop()
