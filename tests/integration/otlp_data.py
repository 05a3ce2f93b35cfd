"""Builders of OTLP requests (the generated protobuf modules from build/py) and a
poster, shared by the integration tests."""

import gzip as _gzip
import http.client

import harness  # noqa: F401  (puts build/py on sys.path)
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb
from google.rpc import status_pb2

PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}
RESPONSES = {"traces": trace_pb.ExportTraceServiceResponse,
             "metrics": metrics_pb.ExportMetricsServiceResponse,
             "logs": logs_pb.ExportLogsServiceResponse}
T0 = 1_700_000_000_000_000_000


def set_value(av, v):
    """Fills an AnyValue from a Python value (bytes, bool, int, float, str, list, dict)."""
    if isinstance(v, bytes):
        av.bytes_value = v
    elif isinstance(v, bool):
        av.bool_value = v
    elif isinstance(v, int):
        av.int_value = v
    elif isinstance(v, float):
        av.double_value = v
    elif isinstance(v, str):
        av.string_value = v
    elif isinstance(v, list):
        av.array_value.SetInParent()
        for x in v:
            set_value(av.array_value.values.add(), x)
    elif isinstance(v, dict):
        av.kvlist_value.SetInParent()
        for k, x in v.items():
            set_value(av.kvlist_value.values.add(key=k).value, x)
    else:
        raise TypeError(v)


def add_attrs(repeated, attrs):
    for k, v in attrs.items():
        set_value(repeated.add(key=k).value, v)


def trace_id(i):
    return (0x4BF92F3577B34DA6A3CE929D0E0E0000 + i).to_bytes(16, "big")


def span_id(i):
    return (0x00F067AA0BA90000 + i).to_bytes(8, "big")


def logs_request(n=3, service="checkout", start=0, attrs=None, resource=None, body=None):
    req = logs_pb.ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    add_attrs(rl.resource.attributes, dict({"service.name": service}, **(resource or {})))
    sl = rl.scope_logs.add()
    sl.scope.name = "otus.test"
    sl.scope.version = "1.0"
    for i in range(start, start + n):
        lr = sl.log_records.add()
        lr.time_unix_nano = T0 + i
        lr.severity_number = 9
        lr.severity_text = "INFO"
        if body is None:
            lr.body.string_value = f"record {i}"
        else:
            set_value(lr.body, body)
        lr.trace_id = trace_id(i)
        lr.span_id = span_id(i)
        add_attrs(lr.attributes, dict({"seq": i}, **(attrs or {})))
    return req


def traces_request(n=3, service="api", start=0):
    req = trace_pb.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    add_attrs(rs.resource.attributes, {"service.name": service})
    ss = rs.scope_spans.add()
    ss.scope.name = "otus.test"
    for i in range(start, start + n):
        sp = ss.spans.add()
        sp.trace_id = trace_id(i)
        sp.span_id = span_id(i)
        sp.name = f"op {i}"
        sp.kind = 2
        sp.start_time_unix_nano = T0 + i * 1000
        sp.end_time_unix_nano = T0 + i * 1000 + 500
        add_attrs(sp.attributes, {"seq": i})
    return req


def metrics_request(service="api", value=1.0, name="requests"):
    req = metrics_pb.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    add_attrs(rm.resource.attributes, {"service.name": service})
    m = rm.scope_metrics.add().metrics.add()
    m.name = name
    m.unit = "1"
    m.gauge.data_points.add(time_unix_nano=T0, as_double=value)
    return req


def post(port, path, body, content_type="application/x-protobuf", encoding=None, headers=None,
         conn=None, method="POST"):
    """Sends one request; returns (status, headers dict lowercase, body)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Content-Type": content_type} if content_type else {}
    if encoding:
        h["Content-Encoding"] = encoding
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    result = (r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    if own:
        conn.close()
    return result


def send(port, signal, req, gzip=False, **kw):
    body = req.SerializeToString()
    if gzip:
        body = _gzip.compress(body)
    return post(port, PATHS[signal], body, encoding="gzip" if gzip else None, **kw)


def status_message(body):
    st = status_pb2.Status()
    st.ParseFromString(body)
    return st


def to_otlp_json(req):
    """The OTLP/JSON form of a request: protobuf's JSON mapping with enums as integers
    and trace/span IDs as hex (OTLP's exception to base64 bytes)."""
    import base64
    import json
    from google.protobuf.json_format import MessageToDict

    d = MessageToDict(req, use_integers_for_enums=True)

    def fix(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    node[k] = base64.b64decode(v).hex()
                else:
                    fix(v)
        elif isinstance(node, list):
            for x in node:
                fix(x)
    fix(d)
    return json.dumps(d).encode()


def send_json(port, signal, req, gzip=False, **kw):
    body = to_otlp_json(req)
    if gzip:
        body = _gzip.compress(body)
    return post(port, PATHS[signal], body, content_type="application/json",
                encoding="gzip" if gzip else None, **kw)
