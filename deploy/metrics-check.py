#!/usr/bin/env python3
"""metrics-check.py - the Grafana dashboard and the alerting rules query only
metrics that community-server really exports (meson test deploy-metrics, TAP).

  deploy/metrics-check.py SOURCE_ROOT   (COMMUNITY_SERVER = the built server)

Starts the built community-server on a temporary SQLite database, sends a few
requests, scrapes GET /metrics and takes the metric names from its `# TYPE`
lines (a histogram adds _bucket, _sum and _count). Then every metric name in
every PromQL expression of deploy/grafana/*.json (panel targets and template
variable queries) and deploy/prometheus/alerts.yml must be one of them, or
`up` (Prometheus's own). The dashboard's expressions are also parsed by
`promtool check rules` (Grafana's $variables replaced by sample values), so a
syntax error fails here, not in front of an operator.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(SRC, "examples/http/tests"))
import httptest  # noqa: E402

PROMETHEUS_OWN = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan", "atan2"}
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "6h",
                "$instance": ".*", "${instance}": ".*"}


def metric_names(expr):
    """The metric names an expression selects: identifiers outside strings,
    label matchers, ranges and grouping clauses that are not function calls
    or keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\boffset\s+\S+", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def dashboard_exprs(path):
    with open(path) as f:
        d = json.load(f)
    out = []

    def panels(ps):
        for p in ps:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append(("panel %r" % p.get("title"), t["expr"]))
            panels(p.get("panels", []))

    panels(d.get("panels", []))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"\s*label_values\((.*),\s*\w+\)\s*$", q or "")
        out.append(("variable %r" % v.get("name"), m.group(1) if m else q))
    return d, out


def alert_exprs(path):
    import yaml  # python3-yaml: a dependency of yamllint (scripts/setup.sh)
    with open(path) as f:
        doc = yaml.safe_load(f)
    return [("alert %r" % r.get("alert") or r.get("record"), r["expr"])
            for g in doc["groups"] for r in g["rules"]]


def grafana_to_promql(expr):
    for k, v in sorted(GRAFANA_VARS.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(k, v)
    return expr


srv = None
exported = set()


def setup():
    global srv
    srv = httptest.Server()
    # Some traffic, so that the per-route series exist too.
    srv.request("GET", "/readyz")
    srv.request("GET", "/v1/events")
    st, hd, data, _ = srv.request("GET", "/metrics")
    httptest.eq(st, 200, "GET /metrics")
    for line in data.decode().splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            exported.add(m.group(1))
            if m.group(2) in ("histogram", "summary"):
                exported.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
    httptest.check(len(exported) > 10, "too few metric families scraped: %s" % exported)
    return srv


def check_names(where_exprs):
    bad = []
    for where, expr in where_exprs:
        for n in sorted(metric_names(expr) - exported - PROMETHEUS_OWN):
            bad.append("%s uses %s, which /metrics does not export" % (where, n))
    httptest.check(not bad, "\n".join(bad))


@httptest.test
def extractor_finds_metric_names(_ctx):
    httptest.eq(metric_names('histogram_quantile(0.99, sum by (le, route) (rate('
                             'community_x_bucket{route!~"/a|b",le="+Inf"}[$__rate_interval])))'
                             ' / on(instance) group_left up offset 5m > bool 1'),
                {"community_x_bucket", "up"}, "names")
    httptest.eq(metric_names('time() - max(process_start_time_seconds{job="c"}) * 3600'),
                {"process_start_time_seconds"}, "names")


@httptest.test
def dashboard_queries_exported_metrics(_ctx):
    files = sorted(glob.glob(os.path.join(SRC, "deploy/grafana/*.json")))
    httptest.check(files, "no dashboard in deploy/grafana")
    for path in files:
        d, exprs = dashboard_exprs(path)
        httptest.check(len(exprs) > 10, "%s: too few queries (%d)" % (path, len(exprs)))
        ids = [p["id"] for p in d["panels"]]
        httptest.eq(len(ids), len(set(ids)), "%s: panel ids unique" % path)
        for p in d["panels"]:
            if p["type"] != "row":
                httptest.check(p.get("targets"), "panel %r has no query" % p.get("title"))
        check_names(exprs)


@httptest.test
def alerts_query_exported_metrics(_ctx):
    exprs = alert_exprs(os.path.join(SRC, "deploy/prometheus/alerts.yml"))
    httptest.check(len(exprs) >= 5, "too few alerting rules")
    check_names(exprs)


@httptest.test
def dashboard_queries_parse(_ctx):
    """promtool parses each panel query as a recording rule."""
    promtool = os.environ.get("PROMTOOL") or "promtool"
    rules = []
    for path in sorted(glob.glob(os.path.join(SRC, "deploy/grafana/*.json"))):
        _, exprs = dashboard_exprs(path)
        for i, (where, expr) in enumerate(exprs):
            rules.append({"record": "dashboard:q%d" % i, "expr": grafana_to_promql(expr)})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)  # JSON is YAML
        name = f.name
    try:
        r = subprocess.run([promtool, "check", "rules", name], capture_output=True, text=True)
    finally:
        os.unlink(name)
    httptest.eq(r.returncode, 0, "promtool check rules on the dashboard queries:\n%s%s"
                % (r.stdout, r.stderr))


def teardown(_):
    if srv:
        srv.close()


if __name__ == "__main__":
    sys.exit(httptest.run(setup, teardown))
