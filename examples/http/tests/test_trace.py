"""test_trace.py - OpenTelemetry tracing of community-server and `community
worker`, against a local OTLP/HTTP JSON receiver (a Python HTTP server that
parses what it is sent).

- a request with a W3C traceparent yields its server span, the operation's
  span and the SQL statements' spans, in that trace, each the child of the
  one before; the SQL spans carry the statement text but no parameter value
  (the member's e-mail address and password appear nowhere in the export);
- an outbound HTTP call (the embeddings API, served by the same receiver)
  carries a traceparent naming its client span, also for an unsampled trace;
- sampling ratio 0 exports nothing;
- a collector that hangs or is down neither fails nor holds up requests:
  spans are dropped and counted (community_trace_spans_total);
- `community worker` exports a span per job run with its SQL below it.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, run, test  # noqa: E402

CLI = os.environ.get("COMMUNITY_CLI", "")
PASSWORD = "correct horse battery staple 42"
DIM = 16


class Receiver:
    """OTLP/HTTP JSON receiver and embeddings API stand-in on loopback."""

    def __init__(self, hang=False):
        self.bodies = []      # raw /v1/traces bodies
        self.spans = []       # every span received, with its resource
        self.embed_headers = []
        self.hang = threading.Event() if hang else None
        self.hung = threading.Event()
        self.cond = threading.Condition()
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if self.path == "/v1/traces":
                    if rec.hang is not None:
                        rec.hung.set()
                        rec.hang.wait(120)
                    doc = json.loads(body)
                    with rec.cond:
                        rec.bodies.append(body.decode())
                        for rs in doc["resourceSpans"]:
                            res = {a["key"]: a["value"].get("stringValue")
                                   for a in rs["resource"]["attributes"]}
                            for ss in rs["scopeSpans"]:
                                for sp in ss["spans"]:
                                    sp["resource"] = res
                                    rec.spans.append(sp)
                        rec.cond.notify_all()
                    self.reply(200, b"{}")
                elif self.path == "/v1/embeddings":
                    req = json.loads(body)
                    with rec.cond:
                        rec.embed_headers.append(dict(self.headers))
                    data = [{"index": i, "embedding": [((i + j) % 5 + 1) / 10.0
                                                       for j in range(DIM)]}
                            for i in range(len(req["input"]))]
                    self.reply(200, json.dumps({"data": data, "model": req["model"]}).encode())
                else:
                    self.reply(404, b"{}")

            def reply(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, pred, what, timeout=60):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                check(left > 0, "timed out waiting for %s; got %d spans" % (what, len(self.spans)))
                self.cond.wait(left)

    def trace(self, trace_id):
        with self.cond:
            return [s for s in self.spans if s["traceId"] == trace_id]

    def close(self):
        if self.hang is not None:
            self.hang.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def otel_env(endpoint, **extra):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50",
           "OTEL_SERVICE_NAME": "community-api-test"}
    env.update(extra)
    return env


def attrs(span):
    out = {}
    for a in span.get("attributes", []):
        v = a["value"]
        out[a["key"]] = v.get("stringValue", v.get("intValue"))
    return out


def metric(srv, name, labels):
    st, _, data, _ = srv.request("GET", "/metrics")
    eq(st, 200, "/metrics")
    for line in data.decode().splitlines():
        if line.startswith(name + "{" + labels + "}"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no %s{%s} in /metrics" % (name, labels))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@test
def request_spans_follow_the_callers_traceparent():
    rec = Receiver()
    srv = Server(args=["--rate-limit", "0"], env=otel_env(rec.url))
    try:
        email = "trace.me@example.org"
        st, _, data, _ = srv.request(
            "POST", "/v1/members", {"email": email, "name": "Tracy", "password": PASSWORD},
            headers={"traceparent": "00-%s-%s-01" % (TRACE, PARENT)})
        eq(st, 201, "sign-up: %s" % data[:200])
        rec.wait_for(lambda: any(s["kind"] == 2 for s in rec.trace(TRACE)), "the server span")
        srv.check_clean_exit()  # flushes the rest
        spans = rec.trace(TRACE)
        server = [s for s in spans if s["kind"] == 2]
        eq(len(server), 1, "one server span")
        server = server[0]
        eq(server["parentSpanId"], PARENT, "server span's parent is the caller's span")
        eq(server["name"], "POST /v1/members", "server span name")
        a = attrs(server)
        eq(a.get("http.route"), "/v1/members", "http.route")
        eq(a.get("http.response.status_code"), "201", "status code")
        eq(server["resource"].get("service.name"), "community-api-test", "service.name")
        ops = [s for s in spans if s.get("parentSpanId") == server["spanId"]]
        eq([s["name"] for s in ops], ["members.signup"], "the operation span under it")
        op = ops[0]
        eq(op["kind"], 1, "operation span kind")
        sql = [s for s in spans if s.get("parentSpanId") == op["spanId"]]
        check(len(sql) >= 2, "SQL spans under the operation: %s" % [s["name"] for s in spans])
        for s in sql:
            eq(s["kind"], 3, "SQL span kind")
            a = attrs(s)
            eq(a.get("db.system"), "sqlite", "db.system")
            check(a.get("db.query.text"), "statement text in %s" % s["name"])
            eq(a.get("db.operation.name"), s["name"], "statement id")
        check(any("INSERT" in attrs(s)["db.query.text"].upper() for s in sql),
              "the member insert is traced")
        for s in spans:
            check(int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]), "span times")
        # No parameter value, and no secret, anywhere in what was exported.
        everything = "".join(rec.bodies)
        check(email not in everything and "trace.me" not in everything, "no e-mail address")
        check(PASSWORD not in everything, "no password")
    finally:
        srv.close()
        rec.close()


@test
def postgresql_statements_are_traced_too():
    """The same spans with the PostgreSQL backend (CM_TEST_PG_URI, which
    scripts/test.sh and CI provide), in a schema of its own."""
    uri = os.environ.get("CM_TEST_PG_URI")
    if not uri:
        check(os.environ.get("CI") != "true", "CM_TEST_PG_URI is not set under CI")
        print("# PostgreSQL part not run: no CM_TEST_PG_URI")
        return
    schema = "trace_test_%d" % os.getpid()
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", uri, "-c"]
    subprocess.run(psql + ["CREATE SCHEMA " + schema], check=True, capture_output=True)
    sep = "&" if "?" in uri else "?"
    rec = Receiver()
    srv = None
    try:
        srv = Server(args=["--rate-limit", "0", "--db",
                           uri + sep + "options=-csearch_path%3D" + schema],
                     env=otel_env(rec.url))
        trace = "33333333333333333333333333333333"
        st, _, data, _ = srv.request("GET", "/v1/events",
                                     headers={"traceparent": "00-%s-%s-01" % (trace, PARENT)})
        eq(st, 200, "events: %s" % data[:200])
        srv.check_clean_exit()
        spans = rec.trace(trace)
        op = [s for s in spans if s["name"] == "events.list"]
        eq(len(op), 1, "operation span: %s" % [s["name"] for s in spans])
        sql = [s for s in spans if s.get("parentSpanId") == op[0]["spanId"]]
        check(sql, "SQL spans under the operation")
        for s in sql:
            eq(attrs(s).get("db.system"), "postgresql", "db.system")
            check("$1" in attrs(s)["db.query.text"] or "$" not in attrs(s)["db.query.text"],
                  "PostgreSQL placeholders")
    finally:
        if srv:
            srv.close()
        rec.close()
        subprocess.run(psql + ["DROP SCHEMA %s CASCADE" % schema], capture_output=True)


@test
def outbound_calls_carry_a_traceparent():
    rec = Receiver()
    env = otel_env(rec.url, COMMUNITY_EMBEDDER="openai", COMMUNITY_EMBEDDINGS_URL=rec.url + "/v1",
                   COMMUNITY_EMBEDDINGS_KEY="sk-test-key-123456", COMMUNITY_EMBEDDINGS_DIM=str(DIM),
                   COMMUNITY_EMBEDDINGS_MODEL="test-model")
    srv = Server(args=["--rate-limit", "0"], env=env)
    try:
        for flags, trace in (("01", "11111111111111111111111111111111"),
                             ("00", "22222222222222222222222222222222")):
            n = len(rec.embed_headers)
            st, _, data, _ = srv.request(
                "POST", "/v1/search", {"query": "board games tonight"},
                headers={"traceparent": "00-%s-%s-%s" % (trace, PARENT, flags)})
            eq(st, 200, "search: %s" % data[:300])
            check(len(rec.embed_headers) > n, "the embeddings API was called")
            tp = [h.get("traceparent") or h.get("Traceparent") for h in rec.embed_headers[n:]]
            for v in tp:
                check(v and v.startswith("00-%s-" % trace) and v.endswith("-" + flags),
                      "outbound traceparent %r in trace %s, flags %s" % (v, trace, flags))
        sampled = "11111111111111111111111111111111"
        rec.wait_for(lambda: any(s["kind"] == 3 and attrs(s).get("http.request.method")
                                 for s in rec.trace(sampled)), "the client span")
        srv.check_clean_exit()
        spans = rec.trace(sampled)
        by_id = {s["spanId"]: s for s in spans}
        client = [s for s in spans if s["kind"] == 3 and attrs(s).get("http.request.method")]
        check(client, "a client span")
        sent = [h.get("traceparent") or h.get("Traceparent") for h in rec.embed_headers]
        for c in client:
            check(any(v.split("-")[2] == c["spanId"] for v in sent if v),
                  "the traceparent sent names the client span")
            check(attrs(c).get("url.full", "").endswith("/v1/embeddings"), "url.full")
            eq(attrs(c).get("http.response.status_code"), "200", "client status")
            parent = by_id.get(c.get("parentSpanId"))
            check(parent and parent["name"] == "search.semantic",
                  "client span under the operation")
        eq(rec.trace("22222222222222222222222222222222"), [], "unsampled trace not exported")
        check("sk-test-key-123456" not in "".join(rec.bodies), "no API key exported")
    finally:
        srv.close()
        rec.close()


@test
def ratio_zero_exports_nothing():
    rec = Receiver()
    srv = Server(args=["--rate-limit", "0"],
                 env=otel_env(rec.url, OTEL_TRACES_SAMPLER="traceidratio",
                              OTEL_TRACES_SAMPLER_ARG="0"))
    try:
        for i in range(20):
            hd = {"traceparent": "00-%s-%s-01" % (TRACE, PARENT)} if i % 2 else {}
            eq(srv.request("GET", "/v1/events", headers=hd)[0], 200, "events")
        eq(metric(srv, "community_trace_spans_total", 'outcome="exported"'), 0, "exported")
        srv.check_clean_exit()  # the exporter sends whatever is queued before exit
        eq(rec.bodies, [], "nothing exported")
    finally:
        srv.close()
        rec.close()


@test
def a_hanging_collector_holds_up_no_request():
    rec = Receiver(hang=True)
    srv = Server(args=["--rate-limit", "0"],
                 env=otel_env(rec.url, OTEL_BSP_MAX_QUEUE_SIZE="4",
                              OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2",
                              OTEL_EXPORTER_OTLP_TIMEOUT="600000"))
    try:
        eq(srv.request("GET", "/v1/events")[0], 200, "first request")
        check(rec.hung.wait(60), "the exporter is stuck in its first export")
        conn = srv.conn(timeout=10)  # a request held up by the exporter fails here
        try:
            for _ in range(100):
                eq(srv.request("GET", "/v1/events", conn=conn)[0], 200, "request")
        finally:
            conn.close()
        check(metric(srv, "community_trace_spans_total", 'outcome="dropped"') > 0,
              "full queue: spans dropped and counted")
        # Stopping cancels the export still stuck at the flush deadline.
        srv.check_clean_exit()
    finally:
        rec.hang.set()
        srv.close()
        rec.close()


@test
def a_collector_that_is_down_fails_no_request():
    srv = Server(args=["--rate-limit", "0"],
                 env=otel_env("http://127.0.0.1:%d" % free_port()))
    try:
        for _ in range(20):
            eq(srv.request("GET", "/v1/events")[0], 200, "request")
        deadline = time.monotonic() + 60
        while metric(srv, "community_trace_spans_total", 'outcome="failed"') == 0:
            check(time.monotonic() < deadline, "failed exports counted")
            time.sleep(0.05)
        srv.check_clean_exit()
        warn = [l for l in srv.log_objects() if "span export failed" in l.get("msg", "")]
        check(warn, "the failure is logged")
    finally:
        srv.close()


@test
def an_invalid_sampler_stops_the_server():
    env = dict(os.environ, **otel_env("http://127.0.0.1:9", OTEL_TRACES_SAMPLER="sometimes"))
    tmp = tempfile.mkdtemp(prefix="cmh-trace-")
    r = subprocess.run([os.environ["COMMUNITY_SERVER"], "--listen", "127.0.0.1:0", "--db",
                        "sqlite://" + os.path.join(tmp, "db.sqlite")],
                       env=env, capture_output=True, text=True, timeout=60)
    eq(r.returncode, 2, "exit code")
    check("OTEL_TRACES_SAMPLER" in r.stdout + r.stderr, "the variable is named: %s" % r.stdout)


@test
def the_worker_traces_its_job_runs():
    check(CLI and os.path.exists(CLI), "COMMUNITY_CLI is the built community binary")
    rec = Receiver()
    tmp = tempfile.mkdtemp(prefix="cmh-trace-")
    env = dict(os.environ, **otel_env(rec.url))
    env["COMMUNITY_DB"] = "sqlite://" + os.path.join(tmp, "w.db")
    del env["OTEL_SERVICE_NAME"]
    try:
        r = subprocess.run([CLI, "worker", "--once", "--json-logs", "--poll-ms", "50"],
                           env=env, capture_output=True, text=True, timeout=120)
        eq(r.returncode, 0, "worker exit: %s" % r.stderr[-2000:])
        # The worker flushed its spans before exiting: everything is here.
        jobs = [s for s in rec.spans if s["kind"] == 5]
        check(jobs, "job spans: %s" % [s["name"] for s in rec.spans][:20])
        for j in jobs:
            eq(j["resource"].get("service.name"), "community-worker", "service.name")
            a = attrs(j)
            eq(a.get("cm.job.kind"), j["name"], "job kind")
            check(a.get("cm.job.queue") and a.get("cm.job.id"), "queue and id")
            check("parentSpanId" not in j, "a job run starts its trace")
        ids = {j["spanId"] for j in jobs}
        sql = [s for s in rec.spans if s["kind"] == 3 and s.get("parentSpanId") in ids]
        check(sql, "SQL spans under the job runs")
    finally:
        rec.close()


if __name__ == "__main__":
    run()
