"""The Elasticsearch stand-in itself refuses what Elasticsearch refuses, with its status
codes and error bodies: the exporter's tests are only as good as its strictness."""

import gzip
import os
import sys

import pytest

from harness import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))
from es_control import StandinProcess  # noqa: E402

NDJSON = {"Content-Type": "application/x-ndjson"}
DS_TEMPLATE = {"index_patterns": ["logs-t-*"], "data_stream": {}, "priority": 200,
               "template": {"mappings": {"properties": {
                   "@timestamp": {"type": "date_nanos"},
                   "attributes": {"type": "object", "subobjects": False},
                   "body": {"properties": {"structured": {"type": "flattened"}}}}}}}


@pytest.fixture(scope="module")
def es():
    s = StandinProcess(users=["elastic:pw"], api_keys=["id1:key1"])
    yield s
    s.close()


AUTH = {"Authorization": "Basic ZWxhc3RpYzpwdw=="}  # elastic:pw


def bulk(es, body, path="/_bulk", headers=None):
    h = dict(NDJSON, **AUTH)
    h.update(headers or {})
    return es.request("POST", path, body, h)


def test_authentication(es):
    st, body = es.request("GET", "/")
    assert st == 401 and body["error"]["type"] == "security_exception"
    assert "missing authentication credentials" in body["error"]["reason"]
    assert es.request("GET", "/", headers={"Authorization": "Basic ZWxhc3RpYzp4"})[0] == 401
    assert es.request("GET", "/", headers=AUTH)[0] == 200
    # ApiKey base64(id:key)
    assert es.request("GET", "/", headers={"Authorization": "ApiKey aWQxOmtleTE="})[0] == 200


def test_bulk_request_rules(es):
    st, body = bulk(es, b'{"index":{"_index":"a"}}\n{"x":1}')
    assert st == 400 and "must be terminated by a newline" in body["error"]["reason"]
    st, body = es.request("POST", "/_bulk", b'{"index":{"_index":"a"}}\n{"x":1}\n',
                          dict(AUTH, **{"Content-Type": "text/plain"}))
    assert st == 406 and "Content-Type header [text/plain] is not supported" in body["error"]
    st, body = bulk(es, b'{"upsert":{"_index":"a"}}\n{"x":1}\n')
    assert st == 400 and "expected one of [create, delete, index, update]" in \
        body["error"]["reason"]
    st, body = bulk(es, b'{"index":{"_index":"a","colour":"red"}}\n{"x":1}\n')
    assert st == 400 and "unknown parameter [colour]" in body["error"]["reason"]
    st, body = bulk(es, b'{"index":{}}\n{"x":1}\n')
    assert st == 400 and "index is missing" in body["error"]["reason"]
    st, body = bulk(es, b"\n")
    assert st == 400 and "no requests added" in body["error"]["reason"]
    st, body = bulk(es, b'{"index":{"_index":"Caps"}}\n{"x":1}\n')
    assert st == 200 and body["errors"] is True
    assert body["items"][0]["index"]["error"]["type"] == "invalid_index_name_exception"
    # gzip bodies, both paths, index overwrites and create conflicts.
    st, body = bulk(es, gzip.compress(b'{"index":{"_id":"1"}}\n{"x":1}\n'
                                      b'{"index":{"_id":"1"}}\n{"x":2}\n'
                                      b'{"create":{"_id":"1"}}\n{"x":3}\n'),
                    path="/plain/_bulk", headers={"Content-Encoding": "gzip"})
    assert st == 200 and body["errors"] is True
    items = [next(iter(i.values())) for i in body["items"]]
    assert [i["status"] for i in items] == [201, 200, 409]
    assert items[2]["error"]["type"] == "version_conflict_engine_exception"
    st, body = es.request("POST", "/plain/_search", {"query": {"term": {"x": 2}}}, AUTH)
    assert body["hits"]["total"]["value"] == 1 and body["hits"]["hits"][0]["_id"] == "1"


def test_bulk_url_parameters_and_filter_path(es):
    st, body = bulk(es, b'{"index":{"_index":"fp"}}\n{"x":1}\n', path="/_bulk?colour=red")
    assert st == 400 and body["error"]["reason"] == \
        "request [/_bulk] contains unrecognized parameter: [colour]"
    # filter_path: only the named fields, arrays looked through, order kept.
    fp = "errors,items.*.status,items.*.error"
    st, body = bulk(es, b'{"index":{"_index":"fp","_id":"1"}}\n{"x":1}\n'
                        b'{"create":{"_index":"fp","_id":"1"}}\n{"x":2}\n'
                        b'{"index":{"_index":"fp","_id":"2"}}\n{"x":3}\n',
                    path="/_bulk?refresh=false&filter_path=" + fp)
    assert st == 200
    assert set(body) == {"errors", "items"} and body["errors"] is True
    assert body["items"][0] == {"index": {"status": 201}}
    assert body["items"][1]["create"]["status"] == 409
    assert body["items"][1]["create"]["error"]["type"] == "version_conflict_engine_exception"
    assert body["items"][2] == {"index": {"status": 201}}
    # Exclusions, wildcards within a name, and a filter that matches nothing.
    st, body = es.request("GET", "/fp/_count?filter_path=-_shards", None, AUTH)
    assert body == {"count": 2}
    st, body = es.request("GET", "/fp/_count?filter_path=co*", None, AUTH)
    assert body == {"count": 2}
    st, body = es.request("GET", "/fp/_count?filter_path=nothing", None, AUTH)
    assert st == 200 and body == {}


def test_data_streams_and_mappings(es):
    assert es.request("PUT", "/_index_template/t", DS_TEMPLATE, AUTH) == (200, {"acknowledged": True})
    st, body = es.request("PUT", "/_index_template/t2", dict(DS_TEMPLATE), AUTH)
    assert st == 400 and "have the same priority [200]" in body["error"]["reason"]
    st, body = es.request("PUT", "/_index_template/t3", {"index_patterns": ["q"], "bogus": 1}, AUTH)
    assert st == 400 and "unknown field [bogus]" in body["error"]["reason"]
    docs = (b'{"index":{"_index":"logs-t-a"}}\n{"@timestamp":"2024-01-01T00:00:00Z"}\n'
            b'{"create":{"_index":"logs-t-a"}}\n{"message":"no timestamp"}\n'
            b'{"create":{"_index":"logs-t-a"}}\n{"@timestamp":"2024-01-01T00:00:00.123456789Z",'
            b'"n":5,"attributes":{"u":"x","u.id":7},"body.structured":{"a":{"b":1}}}\n'
            b'{"create":{"_index":"logs-t-a"}}\n{"@timestamp":"2024-01-01T00:00:00Z","n":"five",'
            b'"attributes":{"u":{"id":"z"}},"body.structured":{"a":"flat"}}\n'
            b'{"create":{"_index":"logs-t-a"}}\n{"@timestamp":"2024-01-01T00:00:00Z",'
            b'"attributes":{"u":"y"},"body.structured":{"a":"flat"}}\n')
    st, body = bulk(es, docs)
    assert st == 200 and body["errors"] is True
    items = [next(iter(i.values())) for i in body["items"]]
    assert items[0]["status"] == 400
    assert items[0]["error"]["reason"] == \
        "only write ops with an op_type of create are allowed in data streams"
    assert items[1]["status"] == 400 and "[@timestamp] is missing" in items[1]["error"]["reason"]
    assert items[2]["status"] == 201 and items[2]["_index"].startswith(".ds-logs-t-a-")
    assert items[3]["status"] == 400
    assert items[3]["error"]["type"] == "document_parsing_exception"
    assert "failed to parse field [n] of type [long]" in items[3]["error"]["reason"]
    assert items[4]["status"] == 201  # subobjects: false and flattened take any shape
    # require_data_stream refuses a plain index.
    st, body = bulk(es, b'{"create":{"_index":"plain2"}}\n{"x":1}\n',
                    path="/_bulk?require_data_stream=true")
    assert body["items"][0]["create"]["status"] == 404
    assert es.request("GET", "/logs-t-a/_count", headers=AUTH)[1]["count"] == 2
    assert es.request("GET", "/_data_stream/logs-t-a", headers=AUTH)[0] == 200


def test_dynamic_object_and_scalar_conflict(es):
    st, body = bulk(es, b'{"index":{"_index":"dyn"}}\n{"user":{"id":1}}\n'
                        b'{"index":{"_index":"dyn"}}\n{"user":"bob"}\n'
                        b'{"index":{"_index":"dyn"}}\n{"when":"2024-01-01"}\n'
                        b'{"index":{"_index":"dyn"}}\n{"when":"soon"}\n')
    items = [next(iter(i.values())) for i in body["items"]]
    assert [i["status"] for i in items] == [201, 400, 201, 400]
    assert "tried to parse field [user] as object, but found a concrete value" in \
        items[1]["error"]["reason"]
    assert "failed to parse date field" in items[3]["error"]["reason"]


def test_faults_and_413(es):
    es.faults(fail_requests=2, fail_status=503)
    assert bulk(es, b'{"index":{"_index":"f"}}\n{"x":1}\n')[0] == 503
    assert bulk(es, b'{"index":{"_index":"f"}}\n{"x":1}\n')[0] == 503
    assert bulk(es, b'{"index":{"_index":"f"}}\n{"x":1}\n')[0] == 200
    es.faults(reject_fraction=1.0, reject_status=429)
    st, body = bulk(es, b'{"index":{"_index":"f"}}\n{"x":1}\n')
    assert body["items"][0]["index"]["status"] == 429
    es.faults(reject_fraction=0.0, max_content_length=100)
    st, _ = bulk(es, b'{"index":{"_index":"f"}}\n{"x":"' + b"y" * 200 + b'"}\n')
    assert st == 413
    es.faults(max_content_length=100 << 20)
