"""test_assistant_stream.py - the assistant's answer streamed as server-sent events by
community-server (POST /v1/assistant/ask with Accept: text/event-stream), over real sockets:

- the offline provider: the text arrives in pieces ("delta"), then "citations", "action" (a
  proposed RSVP, confirmed over HTTP afterwards) and "done" with the stored message; what is
  stored is what a plain (JSON) ask stores;
- the OpenAI-compatible provider against the stand-in (tests/fixtures/openai_standin.py): its
  deltas are passed on; an upstream failure after the first delta is an "error" event;
- a client that goes away mid-stream stops the answer: nothing is stored;
- errors before the first event are ordinary problem responses; Idempotency-Key is refused.

With CM_HTTP_STREAM_PG=1 (test pg-http-assistant) each server's store is a fresh schema on the
PostgreSQL server named by CM_TEST_PG_URI; without that URI it skips."""
import json
import os
import socket
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, problem, run, test  # noqa: E402

PASSWORD = "correct horse battery"
PG = os.environ.get("CM_HTTP_STREAM_PG") == "1"
STANDIN = os.environ.get("CM_TEST_OPENAI_STANDIN", "")
S = {"schemas": [], "servers": []}


def psql(sql):
    subprocess.run(["psql", os.environ["CM_TEST_PG_URI"], "-q", "-v", "ON_ERROR_STOP=1",
                    "-c", sql], check=True, stdout=subprocess.DEVNULL)


def new_server(env):
    """A community-server on a fresh store (a new SQLite file, or a new PostgreSQL schema),
    with an organizer (an admin) and a member signed in, and two upcoming events."""
    uri = None
    schema = None
    if PG:
        schema = "cmh_stream_%d_%d" % (os.getpid(), len(S["schemas"]))
        S["schemas"].append(schema)
        psql("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s" % (schema, schema))
        base = os.environ["CM_TEST_PG_URI"]
        uri = "%s%soptions=-csearch_path%%3D%s" % (base, "&" if "?" in base else "?", schema)
    srv = Server(args=["--rate-limit", "0"], db_uri=uri, env=env)
    S["servers"].append(srv)
    tokens = {}
    for email in ("org@example.test", "ann@example.test"):
        st, _, _, js = srv.request("POST", "/v1/members",
                                   {"email": email, "name": "X", "password": PASSWORD})
        eq(st, 201, "signup")
        if email.startswith("org"):
            if PG:
                psql("UPDATE %s.members SET role = 'admin' WHERE id = %d" %
                     (schema, js["member"]["id"]))
            else:
                srv.make_admin(js["member"]["id"])
        st, _, _, js = srv.request("POST", "/v1/sessions", {"email": email, "password": PASSWORD})
        eq(st, 200, "login")
        tokens[email.split("@")[0]] = js["session"]["token"]
    srv.tokens = tokens
    srv.events = []
    for title, day in (("Rust Meetup NYC", "2030-02-03"), ("Go night", "2030-02-04")):
        st, _, _, js = srv.request("POST", "/v1/events", {
            "title": title, "description": title + " talks in New York", "format": "in_person",
            "start_local": day + "T18:00", "end_local": day + "T21:00",
            "timezone": "America/New_York", "publish": True}, token=tokens["org"])
        eq(st, 201, "events.create")
        srv.events.append(js["id"])
    return srv


def standin_release():
    req = urllib.request.Request(S["standin"] + "/release", data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def setup():
    if STANDIN:
        p = subprocess.Popen([sys.executable, STANDIN], stdout=subprocess.PIPE)
        line = p.stdout.readline().decode()
        check(line.startswith("PORT "), "stand-in started: %r" % line)
        S["standin_proc"] = p
        S["standin"] = "http://127.0.0.1:%d" % int(line.split()[1])
    S["offline"] = new_server({"COMMUNITY_ASSISTANT": "offline"})
    return S


def teardown(_):
    for srv in S["servers"]:
        srv.close()
    if "standin_proc" in S:
        S["standin_proc"].terminate()
        S["standin_proc"].wait()
    for schema in S["schemas"]:
        psql("DROP SCHEMA IF EXISTS %s CASCADE" % schema)


def openai_server(scenario):
    check(STANDIN, "CM_TEST_OPENAI_STANDIN names the stand-in")
    return new_server({"COMMUNITY_ASSISTANT": "openai",
                       "COMMUNITY_ASSISTANT_URL": S["standin"] + "/" + scenario + "/v1",
                       "COMMUNITY_ASSISTANT_KEY": "sk-stream-test",
                       "COMMUNITY_ASSISTANT_RETRIES": "0"})


class Stream:
    """POST path with Accept: text/event-stream on a raw socket; events read one by one."""

    def __init__(self, srv, path, body, token, headers=()):
        self.sock = socket.create_connection((srv.host, srv.port), timeout=60)
        data = json.dumps(body).encode()
        head = ["POST %s HTTP/1.1" % path, "Host: %s:%d" % (srv.host, srv.port),
                "Accept: text/event-stream", "Content-Type: application/json",
                "Authorization: Bearer " + token, "Content-Length: %d" % len(data)]
        head += list(headers)
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            check(chunk, "the server closed before its head: %r" % self.buf)
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            self.headers[k.strip().lower()] = v.strip()

    def body(self):
        """The rest until close (a non-streamed answer: by Content-Length)."""
        n = int(self.headers.get("content-length", "-1"))
        while n < 0 or len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        return self.buf if n < 0 else self.buf[:n]

    def next(self):
        """(event, data) of the next event, or None at the end of the stream."""
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                check(self.buf == b"", "the stream ends inside an event: %r" % self.buf)
                return None
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n\n", 1)
        ev, data = "message", []
        for line in raw.decode("utf-8").split("\n"):
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        return ev, json.loads("\n".join(data))

    def all(self):
        out = []
        while True:
            e = self.next()
            if e is None:
                return out
            out.append(e)

    def close(self):
        self.sock.close()


def names(events):
    """Event names, a run of deltas as one "delta"."""
    out = []
    for ev, _ in events:
        if not (ev == "delta" and out and out[-1] == "delta"):
            out.append(ev)
    return out


def conversations(srv, token):
    st, _, _, js = srv.request("GET", "/v1/assistant/conversations", token=token)
    eq(st, 200, "assistant.conversations")
    return js["items"]


def rsvps(srv, token):
    st, _, _, js = srv.request("GET", "/v1/me/rsvps", token=token)
    eq(st, 200, "rsvps.mine")
    return js["items"]


def check_sse_head(s):
    eq(s.status, 200, "status")
    eq(s.headers.get("content-type"), "text/event-stream; charset=utf-8", "content type")
    eq(s.headers.get("cache-control"), "no-store", "cache-control")
    eq(s.headers.get("connection"), "close", "the connection ends the stream")
    check("content-length" not in s.headers, "no Content-Length")


@test
def offline_answer_streams_in_pieces_and_is_stored_as_sent(ctx):
    srv = S["offline"]
    tok = srv.tokens["ann"]
    s = Stream(srv, "/v1/assistant/ask", {"message": "Which rust meetups are there?"}, tok)
    check_sse_head(s)
    evs = s.all()
    s.close()
    eq(names(evs), ["delta", "citations", "done"], "events")
    deltas = [d["text"] for e, d in evs if e == "delta"]
    check(len(deltas) > 3, "several pieces: %r" % deltas)
    done = evs[-1][1]
    msg = done["message"]
    eq("".join(deltas), msg["text"], "the pieces make the stored text")
    eq(evs[-2][1]["citations"], msg["citations"], "citations event")
    check(any(c["type"] == "event" and c["id"] == srv.events[0] for c in msg["citations"]),
          "cites the Rust meetup: %r" % msg["citations"])
    # stored exactly as sent
    st, _, _, conv = srv.request("GET", "/v1/assistant/conversations/%d" %
                                 done["conversation_id"], token=tok)
    eq(st, 200, "assistant.get")
    eq([m["role"] for m in conv["messages"]], ["user", "assistant"], "two messages")
    eq(conv["messages"][1], msg, "the stored answer is the streamed one")
    # the same question without streaming answers the same text
    st, _, _, plain = srv.request("POST", "/v1/assistant/ask",
                                  {"message": "Which rust meetups are there?"}, token=tok)
    eq(st, 200, "plain ask")
    eq(plain["message"]["text"], msg["text"], "same answer as JSON")
    eq(plain["message"]["citations"], msg["citations"], "same citations as JSON")


@test
def proposed_action_streams_then_is_confirmed(ctx):
    srv = S["offline"]
    tok = srv.tokens["ann"]
    s = Stream(srv, "/v1/assistant/ask", {"message": "RSVP me to the next Rust meetup"}, tok)
    check_sse_head(s)
    evs = s.all()
    s.close()
    eq(names(evs), ["delta", "citations", "action", "done"], "events")
    action = evs[-2][1]
    eq(action["op"], "rsvps.add", "proposed op")
    eq(action["input"]["event_id"], srv.events[0], "the Rust meetup")
    check(action["token"].startswith("cma_"), "token")
    eq(evs[-1][1]["pending_action"], action, "done has the same action")
    eq(rsvps(srv, tok), [], "nothing written before confirming")
    st, _, _, js = srv.request("POST", "/v1/assistant/confirm", {
        "conversation_id": evs[-1][1]["conversation_id"], "token": action["token"]}, token=tok)
    eq(st, 200, "confirm (body %r)" % js)
    eq(js["status"], "confirmed", "confirmed")
    eq([r["event_id"] for r in rsvps(srv, tok)], [srv.events[0]], "the RSVP exists")


@test
def errors_before_the_stream_are_problem_responses(ctx):
    srv = S["offline"]
    tok = srv.tokens["ann"]
    s = Stream(srv, "/v1/assistant/ask", {"message": ""}, tok)
    body = s.body()
    s.close()
    eq(s.status, 422, "empty message (%r)" % body)
    eq(s.headers.get("content-type"), "application/problem+json", "problem")
    s = Stream(srv, "/v1/assistant/ask", {"message": "hi"}, "cms_not_a_session")
    s.body()
    s.close()
    eq(s.status, 401, "bad token")
    s = Stream(srv, "/v1/assistant/ask", {"message": "hi", "conversation_id": 999999}, tok)
    js = json.loads(s.body())
    s.close()
    eq(s.status, 404, "another conversation")
    eq(js["code"], "CM_ENOTFOUND", "code")
    s = Stream(srv, "/v1/assistant/ask", {"message": "hi"}, tok, ["Idempotency-Key: k1"])
    js = json.loads(s.body())
    s.close()
    eq(s.status, 400, "Idempotency-Key")
    eq(js["field"], "Idempotency-Key", "field")
    # an operation that does not stream answers JSON as usual
    problem(srv.request("POST", "/v1/assistant/confirm", {"conversation_id": 1, "token": "x"},
                        headers={"Accept": "text/event-stream"}, token=tok), 404, "CM_ENOTFOUND")


@test
def openapi_and_metrics_describe_the_stream(ctx):
    srv = S["offline"]
    st, _, _, doc = srv.request("GET", "/openapi.json")
    eq(st, 200, "openapi")
    op = doc["paths"]["/v1/assistant/ask"]["post"]
    content = op["responses"]["200"]["content"]
    check("text/event-stream" in content, "text/event-stream documented: %r" % list(content))
    check("application/json" in content, "JSON still documented")
    st, _, body, _ = srv.request("GET", "/metrics")
    eq(st, 200, "metrics")
    check(b"community_http_streams_total " in body, "streams counter")


@test
def openai_deltas_are_forwarded(ctx):
    srv = openai_server("ok")
    tok = srv.tokens["ann"]
    s = Stream(srv, "/v1/assistant/ask", {"message": "rust meetup in new york"}, tok)
    check_sse_head(s)
    evs = s.all()
    s.close()
    eq(names(evs), ["delta", "citations", "done"], "events")
    deltas = [d["text"] for e, d in evs if e == "delta"]
    msg = evs[-1][1]["message"]
    eq(msg["model"], "standin-1", "model")
    check(len(deltas) > 2, "the stand-in's pieces: %r" % deltas)
    check(all(len(d) <= 6 for d in deltas), "as the stand-in cut them: %r" % deltas)
    eq("".join(deltas), msg["text"], "joined")
    check(msg["text"].startswith("You could try [event:"), "answer: %r" % msg["text"])


@test
def upstream_error_after_the_first_delta_is_an_error_event(ctx):
    srv = openai_server("streamerror")
    tok = srv.tokens["ann"]
    s = Stream(srv, "/v1/assistant/ask", {"message": "rust meetup"}, tok)
    check_sse_head(s)
    evs = s.all()
    s.close()
    eq(names(evs), ["delta", "error"], "events")
    err = evs[-1][1]
    eq(err["code"], "CM_EIO", "code")
    eq(err["status"], 500, "problem status")
    check(err["request_id"], "request id")
    eq(conversations(srv, tok), [], "nothing stored")


@test
def client_gone_mid_stream_stops_the_answer(ctx):
    srv = openai_server("gate")
    tok = srv.tokens["ann"]
    s = Stream(srv, "/v1/assistant/ask", {"message": "rust meetup in new york"}, tok)
    check_sse_head(s)
    eq(s.next(), ("delta", {"text": "You "}), "the first piece")
    s.close()  # the stand-in holds the rest until released

    def abandoned():
        st, _, body, _ = srv.request("GET", "/metrics")
        for line in body.decode().splitlines():
            if line.startswith("community_http_streams_abandoned_total "):
                return int(float(line.split()[1]))
        raise AssertionError("no community_http_streams_abandoned_total")

    # the server saw the client go away (an event, polled: no timing)
    for _ in range(3000):
        if abandoned() == 1:
            break
    eq(abandoned(), 1, "the server noticed the disconnect")
    standin_release()
    # the request ends as canceled (its access log line), having stored nothing
    for _ in range(3000):
        lines = [json.loads(l) for l in list(srv.lines) if l.startswith("{")]
        done = [l for l in lines if l.get("msg") == "request" and l.get("op") == "assistant.ask"]
        if done:
            break
        srv.request("GET", "/healthz")
    check(done, "the ask request was logged")
    eq(done[0]["code"], "CM_ECANCELED", "canceled")
    eq(done[0]["status"], 499, "status in the log")
    eq(conversations(srv, tok), [], "nothing stored")



@test
def servers_exit_cleanly(ctx):
    for srv in S["servers"]:
        srv.check_clean_exit()

if __name__ == "__main__":
    if PG and not os.environ.get("CM_TEST_PG_URI"):
        print("1..0 # SKIP CM_TEST_PG_URI is not set (scripts/pg-test-server.sh start)")
        sys.exit(0)
    run(setup, teardown)
