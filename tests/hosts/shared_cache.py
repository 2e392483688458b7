#!/usr/bin/env python3
"""shared_cache.py - cached reads across hosts (meson test shared-cache).

scripts/stack.sh starts 2 community-server processes on one PostgreSQL and one
Redis (COMMUNITY_REDIS: the library's cm_store_share_cache). Then, as TAP:

  coherence   reads on host B are served from its cache (hits counted), and a
              write answered by host A is seen by the next read on B: an
              event's title (events.get) and the list of events
              (events.list), many times in a row
  redis down  writers on A and readers on B run while Redis is SIGKILLed and
              started again: every read that starts after a write was
              answered sees that write or a later one, and every request
              succeeds (the cache turns itself off, the rest keeps working);
              the failures are counted in B's metrics

  shared_cache.py BUILD_DIR [SOURCE_ROOT]

Environment: CM_SHARED_CACHE_ROUNDS (coherence rounds, default 60),
CM_SHARED_CACHE_SECONDS (length of the Redis phase, default 9).
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time

BUILD = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
STACK = os.path.join(ROOT, "scripts", "stack.sh")
ROUNDS = int(os.environ.get("CM_SHARED_CACHE_ROUNDS", "60"))
SECONDS = float(os.environ.get("CM_SHARED_CACHE_SECONDS", "9"))

n = 0
failed = 0
E = {}


def tap(ok, name, diag=None):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, name), flush=True)
    if not ok:
        failed += 1
        for line in str(diag or "").splitlines():
            print("# " + line, flush=True)


def note(msg):
    print("# " + msg, flush=True)


class Client:
    """A keep-alive connection to one host."""

    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def __call__(self, method, path, body=None, token=None):
        h = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = "Bearer " + token
        for attempt in (0, 1):
            try:
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                raw = r.read()
                return r.status, json.loads(raw) if raw.startswith(b"{") else raw
            except (OSError, http.client.HTTPException):
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        return None


def metric(port, name):
    st, body = Client(port)("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def hits(port):
    return metric(port, 'community_result_cache_lookups_total{result="hit"}')


def stack(*args):
    return subprocess.run([STACK] + list(args) + [E["CM_STACK_DIR"]], check=True,
                          capture_output=True, text=True).stdout.strip()


def start():
    # A generous Redis timeout: on a loaded machine a write's increment that
    # times out may reach Redis after the other host read the old number,
    # which cm_store_share_cache documents and this test does not exercise.
    out = subprocess.run([STACK, "start", "--build", BUILD, "--api", "2", "--workers", "0",
                          "--no-web", "--server-args", "--rate-limit 0 --redis-timeout 5000"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        tap(False, "scripts/stack.sh start", out.stderr)
        return False
    for line in out.stdout.splitlines():
        k, v = line[len("export "):].split("=", 1)
        E[k] = v.strip("'")
    E["a"], E["b"] = [int(p) for p in E["CM_STACK_API_PORTS"].split()]
    return True


def organizer():
    a = Client(E["a"])
    st, r = a("POST", "/v1/members", {"email": "org@cache.test", "name": "Org",
                                      "password": "a long organizer password"})
    subprocess.run(["psql", "-X", "-q", "-d", E["CM_STACK_DB"], "-c",
                    "UPDATE members SET role='organizer' WHERE id=%d" % r["member"]["id"]],
                   check=True, capture_output=True)
    return r["session"]["token"]


def new_event(client, tok, title):
    st, r = client("POST", "/v1/events", {
        "title": title, "format": "in_person", "start_local": "2031-05-01T18:00",
        "end_local": "2031-05-01T21:00", "timezone": "Europe/Berlin", "publish": True}, tok)
    assert st == 201, (st, r)
    return r.get("id") or r["event"]["id"]


def title_of(r):
    return (r.get("event") or r).get("title")


def coherence(tok):
    a, b = Client(E["a"]), Client(E["b"])
    ev = new_event(a, tok, "T0")
    h0 = hits(E["b"])
    stale = []
    for i in range(1, ROUNDS + 1):
        b("GET", "/v1/events/%d" % ev)
        b("GET", "/v1/events/%d" % ev)          # from B's cache
        st, _ = a("PATCH", "/v1/events/%d" % ev, {"title": "T%d" % i}, tok)
        if st != 200:
            tap(False, "PATCH on host A answered %d" % st)
            return
        st, r = b("GET", "/v1/events/%d" % ev)
        if st != 200 or title_of(r) != "T%d" % i:
            stale.append((i, st, title_of(r) if st == 200 else r))
    got = hits(E["b"]) - h0
    tap(got >= ROUNDS, "host B serves events.get from its cache (%d hits in %d rounds)"
        % (got, ROUNDS))
    tap(not stale, "a title written on host A is read on host B right after (%d rounds)" % ROUNDS,
        "stale reads (round, status, title): %s" % stale[:10])

    h0 = hits(E["b"])
    missing = []
    for i in range(ROUNDS // 3):
        b("GET", "/v1/events?limit=100")
        b("GET", "/v1/events?limit=100")
        new = new_event(a, tok, "L%d" % i)
        st, r = b("GET", "/v1/events?limit=100")
        if st != 200 or new not in [e["id"] for e in r["items"]]:
            missing.append((i, new, st))
    tap(hits(E["b"]) - h0 >= ROUNDS // 3 and not missing,
        "an event created on host A is in host B's list right after (%d rounds, %d hits)"
        % (ROUNDS // 3, hits(E["b"]) - h0), "missing: %s" % missing[:10])


def redis_down(tok):
    """One writer on A numbers the title; readers on B note the last number
    acknowledged before each read and check the read is not older."""
    a = Client(E["a"])
    ev = new_event(a, tok, "R0")
    lock = threading.Lock()
    acked = [0]
    stop = threading.Event()
    stale, errors, reads = [], [], [0]
    errors0 = metric(E["b"], "community_result_cache_shared_errors_total")
    hits0 = hits(E["b"])

    def writer():
        c = Client(E["a"])
        i = 0
        while not stop.is_set():
            i += 1
            st, r = c("PATCH", "/v1/events/%d" % ev, {"title": "R%d" % i}, tok)
            if st != 200:
                errors.append(("write", st, r))
                continue
            with lock:
                acked[0] = i
            time.sleep(0.01)

    def reader():
        c = Client(E["b"])
        while not stop.is_set():
            with lock:
                floor = acked[0]
            st, r = c("GET", "/v1/events/%d" % ev)
            if st != 200:
                errors.append(("read", st, r))
                continue
            seen = int(title_of(r)[1:])
            reads[0] += 1
            if seen < floor:
                stale.append((floor, seen))

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader)
                                                   for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(SECONDS / 3)
    stack("kill", "redis", "1")
    time.sleep(SECONDS / 3)
    stack("restart", "redis", "1")
    time.sleep(SECONDS / 3)
    stop.set()
    for t in threads:
        t.join()
    shared_errors = metric(E["b"], "community_result_cache_shared_errors_total") - errors0
    note("redis down: %d writes, %d reads (%d cache hits), %d shared-cache errors on B"
         % (acked[0], reads[0], hits(E["b"]) - hits0, shared_errors))
    tap(not errors, "every request succeeded while Redis was down", "errors: %s" % errors[:10])
    tap(reads[0] > 0 and not stale,
        "no read on B older than a write answered on A before it (%d reads)" % reads[0],
        "stale (acknowledged, seen): %s" % stale[:10])
    tap(shared_errors > 0, "host B counted the Redis failures (%d)" % shared_errors)


def main():
    missing = [t for t in ("haproxy", "redis-server", "psql", "curl") if not shutil.which(t)]
    if missing:
        print("1..1\nnot ok 1 - needs %s (scripts/setup.sh installs them)" % " ".join(missing))
        sys.exit(1)
    if start():
        try:
            tok = organizer()
            coherence(tok)
            redis_down(tok)
        finally:
            subprocess.run([STACK, "stop", E["CM_STACK_DIR"]], capture_output=True)
    print("1..%d" % n)
    print("# %d passed, %d failed" % (n - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
