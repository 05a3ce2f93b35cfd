"""The agent's OpenMetrics exposition checked against the OpenMetrics 1.0 text format:
the ABNF (metric-descriptor, sample, labels, escaped-string, number, exemplar, "# EOF")
and the rules stated beside it that a grammar cannot say: metadata before samples and
at most once, families and their metrics not interleaved, the sample-name suffixes of
each type, UNIT a suffix of the family name, unique label names and label sets,
histogram buckets in increasing "le" order ending with +Inf, cumulative, with _count
equal to the +Inf bucket, exemplars only where allowed and within 128 code points."""

import math
import re

import pytest

from harness import http
from otlp_client import DELTA, MetricsRequest, exemplar
from test_prometheus import RESOURCE, agent, every_kind, send  # noqa: F401 (fixture)

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
# escaped-string: normal-char, or a backslash before n, quote, backslash or a normal-char.
ESCAPED = r'(?:[^"\\\n]|\\[n"\\]|\\[^"\\\n])*'
LABEL = rf'{LABEL_NAME}="{ESCAPED}"'
LABELS = rf"\{{(?:{LABEL}(?:,{LABEL})*)?\}}"
REAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?)"
NUMBER = rf"(?:{REAL}|[+-]?(?i:inf|infinity)|(?i:nan))"
EXEMPLAR = rf" # ({LABELS}) ({NUMBER})(?: ({REAL}))?"
SAMPLE = re.compile(rf"^({NAME})({LABELS})? ({NUMBER})(?: ({REAL}))?(?:{EXEMPLAR})?$")
DESCRIPTOR = re.compile(rf"^# (TYPE|HELP|UNIT) ({NAME})(?: (.*))?$")
TYPES = {"counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary",
         "unknown"}
SUFFIXES = {
    "counter": ["_total", "_created"],
    "summary": ["_count", "_sum", "_created", ""],
    "histogram": ["_count", "_sum", "_bucket", "_created"],
    "gaugehistogram": ["_gcount", "_gsum", "_bucket"],
    "info": ["_info"],
    "gauge": [""], "stateset": [""], "unknown": [""],
}


def parse_labels(text):
    if not text:
        return []
    return re.findall(rf'({LABEL_NAME})="({ESCAPED})"', text[1:-1])


def unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def value(s):
    return float(s.replace("Inf", "inf").replace("+inf", "inf"))


def check_openmetrics(text):
    """Raises AssertionError naming the first line that breaks OpenMetrics 1.0."""
    assert text.endswith("# EOF\n") or text.endswith("# EOF"), "no # EOF at the end"
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    assert lines[-1] == "# EOF" and "# EOF" not in lines[:-1], "# EOF must be the last line"
    families = {}  # name -> {"type", "meta": set, "done": bool}
    current = None
    seen_metric = set()  # (family, frozen labels without le/quantile)
    seen_samples = set()  # (sample name, frozen labels)
    metric_order = []
    hist = {}  # (family, labels) -> list of (le, count), count/sum presence
    for n, line in enumerate(lines[:-1], 1):
        where = f"line {n}: {line!r}"
        assert "\r" not in line, where
        if line.startswith("#"):
            m = DESCRIPTOR.match(line)
            assert m, f"bad metadata {where}"
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
            if current != name:
                assert name not in families, f"family {name} interleaved {where}"
                families[name] = {"type": "unknown", "meta": set(), "samples": 0}
                current = name
            fam = families[name]
            assert fam["samples"] == 0, f"metadata after samples {where}"
            assert kind not in fam["meta"], f"duplicate {kind} {where}"
            fam["meta"].add(kind)
            if kind == "TYPE":
                assert rest in TYPES, where
                fam["type"] = rest
            elif kind == "UNIT":
                assert re.fullmatch(r"[a-zA-Z0-9_:]*", rest), where
                assert not rest or name.endswith("_" + rest), f"unit not a suffix {where}"
            else:
                assert re.fullmatch(ESCAPED, rest), f"bad HELP escaping {where}"
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample {where}"
        name, labels, val, ts = m.group(1), m.group(2), m.group(3), m.group(4)
        assert ts is None, f"timestamps are not exposed {where}"
        fam_name, fam = current, families.get(current)
        assert fam is not None, f"sample before any metadata {where}"
        suffix = name[len(fam_name):] if name.startswith(fam_name) else None
        assert suffix in SUFFIXES[fam["type"]], f"{name} is not a sample of {fam_name} {where}"
        fam["samples"] += 1
        pairs = parse_labels(labels)
        names = [k for k, _ in pairs]
        assert len(names) == len(set(names)), f"duplicate label name {where}"
        for k, v in pairs:
            unescape(v).encode("utf-8")
        own = frozenset((k, v) for k, v in pairs if k not in ("le", "quantile"))
        key = (fam_name, own)
        if key not in seen_metric:
            seen_metric.add(key)
            metric_order.append(key)
        else:
            assert metric_order[-1] == key, f"metrics interleaved {where}"
        full = (name, frozenset(pairs))
        assert full not in seen_samples, f"duplicate sample {where}"
        seen_samples.add(full)
        v = value(val)
        if fam["type"] in ("counter", "histogram", "summary") and suffix in ("_total", "_count",
                                                                              "_bucket"):
            assert not math.isnan(v) and v >= 0, f"negative or NaN count {where}"
        if suffix in ("_count", "_bucket"):
            assert float(v).is_integer(), f"count not an integer {where}"
        if m.group(5) is not None:
            assert (fam["type"] == "counter" and suffix == "_total") or \
                   (fam["type"] in ("histogram", "gaugehistogram") and suffix == "_bucket"), \
                f"exemplar not allowed here {where}"
            ex_pairs = parse_labels(m.group(5))
            cps = sum(len(k) + len(unescape(v)) for k, v in ex_pairs)
            assert cps <= 128, f"exemplar labels over 128 code points {where}"
            if suffix == "_bucket":
                le = dict(pairs)["le"]
                assert value(m.group(6)) <= value(le), f"exemplar above its bucket {where}"
        if fam["type"] == "histogram":
            h = hist.setdefault(key, {"buckets": [], "count": None, "sum": False})
            if suffix == "_bucket":
                le = dict(pairs).get("le")
                assert le is not None, f"bucket without le {where}"
                h["buckets"].append((value(le), v))
            elif suffix == "_count":
                h["count"] = v
            elif suffix == "_sum":
                h["sum"] = True
        if fam["type"] == "summary" and suffix == "":
            q = value(dict(pairs)["quantile"])
            assert 0 <= q <= 1, where
    for (fam_name, _), h in hist.items():
        b = h["buckets"]
        assert b and b[-1][0] == math.inf, f"{fam_name}: no +Inf bucket"
        les = [le for le, _ in b]
        assert les == sorted(set(les)), f"{fam_name}: le not increasing"
        counts = [c for _, c in b]
        assert counts == sorted(counts), f"{fam_name}: buckets not cumulative"
        assert h["sum"] == (h["count"] is not None), f"{fam_name}: _count iff _sum"
        if h["count"] is not None:
            assert h["count"] == counts[-1], f"{fam_name}: _count differs from +Inf"
    return True


def test_checker_refuses_bad_expositions():
    good = "# TYPE a counter\na_total 1\n# EOF\n"
    assert check_openmetrics(good)
    for bad in [
        "# TYPE a counter\na_total 1\n",                        # no EOF
        "# TYPE a counter\na 1\n# EOF\n",                       # counter sample without _total
        "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n# EOF\n",         # duplicate label
        "# TYPE a gauge\na 1 123\n# EOF\n",                     # timestamp
        "# TYPE a gauge\na 1 # {t=\"1\"} 1\n# EOF\n",           # exemplar on a gauge
        "# TYPE a histogram\na_bucket{le=\"2.0\"} 1\na_bucket{le=\"1.0\"} 1\n"
        "a_bucket{le=\"+Inf\"} 1\n# EOF\n",                     # le order
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 3\na_count 2\na_sum 1\n# EOF\n",
        "# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n",       # unit not a suffix
        "# TYPE a gauge\na{x=\"\\\"} 1\n# EOF\n",                # bad escape
        "# TYPE a counter\na_total 1 # {trace_id=\"" + "x" * 130 + "\"} 1\n# EOF\n",
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n# EOF\n",  # interleaved
    ]:
        with pytest.raises(AssertionError):
            check_openmetrics(bad)


def test_agent_openmetrics_follows_the_grammar(agent):  # noqa: F811
    a, otlp, url = agent()
    send(otlp, every_kind(MetricsRequest(RESOURCE)))
    # A second service, a delta histogram with exemplars in several buckets, and a
    # negative bound (no _sum, hence no _count, in OpenMetrics).
    req = MetricsRequest({"service.name": "worker", "service.instance.id": "w-1"})
    req.histogram("task.time", [0.1, 1, 10], [1, 2, 3, 4], 50.5, unit="s", temporality=DELTA,
                  exemplars=[exemplar(0.05, "01" * 16, "02" * 8),
                             exemplar(5, "03" * 16, "04" * 8),
                             exemplar(50, "05" * 16, "06" * 8)])
    req.histogram("temperature.change", [-10, 0, 10], [1, 1, 1, 1], 3, unit="Cel")
    send(otlp, req)
    status, headers, body = http("GET", url, headers={
        "Accept": "application/openmetrics-text;version=1.0.0"})
    assert status == 200
    text = body.decode()
    assert check_openmetrics(text)
    assert 'task_time_seconds_bucket{job="worker",instance="w-1",otel_scope_name="otus.test",' \
           'otel_scope_version="1.0.0",le="+Inf"} 10 # {trace_id="' + "05" * 16 in text
    assert "temperature_change_celsius_sum" not in text
