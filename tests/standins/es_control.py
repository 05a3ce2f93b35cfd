"""Runs the Elasticsearch stand-in (es_standin.py) as a process on a free loopback
port for a test, and talks to it: its Elasticsearch API and its /_standin/ control
API (fault injection, stored documents, counters)."""

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


class StandinProcess:
    def __init__(self, users=(), api_keys=(), python=None, tls=None):
        """tls: (certificate chain file, key file, CA file) to serve HTTPS with a
        certificate for 127.0.0.1 that the CA file verifies."""
        cmd = [python or sys.executable, os.path.join(HERE, "es_standin.py"), "--port", "0"]
        for u in users:
            cmd += ["--user", u]
        for k in api_keys:
            cmd += ["--api-key", k]
        self.ssl = None
        if tls:
            cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
            self.ssl = ssl.create_default_context(cafile=tls[2])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening "):
            self.proc.kill()
            raise RuntimeError(f"stand-in did not start: {line}")
        self.port = int(line.split()[1])
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None, timeout=30):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw) if raw else None
            except ValueError:
                return e.code, raw

    def docs(self, index=None):
        q = f"?index={index}" if index else ""
        return self.request("GET", "/_standin/docs" + q)[1]["docs"]

    def stats(self):
        return self.request("GET", "/_standin/stats")[1]

    def faults(self, **kw):
        return self.request("POST", "/_standin/faults", kw)[1]

    def down(self, seconds):
        return self.request("POST", "/_standin/down", {"seconds": seconds})

    def count(self, target):
        st, body = self.request("GET", f"/{target}/_count")
        return body["count"] if st == 200 else 0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
