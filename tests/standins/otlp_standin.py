"""An OTLP/HTTP receiver standing in for Jaeger's collector (its OTLP ingest on port 4318,
Jaeger 1.35+ and v2) and for any other OTLP/HTTP backend, written from the OTLP
specification's OTLP/HTTP section.

What it does, as strictly as a real collector:
  - POST /v1/traces, /v1/metrics, /v1/logs (other paths 404, other methods 405);
  - bodies in binary protobuf (Content-Type application/x-protobuf) or OTLP/JSON
    (application/json: lowerCamelCase keys, hex trace and span IDs, integer enums,
    64-bit integers as strings), plain or Content-Encoding: gzip; anything else is
    refused with 415, an undecodable body with 400, both carrying a google.rpc.Status;
  - answers 200 with an Export*ServiceResponse in the request's encoding.

What it adds for tests: it keeps every request it decoded (signal, headers, time, the
decoded message) and every answer it gave, and it fails on demand: a script of answers
(status, Retry-After, partial_success) consumed one per request.

It serves HTTPS when given an ssl.SSLContext (with a client CA, it requires client
certificates, as a collector's tls.client_ca_file does).

Use it in-process (OtlpStandin(port).start(), .stop()) or as a program:
    python3 otlp_standin.py --port 4318
"""

import argparse
import base64
import gzip
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.abspath(os.path.join(_HERE, "..", ".."))
sys.path.insert(0, os.path.join(_ROOT, os.environ.get("OTUS_BUILD", "build"), "py"))

from google.protobuf import json_format  # noqa: E402
from google.rpc import status_pb2  # noqa: E402
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402

sys.path.insert(0, _HERE)
import tls_serve  # noqa: E402

SIGNALS = {
    "/v1/traces": ("traces", trace_service_pb2.ExportTraceServiceRequest,
                   trace_service_pb2.ExportTraceServiceResponse, "rejected_spans"),
    "/v1/metrics": ("metrics", metrics_service_pb2.ExportMetricsServiceRequest,
                    metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points"),
    "/v1/logs": ("logs", logs_service_pb2.ExportLogsServiceRequest,
                 logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records"),
}

# OTLP/JSON writes these bytes fields as hex; the protobuf JSON mapping expects base64.
_HEX_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_to_base64(node):
    """Rewrites OTLP/JSON's hex IDs as the base64 json_format expects, in place."""
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k in _HEX_FIELDS and isinstance(v, str):
                raw = bytes.fromhex(v)  # ValueError for bad hex: a 400
                node[k] = base64.b64encode(raw).decode()
            else:
                _hex_to_base64(v)
    elif isinstance(node, list):
        for v in node:
            _hex_to_base64(v)


def decode_json(body, cls):
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    _hex_to_base64(doc)
    msg = cls()
    json_format.ParseDict(doc, msg, ignore_unknown_fields=True)
    return msg


class Answer:
    """One scripted answer. status 200 with rejected > 0 is a partial success."""

    def __init__(self, status=200, retry_after=None, rejected=0, message="", signal=None,
                 delay=0.0):
        self.status = status
        self.retry_after = retry_after
        self.rejected = rejected
        self.message = message
        self.signal = signal  # None: any signal
        self.delay = delay    # seconds to wait before answering


class Received:
    """A request the stand-in decoded."""

    def __init__(self, signal, message, headers, at, encoding, compressed, size):
        self.signal = signal
        self.message = message
        self.headers = headers
        self.at = at
        self.encoding = encoding      # "protobuf" or "json"
        self.compressed = compressed  # Content-Encoding: gzip
        self.size = size              # body bytes on the wire


class Attempt:
    """Any request that reached the stand-in, with the answer it got."""

    def __init__(self, path, at, status):
        self.path = path
        self.at = at
        self.status = status
        self.answered_at = None


class _Server(ThreadingHTTPServer):
    """The HTTP server, over TLS when the stand-in has a context: the handshake runs on
    the connection's own thread, and one that fails (the client refused the
    certificate, or sent none where one is required) is recorded."""

    daemon_threads = True

    def __init__(self, addr, handler, standin):
        self.standin = standin
        super().__init__(addr, handler)
        if standin.tls:
            tls_serve.wrap_listener(self, standin.tls)

    def process_request_thread(self, request, client_address):
        err = tls_serve.handshake(request)
        if err:
            with self.standin.lock:
                self.standin.tls_errors.append(err)
            self.shutdown_request(request)
            return
        super().process_request_thread(request, client_address)


class OtlpStandin:
    def __init__(self, port=0, host="127.0.0.1", max_body=64 << 20, tls=None):
        """tls: an ssl.SSLContext (server side) to serve HTTPS with, or None."""
        self.host = host
        self.max_body = max_body
        self.lock = threading.Condition()
        self.received = []   # Received, in arrival order (accepted requests only)
        self.attempts = []   # Attempt, every request
        self.script = []     # Answer, consumed first to last
        self.paths = dict(SIGNALS)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                standin._handle(self)

            def do_GET(self):
                standin._refuse(self, 405, "only POST is allowed", "text/plain")

            do_PUT = do_GET

        self.tls = tls
        self.tls_errors = []  # handshakes that failed, as the ssl module words them
        self.server = _Server((host, port), Handler, self)
        self.port = self.server.server_address[1]
        self.thread = None

    # ---- control ------------------------------------------------------------------------
    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path=""):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}{path}"

    def add_path(self, path, signal):
        """Accepts signal's requests on another path too (a per-signal endpoint)."""
        for p, v in SIGNALS.items():
            if v[0] == signal:
                self.paths[path] = v

    def plan(self, *answers):
        """Appends scripted answers; each is used by one request, in order."""
        with self.lock:
            self.script.extend(answers)

    def fail(self, n, status=503, retry_after=None, signal=None):
        self.plan(*[Answer(status, retry_after, signal=signal) for _ in range(n)])

    # ---- inspection -----------------------------------------------------------------------
    def requests(self, signal=None):
        with self.lock:
            return [r for r in self.received if signal is None or r.signal == signal]

    def wait(self, predicate, timeout=20.0, what="condition"):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                v = predicate()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"stand-in: timed out after {timeout}s waiting for {what}")
                self.lock.wait(min(left, 0.1))

    def records(self, signal):
        """(resource entry, scope entry, record) for every record received of signal."""
        out = []
        for r in self.requests(signal):
            m = r.message
            if signal == "traces":
                for rs in m.resource_spans:
                    for ss in rs.scope_spans:
                        out += [(rs, ss, sp) for sp in ss.spans]
            elif signal == "logs":
                for rl in m.resource_logs:
                    for sl in rl.scope_logs:
                        out += [(rl, sl, lr) for lr in sl.log_records]
            else:
                for rm in m.resource_metrics:
                    for sm in rm.scope_metrics:
                        out += [(rm, sm, mt) for mt in sm.metrics]
        return out

    def count(self, signal):
        n = 0
        for _, _, rec in self.records(signal):
            if signal != "metrics":
                n += 1
            else:
                kind = rec.WhichOneof("data")
                n += len(getattr(rec, kind).data_points) if kind else 0
        return n

    # ---- serving ----------------------------------------------------------------------------
    def _send(self, h, status, ctype, body, extra=None):
        h.send_response(status)
        if ctype:
            h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _refuse(self, h, status, message, ctype="application/x-protobuf", extra=None):
        if ctype == "application/json":
            body = json.dumps({"code": 3, "message": message}).encode()
        elif ctype == "application/x-protobuf":
            body = status_pb2.Status(code=3, message=message).SerializeToString()
        else:
            body = (message + "\n").encode()
        self._send(h, status, ctype, body, extra)

    def _next_answer(self, signal):
        with self.lock:
            for i, a in enumerate(self.script):
                if a.signal is None or a.signal == signal:
                    return self.script.pop(i)
        return None

    def _handle(self, h):
        now = time.monotonic()
        path = h.path.split("?", 1)[0]
        attempt = Attempt(path, now, None)
        with self.lock:
            self.attempts.append(attempt)
        try:
            length = int(h.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length < 0:
            attempt.status = 411
            h.close_connection = True
            self._refuse(h, 411, "missing Content-Length", "text/plain")
            return
        body = h.rfile.read(length)
        if length > self.max_body:
            attempt.status = 413
            self._refuse(h, 413, f"request body of {length} bytes is over {self.max_body}")
            return
        if path not in self.paths:
            attempt.status = 404
            self._refuse(h, 404, f"no such path {path}", "text/plain")
            return
        signal, req_cls, resp_cls, rejected_field = self.paths[path]
        ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype in ("application/x-protobuf", "application/protobuf"):
            enc = "protobuf"
            rctype = "application/x-protobuf"
        elif ctype == "application/json":
            enc = "json"
            rctype = "application/json"
        else:
            attempt.status = 415
            self._refuse(h, 415, f"unsupported Content-Type {ctype!r}", "text/plain")
            return
        cenc = (h.headers.get("Content-Encoding") or "identity").strip().lower()
        try:
            if cenc == "gzip":
                body_plain = gzip.decompress(body)
            elif cenc == "identity":
                body_plain = body
            else:
                attempt.status = 415
                self._refuse(h, 415, f"unsupported Content-Encoding {cenc!r}", rctype)
                return
            if enc == "protobuf":
                msg = req_cls()
                msg.ParseFromString(body_plain)
            else:
                msg = decode_json(body_plain, req_cls)
        except Exception as e:  # gzip, JSON, hex and protobuf errors alike: bad data
            attempt.status = 400
            self._refuse(h, 400, f"cannot decode the body: {e}", rctype)
            return

        answer = self._next_answer(signal) or Answer()
        if answer.delay:
            time.sleep(answer.delay)
        attempt.status = answer.status
        if answer.status != 200:
            extra = {}
            if answer.retry_after is not None:
                extra["Retry-After"] = str(answer.retry_after)
            self._refuse(h, answer.status, answer.message or f"scripted {answer.status}", rctype,
                         extra)
            attempt.answered_at = time.monotonic()
            with self.lock:
                self.lock.notify_all()
            return
        resp = resp_cls()
        if answer.rejected or answer.message:
            setattr(resp.partial_success, rejected_field, answer.rejected)
            resp.partial_success.error_message = answer.message
        if enc == "json":
            out = json_format.MessageToJson(resp, indent=None).encode()
        else:
            out = resp.SerializeToString()
        rec = Received(signal, msg, {k.lower(): v for k, v in h.headers.items()}, now, enc,
                       cenc == "gzip", len(body))
        with self.lock:
            self.received.append(rec)
        self._send(h, 200, rctype, out)
        attempt.answered_at = time.monotonic()
        with self.lock:
            self.lock.notify_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4318)
    args = ap.parse_args()
    s = OtlpStandin(args.port, args.host).start()
    print(f"OTLP/HTTP stand-in on {s.url()}", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        s.stop()


if __name__ == "__main__":
    main()
