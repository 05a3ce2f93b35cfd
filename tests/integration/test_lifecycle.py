"""Reload (SIGHUP) and shutdown (SIGTERM) of a running agent with data in its queues:
nothing accepted is lost."""

import json
import signal
import threading
import time

from harness import free_port, http, read_ndjson, wait_for
import otlp_data as od


def config(tmp_path, otlp, tel, exporters, pipelines, shutdown="10s"):
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


def lines(path):
    return read_ndjson(path)


def test_sigterm_drains_queued_data(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    a = start_agent(config(tmp_path, otlp, tel,
                           f"  file:\n    path: {tmp_path}/out\n    flush_interval: 1h",
                           "  logs: [file]"))
    a.wait_http(tel)
    for i in range(10):
        assert od.send(otlp, "logs", od.logs_request(n=100, start=i * 100))[0] == 200
    # Nothing is written yet: the flush interval is an hour.
    time.sleep(0.3)
    assert lines(tmp_path / "out" / "logs.ndjson") == []
    assert a.stop() == 0
    got = lines(tmp_path / "out" / "logs.ndjson")
    assert sorted(d["attributes"]["seq"] for d in got) == list(range(1000))


def test_requests_during_drain_get_503(start_agent, tmp_path):
    """While the agent drains, new data is refused with 503 (retryable), not 404."""
    otlp, tel = free_port(), free_port()
    # A file exporter whose directory makes writes slow is hard to arrange; instead the
    # agent gets a long drain by holding data in a queue behind a flush interval, and
    # a second client keeps sending while SIGTERM is handled.
    a = start_agent(config(tmp_path, otlp, tel,
                           f"  file:\n    path: {tmp_path}/out\n    flush_interval: 1h",
                           "  logs: [file]"))
    a.wait_http(tel)
    statuses = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                statuses.append(od.send(otlp, "logs", od.logs_request(n=5))[0])
            except OSError:
                break

    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.2)
    a.signal(signal.SIGTERM)
    assert a.proc.wait(10) == 0
    stop.set()
    t.join()
    assert statuses and set(statuses) <= {200, 503}
    accepted = statuses.count(200) * 5
    got = lines(tmp_path / "out" / "logs.ndjson")
    assert len(got) == accepted


def test_reload_adds_and_removes_exporters(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    ex1 = f"  file:\n    path: {tmp_path}/a\n    flush_interval: 20ms"
    a = start_agent(config(tmp_path, otlp, tel, ex1, "  logs: [file]"))
    a.wait_http(tel)
    assert od.send(otlp, "logs", od.logs_request(n=3))[0] == 200
    wait_for(lambda: len(lines(tmp_path / "a" / "logs.ndjson")) == 3, what="first file")
    # Add a second file exporter to the logs pipeline.
    ex2 = ex1 + f"\n  file/b:\n    path: {tmp_path}/b\n    flush_interval: 20ms"
    a.rewrite_config(config(tmp_path, otlp, tel, ex2, "  logs: [file, file/b]"))
    a.signal(signal.SIGHUP)
    wait_for(lambda: a.output().count("reloaded") >= 1, what="reload")
    assert od.send(otlp, "logs", od.logs_request(n=4, start=3))[0] == 200
    wait_for(lambda: len(lines(tmp_path / "b" / "logs.ndjson")) == 4, what="second file")
    wait_for(lambda: len(lines(tmp_path / "a" / "logs.ndjson")) == 7, what="first file")
    # Remove the first one.
    ex3 = f"  file/b:\n    path: {tmp_path}/b\n    flush_interval: 20ms"
    a.rewrite_config(config(tmp_path, otlp, tel, ex3, "  logs: [file/b]"))
    a.signal(signal.SIGHUP)
    wait_for(lambda: a.output().count("reloaded") >= 2, what="second reload")
    assert od.send(otlp, "logs", od.logs_request(n=2, start=7))[0] == 200
    wait_for(lambda: len(lines(tmp_path / "b" / "logs.ndjson")) == 6, what="second file")
    assert len(lines(tmp_path / "a" / "logs.ndjson")) == 7
    m = http("GET", f"http://127.0.0.1:{tel}/metrics")[2].decode()
    assert 'exporter="file/b"' in m and 'exporter="file"}' not in m
    assert a.stop() == 0


def test_reload_keeps_queued_data_of_a_changed_exporter(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    slow = f"  file:\n    path: {tmp_path}/out\n    flush_interval: 1h"
    a = start_agent(config(tmp_path, otlp, tel, slow, "  logs: [file]"))
    a.wait_http(tel)
    for i in range(5):
        assert od.send(otlp, "logs", od.logs_request(n=10, start=i * 10))[0] == 200
    # The exporter changes (a new flush interval): its replacement inherits the queue.
    fast = f"  file:\n    path: {tmp_path}/out\n    flush_interval: 20ms"
    a.rewrite_config(config(tmp_path, otlp, tel, fast, "  logs: [file]"))
    a.signal(signal.SIGHUP)
    wait_for(lambda: len(lines(tmp_path / "out" / "logs.ndjson")) == 50, what="queued records")
    assert "replaced" in a.output()


def test_bad_reload_keeps_running_config(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    ex = f"  file:\n    path: {tmp_path}/out\n    flush_interval: 20ms"
    a = start_agent(config(tmp_path, otlp, tel, ex, "  logs: [file]"))
    a.wait_http(tel)
    a.rewrite_config(config(tmp_path, otlp, tel, ex, "  logs: [file, missing]"))
    a.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in a.output(), what="refusal")
    assert 'no exporter named \\"missing\\"' in a.output()
    assert od.send(otlp, "logs", od.logs_request(n=2))[0] == 200
    wait_for(lambda: len(lines(tmp_path / "out" / "logs.ndjson")) == 2, what="data still flows")
    # A reload that cannot start (port in use) is refused the same way.
    import socket
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    busy = blocker.getsockname()[1]
    a.rewrite_config(config(tmp_path, busy, tel, ex, "  logs: [file]"))
    a.signal(signal.SIGHUP)
    wait_for(lambda: a.output().count("reload refused") >= 2, what="second refusal")
    blocker.close()
    assert od.send(otlp, "logs", od.logs_request(n=1, start=2))[0] == 200
    assert a.stop() == 0
