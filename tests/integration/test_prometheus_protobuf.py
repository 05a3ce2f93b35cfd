"""The Prometheus protobuf exposition: the golden body of tests/data/prometheus decoded
by protoc's own Python code says what its text form beside it says; a real otus-agent
answers Prometheus' protobuf Accept header with delimited MetricFamily messages
(native histograms by default, classic buckets too or instead when configured, the
agent's own metrics included, gzip on request); the kept scrape buffer is freed once
scrapes stay much smaller than it; and a real Prometheus 2.42 started with
--enable-feature=native-histograms ingests OTLP exponential histograms as native
histograms: histogram_quantile, histogram_count and histogram_sum give the values
sent, positive and negative, while classic histograms, counters and exemplars keep
working over protobuf."""

import gzip
import importlib.util
import os
import re
import time

import pytest
from google.protobuf import text_format

from harness import BUILD, ROOT, http, wait_for
from otlp_client import MetricsRequest, exemplar
from test_prometheus import PROMETHEUS, RESOURCE, Prometheus, agent, every_kind, send  # noqa: F401

# protoc generates io/prometheus/client/metrics_pb2.py, but "io" is the standard
# library's module, which is not a package: the generated file is loaded by its path.
_spec = importlib.util.spec_from_file_location(
    "prometheus_client_metrics_pb2",
    os.path.join(BUILD, "py", "io", "prometheus", "client", "metrics_pb2.py"))
pb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pb)

ACCEPT_PROTOBUF = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                   "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                   "application/openmetrics-text;version=0.0.1;q=0.75,"
                   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
CT_PROTOBUF = ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
               "encoding=delimited")
DATA = os.path.join(ROOT, "tests", "data", "prometheus")


def families(body):
    """The MetricFamily messages of a delimited stream (each after its varint length)."""
    out, pos = [], 0
    while pos < len(body):
        n = shift = 0
        while True:
            b = body[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        assert pos + n <= len(body), "truncated MetricFamily"
        mf = pb.MetricFamily()
        mf.ParseFromString(body[pos:pos + n])
        out.append(mf)
        pos += n
    return out


def by_name(fams):
    names = [f.name for f in fams]
    assert len(names) == len(set(names)), f"a family appears twice: {names}"
    return {f.name: f for f in fams}


def labels(metric):
    return {lp.name: lp.value for lp in metric.label}


def test_golden_body_matches_its_text_form():
    with open(os.path.join(DATA, "every_kind.pb"), "rb") as f:
        got = families(f.read())
    with open(os.path.join(DATA, "every_kind.pb.txt")) as f:
        blocks = re.split(r"^# ---- MetricFamily \d+\n", f.read(), flags=re.M)[1:]
    want = [text_format.Parse(b, pb.MetricFamily()) for b in blocks]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == w, f"{g.name}:\n{g}\nwant:\n{w}"


def scrape_protobuf(url, headers=None):
    status, hdrs, body = http("GET", url, headers={"Accept": ACCEPT_PROTOBUF, **(headers or {})})
    assert status == 200
    assert hdrs["content-type"] == CT_PROTOBUF
    if hdrs.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return by_name(families(body))


def test_protobuf_scrape_has_every_kind(agent):
    a, otlp, url = agent()
    send(otlp, every_kind(MetricsRequest(RESOURCE)))
    fams = scrape_protobuf(url, {"Accept-Encoding": "gzip"})
    common = {"job": "shop/checkout", "instance": "pod-1", "otel_scope_name": "otus.test",
              "otel_scope_version": "1.0.0"}
    info = fams["target_info"]
    assert labels(info.metric[0]) == {"job": "shop/checkout", "instance": "pod-1",
                                      "deployment_environment": "test"}
    c = fams["http_server_requests_total"]
    assert c.type == pb.COUNTER and c.help == "Requests served"
    assert labels(c.metric[0]) == {**common, "http_method": "GET", "http_route": "/a\"b\\c\nd"}
    assert c.metric[0].counter.value == 42
    ex = c.metric[0].counter.exemplar
    assert {lp.name: lp.value for lp in ex.label} == {"trace_id": "ab" * 16, "span_id": "cd" * 8}
    assert c.metric[0].counter.HasField("created_timestamp")
    assert fams["jobs_done_total"].metric[0].counter.value == 3
    assert fams["inflight"].type == pb.GAUGE and fams["inflight"].metric[0].gauge.value == 7
    assert fams["cpu_utilization_ratio"].unit == "ratio"
    h = fams["http_server_duration_milliseconds"].metric[0].histogram
    assert [(b.upper_bound, b.cumulative_count) for b in h.bucket] == \
        [(5, 1), (10, 3), (25, 6), (float("inf"), 10)]
    assert h.sample_count == 10 and h.sample_sum == 123.5
    assert not h.HasField("schema")
    # The exponential histogram is native: OTLP buckets 0..2 at scale 1 are 1..3.
    n = fams["rpc_size_bytes"].metric[0].histogram
    assert (n.schema, n.zero_threshold, n.zero_count, n.sample_count, n.sample_sum) == \
        (1, 0, 1, 7, 100)
    assert [(s.offset, s.length) for s in n.positive_span] == [(1, 3)]
    assert list(n.positive_delta) == [1, 1, 1]
    assert len(n.bucket) == 0
    s = fams["gc_pause_seconds"].metric[0].summary
    assert [(q.quantile, q.value) for q in s.quantile] == [(0.5, 0.01), (0.99, 0.2)]
    # The agent's own metrics, read from their text form.
    own = fams["otus_prometheus_series"]
    assert own.type == pb.GAUGE and own.help == "Series held by the Prometheus exporter."
    assert labels(own.metric[0]) == {"exporter": "prometheus"} and own.metric[0].gauge.value >= 9
    assert fams["otus_prometheus_scrapes_total"].type == pb.COUNTER
    # The text formats are as they were.
    status, hdrs, body = http("GET", url)
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4")
    assert 'rpc_size_bytes_bucket{' in body.decode()


def test_classic_buckets_for_native_and_native_off(agent):
    a, otlp, url = agent("    classic_buckets_for_native: true\n")
    send(otlp, every_kind(MetricsRequest(RESOURCE)))
    h = scrape_protobuf(url)["rpc_size_bytes"].metric[0].histogram
    assert h.schema == 1 and list(h.positive_delta) == [1, 1, 1]
    assert [(b.upper_bound, b.cumulative_count) for b in h.bucket] == \
        [(0, 1), (2 ** 0.5, 2), (2, 4), (2 ** 1.5, 7), (float("inf"), 7)]
    a.stop()
    a, otlp, url = agent("    native_histograms: false\n")
    send(otlp, every_kind(MetricsRequest(RESOURCE)))
    h = scrape_protobuf(url)["rpc_size_bytes"].metric[0].histogram
    assert not h.HasField("schema") and len(h.positive_span) == 0
    assert len(h.bucket) == 5


def test_kept_scrape_buffer_shrinks(agent):
    a, otlp, url = agent("    series_ttl: 1s\n")
    req = MetricsRequest(RESOURCE)
    for i in range(3000):
        req.gauge("room.temperature", i, attrs={"room": f"room-{i:05d}", "floor": "ground"})
    send(otlp, req)
    big = len(http("GET", url)[2])
    assert big > 300000

    def kept():
        m = re.search(r'^otus_prometheus_scrape_buffer_bytes\{exporter="prometheus"\} (\d+)$',
                      http("GET", url)[2].decode(), re.M)
        return int(m.group(1))
    # The body's memory was kept after the scrape (it is reported from the next one).
    assert kept() >= big
    wait_for(lambda: "room_temperature" not in http("GET", url)[2].decode(), 10, 0.2,
             "the series to expire")
    # Four scrapes in a row that use less than a quarter of it, and it is freed.
    wait_for(lambda: kept() == 0, 10, 0.05, "the kept buffer to be freed")


# ---- the real Prometheus, with native histograms ----------------------------------------


@pytest.mark.skipif(not os.path.exists(PROMETHEUS), reason="prometheus is not installed")
def test_real_prometheus_native_histograms(agent, tmp_path):
    a, otlp, url = agent()
    prom = Prometheus(tmp_path, url.split("/")[2],
                      features=("native-histograms", "exemplar-storage"))
    try:
        wait_for(lambda: prom.query('up{job="otus-agent"} == 1'), 20, 0.2,
                 "prometheus to scrape the agent")
        start = time.time_ns()
        rounds = 12
        for i in range(1, rounds + 1):
            req = MetricsRequest(RESOURCE)
            # Scale 3 (base 2^(1/8)): 10, 20 and 10 observations in OTLP buckets 8, 9 and
            # 10, so the median lies in bucket 9, (2^(9/8), 2^(10/8)].
            req.exponential_histogram("rpc.server.duration", 3, 8, [10 * i, 20 * i, 10 * i], 0,
                                      90.0 * i, unit="s", start_ns=start)
            # Both signs and the zero bucket: 5 observations in [-2, -1), 2 at zero and
            # 3 in (2, 4] (scale 0: OTLP negative bucket 0 and positive bucket 1).
            req.exponential_histogram("balance.change", 0, 1, [3 * i], 2 * i, 2.0 * i,
                                      start_ns=start)
            p = req.sm.metrics[-1].exponential_histogram.data_points[0]
            p.negative.offset = 0
            p.negative.bucket_counts.extend([5 * i])
            p.count += 5 * i
            # A classic histogram and a counter over protobuf, with exemplars.
            req.histogram("http.server.duration", [0.1, 0.2, 0.5, 1], [0, 10 * i, 0, 0, 0],
                          1.5 * i, unit="s", start_ns=start,
                          exemplars=[exemplar(0.15, "0af7651916cd43dd8448eb211c80319c",
                                              "b7ad6b7169203331")])
            req.counter("http.server.requests", 50 * i, unit="{request}", start_ns=start)
            send(otlp, req)
            time.sleep(0.25)

        sel = '{job="shop/checkout",instance="pod-1"}'

        def value(promql):
            r = prom.query(promql)
            return float(r[0]["value"][1]) if r else None

        nh = f"rpc_server_duration_seconds{sel}"
        wait_for(lambda: value(f"histogram_count({nh})") == 40 * rounds, 15, 0.2,
                 "prometheus to scrape the last native histogram")
        # A native histogram sample, not classic series.
        r = prom.query(nh)
        assert len(r) == 1 and "histogram" in r[0] and "value" not in r[0], r
        # Its buckets as Prometheus sees them: OTLP bucket j is (2^(j/8), 2^((j+1)/8)].
        got = [(float(lo), float(hi), int(n)) for _, lo, hi, n in r[0]["histogram"][1]["buckets"]]
        want = [(2 ** (j / 8), 2 ** ((j + 1) / 8), n * rounds) for j, n in ((8, 10), (9, 20),
                                                                            (10, 10))]
        assert got == [pytest.approx(w) for w in want], got
        assert prom.query(f"rpc_server_duration_seconds_bucket{sel}") == []
        assert value(f"histogram_sum({nh})") == pytest.approx(90.0 * rounds)
        lo, hi = 2 ** (9 / 8), 2 ** (10 / 8)
        q = value(f"histogram_quantile(0.5, {nh})")
        assert lo <= q <= hi, q
        q = value(f"histogram_quantile(0.5, rate({nh}[10s]))")
        assert lo <= q <= hi, q
        # Negative buckets, the zero bucket and positive buckets, in that order.
        bh = f"balance_change{sel}"
        assert value(f"histogram_count({bh})") == 10 * rounds
        assert value(f"histogram_sum({bh})") == pytest.approx(2.0 * rounds)
        q = value(f"histogram_quantile(0.25, {bh})")
        assert -2 <= q <= -1, q
        assert value(f"histogram_quantile(0.6, {bh})") == pytest.approx(0, abs=1e-9)
        q = value(f"histogram_quantile(0.9, {bh})")
        assert 2 <= q <= 4, q
        # Classic histograms, counters and the agent's own metrics still arrive.
        q = value(f"histogram_quantile(0.5, sum by (le) (http_server_duration_seconds_bucket{sel}))")
        assert q == pytest.approx(0.15), q
        assert value(f"http_server_requests_total{sel}") == 50 * rounds
        own = prom.query('otus_prometheus_series{job="otus-agent"}')
        assert own and float(own[0]["value"][1]) >= 4
        ex = prom.api("query_exemplars", query=f"http_server_duration_seconds_bucket{sel}",
                      start=str(start / 1e9 - 60), end=str(time.time() + 60))
        ids = {e["labels"].get("trace_id") for s in ex for e in s["exemplars"]}
        assert "0af7651916cd43dd8448eb211c80319c" in ids, ex
    except AssertionError:
        print("---- prometheus log ----\n" + prom.output())
        raise
    finally:
        prom.stop()
