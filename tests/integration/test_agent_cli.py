"""otus-agent's command line, exit codes and signals."""

import signal
import socket
import subprocess
import time

from harness import AGENT_BIN, http, wait_for


# Tests here use only the telemetry listener; the receiver stays off so that nothing
# depends on the default OTLP port being free.
OFF = "receivers:\n  otlp:\n    enabled: false\n"


def run(*args, timeout=10):
    return subprocess.run([AGENT_BIN, *args], capture_output=True, text=True, timeout=timeout)


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == "otus-agent 0.1.0"


def test_help_lists_options_and_keys():
    r = run("--help")
    assert r.returncode == 0
    for text in ("--config FILE", "--check-config", "--version", "`service.log_level`",
                 "`service.http.idle_timeout`"):
        assert text in r.stdout


def test_unknown_argument_is_an_error():
    r = run("--frobnicate")
    assert r.returncode == 1
    assert "unknown argument '--frobnicate'" in r.stderr


def test_check_config(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("service:\n  log_level: warn\n")
    r = run("--config", str(good), "--check-config")
    assert r.returncode == 0, r.stderr
    assert "is valid" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("service:\n  log_level: warn\n  shutdown_timeout: soon\n")
    r = run("--config", str(bad), "--check-config")
    assert r.returncode == 1
    assert f"{bad}:3: service.shutdown_timeout: \"soon\" is not a duration" in r.stderr
    r = run("--config", str(tmp_path / "missing.yaml"), "--check-config")
    assert r.returncode == 1
    assert "cannot read" in r.stderr
    # The embedded default is valid.
    r = run("--check-config")
    assert r.returncode == 0


def test_port_in_use_exits_2(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"service:\n  telemetry:\n    listen: 127.0.0.1:{port}\n" + OFF)
    r = run("--config", str(cfg))
    blocker.close()
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "address already in use" in r.stderr


def test_sigterm_and_sigint_exit_0(start_agent, port):
    for sig in (signal.SIGTERM, signal.SIGINT):
        a = start_agent(f"service:\n  telemetry:\n    listen: 127.0.0.1:{port}\n" + OFF,
                        subdir=f"sig{int(sig)}")
        a.wait_http(port)
        a.signal(sig)
        assert a.proc.wait(10) == 0
        out = a.output()
        assert "draining and stopping" in out and '"msg":"stopped"' in out


def test_sighup_reload_good_and_bad(start_agent, port, tmp_path):
    a = start_agent(f"service:\n  telemetry:\n    listen: 127.0.0.1:{port}\n" + OFF)
    a.wait_http(port)
    # A bad configuration is refused and the agent keeps serving on the old one.
    a.rewrite_config("service:\n  telemetry:\n    listen: 127.0.0.1:notaport\n  bogus: 1\n")
    a.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in a.output(), what="reload refusal")
    assert http("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200
    # A good one that moves the listener is applied.
    from harness import free_port
    port2 = free_port()
    a.rewrite_config(f"service:\n  telemetry:\n    listen: 127.0.0.1:{port2}\n" + OFF)
    a.signal(signal.SIGHUP)
    a.wait_http(port2)
    wait_for(lambda: "reloaded" in a.output(), what="reload")
    def old_closed():
        try:
            http("GET", f"http://127.0.0.1:{port}/healthz", timeout=1)
            return False
        except OSError:
            return True
    wait_for(old_closed, what="old listener to close")
    assert a.stop() == 0


def test_log_lines_are_json(start_agent, port):
    import json
    a = start_agent(f"service:\n  log_level: debug\n  telemetry:\n    listen: 127.0.0.1:{port}\n" + OFF)
    a.wait_http(port)
    assert a.stop() == 0
    lines = [l for l in a.output().splitlines() if l.strip()]
    assert lines
    for line in lines:
        rec = json.loads(line)
        assert {"ts", "level", "component", "msg"} <= rec.keys()
        assert rec["ts"].endswith("Z") and len(rec["ts"]) == 30


def test_libcurl_loaded_only_for_an_exporter_that_sends(start_agent, port, tmp_path):
    """The agent links no libcurl: it loads it when the first exporter that sends over
    HTTP starts, so an agent exporting to files and Prometheus carries none of it."""
    def loaded(a):
        with open(f"/proc/{a.proc.pid}/maps") as f:
            return "libcurl" in f.read()

    tel = f"service:\n  telemetry:\n    listen: 127.0.0.1:{port}\n" + OFF
    a = start_agent(tel + "exporters:\n  file:\n    path: out\npipelines:\n  logs: [file]\n")
    a.wait_http(port)
    assert not loaded(a)
    # A reload that adds an OTLP exporter loads it (the exporter tests send through it).
    from harness import free_port
    a.rewrite_config(tel + f"exporters:\n  file:\n    path: out\n  otlp:\n"
                     f"    endpoint: http://127.0.0.1:{free_port()}\n"
                     "pipelines:\n  logs: [file, otlp]\n")
    a.signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in a.output(), what="reload")
    assert loaded(a)
    assert a.stop() == 0
