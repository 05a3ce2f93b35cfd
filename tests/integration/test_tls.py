"""HTTPS to the backends: the Elasticsearch and OTLP exporters verify the server's
certificate by default (a certificate no configured CA vouches for is refused and
nothing is sent in clear), trust a private CA given by tls.ca_file, can be told to
skip verification, and the OTLP exporter presents a client certificate to a server
that requires one. Certificates are made for each run with the openssl command."""

import os
import signal
import ssl
import subprocess
import sys

import pytest

from harness import ROOT, http, wait_for
import otlp_data as od

sys.path.insert(0, os.path.join(ROOT, "tests", "standins"))
from es_control import StandinProcess  # noqa: E402
from otlp_standin import OtlpStandin  # noqa: E402

import test_elasticsearch as tes  # noqa: E402
import test_otlp_exporter as tox  # noqa: E402


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN=Otus test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return os.path.join(d, f"{name}.pem")


def make_leaf(d, name, ca, usage, san=None):
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                f"extendedKeyUsage={usage}\n")
        if san:
            f.write(f"subjectAltName={san}\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext, cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    c = {"ca": make_ca(d, "ca"), "other_ca": make_ca(d, "other-ca")}
    c["server"] = make_leaf(d, "server", "ca", "serverAuth", "IP:127.0.0.1,DNS:localhost")
    c["client"] = make_leaf(d, "client", "ca", "clientAuth")
    return c


@pytest.fixture
def es_tls(certs):
    s = StandinProcess(tls=(certs["server"][0], certs["server"][1], certs["ca"]))
    yield s
    s.close()


def tls_section(**kv):
    return "    tls:\n" + "".join(f"      {k}: {v}\n" for k, v in kv.items())


RETRY = "    retry:\n      initial_interval: 50ms\n      max_interval: 200ms\n"


def test_es_https_with_private_ca(start_agent, tmp_path, es_tls, certs):
    a = tes.start(start_agent, tmp_path, es_tls, es_extra=tls_section(ca_file=certs["ca"]))
    tes.post_logs(a, 200, per_request=50)
    tes.wait_count(es_tls, "logs-otus-default", 200)
    tes.check_exactly_once(es_tls.docs("logs-otus-default"), 200)
    assert es_tls.stats()["tls_handshake_failures"] == 0
    assert a.stop() == 0


@pytest.mark.parametrize("trust", ["system store", "another CA"])
def test_es_https_refuses_unverified_certificate(start_agent, tmp_path, es_tls, certs, trust):
    extra = RETRY + "    breaker:\n      failures: 3\n      open_timeout: 1s\n"
    if trust == "another CA":
        # Without a template to install first, the bulk requests themselves fail.
        extra += "    manage_template: false\n" + tls_section(ca_file=certs["other_ca"])
    a = tes.start(start_agent, tmp_path, es_tls, es_extra=extra)
    tes.post_logs(a, 20, per_request=20)
    wait_for(lambda: es_tls.stats()["tls_handshake_failures"] >= 3, 30,
             what="handshakes the agent refused")
    # The records wait: nothing was sent over a connection the agent does not trust,
    # the endpoint's breaker opened, and the log says why.
    assert es_tls.count("logs-otus-default") == 0
    assert "POST /_bulk" not in es_tls.stats()["paths"]
    wait_for(lambda: tes.metric(a, "otus_exporter_breaker_state") == 1, 30,
             what="the breaker open")
    assert tes.metric(a, "otus_exporter_in_flight_records") == 20
    assert "(tls); retrying" in a.output()
    # A reload that trusts the right CA (and installs the data stream's template, which
    # the stand-in, as Elasticsearch, requires) sends what waited, once, with the new
    # settings.
    extra = RETRY + tls_section(ca_file=certs["ca"])
    a.rewrite_config(tes.es_config(tmp_path, [es_tls.url], a.otlp, a.tel, extra))
    a.signal(signal.SIGHUP)
    tes.wait_count(es_tls, "logs-otus-default", 20)
    tes.check_exactly_once(es_tls.docs("logs-otus-default"), 20)
    assert "20 records handed to the new configuration" in a.output()
    wait_for(lambda: tes.metric(a, "otus_exporter_sent_records_total") == 20, 10,
             what="20 records counted as sent")
    assert tes.metric(a, "otus_exporter_dropped_records_total") == 0
    assert a.stop() == 0


def test_es_https_insecure_skip_verify(start_agent, tmp_path, es_tls):
    a = tes.start(start_agent, tmp_path, es_tls,
                  es_extra=tls_section(insecure_skip_verify="true"))
    tes.post_logs(a, 30, per_request=30)
    tes.wait_count(es_tls, "logs-otus-default", 30)
    assert es_tls.stats()["tls_handshake_failures"] == 0
    assert a.stop() == 0


def mtls_standin(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs["server"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(certs["ca"])
    return OtlpStandin(tls=ctx).start()


def otlp_exporter(url, **tls):
    return (f"  otlp:\n    endpoint: {url}\n    flush_interval: 50ms\n"
            "    retry:\n      initial_interval: 50ms\n      max_interval: 200ms\n"
            + ("    tls:\n" + "".join(f"      {k}: {v}\n" for k, v in tls.items())
               if tls else ""))


def test_otlp_exporter_client_certificate(start_agent, tmp_path, certs):
    s = mtls_standin(certs)
    try:
        cert, key = certs["client"]
        a = tox.start(start_agent, tmp_path,
                      otlp_exporter(s.url(), ca_file=certs["ca"], cert_file=cert, key_file=key),
                      "  traces: [otlp]\n")
        req = od.traces_request(n=25)
        assert od.send(a.otlp, "traces", req)[0] == 200
        wait_for(lambda: sum(len(ss.spans) for r in s.requests("traces")
                             for rs in r.message.resource_spans for ss in rs.scope_spans) >= 25,
                 30, what="25 spans over mutual TLS")
        assert s.tls_errors == []
        assert a.stop() == 0

        # Without its certificate the agent is refused at the handshake and keeps the
        # spans queued; nothing reaches the server.
        b = tox.start(start_agent, tmp_path, otlp_exporter(s.url(), ca_file=certs["ca"]),
                      "  traces: [otlp]\n", subdir="b")
        before = len(s.requests("traces"))
        assert od.send(b.otlp, "traces", od.traces_request(n=5))[0] == 200
        wait_for(lambda: len(s.tls_errors) >= 2, 30, what="handshakes refused by the server")
        assert len(s.requests("traces")) == before
        wait_for(lambda: "retrying" in b.output(), 10, what="the failure in the log")
        assert "(tls)" in b.output() or "(io)" in b.output(), b.output()
        text = http("GET", f"http://127.0.0.1:{b.tel}/metrics")[2].decode()
        assert "otus_exporter_sent_records_total" in text
        assert tox.metric_value(b, "otus_exporter_sent_records_total", exporter="otlp") == 0
        assert b.stop() == 0
    finally:
        s.stop()


def test_reload_hands_waiting_spans_to_the_new_settings(start_agent, tmp_path, certs):
    """Spans waiting to be retried against a server the agent does not trust are sent
    with the new settings after a reload that fixes the CA: all of them, once."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs["server"])
    s = OtlpStandin(tls=ctx).start()
    try:
        pipelines = "  traces: [otlp]\n"
        a = tox.start(start_agent, tmp_path, otlp_exporter(s.url(), ca_file=certs["other_ca"]),
                      pipelines)
        req = od.traces_request(n=25)
        assert od.send(a.otlp, "traces", req)[0] == 200
        wait_for(lambda: len(s.tls_errors) >= 2, 30, what="handshakes the agent refused")
        assert s.requests("traces") == []
        assert tox.metric_value(a, "otus_exporter_in_flight_records", exporter="otlp") == 25

        a.rewrite_config(tox.agent_config(tmp_path, a.otlp, a.tel,
                                          otlp_exporter(s.url(), ca_file=certs["ca"]),
                                          pipelines))
        a.signal(signal.SIGHUP)
        wait_for(lambda: tox.metric_value(a, "otus_exporter_sent_records_total",
                                          exporter="otlp") == 25, 30, what="25 spans sent")
        got = [sp.span_id for r in s.requests("traces") for rs in r.message.resource_spans
               for ss in rs.scope_spans for sp in ss.spans]
        want = [sp.span_id for rs in req.resource_spans for ss in rs.scope_spans
                for sp in ss.spans]
        assert sorted(got) == sorted(want)
        assert "handed to the new configuration" in a.output()
        assert (tox.metric_value(a, "otus_exporter_dropped_records_total", exporter="otlp")
                or 0) == 0
        assert a.stop() == 0
    finally:
        s.stop()
