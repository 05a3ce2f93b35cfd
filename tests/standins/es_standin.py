"""An Elasticsearch 8.x stand-in for Otus's integration tests, written from the
Elasticsearch REST API documentation and as strict as Elasticsearch where it is strict:

- POST/PUT /_bulk and /<target>/_bulk: NDJSON (Content-Type application/x-ndjson or
  application/json), the final newline required, gzip request bodies
  (Content-Encoding: gzip), the index/create/delete/update actions and their metadata
  (unknown parameters refused), per-item results with "errors": true, 409
  version_conflict_engine_exception on a create of an existing _id, data streams that
  accept only create and need @timestamp, require_data_stream, dynamic mapping with
  type conflicts answered as per-item 400 document_parsing_exception, subobjects:
  false, flattened fields, dynamic templates, date_detection, ignore_malformed, and
  data stream failure stores ("failure_store": "used").
- PUT/GET/DELETE /_index_template/<name> (index_patterns, data_stream, template
  {settings, mappings}, priority; overlapping patterns at one priority refused).
- GET/POST /<target>/_count and a minimal /<target>/_search (match_all, term, match,
  size, from), GET /_data_stream/<name>, POST /<data stream>/_rollover, DELETE of a
  data stream or index, GET / (cluster info).
- Basic and ApiKey authentication (401 security_exception otherwise), when users or
  keys are configured.
- 413 for bodies over max_content_length (http.max_content_length).
- Response filtering (filter_path, with *, ** and - exclusions) on every answer; a
  bulk request with a URL parameter the bulk API does not take is refused (400).
- HTTPS (xpack.security.http.ssl) with a given certificate and key; a client that
  refuses the certificate is counted in the stats (tls_handshake_failures).

Not Elasticsearch: a control API under /_standin/ (never authenticated) for tests:
  GET  /_standin/docs?index=<data stream or index>   every stored document
  GET  /_standin/stats                               request and item counters
  POST /_standin/faults  {"fail_requests": N, "fail_status": 503, "reject_fraction":
        0.2, "reject_status": 429, "delay_ms": 0, "max_content_length": bytes,
        "seed": 1}                                   fault injection
  POST /_standin/down    {"seconds": S}              close the listener and every
                                                     connection for S seconds

Run: python3 es_standin.py --port N [--user name:password] [--api-key id:key]
                          [--tls-cert chain.pem --tls-key key.pem]
Prints "listening <port>" on stdout once ready.
"""

import argparse
import base64
import copy
import fnmatch
import gzip
import json
import random
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

import tls_serve

VERSION = "8.15.0"
BULK_OPS = ("index", "create", "delete", "update")
# URL parameters of the bulk API, and the ones every REST API takes; others are refused.
BULK_PARAMS = {"include_source_on_error", "list_executed_pipelines", "pipeline", "refresh",
               "require_alias", "require_data_stream", "routing", "_source",
               "_source_excludes", "_source_includes", "timeout", "wait_for_active_shards"}
COMMON_PARAMS = {"error_trace", "filter_path", "human", "pretty"}
ACTION_PARAMS = {"_index", "_id", "routing", "pipeline", "require_alias", "require_data_stream",
                 "if_seq_no", "if_primary_term", "version", "version_type", "dynamic_templates",
                 "list_executed_pipelines", "op_type", "retry_on_conflict", "_source"}
FIELD_TYPES = {"object", "keyword", "text", "match_only_text", "long", "integer", "short",
               "byte", "double", "float", "half_float", "scaled_float", "boolean", "date",
               "date_nanos", "flattened", "ip", "nested", "wildcard", "constant_keyword",
               "unsigned_long"}
INT_TYPES = {"long", "integer", "short", "byte", "unsigned_long"}
FLOAT_TYPES = {"double", "float", "half_float", "scaled_float"}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
INDEX_BAD = set('\\/*?"<>| ,#:')


class EsError(Exception):
    """An Elasticsearch error: HTTP status, error type and reason."""

    def __init__(self, status, etype, reason, **extra):
        super().__init__(reason)
        self.status, self.etype, self.reason, self.extra = status, etype, reason, extra

    def body(self):
        err = {"type": self.etype, "reason": self.reason}
        err.update(self.extra)
        root = {"type": self.etype, "reason": self.reason}
        return {"error": dict(err, root_cause=[root]), "status": self.status}

    def item_error(self):
        err = {"type": self.etype, "reason": self.reason}
        err.update(self.extra)
        return err


def check_index_name(name):
    if not name or len(name.encode()) > 255:
        raise EsError(400, "invalid_index_name_exception",
                      f"Invalid index name [{name}], index name is too long")
    if name != name.lower():
        raise EsError(400, "invalid_index_name_exception",
                      f"Invalid index name [{name}], must be lowercase")
    if name[0] in "-_+":
        raise EsError(400, "invalid_index_name_exception",
                      f"Invalid index name [{name}], must not start with '_', '-', or '+'")
    if name in (".", "..") or any(c in INDEX_BAD for c in name):
        raise EsError(400, "invalid_index_name_exception",
                      f"Invalid index name [{name}], must not contain the following characters "
                      "['\\','/','*','?','\"','<','>','|',' ',',','#',':']")


# ---- mappings ---------------------------------------------------------------------------


def preview(v):
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={preview(x)}" for k, x in v.items()) + "}"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class NeedsUpdate(Exception):
    """The document adds fields: parse it again on a copy of the mappings."""


class Mapper:
    """Applies one document to an index's mappings, as Elasticsearch's document parser
    does; raises EsError (400) on a conflict. With mutate false it only reads the
    mappings and raises NeedsUpdate when the document would add a field."""

    def __init__(self, mappings, settings, doc_id, mutate=True):
        self.root = mappings
        self.mutate = mutate
        self.ignore_malformed = str(settings.get("index.mapping.ignore_malformed",
                                                 settings.get("index", {}).get("mapping", {})
                                                 .get("ignore_malformed", False))).lower() == "true"
        self.doc_id = doc_id
        self.ignored = []

    def fail(self, reason):
        raise EsError(400, "document_parsing_exception", f"[1:1] {reason}")

    def dynamic_template(self, path, name, mtype):
        for entry in self.root.get("dynamic_templates", []):
            (tname, t), = entry.items()
            mm = t.get("match_mapping_type")
            if mm is not None and mm != "*" and mm != mtype and not (isinstance(mm, list) and mtype in mm):
                continue
            if "match" in t and not fnmatch.fnmatchcase(name, t["match"]):
                continue
            if "path_match" in t and not fnmatch.fnmatchcase(path, t["path_match"]):
                continue
            if "unmatch" in t and fnmatch.fnmatchcase(name, t["unmatch"]):
                continue
            m = copy.deepcopy(t["mapping"])
            if m.get("type") == "{dynamic_type}":
                m["type"] = {"string": "text"}.get(mtype, mtype)
            return m
        return None

    def dynamic_mapping(self, path, name, value):
        if isinstance(value, bool):
            mtype = "boolean"
        elif isinstance(value, int):
            mtype = "long"
        elif isinstance(value, float):
            mtype = "double"
        elif isinstance(value, dict):
            mtype = "object"
        elif isinstance(value, str):
            mtype = "date" if (self.root.get("date_detection", True) and DATE_RE.match(value)) \
                else "string"
        else:
            return None
        m = self.dynamic_template(path, name, mtype)
        if m is not None:
            return m
        if mtype == "string":
            return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        if mtype == "double":
            return {"type": "float"}
        if mtype == "object":
            return {"properties": {}}
        return {"type": mtype}

    def dynamic_policy(self, obj_mapping, inherited):
        d = obj_mapping.get("dynamic", inherited)
        return str(d).lower()

    def apply(self, doc):
        self.object(self.root, doc, "", self.dynamic_policy(self.root, "true"),
                    self.root.get("subobjects", True))

    def object(self, mapping, value, path, dynamic, subobjects):
        props = mapping.get("properties")
        if props is None:
            if not self.mutate:
                raise NeedsUpdate()
            props = mapping["properties"] = {}
        for key, v in value.items():
            if key == "":
                self.fail("field name cannot be an empty string")
            if subobjects is False:
                self.leaf_in_flat(props, key, v, path, dynamic)
                continue
            parts = key.split(".")
            if any(p == "" for p in parts):
                self.fail(f"field name cannot contain only whitespace: ['{path}{key}']")
            # Dotted keys are objects, one level per dot.
            m, p, d = mapping, path, dynamic
            for part in parts[:-1]:
                pr = m.setdefault("properties", {})
                child = pr.get(part)
                full = p + part
                if child is None:
                    if d == "strict":
                        raise EsError(400, "strict_dynamic_mapping_exception",
                                      f"[1:1] mapping set to strict, dynamic introduction of "
                                      f"[{part}] within [{p.rstrip('.') or '_doc'}] is not allowed")
                    if d == "false":
                        m = None
                        break
                    if not self.mutate:
                        raise NeedsUpdate()
                    child = {"properties": {}}
                    pr[part] = child
                elif child.get("type", "object") not in ("object", "nested"):
                    self.fail(f"Could not dynamically add mapping for field [{full}.{parts[-1]}]. "
                              f"Existing mapping for [{full}] must be of type object but found "
                              f"[{child.get('type')}].")
                d = self.dynamic_policy(child, d)
                m, p = child, full + "."
                if child.get("subobjects", True) is False:
                    self.leaf_in_flat(child.setdefault("properties", {}),
                                      ".".join(parts[parts.index(part) + 1:]), v, p, d)
                    m = None
                    break
            if m is None:
                continue
            self.field(m.setdefault("properties", {}), parts[-1], v, p, d)

    def leaf_in_flat(self, props, key, v, path, dynamic):
        """A key inside an object with subobjects: false: dots stay in the name, and an
        object value's fields are flattened into it."""
        if isinstance(v, dict):
            for k2, v2 in v.items():
                self.leaf_in_flat(props, key + "." + k2, v2, path, dynamic)
            return
        if isinstance(v, list) and any(isinstance(x, dict) for x in v):
            for x in v:
                if isinstance(x, dict):
                    self.leaf_in_flat(props, key, x, path, dynamic)
                else:
                    self.field(props, key, x, path, dynamic)
            return
        self.field(props, key, v, path, dynamic, flat=True)

    def field(self, props, name, v, path, dynamic, flat=False):
        full = path + name
        if v is None:
            return
        if isinstance(v, list):
            for x in v:
                self.field(props, name, x, path, dynamic, flat)
            return
        m = props.get(name)
        if m is None:
            if dynamic == "strict":
                raise EsError(400, "strict_dynamic_mapping_exception",
                              f"[1:1] mapping set to strict, dynamic introduction of [{name}] "
                              f"within [{path.rstrip('.') or '_doc'}] is not allowed")
            if dynamic == "false":
                return
            m = self.dynamic_mapping(full, name, v)
            if m is None:
                return
            if flat and m.get("type", "object") == "object":
                return
            if not self.mutate:
                raise NeedsUpdate()
            props[name] = m
        ftype = m.get("type", "object")
        if ftype in ("object", "nested"):
            if not isinstance(v, dict):
                self.fail(f"object mapping for [{full}] tried to parse field [{name}] as object, "
                          f"but found a concrete value")
            self.object(m, v, full + ".", self.dynamic_policy(m, dynamic), m.get("subobjects", True))
            return
        if ftype == "flattened":
            if not isinstance(v, (dict, str, int, float, bool)):
                self.fail(f"failed to parse field [{full}] of type [flattened]")
            return
        self.scalar(m, ftype, full, v)

    def malformed(self, m, full, reason):
        if str(m.get("ignore_malformed", self.ignore_malformed)).lower() == "true":
            self.ignored.append(full)
            return
        self.fail(reason)

    def scalar(self, m, ftype, full, v):
        what = (f"failed to parse field [{full}] of type [{ftype}] in document with id "
                f"'{self.doc_id}'. Preview of field's value: '{preview(v)}'")
        if isinstance(v, dict):
            self.fail(what)  # ignore_malformed does not cover objects
        if ftype in INT_TYPES or ftype in FLOAT_TYPES:
            if isinstance(v, bool):
                return self.malformed(m, full, what)
            if isinstance(v, (int, float)):
                return
            try:
                float(v)
            except (TypeError, ValueError):
                return self.malformed(m, full, what)
            return
        if ftype == "boolean":
            if isinstance(v, bool) or v in ("true", "false", ""):
                return
            return self.malformed(m, full, what)
        if ftype in ("date", "date_nanos"):
            if isinstance(v, bool):
                return self.malformed(m, full, what)
            if isinstance(v, (int, float)) or (isinstance(v, str) and DATE_RE.match(v)):
                return
            return self.malformed(m, full, f"failed to parse date field [{v}] with format "
                                           f"[strict_date_optional_time||epoch_millis]")
        # keyword, text and the rest take any scalar


def validate_mappings(m, where="mappings"):
    if not isinstance(m, dict):
        raise EsError(400, "mapper_parsing_exception", f"Failed to parse mapping: [{where}] "
                      "must be an object")
    for k in ("subobjects",):
        if k in m and not isinstance(m[k], bool):
            raise EsError(400, "mapper_parsing_exception",
                          f"Failed to parse mapping: [subobjects] must be a boolean")
    for name, p in m.get("properties", {}).items():
        t = p.get("type", "object")
        if t not in FIELD_TYPES:
            raise EsError(400, "mapper_parsing_exception",
                          f"Failed to parse mapping: No handler for type [{t}] declared on "
                          f"field [{name}]")
        if t in ("object", "nested"):
            validate_mappings(p, name)


# ---- the cluster ---------------------------------------------------------------------------


class Cluster:
    def __init__(self):
        self.lock = threading.RLock()
        self.templates = {}     # name -> body
        self.indices = {}       # name -> {"mappings", "settings", "docs": {id: source}, "ds"}
        self.data_streams = {}  # name -> {"indices": [backing names], "generation", "template",
        #                                  "failure_store": bool, "fs_docs": [...]}
        self.stats = {"bulk_requests": 0, "bulk_items": 0, "bulk_bodies_gzip": 0,
                      "failed_requests": 0, "rejected_items": 0, "template_puts": 0,
                      "content_types": [], "paths": [], "tls_handshake_failures": 0,
                      "tls_errors": [], "bulk_queries": []}
        self.faults = {"fail_requests": 0, "fail_status": 503, "reject_fraction": 0.0,
                       "reject_status": 429, "delay_ms": 0, "max_content_length": 100 << 20}
        self.rng = random.Random(1)
        self.seq = 0
        self.users = {}
        self.api_keys = set()

    # templates
    def matching_template(self, name):
        best = None
        for tname, t in self.templates.items():
            pats = t["index_patterns"]
            if any(fnmatch.fnmatchcase(name, p) for p in pats):
                if best is None or t.get("priority", 0) > best[1].get("priority", 0):
                    best = (tname, t)
        return best

    def put_template(self, name, body):
        if not isinstance(body, dict):
            raise EsError(400, "parse_exception", "request body is required")
        allowed = {"index_patterns", "composed_of", "template", "priority", "version", "_meta",
                   "data_stream", "allow_auto_create", "ignore_missing_component_templates",
                   "deprecated"}
        for k in body:
            if k not in allowed:
                raise EsError(400, "x_content_parse_exception",
                              f"[1:2] [index_template] unknown field [{k}]")
        pats = body.get("index_patterns")
        if isinstance(pats, str):
            pats = [pats]
        if not pats:
            raise EsError(400, "action_request_validation_exception",
                          "Validation Failed: 1: index patterns are missing;")
        tmpl = body.get("template", {})
        for k in tmpl:
            if k not in ("settings", "mappings", "aliases", "lifecycle", "data_stream_options"):
                raise EsError(400, "x_content_parse_exception", f"[1:2] [template] unknown field [{k}]")
        validate_mappings(tmpl.get("mappings", {}))
        prio = body.get("priority", 0)
        if not isinstance(prio, int) or prio < 0:
            raise EsError(400, "x_content_parse_exception", "[priority] must be a non-negative integer")
        if "data_stream" in body and not isinstance(body["data_stream"], dict):
            raise EsError(400, "x_content_parse_exception", "[data_stream] must be an object")
        for other, t in self.templates.items():
            if other == name or t.get("priority", 0) != prio:
                continue
            if any(fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)
                   for a in pats for b in t["index_patterns"]):
                raise EsError(400, "illegal_argument_exception",
                              f"index template [{name}] has index patterns {pats} matching "
                              f"patterns from existing templates [{other}] with patterns "
                              f"({other} => {t['index_patterns']}) that have the same priority "
                              f"[{prio}], multiple index templates may not match during index "
                              f"creation, please use a different priority")
        stored = dict(body, index_patterns=pats)
        self.templates[name] = stored
        self.stats["template_puts"] += 1

    # indices and data streams
    def new_index(self, name, template, ds=None):
        tmpl = copy.deepcopy((template or {}).get("template", {}))
        settings = tmpl.get("settings", {})
        mappings = tmpl.get("mappings", {})
        mappings.setdefault("properties", {})
        if ds is not None:
            mappings["properties"].setdefault("@timestamp", {"type": "date"})
        self.indices[name] = {"mappings": mappings, "settings": settings, "docs": {}, "ds": ds}
        return self.indices[name]

    def rollover(self, ds_name):
        ds = self.data_streams[ds_name]
        ds["generation"] += 1
        match = self.matching_template(ds_name)
        backing = f".ds-{ds_name}-{time.strftime('%Y.%m.%d')}-{ds['generation']:06d}"
        self.new_index(backing, match[1] if match else None, ds=ds_name)
        ds["indices"].append(backing)
        if match:
            ds["failure_store"] = bool(match[1].get("data_stream", {}).get("failure_store"))
        return backing

    def resolve_write(self, name, op, require_ds):
        """The concrete index a write to name goes to, creating what auto-creation
        would; raises EsError for the item."""
        if name in self.data_streams:
            if op != "create":
                raise EsError(400, "illegal_argument_exception",
                              "only write ops with an op_type of create are allowed in data streams")
            return self.data_streams[name]["indices"][-1], name
        if name in self.indices:
            idx = self.indices[name]
            if idx["ds"] is not None:
                raise EsError(400, "illegal_argument_exception",
                              f"index request with op_type=create targeting backing indices is "
                              f"disallowed, target corresponding data stream [{idx['ds']}] instead")
            if require_ds:
                raise EsError(400, "illegal_argument_exception",
                              f"only write ops to data streams are allowed when "
                              f"[require_data_stream] is set to true, index [{name}] is not a "
                              f"data stream")
            return name, None
        check_index_name(name)
        match = self.matching_template(name)
        if match and "data_stream" in match[1]:
            if op != "create":
                raise EsError(400, "illegal_argument_exception",
                              "only write ops with an op_type of create are allowed in data streams")
            self.data_streams[name] = {"indices": [], "generation": 0, "template": match[0],
                                       "failure_store": False, "fs_docs": []}
            self.rollover(name)
            return self.data_streams[name]["indices"][-1], name
        if require_ds:
            raise EsError(404, "index_not_found_exception",
                          f"no such index [{name}] and [require_data_stream] request flag is "
                          f"[true] and [{name}] is not a data stream", index=name,
                          **{"resource.type": "index_expression", "resource.id": name})
        self.new_index(name, match[1] if match else None)
        return name, None

    def targets(self, expr):
        """Concrete indices for a search/count target (names, data streams, wildcards)."""
        out = []
        for part in (expr or "_all").split(","):
            if part in ("_all", "*"):
                out += [n for n in self.indices if not n.startswith(".")]
                out += [i for ds in self.data_streams.values() for i in ds["indices"]]
                continue
            hit = False
            for ds_name, ds in self.data_streams.items():
                if fnmatch.fnmatchcase(ds_name, part):
                    out += ds["indices"]
                    hit = True
            for n in self.indices:
                if self.indices[n]["ds"] is None and fnmatch.fnmatchcase(n, part):
                    out.append(n)
                    hit = True
            if not hit and "*" not in part:
                raise EsError(404, "index_not_found_exception", f"no such index [{part}]",
                              index=part)
        return list(dict.fromkeys(out))

    def all_docs(self, expr):
        docs = []
        for n in self.targets(expr):
            for i, src in self.indices[n]["docs"].items():
                docs.append({"_index": n, "_id": i, "_source": src})
        return docs


def get_path(src, path):
    """A field of a source by its dotted path, whether written dotted or nested."""
    if path in src:
        return src[path]
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:i])
        if head in src and isinstance(src[head], dict):
            v = get_path(src[head], ".".join(parts[i:]))
            if v is not None:
                return v
    return None


def matches(src, query):
    if not query or "match_all" in query:
        return True
    if "term" in query or "match" in query:
        (field, want), = (query.get("term") or query.get("match")).items()
        if isinstance(want, dict):
            want = want.get("value", want.get("query"))
        got = get_path(src, field)
        if isinstance(got, list):
            return want in got
        return got == want or (isinstance(got, str) and str(want) == got)
    if "bool" in query:
        must = query["bool"].get("must", []) + query["bool"].get("filter", [])
        if isinstance(must, dict):
            must = [must]
        return all(matches(src, q) for q in must)
    raise EsError(400, "parsing_exception", f"unknown query [{next(iter(query))}]")


# ---- HTTP ----------------------------------------------------------------------------------


def filter_response(value, expr):
    """Response filtering (the filter_path common option): expr is a comma-separated
    list of dotted paths whose segments may hold * (any part of one field name) or be
    ** (any depth); a path with a leading - excludes. Arrays are looked through;
    objects left empty are left out, and nothing matched at all gives {}."""
    inc = [p.split(".") for p in expr.split(",") if p and not p.startswith("-")]
    exc = [p[1:].split(".") for p in expr.split(",") if p.startswith("-") and len(p) > 1]

    def step(pats, key):
        full, rest = False, []
        for p in pats:
            if p[0] == "**":
                rest.append(p)  # ** goes on matching deeper
                if len(p) > 1:
                    f, r = step([p[1:]], key)
                    full, rest = full or f, rest + r
            elif fnmatch.fnmatchcase(key, p[0]):
                if len(p) == 1:
                    full = True
                else:
                    rest.append(p[1:])
        return full, rest

    def keep(v, pats):
        if isinstance(v, list):
            out = [keep(e, pats) for e in v]
            return [e for e in out if e is not None] or None
        if not isinstance(v, dict):
            return None
        out = {}
        for k, x in v.items():
            full, rest = step(pats, k)
            if full:
                out[k] = x
            elif rest:
                y = keep(x, rest)
                if y is not None:
                    out[k] = y
        return out or None

    def drop(v, pats):
        if isinstance(v, list):
            return [drop(e, pats) for e in v]
        if not isinstance(v, dict):
            return v
        out = {}
        for k, x in v.items():
            full, rest = step(pats, k)
            if full:
                continue
            out[k] = drop(x, rest) if rest else x
        return out

    if inc:
        value = keep(value, inc)
        if value is None:
            return {}
    return drop(value, exc) if exc else value


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "es-standin"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    @property
    def cluster(self):
        return self.server.cluster

    def reply(self, status, obj=None, headers=None, raw=None):
        fp = getattr(self, "filter_path", None)
        if fp and obj is not None:
            obj = filter_response(obj, fp)
        body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        self.send_header("X-elastic-product", "Elasticsearch")
        if obj is not None or raw is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, e):
        headers = {}
        if e.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="security", charset="UTF-8", ApiKey'
        self.reply(e.status, e.body(), headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        limit = self.cluster.faults["max_content_length"]
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            n = len(data)
        else:
            if n > limit:
                return None
            data = self.rfile.read(n)
        if n > limit:
            return None
        enc = self.headers.get("Content-Encoding", "").lower()
        if enc in ("gzip", "x-gzip"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                raise EsError(400, "parse_exception", "failed to decompress the request body")
            with self.cluster.lock:
                self.cluster.stats["bulk_bodies_gzip"] += 1
        elif enc == "deflate":
            data = zlib.decompress(data)
        elif enc and enc != "identity":
            raise EsError(400, "illegal_argument_exception", f"unsupported Content-Encoding [{enc}]")
        return data

    def discard(self, n, timeout=5.0):
        self.connection.settimeout(timeout)
        try:
            while n > 0:
                got = self.rfile.read(min(n, 1 << 20))
                if not got:
                    break
                n -= len(got)
        except OSError:
            pass

    def authenticate(self):
        c = self.cluster
        if not c.users and not c.api_keys:
            return
        h = self.headers.get("Authorization")
        path = urlsplit(self.path).path
        if not h:
            raise EsError(401, "security_exception",
                          f"missing authentication credentials for REST request [{path}]",
                          header={"WWW-Authenticate": ['Basic realm="security", charset="UTF-8"',
                                                       "ApiKey"]})
        scheme, _, cred = h.partition(" ")
        try:
            decoded = base64.b64decode(cred.strip(), validate=True).decode()
        except Exception:
            decoded = None
        if scheme == "Basic" and decoded and ":" in decoded:
            user, _, pw = decoded.partition(":")
            if c.users.get(user) == pw:
                return
            raise EsError(401, "security_exception",
                          f"unable to authenticate user [{user}] for REST request [{path}]")
        if scheme == "ApiKey" and decoded in c.api_keys:
            return
        raise EsError(401, "security_exception",
                      f"unable to authenticate with provided credentials and anonymous access is "
                      f"not allowed for this request")

    def dispatch(self):
        u = urlsplit(self.path)
        parts = [unquote(p) for p in u.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        self.filter_path = query.get("filter_path") if parts[:1] != ["_standin"] else None
        with self.cluster.lock:
            self.cluster.stats["paths"].append(f"{self.command} {u.path}")
            del self.cluster.stats["paths"][:-200]
        if parts and parts[0] == "_standin":
            return self.control(parts[1:], query)
        self.authenticate()
        m = self.command
        if not parts:
            if m in ("GET", "HEAD"):
                return self.reply(200, {"name": "standin", "cluster_name": "otus-test",
                                        "version": {"number": VERSION},
                                        "tagline": "You Know, for Search"})
        elif parts[-1] == "_bulk" and len(parts) <= 2 and m in ("POST", "PUT"):
            return self.bulk(parts[0] if len(parts) == 2 else None, query)
        elif parts[0] == "_index_template" and len(parts) == 2:
            return self.index_template(parts[1])
        elif parts[-1] in ("_count", "_search") and len(parts) <= 2 and m in ("GET", "POST"):
            return self.search(parts[0] if len(parts) == 2 else None, parts[-1] == "_count", query)
        elif parts[0] == "_data_stream" and len(parts) == 2:
            return self.data_stream(parts[1])
        elif len(parts) == 2 and parts[1] == "_rollover" and m == "POST":
            with self.cluster.lock:
                if parts[0] not in self.cluster.data_streams:
                    raise EsError(404, "index_not_found_exception", f"no such index [{parts[0]}]")
                old = self.cluster.data_streams[parts[0]]["indices"][-1]
                new = self.cluster.rollover(parts[0])
            return self.reply(200, {"acknowledged": True, "old_index": old, "new_index": new,
                                    "rolled_over": True, "dry_run": False})
        elif len(parts) == 1 and m == "DELETE":
            with self.cluster.lock:
                c = self.cluster
                if parts[0] in c.indices:
                    del c.indices[parts[0]]
                    return self.reply(200, {"acknowledged": True})
            raise EsError(404, "index_not_found_exception", f"no such index [{parts[0]}]")
        raise EsError(400 if m != "GET" else 404, "illegal_argument_exception"
                      if m != "GET" else "index_not_found_exception",
                      f"no handler found for uri [{u.path}] and method [{m}]")

    def _handle(self):
        try:
            self.dispatch()
        except EsError as e:
            self.error(e)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except json.JSONDecodeError as e:
            self.error(EsError(400, "x_content_parse_exception", f"[1:1] {e}"))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    # control API
    def control(self, parts, query):
        c = self.cluster
        if parts == ["docs"]:
            with c.lock:
                docs = c.all_docs(query.get("index"))
            return self.reply(200, {"docs": docs})
        if parts == ["stats"]:
            with c.lock:
                return self.reply(200, c.stats)
        if parts == ["faults"] and self.command == "POST":
            body = json.loads(self.read_body() or b"{}")
            with c.lock:
                if "seed" in body:
                    c.rng.seed(body.pop("seed"))
                c.faults.update(body)
            return self.reply(200, c.faults)
        if parts == ["down"] and self.command == "POST":
            body = json.loads(self.read_body() or b"{}")
            self.reply(200, {"down_for": body.get("seconds", 1)})
            self.wfile.flush()
            threading.Thread(target=self.server.owner.go_down, args=(body.get("seconds", 1),),
                             daemon=True).start()
            return
        raise EsError(404, "standin", "unknown control path")

    # _index_template
    def index_template(self, name):
        c = self.cluster
        if self.command in ("PUT", "POST"):
            raw = self.read_body()
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("application/json"):
                return self.reply(406, {"error": f"Content-Type header [{ctype}] is not supported",
                                        "status": 406})
            body = json.loads(raw)
            with c.lock:
                c.put_template(name, body)
            return self.reply(200, {"acknowledged": True})
        if self.command == "GET":
            with c.lock:
                found = [{"name": n, "index_template": t} for n, t in c.templates.items()
                         if fnmatch.fnmatchcase(n, name)]
            if not found:
                raise EsError(404, "resource_not_found_exception",
                              f"index template matching [{name}] not found")
            return self.reply(200, {"index_templates": found})
        if self.command == "DELETE":
            with c.lock:
                if name not in c.templates:
                    raise EsError(404, "index_template_missing_exception",
                                  f"index_template [{name}] missing")
                del c.templates[name]
            return self.reply(200, {"acknowledged": True})
        raise EsError(405, "illegal_argument_exception", "method not allowed")

    def data_stream(self, name):
        c = self.cluster
        with c.lock:
            if self.command == "GET":
                found = [{"name": n, "timestamp_field": {"name": "@timestamp"},
                          "indices": [{"index_name": i} for i in ds["indices"]],
                          "generation": ds["generation"], "template": ds["template"],
                          "failure_store": {"enabled": ds["failure_store"]}}
                         for n, ds in c.data_streams.items() if fnmatch.fnmatchcase(n, name)]
                if not found and "*" not in name:
                    raise EsError(404, "index_not_found_exception", f"no such index [{name}]")
                return self.reply(200, {"data_streams": found})
            if self.command == "DELETE":
                if name not in c.data_streams:
                    raise EsError(404, "index_not_found_exception", f"no such index [{name}]")
                for i in c.data_streams.pop(name)["indices"]:
                    c.indices.pop(i, None)
                return self.reply(200, {"acknowledged": True})
        raise EsError(405, "illegal_argument_exception", "method not allowed")

    def search(self, target, count, query):
        raw = self.read_body()
        body = json.loads(raw) if raw else {}
        q = body.get("query")
        with self.cluster.lock:
            docs = [d for d in self.cluster.all_docs(target) if matches(d["_source"], q)]
        shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
        if count:
            return self.reply(200, {"count": len(docs), "_shards": shards})
        size = int(body.get("size", query.get("size", 10)))
        frm = int(body.get("from", query.get("from", 0)))
        hits = [dict(d, _score=1.0) for d in docs[frm:frm + size]]
        return self.reply(200, {"took": 1, "timed_out": False, "_shards": shards,
                                "hits": {"total": {"value": len(docs), "relation": "eq"},
                                         "max_score": 1.0 if hits else None, "hits": hits}})

    # _bulk
    def bulk(self, path_index, query):
        c = self.cluster
        t0 = time.monotonic()
        for k in query:
            if k not in BULK_PARAMS and k not in COMMON_PARAMS:
                self.read_body()
                raise EsError(400, "illegal_argument_exception",
                              f"request [{urlsplit(self.path).path}] contains unrecognized "
                              f"parameter: [{k}]")
        with c.lock:
            c.stats["bulk_queries"].append(urlsplit(self.path).query)
            del c.stats["bulk_queries"][:-20]
        ctype = self.headers.get("Content-Type", "")
        with c.lock:
            c.stats["content_types"].append(ctype)
            del c.stats["content_types"][:-20]
        mime = ctype.split(";")[0].strip().lower()
        if mime not in ("application/json", "application/x-ndjson"):
            self.read_body()
            return self.reply(406, {"error": f"Content-Type header [{ctype}] is not supported",
                                    "status": 406})
        data = self.read_body()
        if data is None:
            self.close_connection = True
            self.reply(413, None, {"Connection": "close"})
            # Read what the client is still sending before closing, as an HTTP server
            # does on a lingering close: closing a socket with unread data resets the
            # connection, and the reset can destroy the answer before the client reads it.
            self.wfile.flush()
            self.discard(int(self.headers.get("Content-Length") or 0))
            return
        with c.lock:
            f = c.faults
            delay = f["delay_ms"]
            fail = f["fail_requests"] > 0
            if fail:
                f["fail_requests"] -= 1
                c.stats["failed_requests"] += 1
        if delay:
            time.sleep(delay / 1000)
        if fail:
            st = f["fail_status"]
            kind = {429: "es_rejected_execution_exception", 503: "unavailable_shards_exception"}
            raise EsError(st, kind.get(st, "exception"), "injected failure")
        if not data:
            raise EsError(400, "parse_exception", "request body is required")
        if not data.endswith(b"\n"):
            raise EsError(400, "illegal_argument_exception",
                          "The bulk request must be terminated by a newline [\\n]")
        lines = data.split(b"\n")[:-1]
        require_ds_req = query.get("require_data_stream", "false") in ("", "true")
        if path_index is not None and path_index not in c.data_streams:
            check_index_name(path_index)
        # Parse every action first: a malformed line refuses the whole request.
        actions = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            try:
                act = json.loads(line)
            except ValueError:
                raise EsError(400, "x_content_parse_exception",
                              f"[1:1] Malformed action/metadata line [{i + 1}], expected "
                              f"START_OBJECT or END_OBJECT but found [VALUE_STRING]")
            if not isinstance(act, dict) or len(act) != 1:
                raise EsError(400, "illegal_argument_exception",
                              f"Malformed action/metadata line [{i + 1}], expected "
                              f"START_OBJECT but found [{type(act).__name__}]")
            (op, meta), = act.items()
            if op not in BULK_OPS:
                raise EsError(400, "illegal_argument_exception",
                              f"Malformed action/metadata line [{i + 1}], expected one of "
                              f"[create, delete, index, update] but found [{op}]")
            if not isinstance(meta, dict):
                raise EsError(400, "illegal_argument_exception",
                              f"Malformed action/metadata line [{i + 1}], expected "
                              f"START_OBJECT but found [{meta!r}]")
            for k in meta:
                if k not in ACTION_PARAMS:
                    raise EsError(400, "illegal_argument_exception",
                                  f"Action/metadata line [{i + 1}] contains an unknown "
                                  f"parameter [{k}]")
            index = meta.get("_index", path_index)
            if index is None:
                raise EsError(400, "action_request_validation_exception",
                              "Validation Failed: 1: index is missing;")
            source = None
            if op != "delete":
                if i + 1 >= len(lines):
                    raise EsError(400, "illegal_argument_exception",
                                  "The bulk request must be terminated by a newline [\\n]")
                source = lines[i + 1]
                i += 2
            else:
                i += 1
            actions.append((op, meta, index, source))
        if not actions:
            raise EsError(400, "action_request_validation_exception",
                          "Validation Failed: 1: no requests added;")
        items = []
        errors = False
        with c.lock:
            c.stats["bulk_requests"] += 1
            c.stats["bulk_items"] += len(actions)
            for op, meta, index, source in actions:
                item = self.bulk_item(op, meta, index, source, require_ds_req)
                if "error" in item:
                    errors = True
                items.append({op: item})
        took = int((time.monotonic() - t0) * 1000)
        self.reply(200, {"took": took, "errors": errors, "items": items})

    def bulk_item(self, op, meta, index, source, require_ds_req):
        c = self.cluster
        doc_id = meta.get("_id")
        if doc_id is not None and (not isinstance(doc_id, str) or len(doc_id.encode()) > 512):
            return {"_index": index, "_id": str(doc_id), "status": 400,
                    "error": {"type": "illegal_argument_exception",
                              "reason": f"id [{doc_id}] is too long, must be no longer than 512 "
                                        f"bytes but was: {len(str(doc_id).encode())}"}}
        if c.faults["reject_fraction"] and c.rng.random() < c.faults["reject_fraction"]:
            c.stats["rejected_items"] += 1
            st = c.faults["reject_status"]
            return {"_index": index, "_id": doc_id, "status": st,
                    "error": {"type": "es_rejected_execution_exception",
                              "reason": "rejected execution of coordinating operation "
                                        "[coordinating_and_primary_bytes=0, "
                                        "replica_bytes=0, all_bytes=0, "
                                        "coordinating_operation_bytes=1, "
                                        "max_coordinating_and_primary_bytes=0]"}}
        require_ds = require_ds_req or meta.get("require_data_stream") is True
        try:
            concrete, ds = c.resolve_write(index, op, require_ds)
        except EsError as e:
            return {"_index": index, "_id": doc_id, "status": e.status, "error": e.item_error()}
        idx = c.indices[concrete]
        if op == "delete":
            if doc_id in idx["docs"]:
                del idx["docs"][doc_id]
                return {"_index": concrete, "_id": doc_id, "_version": 2, "result": "deleted",
                        "status": 200}
            return {"_index": concrete, "_id": doc_id, "result": "not_found", "status": 404}
        if op == "update":
            return {"_index": concrete, "_id": doc_id, "status": 400,
                    "error": {"type": "illegal_argument_exception",
                              "reason": "update is not supported by this stand-in"}}
        try:
            src = json.loads(source)
            if not isinstance(src, dict):
                raise ValueError("not an object")
        except ValueError:
            return {"_index": concrete, "_id": doc_id, "status": 400,
                    "error": {"type": "document_parsing_exception",
                              "reason": "[1:1] failed to parse: not a JSON object"}}
        if doc_id is None:
            doc_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        try:
            if ds is not None and get_path(src, "@timestamp") is None:
                raise EsError(400, "document_parsing_exception",
                              "[1:1] failed to parse: data stream timestamp field [@timestamp] "
                              "is missing")
            mapper = Mapper(idx["mappings"], idx["settings"], doc_id, mutate=False)
            try:
                mapper.apply(src)
            except NeedsUpdate:
                mapper = Mapper(copy.deepcopy(idx["mappings"]), idx["settings"], doc_id)
                mapper.apply(src)
        except EsError as e:
            dstream = c.data_streams.get(ds) if ds else None
            if dstream and dstream["failure_store"]:
                dstream["fs_docs"].append({"_id": doc_id, "document": src, "error": e.item_error()})
                return {"_index": f".fs-{ds}-{time.strftime('%Y.%m.%d')}-000001", "_id": doc_id,
                        "_version": 1, "result": "created", "_shards": {"total": 2,
                        "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1,
                        "status": 201, "failure_store": "used"}
            err = dict(e.item_error())
            if ds:
                err["failure_store"] = "not_enabled"
            return {"_index": concrete, "_id": doc_id, "status": e.status, "error": err}
        if doc_id in idx["docs"]:
            if op == "create":
                return {"_index": concrete, "_id": doc_id, "status": 409,
                        "error": {"type": "version_conflict_engine_exception",
                                  "reason": f"[{doc_id}]: version conflict, document already "
                                            f"exists (current version [1])",
                                  "index_uuid": "standin", "shard": "0", "index": concrete}}
            result, status = "updated", 200
        else:
            result, status = "created", 201
        idx["mappings"] = mapper.root
        idx["docs"][doc_id] = src
        c.seq += 1
        return {"_index": concrete, "_id": doc_id, "_version": 1, "result": result,
                "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": c.seq,
                "_primary_term": 1, "status": status}


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False

    def __init__(self, addr, cluster, owner, tls=None):
        self.cluster = cluster
        self.owner = owner
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, Handler)
        if tls:
            # HTTPS, as a cluster with xpack.security.http.ssl enabled serves it.
            tls_serve.wrap_listener(self, tls)

    def process_request_thread(self, request, client_address):
        with self.conns_lock:
            self.conns.add(request)
        try:
            err = tls_serve.handshake(request)
            if err:
                with self.cluster.lock:
                    self.cluster.stats["tls_handshake_failures"] += 1
                    self.cluster.stats["tls_errors"].append(err[:200])
                self.shutdown_request(request)
                return
            super().process_request_thread(request, client_address)
        finally:
            with self.conns_lock:
                self.conns.discard(request)


class Standin:
    def __init__(self, port=0, tls=None):
        self.cluster = Cluster()
        self.port = port
        self.tls = tls  # an ssl.SSLContext to serve HTTPS, or None
        self.server = None
        self.thread = None

    def start(self):
        self.server = Server(("127.0.0.1", self.port), self.cluster, self, self.tls)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        srv = self.server
        srv.shutdown()
        srv.server_close()
        with srv.conns_lock:
            for s in list(srv.conns):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def go_down(self, seconds):
        time.sleep(0.05)  # let the control answer leave
        self.stop()
        time.sleep(seconds)
        while True:
            try:
                self.start()
                return
            except OSError:
                time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--user", action="append", default=[])
    ap.add_argument("--api-key", action="append", default=[])
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate chain")
    ap.add_argument("--tls-key", help="the certificate's PEM private key")
    args = ap.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    s = Standin(args.port, tls)
    for u in args.user:
        name, _, pw = u.partition(":")
        s.cluster.users[name] = pw
    s.cluster.api_keys.update(args.api_key)
    s.start()
    print(f"listening {s.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
