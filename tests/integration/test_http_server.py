"""The agent's HTTP/1.1 server, exercised over real sockets on the telemetry listener:
health endpoints, keep-alive and pipelining, request bodies (Content-Length, chunked,
100-continue), the header limit (431), body limit (413), malformed requests (400),
idle and request timeouts, and that one bad client never disturbs another."""

import socket
import threading
import time

from harness import http, peer_closed, read_response


def config(port, idle="60s", request="30s", max_conn=1024):
    return f"""
service:
  telemetry:
    listen: 127.0.0.1:{port}
  http:
    idle_timeout: {idle}
    request_timeout: {request}
    max_connections: {max_conn}
receivers:
  otlp:
    enabled: false
"""


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def test_health_endpoints(start_agent, port):
    start_agent(config(port)).wait_http(port)
    status, headers, body = http("GET", f"http://127.0.0.1:{port}/healthz")
    assert (status, body) == (200, b"ok\n")
    assert headers["content-type"].startswith("text/plain")
    assert "date" in headers
    status, _, body = http("GET", f"http://127.0.0.1:{port}/readyz")
    assert (status, body) == (200, b"ready\n")
    status, _, _ = http("GET", f"http://127.0.0.1:{port}/no-such-path")
    assert status == 404
    status, headers, _ = http("POST", f"http://127.0.0.1:{port}/healthz", body=b"x")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    status, headers, body = http("HEAD", f"http://127.0.0.1:{port}/healthz")
    assert status == 200 and body == b"" and headers["content-length"] == "3"


def test_keep_alive_many_requests_one_connection(start_agent, port):
    start_agent(config(port)).wait_http(port)
    s = connect(port)
    leftover = b""
    for _ in range(50):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, body, leftover = read_response(s)
        assert (status, body, leftover) == (200, b"ok\n", b"")
        assert "connection" not in headers
    s.close()


def test_pipelined_requests_answered_in_order(start_agent, port):
    start_agent(config(port)).wait_http(port)
    s = connect(port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
              b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n"
              b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
    got = []
    data = b""
    s.settimeout(5)
    while data.count(b"HTTP/1.1 ") < 3 or not data.endswith(b"not found\n"):
        chunk = s.recv(65536)
        assert chunk, "connection closed early"
        data += chunk
    for part in data.split(b"HTTP/1.1 ")[1:]:
        got.append(int(part[:3]))
    assert got == [200, 200, 404]
    assert data.index(b"ok\n") < data.index(b"ready\n") < data.index(b"not found\n")
    s.close()


def test_large_pipelined_burst(start_agent, port):
    """Hundreds of pipelined requests in one write: every answer arrives, in order."""
    start_agent(config(port)).wait_http(port)
    s = connect(port)
    n = 500
    s.sendall(b"".join(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % (b"healthz" if i % 2 == 0 else b"readyz")
                       for i in range(n)))
    leftover = b""
    for i in range(n):
        s2 = _Prefixed(s, leftover)
        status, _, body, leftover = read_response(s2)
        assert status == 200
        assert body == (b"ok\n" if i % 2 == 0 else b"ready\n")
    s.close()


class _Prefixed:
    """A socket whose first recv returns bytes already read past a response."""

    def __init__(self, sock, prefix):
        self.sock, self.prefix = sock, prefix

    def settimeout(self, t):
        self.sock.settimeout(t)

    def recv(self, n):
        if self.prefix:
            p, self.prefix = self.prefix, b""
            return p
        return self.sock.recv(n)


def test_request_bodies_keep_framing(start_agent, port):
    """Bodies sent with Content-Length and chunked are consumed exactly: the request
    after them on the same connection is parsed and answered."""
    start_agent(config(port)).wait_http(port)
    s = connect(port)
    body = b"x" * 10000
    s.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body +
              b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"
              b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    status, _, _, rest = read_response(s)
    assert status == 405
    status, _, _, rest = read_response(_Prefixed(s, rest))
    assert status == 405
    status, _, body, _ = read_response(_Prefixed(s, rest))
    assert (status, body) == (200, b"ok\n")
    s.close()


def test_expect_100_continue(start_agent, port):
    start_agent(config(port)).wait_http(port)
    s = connect(port)
    s.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    s.settimeout(5)
    interim = s.recv(4096)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(b"abcd")
    rest = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    status, _, _, _ = read_response(_Prefixed(s, rest))
    assert status == 405
    s.close()


def test_64k_of_headers_gets_431(start_agent, port):
    start_agent(config(port)).wait_http(port)
    s = connect(port)
    big = b"X-Filler: " + b"a" * (64 * 1024) + b"\r\n"
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the agent may answer and close before reading everything
    r = read_response(s)
    assert r is not None and r[0] == 431
    assert r[1]["connection"] == "close"
    assert peer_closed(s, 5)
    # Many small headers adding up past the limit are refused the same way.
    s = connect(port)
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 200) for i in range(100))
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert read_response(s)[0] == 431
    # And the server is fine afterwards.
    assert http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200


def test_body_over_limit_gets_413_without_reading_it(start_agent, port):
    start_agent(config(port)).wait_http(port)
    s = connect(port)
    # The default body limit of the telemetry listener is 1 MiB; only the headers are sent.
    s.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 50000000\r\n\r\n")
    r = read_response(s)
    assert r is not None and r[0] == 413
    s.close()
    # A chunked body that grows past the limit is cut off the same way.
    s = connect(port)
    s.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b"z" * 65536)
    try:
        for _ in range(20):
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = read_response(s)
    assert r is not None and r[0] == 413


def test_malformed_request_gets_400_and_others_are_served(start_agent, port):
    start_agent(config(port)).wait_http(port)
    good = connect(port)
    bad = connect(port)
    bad.sendall(b"GARBAGE \x00\x01 NOT HTTP\r\n\r\n")
    r = read_response(bad)
    assert r is not None and r[0] == 400
    assert peer_closed(bad, 5)
    good.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_response(good)[0] == 200
    # A bad Content-Length is refused too.
    bad = connect(port)
    bad.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 12abc\r\n\r\n")
    assert read_response(bad)[0] == 400


def test_idle_client_closed_while_another_is_served(start_agent, port):
    start_agent(config(port, idle="1s")).wait_http(port)
    idle = connect(port)
    busy = connect(port)
    t0 = time.monotonic()
    closed_at = []

    def watch():
        if peer_closed(idle, 10):
            closed_at.append(time.monotonic() - t0)

    w = threading.Thread(target=watch)
    w.start()
    # The busy client keeps one request in flight every 200 ms across the idle timeout.
    served = 0
    while time.monotonic() - t0 < 2.5:
        busy.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(busy)[0] == 200
        served += 1
        time.sleep(0.2)
    w.join()
    assert closed_at, "the idle connection was not closed"
    assert 0.8 <= closed_at[0] <= 2.5
    assert served >= 10
    # The busy connection, never idle for a second, is still open.
    busy.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_response(busy)[0] == 200


def test_slow_request_gets_408(start_agent, port):
    """A client trickling a request byte by byte is cut off at the request deadline."""
    start_agent(config(port, idle="10s", request="1s")).wait_http(port)
    slow = connect(port)
    t0 = time.monotonic()
    req = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 100
    status = None
    try:
        for b in req:
            slow.sendall(bytes([b]))
            time.sleep(0.05)
            if time.monotonic() - t0 > 4:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = read_response(slow)
    status = r[0] if r else None
    assert status == 408
    assert time.monotonic() - t0 < 4


def test_http10_closes_after_answer(start_agent, port):
    start_agent(config(port)).wait_http(port)
    s = connect(port)
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    r = read_response(s)
    assert r[0] == 200 and r[1]["connection"] == "close"
    assert peer_closed(s, 5)
    # HTTP/1.0 with keep-alive asked for stays open.
    s = connect(port)
    s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    r = read_response(s)
    assert r[0] == 200 and r[1]["connection"] == "keep-alive"
    s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert read_response(s)[0] == 200


def test_connection_limit(start_agent, port):
    start_agent(config(port, max_conn=3)).wait_http(port)
    held = [connect(port) for _ in range(3)]
    for h in held:
        h.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(h)[0] == 200
    extra = connect(port)
    assert peer_closed(extra, 5)
    held[0].close()
    time.sleep(0.2)
    assert http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200
