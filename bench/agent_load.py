#!/usr/bin/env python3
"""Load benchmark of otus-agent's OTLP/HTTP receiver into the file exporter.

wrk posts the same OTLP/HTTP protobuf batch (100 log records, or 100 spans) over
keep-alive connections; the agent is pinned to one core (taskset) and writes NDJSON
to tmpfs. Reported: records/s accepted, agent CPU-seconds per million records (from
/proc/PID/stat), idle and peak RSS (VmRSS, VmHWM), and a check that every accepted
record reached the file. A second run puts a small memory limit under an unpaced load
and reports the peak RSS and the refusals.

Usage: bench/agent_load.py [--seconds N] [--connections N]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import otlp_data as od  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def realistic_logs(n=100):
    req = od.logs_request(n=0)
    rl = req.resource_logs[0]
    od.add_attrs(rl.resource.attributes, {"service.version": "1.4.2", "host.name": "web-01",
                                          "deployment.environment": "production"})
    sl = rl.scope_logs[0]
    for i in range(n):
        lr = sl.log_records.add()
        lr.time_unix_nano = od.T0 + i
        lr.observed_time_unix_nano = od.T0 + i + 5
        lr.severity_number = 9
        lr.severity_text = "INFO"
        lr.body.string_value = f"GET /api/v1/orders/{1000 + i} served in {i % 37} ms"
        lr.trace_id = od.trace_id(i)
        lr.span_id = od.span_id(i)
        od.add_attrs(lr.attributes, {"http.request.method": "GET", "url.path": "/api/v1/orders",
                                     "http.response.status_code": 200, "user.id": f"u-{i}",
                                     "duration_ms": i * 0.25})
    return req


def realistic_spans(n=100):
    req = od.traces_request(n=0)
    rs = req.resource_spans[0]
    od.add_attrs(rs.resource.attributes, {"service.version": "1.4.2", "host.name": "web-01"})
    ss = rs.scope_spans[0]
    for i in range(n):
        sp = ss.spans.add()
        sp.trace_id = od.trace_id(i // 10)
        sp.span_id = od.span_id(i)
        if i % 10:
            sp.parent_span_id = od.span_id(i - i % 10)
        sp.name = "GET /api/v1/orders/{id}"
        sp.kind = 2 if i % 10 == 0 else 3
        sp.start_time_unix_nano = od.T0 + i * 1000
        sp.end_time_unix_nano = od.T0 + i * 1000 + 700
        od.add_attrs(sp.attributes, {"http.request.method": "GET", "url.path": "/api/v1/orders",
                                     "http.response.status_code": 200, "server.port": 8080})
        sp.status.code = 1
    return req


WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-protobuf"
local f = io.open("{body}", "rb")
wrk.body = f:read("*a")
f:close()
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  counts = {{}}
end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {{}}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do total[k] = (total[k] or 0) + v end
  end
  io.write("STATUSES")
  for k, v in pairs(total) do io.write(" " .. k .. "=" .. v) end
  io.write("\\n")
end
"""


def run_wrk(port, path, body_file, seconds, connections, workdir):
    # Per-response accounting in Lua needs one wrk thread per connection group.
    lua = os.path.join(workdir, "post.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA.format(body=body_file))
    cmd = ["taskset", "-c", "1", "wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s",
           "-s", lua, f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    statuses = {}
    for m in re.finditer(r"(\d+)=(\d+)", out.split("STATUSES", 1)[1] if "STATUSES" in out else ""):
        statuses[int(m.group(1))] = int(m.group(2))
    return statuses, out


def start_agent(workdir, outdir, max_bytes="256MiB", extra="", exporter="file"):
    otlp, tel = free_port(), free_port()
    cfg = os.path.join(workdir, "otus.yaml")
    with open(cfg, "w") as f:
        f.write(f"""
service:
  data_dir: {workdir}/data
  log_level: warn
  telemetry:
    listen: 127.0.0.1:{tel}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp}
buffer:
  max_bytes: {max_bytes}
exporters:
  file:
    path: {outdir}
    max_file_bytes: 64GiB
{extra}
  null:
pipelines:
  logs: [{exporter}]
  traces: [{exporter}]
""")
    log = open(os.path.join(workdir, "agent.log"), "wb")
    env = dict(os.environ, UV_THREADPOOL_SIZE="2")
    proc = subprocess.Popen(["taskset", "-c", "0", os.path.join(BUILD, "bin", "otus-agent"),
                             "--config", cfg], stdout=log, stderr=log, env=env)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{tel}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.02)
    return proc, otlp, tel


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return n
            n += b.count(b"\n")


def one(signal_name, req, seconds, connections, exporter="file"):
    workdir = tempfile.mkdtemp(prefix="otus-bench-")
    outdir = tempfile.mkdtemp(prefix="otus-bench-out-", dir="/dev/shm")
    try:
        body_file = os.path.join(workdir, "body.bin")
        with open(body_file, "wb") as f:
            f.write(req.SerializeToString())
        per_request = 100
        proc, otlp, tel = start_agent(workdir, outdir, exporter=exporter)
        time.sleep(0.3)
        idle_rss = status_kb(proc.pid, "VmRSS")
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        statuses, _ = run_wrk(otlp, od.PATHS[signal_name], body_file, seconds, connections, workdir)
        wall = time.monotonic() - t0
        cpu1 = cpu_seconds(proc.pid)
        hwm = status_kb(proc.pid, "VmHWM")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        ok = statuses.get(200, 0)
        records = ok * per_request
        written = count_lines(os.path.join(outdir, f"{signal_name}.ndjson")) if exporter == "file" \
            else records
        cpu = cpu1 - cpu0
        return {
            "signal": signal_name,
            "exporter": exporter,
            "seconds": round(wall, 2),
            "connections": connections,
            "requests_ok": ok,
            "statuses": statuses,
            "records_per_s": round(records / wall),
            "agent_cpu_s": round(cpu, 2),
            "records_per_cpu_s": round(records / cpu) if cpu else None,
            "cpu_s_per_million": round(cpu / records * 1e6, 3) if records else None,
            "idle_rss_mib": round(idle_rss / 1024, 1),
            "peak_rss_mib": round(hwm / 1024, 1),
            "written": written,
            "lost": max(0, records - written),
            "exit": rc,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(outdir, ignore_errors=True)


def overload(seconds, connections):
    """A 16 MiB memory limit and an exporter that flushes rarely: RSS stays bounded and
    the excess is refused with 503."""
    workdir = tempfile.mkdtemp(prefix="otus-bench-")
    outdir = tempfile.mkdtemp(prefix="otus-bench-out-", dir="/dev/shm")
    try:
        body_file = os.path.join(workdir, "body.bin")
        with open(body_file, "wb") as f:
            f.write(realistic_logs().SerializeToString())
        proc, otlp, tel = start_agent(workdir, outdir, max_bytes="16MiB",
                                      extra="    flush_interval: 2s")
        statuses, _ = run_wrk(otlp, "/v1/logs", body_file, seconds, connections, workdir)
        hwm = status_kb(proc.pid, "VmHWM")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        written = count_lines(os.path.join(outdir, "logs.ndjson"))
        return {"memory_limit_mib": 16, "statuses": statuses, "peak_rss_mib": round(hwm / 1024, 1),
                "accepted_records": statuses.get(200, 0) * 100, "written": written, "exit": rc}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(outdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: scripts/deps.sh --bench installs it")
    results = []
    for exporter, name, req in (("file", "logs", realistic_logs()),
                                ("file", "traces", realistic_spans()),
                                ("null", "logs", realistic_logs()),
                                ("null", "traces", realistic_spans())):
        runs = [one(name, req, args.seconds, args.connections, exporter) for _ in range(args.runs)]
        runs.sort(key=lambda r: r["records_per_s"])
        med = runs[len(runs) // 2]
        med["runs_records_per_s"] = [r["records_per_s"] for r in runs]
        results.append(med)
        print(json.dumps(med), flush=True)
    ov = overload(args.seconds, 64)
    print(json.dumps(ov), flush=True)


if __name__ == "__main__":
    main()
