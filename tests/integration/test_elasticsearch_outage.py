"""Elasticsearch down for 30 seconds under steady load: the endpoint's circuit breaker
opens, half-opens to probe, closes after recovery, every record arrives exactly once,
and the other pipelines keep flowing meanwhile."""

import os
import sys
import threading
import time

from harness import ROOT, wait_for
import otlp_data as od
from test_elasticsearch import check_exactly_once, check_fields, metric, start, wait_count

sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))
from es_control import StandinProcess  # noqa: E402

OUTAGE_S = 30


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for line in f if line.strip())
    except FileNotFoundError:
        return 0


def test_outage_breaker_opens_half_opens_and_nothing_is_lost(start_agent, tmp_path):
    es = StandinProcess()
    try:
        a = start(start_agent, tmp_path, es,
                  es_extra=("    breaker:\n      failures: 3\n      open_timeout: 2s\n"
                            "    retry:\n      initial_interval: 100ms\n      max_interval: 2s\n"
                            "      max_elapsed: 5m\n"),
                  extra_exporters=f"  file:\n    path: {tmp_path}/out\n    flush_interval: 100ms\n",
                  pipelines="  logs: [elasticsearch]\n  traces: [file]\n")
        sent = [0]
        stop = threading.Event()

        def load():
            while not stop.is_set():
                st, _, _ = od.send(a.otlp, "logs", od.logs_request(n=50, start=sent[0]))
                assert st == 200
                sent[0] += 50
                time.sleep(0.1)

        t = threading.Thread(target=load)
        t.start()
        try:
            wait_for(lambda: es.count("logs-otus-default") > 0, 20, what="first documents")
            es.down(OUTAGE_S)
            began = time.monotonic()
            traces_path = os.path.join(str(tmp_path), "out", "traces.ndjson")
            n_traces = 0
            opened = half_opened = False
            while time.monotonic() - began < OUTAGE_S - 1:
                # The traces pipeline keeps flowing while Elasticsearch is away.
                assert od.send(a.otlp, "traces", od.traces_request(n=2, start=n_traces))[0] == 200
                n_traces += 2
                opened |= metric(a, "otus_exporter_breaker_state", endpoint=es.url) == 1
                half_opened |= metric(a, "otus_exporter_breaker_transitions_total",
                                      endpoint=es.url, to="half_open") > 0
                time.sleep(1)
            assert count_lines(traces_path) >= n_traces - 2
            assert opened, "the breaker never opened"
            assert half_opened, "the breaker never half-opened to probe"
            assert metric(a, "otus_exporter_breaker_transitions_total", endpoint=es.url,
                          to="open") >= 2  # opened, probed, opened again
            # Keep loading for a few seconds after recovery.
            wait_for(lambda: time.monotonic() - began > OUTAGE_S + 3, OUTAGE_S + 10)
        finally:
            stop.set()
            t.join()
        total = sent[0]
        wait_count(es, "logs-otus-default", total, timeout=120)
        docs = es.docs("logs-otus-default")
        check_exactly_once(docs, total)
        for d in docs[:: max(1, len(docs) // 500)]:
            check_fields(d["_source"], d["_source"]["attributes"]["seq"])
        wait_for(lambda: metric(a, "otus_exporter_sent_records_total",
                                exporter="elasticsearch") == total, 30,
                 what="every record settled as sent")
        assert metric(a, "otus_exporter_breaker_state", endpoint=es.url) == 0
        assert metric(a, "otus_exporter_breaker_transitions_total", endpoint=es.url,
                      to="closed") >= 1
        assert metric(a, "otus_exporter_dropped_records_total", exporter="elasticsearch") == 0
        assert a.stop() == 0
    finally:
        es.close()
