"""The file exporter's rotation and its start-up errors, with the real agent."""

import json
import os

from harness import free_port, read_ndjson, wait_for
import otlp_data as od


def config(tmp_path, otlp, tel, extra=""):
    return f"""
service:
  data_dir: {tmp_path}/data
  telemetry:
    listen: 127.0.0.1:{tel}
receivers:
  otlp:
    listen: 127.0.0.1:{otlp}
exporters:
  file:
    path: {tmp_path}/out
    flush_interval: 20ms
{extra}
pipelines:
  logs: [file]
"""


def test_rotation_keeps_max_files(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    a = start_agent(config(tmp_path, otlp, tel, "    max_file_bytes: 8KiB\n    max_files: 2"))
    a.wait_http(tel)
    out = tmp_path / "out"
    for i in range(30):
        assert od.send(otlp, "logs", od.logs_request(n=20, start=i * 20))[0] == 200
    wait_for(lambda: (out / "logs.ndjson.2").exists(), what="two rotations")

    def total_seqs():
        seqs = []
        for name in ("logs.ndjson.2", "logs.ndjson.1", "logs.ndjson"):
            p = out / name
            if p.exists():
                seqs += [d["attributes"]["seq"] for d in read_ndjson(p)]
        return seqs
    assert not (out / "logs.ndjson.3").exists()
    # Every file is whole lines; the newest records are in the current file, in order.
    wait_for(lambda: 599 in total_seqs(), what="last record")
    seqs = total_seqs()
    assert seqs == sorted(seqs)
    assert seqs[-1] == 599
    for name in ("logs.ndjson.1", "logs.ndjson.2"):
        size = (out / name).stat().st_size
        # Files are cut at a line boundary at or below the limit.
        assert 7 * 1024 <= size <= 8 * 1024
        assert (out / name).read_text().endswith("\n")
    from harness import http
    m = http("GET", f"http://127.0.0.1:{tel}/metrics")[2].decode()
    rot = [l for l in m.splitlines() if l.startswith('otus_file_rotations_total{exporter="file"}')]
    assert rot and int(rot[0].split()[-1]) >= 2


def test_unwritable_directory_fails_at_start(start_agent, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    otlp, tel = free_port(), free_port()
    cfg = config(tmp_path, otlp, tel).replace(f"path: {tmp_path}/out", f"path: {blocker}/out")
    a = start_agent(cfg)
    assert a.proc.wait(10) == 2
    assert "cannot create directory" in a.output()


def test_default_path_is_under_data_dir(start_agent, tmp_path):
    otlp, tel = free_port(), free_port()
    cfg = config(tmp_path, otlp, tel).replace(f"    path: {tmp_path}/out\n", "")
    a = start_agent(cfg)
    a.wait_http(tel)
    assert od.send(otlp, "logs", od.logs_request(n=2))[0] == 200
    p = tmp_path / "data" / "export" / "logs.ndjson"
    wait_for(lambda: len(read_ndjson(p)) == 2, what="documents")
