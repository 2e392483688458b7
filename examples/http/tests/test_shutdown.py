"""test_shutdown.py - graceful SIGTERM: under write load, the server stops
accepting, closes idle keep-alive connections, finishes requests in flight
(answering "Connection: close") and exits 0; after a restart on the same
database every write that got a 2xx response is there. A connection that
never finishes its request is cut at the drain deadline."""
import json
import os
import signal
import socket
import sys
import threading
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, parse_responses, run, test  # noqa: E402

PASSWORD = "correct horse 1"
THREADS = 6
MIN_ACKED_PER_THREAD = 15


def wait_reading(srv, n):
    """Wait until n connections are reading a request (a server-side count)."""
    for _ in range(2000):
        _, _, data, _ = srv.request("GET", "/metrics")
        if ('community_http_connections{state="reading"} %d' % n).encode() in data:
            return
        threading.Event().wait(0.005)
    raise AssertionError("server never reported %d reading connections" % n)


def login_admin(srv):
    st, _, _, js = srv.request("POST", "/v1/members", {"email": "root@example.test",
                                                       "name": "Root", "password": PASSWORD})
    eq(st, 201, "admin signup")
    srv.make_admin(js["member"]["id"])
    st, _, _, js = srv.request("POST", "/v1/sessions",
                               {"email": "root@example.test", "password": PASSWORD})
    eq(st, 200, "admin login")
    return js["session"]["token"]


def loader(srv, tid, acked, progress, stop, errors):
    """Sign members up until the server goes away; record acknowledged ones."""
    conn = None
    i = 0
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
            email = "load-%d-%d@example.test" % (tid, i)
            body = json.dumps({"email": email, "name": "Load %d %d" % (tid, i)})
            conn.request("POST", "/v1/members", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            i += 1
            if 200 <= r.status < 300:
                acked.append((json.loads(data)["member"]["id"], email))
                progress[tid] += 1
            elif r.status != 503:
                errors.append((r.status, data[:200]))
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except ConnectionRefusedError:
            break  # listener closed: the server is draining or gone
        except (ConnectionError, http.client.HTTPException, OSError):
            # unacknowledged: the write may or may not have happened
            if conn:
                conn.close()
            conn = None
            i += 1
    if conn:
        conn.close()


@test
def sigterm_under_load_loses_no_acknowledged_write():
    srv = Server(args=["--rate-limit", "0", "--workers", "4", "--shutdown-timeout", "20000"])
    try:
        admin = login_admin(srv)
        # an idle keep-alive connection
        idle = socket.create_connection((srv.host, srv.port), timeout=30)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        check(b" 200 " in idle.recv(4096), "idle connection served")
        # a request in progress: headers and half of the body
        body = json.dumps({"email": "inflight@example.test", "name": "In Flight"}).encode()
        partial = socket.create_connection((srv.host, srv.port), timeout=30)
        partial.sendall(b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Type: "
                        b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) +
                        body[:10])

        wait_reading(srv, 1)
        acked, errors = [], []
        progress = [0] * THREADS
        stop = threading.Event()
        threads = [threading.Thread(target=loader, args=(srv, t, acked, progress, stop, errors))
                   for t in range(THREADS)]
        for t in threads:
            t.start()
        # wait for real load (a count, not a time)
        done = threading.Event()

        def watch():
            while not stop.is_set() and min(progress) < MIN_ACKED_PER_THREAD:
                stop.wait(0.01)
            done.set()
        threading.Thread(target=watch, daemon=True).start()
        check(done.wait(120), "load started: %s" % progress)

        srv.proc.send_signal(signal.SIGTERM)
        # the idle keep-alive connection is closed by the drain
        eq(idle.recv(4096), b"", "idle keep-alive connection closed")
        idle.close()
        # the request that was in progress is still answered, with close
        partial.sendall(body[10:])
        data = b""
        while True:
            b = partial.recv(65536)
            if not b:
                break
            data += b
        partial.close()
        (st, hd, resp), = parse_responses(data)
        eq((st, hd["connection"]), (201, "close"), "in-flight request finished")
        acked.append((json.loads(resp)["member"]["id"], "inflight@example.test"))

        for t in threads:
            t.join(60)
        stop.set()
        check(not any(t.is_alive() for t in threads), "loaders ended")
        eq(srv.proc.wait(60), 0, "exit code after SIGTERM")
        srv.err_reader.join(5)
        eq("".join(srv.errlines), "", "stderr")
        eq(errors, [], "unexpected error responses")
        msgs = [o.get("msg") for o in srv.log_objects()]
        check("shutting down" in msgs and "stopped" in msgs, "drain logged")
        check(len(acked) >= THREADS * MIN_ACKED_PER_THREAD, "acked writes: %d" % len(acked))

        # restart on the same database: every acknowledged write is there
        srv.start()
        missing = []
        c = srv.conn()
        for mid, email in acked:
            st, _, _, js = srv.request("GET", "/v1/members/%d" % mid, token=admin, conn=c)
            if st != 200 or js["email"] != email:
                missing.append((mid, email, st))
        c.close()
        eq(missing, [], "acknowledged writes lost")
    finally:
        srv.close()


@test
def drain_deadline_cuts_stuck_requests():
    srv = Server(args=["--shutdown-timeout", "300", "--read-timeout", "60000"])
    try:
        stuck = socket.create_connection((srv.host, srv.port), timeout=30)
        stuck.sendall(b"POST /v1/members HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{")
        wait_reading(srv, 1)
        srv.proc.send_signal(signal.SIGTERM)
        eq(srv.proc.wait(30), 0, "exit code after the deadline")
        srv.err_reader.join(5)
        eq("".join(srv.errlines), "", "stderr")
        try:
            got = stuck.recv(4096)
        except ConnectionResetError:
            got = b""
        eq(got, b"", "stuck connection closed without a response")
        stuck.close()
        msgs = [o.get("msg") for o in srv.log_objects()]
        check("drain deadline reached" in msgs, "deadline logged: %s" % msgs)
    finally:
        srv.close()


@test
def sigint_with_no_connections_exits_0():
    srv = Server()
    try:
        eq(srv.request("GET", "/healthz")[0], 200, "up")
        eq(srv.stop(signal.SIGINT), 0, "SIGINT exit code")
    finally:
        srv.close()


if __name__ == "__main__":
    run()
