"""A small OTLP/HTTP metrics sender for the integration tests, independent of libotus:
it builds ExportMetricsServiceRequest messages with the protobuf modules generated into
build/py (harness.py puts them on sys.path) and POSTs them, protobuf and optionally
gzip, as an OpenTelemetry SDK does.

    req = MetricsRequest({"service.name": "checkout", "service.instance.id": "pod-1"})
    req.counter("http.server.requests", 42, unit="{request}", attrs={"method": "GET"})
    req.histogram("http.server.duration", [5, 10, 25], [1, 2, 3, 4], 123.5, unit="ms")
    status = req.send("127.0.0.1:4318")
"""

import gzip
import time
import urllib.error
import urllib.request

import harness  # noqa: F401  (puts build/py on sys.path)
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE

START_NS = time.time_ns()


def _attrs(target, attrs):
    for k, v in (attrs or {}).items():
        kv = target.add()
        kv.key = k
        if isinstance(v, bool):
            kv.value.bool_value = v
        elif isinstance(v, int):
            kv.value.int_value = v
        elif isinstance(v, float):
            kv.value.double_value = v
        else:
            kv.value.string_value = str(v)


def exemplar(value, trace_id, span_id, time_ns=None):
    """An exemplar dict for the point builders: trace_id and span_id as hex strings."""
    return {"value": value, "trace_id": trace_id, "span_id": span_id,
            "time_ns": time_ns or time.time_ns()}


def _exemplars(target, exemplars):
    for e in exemplars or ():
        x = target.add()
        x.as_double = e["value"]
        x.time_unix_nano = e["time_ns"]
        x.trace_id = bytes.fromhex(e["trace_id"])
        x.span_id = bytes.fromhex(e["span_id"])


class MetricsRequest:
    """One request with one resource and one instrumentation scope."""

    def __init__(self, resource, scope=("otus.test", "1.0.0")):
        self.msg = metrics_service_pb2.ExportMetricsServiceRequest()
        rm = self.msg.resource_metrics.add()
        _attrs(rm.resource.attributes, resource)
        self.sm = rm.scope_metrics.add()
        self.sm.scope.name, self.sm.scope.version = scope

    def _metric(self, name, unit, description):
        m = self.sm.metrics.add()
        m.name, m.unit, m.description = name, unit, description
        return m

    def counter(self, name, value, unit="", description="", attrs=None, temporality=CUMULATIVE,
                monotonic=True, start_ns=START_NS, time_ns=None, exemplars=None):
        m = self._metric(name, unit, description)
        m.sum.aggregation_temporality = temporality
        m.sum.is_monotonic = monotonic
        p = m.sum.data_points.add()
        p.start_time_unix_nano = start_ns
        p.time_unix_nano = time_ns or time.time_ns()
        if isinstance(value, int):
            p.as_int = value
        else:
            p.as_double = value
        _attrs(p.attributes, attrs)
        _exemplars(p.exemplars, exemplars)
        return self

    def gauge(self, name, value, unit="", description="", attrs=None, time_ns=None):
        m = self._metric(name, unit, description)
        p = m.gauge.data_points.add()
        p.time_unix_nano = time_ns or time.time_ns()
        p.as_double = float(value)
        _attrs(p.attributes, attrs)
        return self

    def histogram(self, name, bounds, counts, total, unit="", description="", attrs=None,
                  temporality=CUMULATIVE, start_ns=START_NS, time_ns=None, exemplars=None):
        m = self._metric(name, unit, description)
        m.histogram.aggregation_temporality = temporality
        p = m.histogram.data_points.add()
        p.start_time_unix_nano = start_ns
        p.time_unix_nano = time_ns or time.time_ns()
        p.explicit_bounds.extend(bounds)
        p.bucket_counts.extend(counts)
        p.count = sum(counts)
        p.sum = total
        _attrs(p.attributes, attrs)
        _exemplars(p.exemplars, exemplars)
        return self

    def exponential_histogram(self, name, scale, offset, counts, zero_count, total, unit="",
                              description="", attrs=None, temporality=CUMULATIVE,
                              start_ns=START_NS, time_ns=None):
        m = self._metric(name, unit, description)
        m.exponential_histogram.aggregation_temporality = temporality
        p = m.exponential_histogram.data_points.add()
        p.start_time_unix_nano = start_ns
        p.time_unix_nano = time_ns or time.time_ns()
        p.scale = scale
        p.zero_count = zero_count
        p.positive.offset = offset
        p.positive.bucket_counts.extend(counts)
        p.count = zero_count + sum(counts)
        p.sum = total
        _attrs(p.attributes, attrs)
        return self

    def summary(self, name, quantiles, count, total, unit="", description="", attrs=None,
                start_ns=START_NS, time_ns=None):
        m = self._metric(name, unit, description)
        p = m.summary.data_points.add()
        p.start_time_unix_nano = start_ns
        p.time_unix_nano = time_ns or time.time_ns()
        for q, v in quantiles:
            x = p.quantile_values.add()
            x.quantile, x.value = q, v
        p.count, p.sum = count, total
        _attrs(p.attributes, attrs)
        return self

    def body(self):
        return self.msg.SerializeToString()

    def send(self, addr, compress=True, timeout=10):
        """POSTs the request to http://addr/v1/metrics; returns the HTTP status."""
        data = self.body()
        headers = {"Content-Type": "application/x-protobuf"}
        if compress:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        req = urllib.request.Request(f"http://{addr}/v1/metrics", data=data, headers=headers,
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
