"""The Elasticsearch exporter against the Elasticsearch stand-in (tests/standins): the
documents field by field, exactly-once delivery of 100,000 records, per-item and
whole-request retries, dead letters and their replay, request splitting on 413,
time-based indices, spans, and authentication."""

import json
import os
import subprocess
import sys
import threading

import pytest

from harness import AGENT_BIN, ROOT, free_port, http, wait_for
import otlp_data as od

sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))
from es_control import StandinProcess  # noqa: E402


@pytest.fixture
def es():
    s = StandinProcess()
    yield s
    s.close()


def es_config(tmp_path, es_urls, otlp, tel, es_extra="", pipelines=None, extra_exporters=""):
    urls = ", ".join(es_urls)
    pipes = pipelines or "  logs: [elasticsearch]\n"
    retry = "" if "retry:" in es_extra else \
        "    retry:\n      initial_interval: 50ms\n      max_interval: 500ms\n"
    return f"""
service:
  data_dir: {tmp_path}/data
  shutdown_timeout: 5s
  telemetry:
    listen: 127.0.0.1:{tel}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp}
exporters:
  elasticsearch:
    endpoints: [{urls}]
    flush_interval: 100ms
{retry}{es_extra}
{extra_exporters}
pipelines:
{pipes}
"""


def start(start_agent, tmp_path, es, es_extra="", pipelines=None, extra_exporters="", urls=None,
          subdir=None):
    otlp, tel = free_port(), free_port()
    d = tmp_path / subdir if subdir else tmp_path
    a = start_agent(es_config(d, urls or [es.url], otlp, tel, es_extra, pipelines,
                              extra_exporters), subdir=subdir)
    a.wait_http(tel)
    a.otlp, a.tel = otlp, tel
    return a


def metric(agent, name, **labels):
    """The value of one series of the agent's /metrics, 0 when absent."""
    text = http("GET", f"http://127.0.0.1:{agent.tel}/metrics")[2].decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        series, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


def wait_count(es, target, n, timeout=60):
    return wait_for(lambda: es.count(target) >= n, timeout, interval=0.2,
                    what=f"{n} documents in {target}")


def post_logs(agent, total, per_request=1000, start=0, **kw):
    for i in range(start, start + total, per_request):
        st, _, _ = od.send(agent.otlp, "logs", od.logs_request(n=min(per_request, start + total - i),
                                                             start=i, **kw))
        assert st == 200


def check_exactly_once(docs, total, start=0):
    seqs = sorted(d["_source"]["attributes"]["seq"] for d in docs)
    assert seqs == list(range(start, start + total))
    ids = [d["_id"] for d in docs]
    assert len(set(ids)) == len(ids)


def expected_timestamp(i):
    ns = od.T0 + i
    import datetime
    s = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return s.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


def check_fields(src, i, service="checkout"):
    assert src["@timestamp"] == expected_timestamp(i)
    assert src["message"] == f"record {i}"
    assert src["log.level"] == "INFO"
    assert src["event.severity"] == 9
    assert src["trace.id"] == od.trace_id(i).hex()
    assert src["span.id"] == od.span_id(i).hex()
    assert src["service.name"] == service
    assert src["scope.name"] == "otus.test" and src["scope.version"] == "1.0"
    assert src["attributes"]["seq"] == i


def test_documents_field_by_field_template_and_no_duplicates(start_agent, tmp_path, es):
    a = start(start_agent, tmp_path, es)
    req = od.logs_request(n=3, resource={"host.name": "h1", "service.version": "2.0",
                                        "deployment.environment": "prod"},
                          attrs={"http.method": "GET", "user": {"id": 7, "tier": "gold"},
                                 "ratio": 0.5, "ok": True, "tags": ["a", "b"]})
    assert od.send(a.otlp, "logs", req)[0] == 200
    wait_count(es, "logs-otus-default", 3)
    docs = sorted(es.docs("logs-otus-default"), key=lambda d: d["_source"]["attributes"]["seq"])
    assert len(docs) == 3
    d = docs[1]["_source"]
    check_fields(d, 1)
    assert d["service.version"] == "2.0" and d["host.name"] == "h1"
    assert d["resource.attributes"] == {"deployment.environment": "prod"}
    assert d["attributes"] == {"seq": 1, "http.method": "GET", "user.id": 7, "user.tier": "gold",
                               "ratio": 0.5, "ok": True, "tags": ["a", "b"]}
    assert docs[1]["_index"].startswith(".ds-logs-otus-default-")
    assert len(docs[1]["_id"]) == 22
    # The template the exporter installed: a data stream, subobjects: false attributes.
    st, body = es.request("GET", "/_index_template/otus-logs-otus-default")
    assert st == 200
    t = body["index_templates"][0]["index_template"]
    assert t["index_patterns"] == ["logs-otus-default"] and "data_stream" in t
    props = t["template"]["mappings"]["properties"]
    assert props["attributes"] == {"type": "object", "subobjects": False}
    assert props["@timestamp"] == {"type": "date_nanos"}
    assert props["trace"]["properties"]["id"]["type"] == "keyword"
    assert props["body"]["properties"]["structured"]["type"] == "flattened"
    stats = es.stats()
    assert "application/x-ndjson" in stats["content_types"]
    assert stats["bulk_bodies_gzip"] >= 1
    # The answers are cut down to what the exporter reads from them.
    assert stats["bulk_queries"] and all(
        q.startswith("filter_path=errors,items.*.status,items.*.error,items.*.failure_store")
        for q in stats["bulk_queries"])
    assert "POST /logs-otus-default/_bulk" in stats["paths"]
    # The same records again (a client retry): the same _ids, so nothing is stored twice
    # and the 409s count as delivered.
    assert od.send(a.otlp, "logs", req)[0] == 200
    wait_for(lambda: metric(a, "otus_exporter_sent_records_total") >= 6, 20,
             what="the second send settled")
    assert es.count("logs-otus-default") == 3
    assert metric(a, "otus_exporter_failed_records_total") == 0
    # The other shapes: structured body kept as an object, conflicting attribute shapes
    # across records (object in one, scalar in another) both land.
    od.send(a.otlp, "logs", od.logs_request(n=1, start=10, body={"event": "login", "n": 3},
                                            attrs={"user": "bob"}))
    od.send(a.otlp, "logs", od.logs_request(n=1, start=11, body={"event": {"kind": "x"}},
                                            attrs={"user": {"name": {"first": "al"}}}))
    wait_count(es, "logs-otus-default", 5)
    by_seq = {d["_source"]["attributes"]["seq"]: d["_source"] for d in es.docs("logs-otus-default")}
    assert by_seq[10]["body.structured"] == {"event": "login", "n": 3}
    assert by_seq[10]["attributes"]["user"] == "bob"
    assert by_seq[11]["attributes"]["user.name.first"] == "al"
    assert a.stop() == 0


def test_100k_records_exactly_once_field_by_field(start_agent, tmp_path, es):
    a = start(start_agent, tmp_path, es, es_extra="    max_in_flight: 4\n")
    total = 100_000
    threads = [threading.Thread(target=post_logs, args=(a, 25_000, 1000, k * 25_000))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_count(es, "logs-otus-default", total, timeout=180)
    docs = es.docs("logs-otus-default")
    assert len(docs) == total
    check_exactly_once(docs, total)
    for d in docs:
        check_fields(d["_source"], d["_source"]["attributes"]["seq"])
    assert metric(a, "otus_exporter_sent_records_total") == total
    assert metric(a, "otus_exporter_dropped_records_total") == 0
    assert a.stop() == 0


def test_429_items_and_503_requests_still_exactly_once(start_agent, tmp_path, es):
    es.faults(fail_requests=5, fail_status=503, reject_fraction=0.2, reject_status=429, seed=7)
    a = start(start_agent, tmp_path, es)
    total = 20_000
    post_logs(a, total)
    wait_count(es, "logs-otus-default", total, timeout=120)
    wait_for(lambda: metric(a, "otus_exporter_sent_records_total") >= total, 30,
             what="every record settled")
    docs = es.docs("logs-otus-default")
    check_exactly_once(docs, total)
    stats = es.stats()
    assert stats["failed_requests"] == 5
    assert stats["rejected_items"] > total * 0.15
    assert metric(a, "otus_es_bulk_items_total", outcome="retried") >= stats["rejected_items"]
    assert metric(a, "otus_es_bulk_requests_total", outcome="retry") == 5
    assert metric(a, "otus_exporter_failed_records_total") == 0
    assert metric(a, "otus_exporter_dropped_records_total") == 0
    assert a.stop() == 0


def test_mapping_conflict_dead_letter_and_replay(start_agent, tmp_path, es):
    a = start(start_agent, tmp_path, es)
    # The first record maps attributes.code as a number.
    od.send(a.otlp, "logs", od.logs_request(n=1, start=0, attrs={"code": 200}))
    wait_count(es, "logs-otus-default", 1)
    # A batch where one record has text in it: everything else lands.
    req = od.logs_request(n=10, start=1, attrs={"code": 201})
    od.set_value(req.resource_logs[0].scope_logs[0].log_records[3].attributes[1].value, "n/a")
    assert od.send(a.otlp, "logs", req)[0] == 200
    wait_count(es, "logs-otus-default", 10)
    wait_for(lambda: metric(a, "otus_exporter_failed_records_total") == 1, 20,
             what="the refused record counted")
    seqs = sorted(d["_source"]["attributes"]["seq"] for d in es.docs("logs-otus-default"))
    assert seqs == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]
    dl_path = tmp_path / "data" / "dead-letter" / "elasticsearch.ndjson"
    lines = [json.loads(l) for l in dl_path.read_text().splitlines()]
    assert len(lines) == 1
    dl = lines[0]
    assert dl["status"] == 400 and dl["op_type"] == "create" and dl["index"] == "logs-otus-default"
    assert dl["error"]["type"] == "document_parsing_exception"
    assert "failed to parse field [attributes.code] of type [long]" in dl["error"]["reason"]
    assert dl["document"]["attributes"] == {"seq": 4, "code": "n/a"}
    assert dl["document"]["message"] == "record 4"
    assert metric(a, "otus_es_dead_letters_total") == 1
    assert a.stop() == 0
    # Replaying before the mapping is fixed refuses it again and keeps it in the file.
    cfg = str(tmp_path / "otus.yaml")
    r = subprocess.run([AGENT_BIN, "--config", cfg, "--replay-dead-letters", str(dl_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "0 landed, 1 refused again" in r.stdout
    assert len(dl_path.read_text().splitlines()) == 1
    # The user fixes the mapping (a template that maps the field as a keyword, and a new
    # backing index), then replays: the document lands with its original _id.
    st, body = es.request("GET", "/_index_template/otus-logs-otus-default")
    t = body["index_templates"][0]["index_template"]
    t["template"]["mappings"]["properties"]["attributes"]["properties"] = {
        "code": {"type": "keyword"}}
    assert es.request("PUT", "/_index_template/otus-logs-otus-default", t)[0] == 200
    assert es.request("POST", "/logs-otus-default/_rollover")[0] == 200
    r = subprocess.run([AGENT_BIN, "--config", cfg, "--replay-dead-letters", str(dl_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "replayed 1 dead letters" in r.stdout and "1 landed, 0 refused again" in r.stdout
    docs = {d["_source"]["attributes"]["seq"]: d for d in es.docs("logs-otus-default")}
    assert docs[4]["_id"] == dl["_id"]
    assert docs[4]["_source"] == dl["document"]
    assert dl_path.read_text() == ""
    # The replay did not put back the exporter's own template over the user's fix.
    st, body = es.request("GET", "/_index_template/otus-logs-otus-default")
    assert body["index_templates"][0]["index_template"]["template"]["mappings"]["properties"][
        "attributes"]["properties"] == {"code": {"type": "keyword"}}


def test_413_splits_and_a_single_oversized_record_is_dead_lettered(start_agent, tmp_path, es):
    es.faults(max_content_length=40_000)
    a = start(start_agent, tmp_path, es, es_extra="    compression: none\n")
    post_logs(a, 600, per_request=600)
    wait_count(es, "logs-otus-default", 600, timeout=60)
    check_exactly_once(es.docs("logs-otus-default"), 600)
    assert metric(a, "otus_es_bulk_requests_total", outcome="too_large") >= 1
    # One record larger than the cluster takes.
    od.send(a.otlp, "logs", od.logs_request(n=1, start=600, attrs={"blob": "x" * 50_000}))
    wait_for(lambda: metric(a, "otus_exporter_failed_records_total") == 1, 20,
             what="the oversized record refused")
    dl = json.loads((tmp_path / "data" / "dead-letter" / "elasticsearch.ndjson").read_text())
    assert dl["error"]["type"] == "request_entity_too_large"
    assert dl["document"]["attributes"]["seq"] == 600
    assert a.stop() == 0


def test_time_based_index_and_spans(start_agent, tmp_path, es):
    a = start(start_agent, tmp_path, es,
              es_extra="    index: otus-logs-%Y.%m.%d\n    traces_index: traces-otus-test\n",
              pipelines="  logs: [elasticsearch]\n  traces: [elasticsearch]\n")
    post_logs(a, 5, per_request=5)
    assert od.send(a.otlp, "traces", od.traces_request(n=4))[0] == 200
    wait_count(es, "otus-logs-2023.11.14", 5)
    wait_count(es, "traces-otus-test", 4)
    logs = es.docs("otus-logs-2023.11.14")
    assert {d["_index"] for d in logs} == {"otus-logs-2023.11.14"}
    spans = sorted(es.docs("traces-otus-test"), key=lambda d: d["_source"]["name"])
    assert spans[1]["_source"]["name"] == "op 1"
    assert spans[1]["_source"]["trace_id"] == od.trace_id(1).hex()
    assert spans[1]["_source"]["service.name"] == "api"
    st, body = es.request("GET", "/_index_template/otus-otus-logs")
    t = body["index_templates"][0]["index_template"]
    assert t["index_patterns"] == ["otus-logs-*.*.*"] and "data_stream" not in t
    assert "POST /_bulk" in es.stats()["paths"]
    assert es.request("GET", "/_data_stream/traces-otus-test")[0] == 200
    assert a.stop() == 0


def test_basic_auth_and_api_key(start_agent, tmp_path):
    es = StandinProcess(users=["otus:s3cret-pw"], api_keys=["kid:kvalue"])
    try:
        a = start(start_agent, tmp_path, es,
                  es_extra="    username: otus\n    password: s3cret-pw\n")
        post_logs(a, 10, per_request=10)
        wait_count_auth = lambda: es.request(  # noqa: E731
            "GET", "/logs-otus-default/_count",
            headers={"Authorization": "Basic b3R1czpzM2NyZXQtcHc="})[1].get("count", 0) >= 10
        wait_for(wait_count_auth, 30, what="documents with basic auth")
        assert a.stop() == 0
        b = start(start_agent, tmp_path, es, es_extra="    api_key: kid:kvalue\n", subdir="b")
        post_logs(b, 10, per_request=10, start=10)
        wait_for(lambda: len(es.docs("logs-otus-default")) >= 20, 30,
                 what="documents with an API key")
        assert b.stop() == 0
        # A wrong password: refused for good (dead-lettered), and never written out.
        c = start(start_agent, tmp_path, es,
                  es_extra="    username: otus\n    password: wrong-pw-123\n", subdir="c")
        post_logs(c, 3, per_request=3, start=20)
        wait_for(lambda: metric(c, "otus_exporter_failed_records_total") == 3, 30,
                 what="records refused with 401")
        text = http("GET", f"http://127.0.0.1:{c.tel}/metrics")[2].decode()
        assert "wrong-pw-123" not in text and "wrong-pw-123" not in c.output()
        assert c.stop() == 0
        assert len(es.docs("logs-otus-default")) == 20
    finally:
        es.close()


def test_round_robin_skips_a_dead_endpoint(start_agent, tmp_path, es):
    dead = f"http://127.0.0.1:{free_port()}"
    a = start(start_agent, tmp_path, es, urls=[dead, es.url],
              es_extra="    breaker:\n      failures: 2\n      open_timeout: 30s\n")
    for k in range(10):
        post_logs(a, 100, per_request=100, start=k * 100)
    wait_count(es, "logs-otus-default", 1000, timeout=60)
    check_exactly_once(es.docs("logs-otus-default"), 1000)
    wait_for(lambda: metric(a, "otus_exporter_breaker_state", endpoint=dead) == 1, 10,
             what="the dead endpoint's breaker open")
    assert metric(a, "otus_exporter_breaker_state", endpoint=es.url) == 0
    assert a.stop() == 0
