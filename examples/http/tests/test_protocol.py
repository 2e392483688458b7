"""test_protocol.py - community-server's HTTP/1.1 handling over raw sockets:
keep-alive, pipelining, malformed requests, size limits (413, 431),
Expect: 100-continue, HTTP/1.0, strict framing (smuggling shapes, trailers),
read/idle timeouts, rate limiting (429)."""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, parse_responses, problem, run, test  # noqa: E402

S = {}


def setup():
    # Small limits so that the tests can hit them; timeouts long enough for
    # a loaded CI machine, short enough to be waited for.
    S["srv"] = Server(args=["--rate-limit", "0", "--max-body", "4096", "--max-header", "2048",
                            "--max-headers", "20", "--read-timeout", "1500",
                            "--idle-timeout", "1500"])
    return S["srv"]


def teardown(srv):
    srv.close()
    for k in ("limited", "cap"):
        if k in S:
            S[k].close()


def get(path, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, extra)).encode()


def post_json(path, body, extra=""):
    data = json.dumps(body).encode()
    return ("POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s\r\n" % (path, len(data), extra)).encode() + data


def recv_n_responses(sock, n):
    """Read until n complete responses have arrived (or the peer closes)."""
    buf = b""
    while True:
        try:
            got = parse_responses(buf)
            if len(got) >= n:
                return got
        except ValueError:
            pass
        b = sock.recv(65536)
        if not b:
            return parse_responses(buf)
        buf += b


def members_count(srv):
    st, _, data, _ = srv.request("GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith('community_business_events_total{counter="signups"}'):
            return int(line.split()[-1])
    raise AssertionError("no signups counter")


@test
def keep_alive_serves_many_requests(srv):
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        for i in range(5):
            s.sendall(get("/healthz", "X-Request-Id: ka-%d\r\n" % i))
            (st, hd, body), = recv_n_responses(s, 1)
            eq(st, 200, "status")
            eq(hd["connection"], "keep-alive", "keep-alive")
            eq(hd["x-request-id"], "ka-%d" % i, "request id")
    finally:
        s.close()


@test
def pipelined_requests_answered_in_order(srv):
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        reqs = [get("/healthz", "X-Request-Id: p1\r\n"),
                post_json("/v1/members", {"email": "pipe@example.test", "name": "Pipe"},
                          "X-Request-Id: p2\r\n"),
                get("/v1/nothing", "X-Request-Id: p3\r\n"),
                get("/readyz", "X-Request-Id: p4\r\n")]
        s.sendall(b"".join(reqs))
        got = recv_n_responses(s, 4)
        eq([r[1]["x-request-id"] for r in got], ["p1", "p2", "p3", "p4"], "order")
        eq([r[0] for r in got], [200, 201, 404, 200], "statuses")
    finally:
        s.close()


@test
def malformed_request_is_400_and_closes(srv):
    before = members_count(srv)
    for raw in (b"GET / HTTP/1.1\r\nHost t\r\n\r\n",
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
                b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n"):
        data = srv.raw(raw)
        (st, hd, body), = parse_responses(data)
        eq(st, 400, "status for %r" % raw[:30])
        eq(hd["connection"], "close", "closes")
        eq(hd["content-type"], "application/problem+json", "problem")
        eq(json.loads(body)["code"], "HTTP_BAD_REQUEST", "code")
    eq(parse_responses(srv.raw(b"FOO / HTTP/1.1\r\nHost: t\r\n\r\n"))[0][0], 501, "method")
    eq(parse_responses(srv.raw(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n"))[0][0], 505, "version")
    eq(members_count(srv), before, "nothing created")


@test
def oversize_body_is_413(srv):
    before = members_count(srv)
    big = {"email": "big@example.test", "name": "Big", "bio": "x" * 5000}
    data = srv.raw(post_json("/v1/members", big))
    (st, hd, body), = parse_responses(data)
    eq(st, 413, "content-length over the limit")
    eq(hd["connection"], "close", "closes")
    # chunked, discovered while reading
    chunk = b"x" * 3000
    raw = (b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" +
           b"%x\r\n" % len(chunk) + chunk + b"\r\n" +
           b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
    (st, hd, _), = parse_responses(srv.raw(raw))
    eq(st, 413, "chunked over the limit")
    eq(members_count(srv), before, "nothing created")
    # a body within the limit still works
    st, _, _, _ = srv.request("POST", "/v1/members", {"email": "ok@example.test", "name": "Ok",
                                                      "bio": "x" * 3000})
    eq(st, 201, "under the limit")


def chunked(method, path, body, headers="", trailers="", version="1.1"):
    """A chunked request: body as one chunk, then the last chunk and trailers."""
    return (("%s %s HTTP/%s\r\n%sTransfer-Encoding: chunked\r\n\r\n" %
             (method, path, version, headers)).encode() +
            (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") +
            b"0\r\n" + trailers.encode() + b"\r\n")


def signup_token(srv, email):
    st, _, _, js = srv.request("POST", "/v1/members", {"email": email, "name": "T",
                                                       "password": "correct horse 1"})
    eq(st, 201, "signup")
    return js["session"]["token"]


@test
def trailer_fields_are_not_headers(srv):
    tok = signup_token(srv, "trailer@example.test")
    eq(srv.request("GET", "/v1/me", token=tok)[0], 200, "the token works as a header")
    data = srv.raw(chunked("GET", "/v1/me", b"", "Host: t\r\nConnection: close\r\n",
                           "Authorization: Bearer %s\r\n" % tok))
    (st, hd, body), = parse_responses(data)
    eq(st, 401, "an Authorization trailer authenticates nobody (body %r)" % body[:200])
    # the body still arrives when trailers follow it
    body = json.dumps({"email": "trailer2@example.test", "name": "T2"}).encode()
    data = srv.raw(chunked("POST", "/v1/members", body,
                           "Host: t\r\nContent-Type: application/json\r\n"
                           "Connection: close\r\n", "X-Checksum: abc\r\n"))
    eq(parse_responses(data)[0][0], 201, "chunked body with a trailer")


@test
def trailer_does_not_override_forwarded_for(srv):
    prx = Server(args=["--rate-limit", "0", "--trust-proxy"])
    try:
        data = prx.raw(chunked("GET", "/healthz", b"",
                               "Host: t\r\nX-Request-Id: xff-trailer\r\n"
                               "X-Forwarded-For: 198.51.100.7\r\nConnection: close\r\n",
                               "X-Forwarded-For: 203.0.113.66\r\n"))
        eq(parse_responses(data)[0][0], 200, "status")
        prx.check_clean_exit()
        logs = [o for o in prx.log_objects() if o.get("request_id") == "xff-trailer"]
        eq([o["client"] for o in logs], ["198.51.100.7"], "client from the proxy's header")
    finally:
        prx.close()


@test
def smuggling_shapes_are_refused(srv):
    before = members_count(srv)
    body = b'{"email":"smuggle@example.test","name":"S"}'
    pre = (b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n")
    cases = [
        # chunk data not followed by CRLF
        (b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", (400,)),
        # a transfer coding other than chunked alone
        (pre + b"Transfer-Encoding: gzip, chunked\r\n\r\n" +
         b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n", (501,)),
        (pre + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" +
         b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n", (501,)),
        (pre + b"Transfer-Encoding: chunked, chunked\r\n\r\n" +
         b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n", (400, 501)),
        # chunked on HTTP/1.0
        (chunked("POST", "/v1/members", body, "Host: t\r\nContent-Type: application/json\r\n",
                 version="1.0"), (400,)),
        # no Host, two Hosts (HTTP/1.1)
        (b"POST /v1/members HTTP/1.1\r\nContent-Type: application/json\r\n"
         b"Content-Length: %d\r\n\r\n" % len(body) + body, (400,)),
        (b"POST /v1/members HTTP/1.1\r\nHost: t\r\nHost: u\r\n"
         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
         (400,)),
        # white space in or after a header name
        (b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         b"Content-Length : %d\r\n\r\n" % len(body) + body, (400,)),
        (b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         b"Content Length: %d\r\n\r\n" % len(body) + body, (400,)),
        # bare LF line ends
        (b"POST /v1/members HTTP/1.1\nHost: t\nContent-Type: application/json\n"
         b"Content-Length: %d\n\n" % len(body) + body, (400,)),
    ]
    for raw, want in cases:
        got = parse_responses(srv.raw(raw))
        check(got, "an answer to %r" % raw[:120])
        st, hd, _ = got[0]
        check(st in want, "status %d for %r (want %s)" % (st, raw[:120], want))
        eq(hd["connection"], "close", "closes after %r" % raw[:60])
        eq(len(got), 1, "nothing more answered for %r" % raw[:60])
    eq(members_count(srv), before, "nothing created")
    # HTTP/1.0 without Host is fine
    eq(parse_responses(srv.raw(b"GET /healthz HTTP/1.0\r\n\r\n"))[0][0], 200, "1.0, no Host")


@test
def oversize_chunk_is_413_at_its_size_line(srv):
    # the chunk-size line alone announces more than --max-body: refused at
    # once with 413 (the body never comes; waiting for it would end in 408)
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        s.sendall(b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n100000\r\n")
        (st, hd, body), = recv_n_responses(s, 1)
        eq(st, 413, "status (body %r)" % body[:200])
        eq(hd["connection"], "close", "closes")
    finally:
        s.close()


@test
def oversize_headers_are_431(srv):
    (st, hd, _), = parse_responses(srv.raw(get("/healthz", "X-Big: %s\r\n" % ("a" * 3000))))
    eq(st, 431, "header bytes")
    many = "".join("X-H%d: v\r\n" % i for i in range(30))
    (st, hd, _), = parse_responses(srv.raw(get("/healthz", many)))
    eq(st, 431, "header count")
    (st, hd, _), = parse_responses(srv.raw(get("/healthz?" + "q" * 3000)))
    eq(st, 431, "long URL")


@test
def expect_100_continue(srv):
    body = json.dumps({"email": "cont@example.test", "name": "Cont"}).encode()
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        s.sendall(b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        first = s.recv(4096)
        check(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "interim: %r" % first)
        s.sendall(body)
        rest = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        while b"\r\n\r\n" not in rest or len(parse_responses(rest)[0][2]) == 0:
            rest += s.recv(65536)
        eq(parse_responses(rest)[0][0], 201, "final status")
    finally:
        s.close()


@test
def http10_closes(srv):
    data = srv.raw(b"GET /healthz HTTP/1.0\r\n\r\n")
    (st, hd, body), = parse_responses(data)
    eq((st, hd["connection"], body), (200, "close", b'{"status":"ok"}'), "HTTP/1.0")
    data = srv.raw(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                   b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    eq(len(parse_responses(data)), 1, "nothing after Connection: close")


@test
def absolute_form_and_head(srv):
    data = srv.raw(b"GET http://t/healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    eq(parse_responses(data)[0][0], 200, "absolute-form")
    data = srv.raw(b"HEAD /openapi.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    check(b" 200 " in head.split(b"\r\n")[0] and rest == b"", "HEAD has no body")
    check(b"Content-Length: " in head, "HEAD keeps the length")


@test
def bad_request_id_is_replaced(srv):
    data = srv.raw(get("/healthz", "X-Request-Id: %s\r\nConnection: close\r\n" % ("a b" * 3)))
    rid = parse_responses(data)[0][1]["x-request-id"]
    check(rid and " " not in rid, "generated id: %r" % rid)


@test
def read_timeout_is_408(srv):
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        s.sendall(b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        (st, hd, body), = parse_responses(data)
        eq((st, hd["connection"]), (408, "close"), "slow request")
    finally:
        s.close()


@test
def idle_keepalive_connection_is_closed(srv):
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        s.sendall(get("/healthz"))
        recv_n_responses(s, 1)
        eq(s.recv(10), b"", "server closed the idle connection")
    finally:
        s.close()


@test
def rate_limit_is_429(srv):
    lim = Server(args=["--rate-limit", "1", "--rate-burst", "3"])
    S["limited"] = lim
    statuses = []
    hdrs = []
    c = lim.conn()
    for _ in range(6):
        st, hd, _, _ = lim.request("GET", "/v1/members", conn=c)
        statuses.append(st)
        hdrs.append(hd)
    c.close()
    eq(statuses[:3], [200, 200, 200], "burst allowed")
    check(429 in statuses[3:], "then limited: %s" % statuses)
    i = statuses.index(429)
    check(int(hdrs[i]["retry-after"]) >= 1, "Retry-After")
    problem(lim.request("GET", "/v1/members"), 429, "HTTP_RATE_LIMITED")
    eq(lim.request("GET", "/healthz")[0], 200, "health checks are not limited")
    lim.check_clean_exit()


def refused(host, port, source):
    """Connect from `source`; True when the server closes the connection
    without answering a request."""
    s = socket.create_connection((host, port), timeout=10, source_address=(source, 0))
    try:
        s.sendall(get("/healthz"))
        return s.recv(65536) == b""
    except ConnectionResetError:
        return True
    finally:
        s.close()


@test
def per_client_connection_cap(srv):
    cap = Server(args=["--rate-limit", "0", "--max-connections-per-client", "3"])
    S["cap"] = cap
    held = []
    try:
        for i in range(3):
            s = socket.create_connection((cap.host, cap.port), timeout=10,
                                         source_address=("127.0.0.1", 0))
            s.sendall(get("/healthz"))
            eq(recv_n_responses(s, 1)[0][0], 200, "connection %d served" % i)
            held.append(s)
        check(refused(cap.host, cap.port, "127.0.0.1"), "a 4th connection from the same peer")
        # another peer address is not affected by the first one's cap
        s = socket.create_connection((cap.host, cap.port), timeout=10,
                                     source_address=("127.0.0.2", 0))
        s.sendall(get("/healthz", "Connection: close\r\n"))
        eq(recv_n_responses(s, 1)[0][0], 200, "another peer")
        s.close()
        # a slot comes back when one of the peer's connections ends
        held.pop().close()
        for _ in range(100):  # the server notices the close asynchronously
            if not refused(cap.host, cap.port, "127.0.0.1"):
                break
        else:
            raise AssertionError("the peer's slot never came back")
    finally:
        for s in held:
            s.close()
    c = socket.create_connection((cap.host, cap.port), timeout=10, source_address=("127.0.0.2", 0))
    c.sendall(get("/metrics", "Connection: close\r\n"))
    (st, _, body), = recv_n_responses(c, 1)
    c.close()
    check(b'community_http_connections_refused_total{reason="per_client"} ' in body, "metric")
    n = [l for l in body.decode().splitlines()
         if l.startswith('community_http_connections_refused_total{reason="per_client"}')]
    check(int(n[0].split()[-1]) >= 1, "refusals counted: %s" % n)
    cap.check_clean_exit()


@test
def clean_exit(srv):
    srv.check_clean_exit()


if __name__ == "__main__":
    run(setup, teardown)
