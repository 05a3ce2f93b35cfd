"""Helpers for Otus integration tests: find the built binaries, pick free ports, run
otus-agent with a configuration, and talk HTTP over raw sockets when a test needs
control that http.client does not give."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("OTUS_BUILD", "build"))
AGENT_BIN = os.path.join(BUILD, "bin", "otus-agent")

# Generated protobuf modules (protoc --python_out) for tests and stand-ins.
sys.path.insert(0, os.path.join(BUILD, "py"))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def http(method, url, body=None, headers=None, timeout=10.0):
    """One HTTP request; returns (status, headers dict with lowercase names, body bytes)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def read_response(sock, timeout=5.0):
    """Reads one HTTP/1.1 response with a Content-Length body from a raw socket.
    Returns (status, headers, body, leftover bytes), or None if the peer closed first."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def peer_closed(sock, timeout):
    """True when the peer closes the connection (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class Agent:
    """An otus-agent process started on a configuration written to a temporary file."""

    def __init__(self, tmp_path, config_text=None, args=(), env=None):
        self.tmp_path = tmp_path
        self.config_path = None
        if config_text is not None:
            self.config_path = str(tmp_path / "otus.yaml")
            with open(self.config_path, "w") as f:
                f.write(config_text)
        self.log_path = str(tmp_path / "agent.log")
        cmd = [AGENT_BIN]
        if self.config_path:
            cmd += ["--config", self.config_path]
        cmd += list(args)
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=str(tmp_path), env=full_env)

    def rewrite_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def wait_http(self, port, path="/healthz", timeout=10.0):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited with {self.proc.returncode}:\n{self.output()}")
            try:
                return http("GET", f"http://127.0.0.1:{port}{path}", timeout=1)[0] == 200
            except OSError:
                return False
        wait_for(up, timeout, what=f"agent on port {port}")
        return self

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"agent did not stop within {timeout}s:\n{self.output()}")

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def read_ndjson(path):
    """The complete lines of an NDJSON file that may be growing, parsed; a last line
    still being written (no newline yet) is left for the next read."""
    import json
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    end = data.rfind(b"\n")
    if end < 0:
        return []
    return [json.loads(l) for l in data[:end].split(b"\n") if l]
