"""The Prometheus exporter end to end: OTLP metrics sent to a real otus-agent come out
of its scrape endpoint in both formats, pass promtool, and a real Prometheus (the Debian
package, on its own port and storage, scraping every second with the scrape
configuration from docs/prometheus.md) answers PromQL queries with the values sent."""

import gzip
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse

import pytest

from harness import ROOT, free_port, http, wait_for
from otlp_client import CUMULATIVE, DELTA, MetricsRequest, exemplar

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"

RESOURCE = {
    "service.name": "checkout",
    "service.namespace": "shop",
    "service.instance.id": "pod-1",
    "deployment.environment": "test",
}


def agent_config(otlp_port, prom_port, extra=""):
    return f"""
service:
  telemetry:
    listen: 127.0.0.1:{prom_port}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp_port}
exporters:
  prometheus:
    listen: 127.0.0.1:{prom_port}
{extra}
pipelines:
  metrics: [prometheus]
"""


@pytest.fixture
def agent(start_agent):
    """An agent with a Prometheus exporter; returns (agent, otlp addr, scrape url)."""

    def start(extra=""):
        otlp, prom = free_port(), free_port()
        a = start_agent(agent_config(otlp, prom, extra))
        a.wait_http(prom, "/healthz")
        return a, f"127.0.0.1:{otlp}", f"http://127.0.0.1:{prom}/metrics"

    return start


def send(addr, req):
    def ok():
        try:
            return req.send(addr) == 200
        except OSError:
            return False
    wait_for(ok, 10, what="the OTLP receiver to take the request")


def every_kind(req):
    """One series of every kind the exporter exposes."""
    req.counter("http.server.requests", 42, unit="{request}", description="Requests served",
                attrs={"http.method": "GET", "http.route": "/a\"b\\c\nd"},
                exemplars=[exemplar(1, "ab" * 16, "cd" * 8)])
    req.counter("jobs.done", 3, temporality=DELTA, attrs={"queue": "q1"})
    req.counter("inflight", 7, monotonic=False, description="In flight")
    req.gauge("queue.depth", 3.5, unit="{item}", description="Queue depth")
    req.gauge("cpu.utilization", 0.25, unit="1", description="CPU use")
    req.histogram("http.server.duration", [5, 10, 25], [1, 2, 3, 4], 123.5, unit="ms",
                  description="Request time", exemplars=[exemplar(7, "11" * 16, "22" * 8)])
    req.histogram("rpc.duration", [0.1, 0.2], [1, 1, 1], 0.9, unit="s", description="RPC time")
    req.exponential_histogram("rpc.size", 1, 0, [1, 2, 3], 1, 100.0, unit="By",
                              description="Payload sizes")
    req.summary("gc.pause", [(0.5, 0.01), (0.99, 0.2)], 10, 0.5, unit="s",
                description="GC pauses")
    return req


def test_scrape_has_every_kind_and_passes_promtool(agent, tmp_path):
    a, otlp, url = agent()
    send(otlp, every_kind(MetricsRequest(RESOURCE)))
    status, headers, body = http("GET", url)
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    labels = 'job="shop/checkout",instance="pod-1",otel_scope_name="otus.test",' \
             'otel_scope_version="1.0.0"'
    for line in [
        'target_info{job="shop/checkout",instance="pod-1",deployment_environment="test"} 1',
        "# TYPE http_server_requests_total counter",
        f'http_server_requests_total{{{labels},http_method="GET",'
        'http_route="/a\\"b\\\\c\\nd"} 42',
        f'jobs_done_total{{{labels},queue="q1"}} 3',
        "# TYPE inflight gauge",
        f"inflight{{{labels}}} 7",
        f"queue_depth{{{labels}}} 3.5",
        f"cpu_utilization_ratio{{{labels}}} 0.25",
        f'http_server_duration_milliseconds_bucket{{{labels},le="10.0"}} 3',
        f'http_server_duration_milliseconds_bucket{{{labels},le="+Inf"}} 10',
        f"http_server_duration_milliseconds_sum{{{labels}}} 123.5",
        f"http_server_duration_milliseconds_count{{{labels}}} 10",
        f'rpc_size_bytes_bucket{{{labels},le="2.0"}} 4',
        f'gc_pause_seconds{{{labels},quantile="0.99"}} 0.2',
        "# HELP otus_prometheus_series Series held by the Prometheus exporter.",
    ]:
        assert line in text.splitlines(), f"missing {line!r} in:\n{text}"
    # HELP and TYPE once per family, no timestamps, no duplicate series.
    meta = [l for l in text.splitlines() if l.startswith("# TYPE ")]
    assert len(meta) == len(set(meta))
    samples = [l for l in text.splitlines() if not l.startswith("#")]
    keys = [l.rsplit(" ", 1)[0] for l in samples]
    assert len(keys) == len(set(keys))
    assert all(len(l.rsplit("} ", 1)[-1].split()) == 1 for l in samples if "}" in l)
    # promtool finds nothing but the base-unit lint of the milliseconds histogram.
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                       timeout=30)
    problems = [l for l in (r.stdout + r.stderr).decode().splitlines() if l.strip()]
    allowed = 'http_server_duration_milliseconds use base unit "seconds" instead of ' \
              '"milliseconds"'
    assert all(p.strip() == allowed for p in problems), problems
    assert r.returncode in (0, 3)


def test_openmetrics_gzip_and_head(agent):
    a, otlp, url = agent()
    send(otlp, every_kind(MetricsRequest(RESOURCE)))
    status, headers, body = http("GET", url, headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        "Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["content-type"] == \
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert headers["content-encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert text.endswith("# EOF\n")
    assert "# TYPE target info" in text
    assert "# UNIT http_server_duration_milliseconds milliseconds" in text
    assert re.search(r'http_server_duration_milliseconds_bucket\{.*le="10.0"\} 3 # '
                     r'\{trace_id="1{32}",span_id="2{16}"\} 7 \d+\.\d+', text), text
    assert re.search(r'http_server_requests_total\{.*\} 42 # \{trace_id="(ab){16}",'
                     r'span_id="(cd){8}"\} 1 ', text)
    assert re.search(r"http_server_requests_created\{.*\} \d+\.\d+", text)
    status, headers, body = http("HEAD", url)
    assert status == 200 and body == b""
    status, _, _ = http("POST", url, body=b"x")
    assert status == 405


def test_delta_accumulates_and_restart_resets(agent):
    a, otlp, url = agent()
    for _ in range(3):
        send(otlp, MetricsRequest(RESOURCE).counter("jobs.done", 5, temporality=DELTA))
    send(otlp, MetricsRequest(RESOURCE).counter("restarts.seen", 100, start_ns=1000))
    # The sender restarted: a new start time and a lower value.
    send(otlp, MetricsRequest(RESOURCE).counter("restarts.seen", 4, start_ns=2000))
    # A late point from before the restart changes nothing.
    send(otlp, MetricsRequest(RESOURCE).counter("restarts.seen", 150, start_ns=1000))
    text = http("GET", url)[2].decode()
    assert re.search(r"^jobs_done_total\{.*\} 15$", text, re.M), text
    assert re.search(r"^restarts_seen_total\{.*\} 4$", text, re.M), text


def test_max_series_and_ttl(agent):
    a, otlp, url = agent("    max_series: 3\n    series_ttl: 1s\n")
    req = MetricsRequest(RESOURCE)
    for i in range(5):
        req.gauge("temperature", i, unit="Cel", attrs={"room": f"r{i}"})
    send(otlp, req)
    text = http("GET", url)[2].decode()
    assert len(re.findall(r"^temperature_celsius\{", text, re.M)) == 3
    assert re.search(r'^otus_prometheus_series_refused_total\{exporter="prometheus"\} 2$',
                     text, re.M), text
    # Existing series keep updating while new ones are refused.
    send(otlp, MetricsRequest(RESOURCE).gauge("temperature", 42, unit="Cel",
                                              attrs={"room": "r0"}))
    text = http("GET", url)[2].decode()
    assert re.search(r'^temperature_celsius\{.*room="r0"\} 42$', text, re.M), text

    def expired():
        t = http("GET", url)[2].decode()
        return "temperature_celsius" not in t and "target_info" not in t and t
    text = wait_for(expired, 10, interval=0.2, what="the series to expire")
    assert re.search(r'^otus_prometheus_series\{exporter="prometheus"\} 0$', text, re.M)


# ---- the real Prometheus --------------------------------------------------------------


def scrape_config_from_docs(target):
    """The scrape configuration shown in docs/prometheus.md, pointed at target and
    scraping every second."""
    with open(os.path.join(ROOT, "docs", "prometheus.md")) as f:
        doc = f.read()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    cfg = next(b for b in blocks if "scrape_configs:" in b)
    assert "honor_labels: true" in cfg
    cfg = cfg.replace("127.0.0.1:9464", target)
    return re.sub(r"scrape_interval: \S+", "scrape_interval: 1s", cfg)


class Prometheus:
    def __init__(self, tmp_path, target, features=("exemplar-storage",)):
        self.port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text("global:\n  evaluation_interval: 1s\n" + scrape_config_from_docs(target))
        self.log = open(tmp_path / "prometheus.log", "wb")
        self.data = tmp_path / "tsdb"
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={self.data}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             *(f"--enable-feature={f}" for f in features), "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=str(tmp_path))
        self.url = f"http://127.0.0.1:{self.port}"

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited: " + self.output())
            try:
                return http("GET", self.url + "/-/ready", timeout=1)[0] == 200
            except OSError:
                return False
        wait_for(ready, 20, interval=0.1, what="prometheus to be ready")

    def api(self, path, **params):
        status, _, body = http("GET", f"{self.url}/api/v1/{path}?" +
                               urllib.parse.urlencode(params))
        doc = json.loads(body)
        assert status == 200 and doc["status"] == "success", doc
        return doc["data"]

    def query(self, promql):
        return self.api("query", query=promql)["result"]

    def output(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.mark.skipif(not os.path.exists(PROMETHEUS), reason="prometheus is not installed")
def test_real_prometheus_scrapes_the_agent(agent, tmp_path):
    a, otlp, url = agent()
    target = url.split("/")[2]
    prom = Prometheus(tmp_path, target)
    try:
        # Prometheus starts scraping a few seconds after it is ready (its discovery
        # sends targets at most every 5 s).
        wait_for(lambda: prom.query('up{job="otus-agent"} == 1'), 20, 0.2,
                 "prometheus to scrape the agent")
        # Counter: +50 every 0.25 s for about 4 s (about 200/s); gauge; histogram whose
        # observations all lie in (0.1, 0.2], so every median is 0.15.
        start = time.time_ns()
        total = 0
        for i in range(16):
            total += 50
            req = MetricsRequest(RESOURCE)
            req.counter("http.server.requests", total, unit="{request}", start_ns=start,
                        attrs={"http.method": "GET"})
            req.gauge("queue.depth", 7, unit="{item}")
            req.histogram("http.server.duration", [0.1, 0.2, 0.5, 1], [0, 10 * (i + 1), 0, 0, 0],
                          1.5 * (i + 1), unit="s", start_ns=start,
                          exemplars=[exemplar(0.15, "0af7651916cd43dd8448eb211c80319c",
                                              "b7ad6b7169203331")])
            send(otlp, req)
            time.sleep(0.25)

        sel = '{job="shop/checkout",instance="pod-1"}'

        def value(promql):
            r = prom.query(promql)
            return float(r[0]["value"][1]) if r else None

        wait_for(lambda: value(f"http_server_requests_total{sel}") == total, 15, 0.2,
                 "prometheus to scrape the last counter value")
        rate = value(f"rate(http_server_requests_total{sel}[10s])")
        assert rate is not None and 50 < rate < 800, rate
        assert value(f"queue_depth{sel}") == 7
        q = value(f"histogram_quantile(0.5, sum by (le) (http_server_duration_seconds_bucket{sel}))")
        assert q == pytest.approx(0.15), q
        q = value(f"histogram_quantile(0.5, sum by (le) "
                  f"(rate(http_server_duration_seconds_bucket{sel}[10s])))")
        assert q == pytest.approx(0.15), q
        info = prom.query(f"target_info{sel}")
        assert len(info) == 1
        assert info[0]["metric"]["deployment_environment"] == "test"
        # The agent's own metrics get the scrape job's labels.
        own = prom.query('otus_prometheus_series{job="otus-agent"}')
        assert own and float(own[0]["value"][1]) >= 3
        # Exemplars came through OpenMetrics: a latency point links to its trace.
        ex = prom.api("query_exemplars", query=f"http_server_duration_seconds_bucket{sel}",
                      start=str(start / 1e9 - 60), end=str(time.time() + 60))
        ids = {e["labels"].get("trace_id") for s in ex for e in s["exemplars"]}
        assert "0af7651916cd43dd8448eb211c80319c" in ids, ex
    except AssertionError:
        print("---- prometheus log ----\n" + prom.output())
        raise
    finally:
        prom.stop()
