#!/usr/bin/env python3
"""login_starvation.py - does a burst of sign-ins slow down other requests?

    python3 bench/http/login_starvation.py [BUILDDIR] [-- extra server flags]

Starts BUILDDIR/examples/http/community-server (default build/) on a free
loopback port with a fresh SQLite database (--rate-limit 0), signs up
LOGIN_CONNS + 1 members, then measures the latency of an unrelated read
(GET /v1/events?limit=20 on one keep-alive connection, SAMPLES requests
20 ms apart) twice: alone, and while LOGIN_CONNS connections (default 8)
sign in with correct passwords (POST /v1/sessions, argon2id each) without a
pause. Prints the median and 90th percentile of both and the sign-ins/s.
Knobs (environment): LOGIN_CONNS, SAMPLES (default 200), WORKERS (default
4), and any COMMUNITY_* variable the server reads (e.g.
COMMUNITY_PASSWORD_WORKERS, COMMUNITY_PASSWORD_CONCURRENCY).
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

args = sys.argv[1:]
extra = []
if "--" in args:
    i = args.index("--")
    args, extra = args[:i], args[i + 1:]
build = args[0] if args else "build"
server = os.path.join(build, "examples/http/community-server")
conns = int(os.environ.get("LOGIN_CONNS", "8"))
samples = int(os.environ.get("SAMPLES", "200"))
workers = os.environ.get("WORKERS", "4")
password = "correct horse battery"

tmp = tempfile.TemporaryDirectory(prefix="cm-login-bench-")
proc = subprocess.Popen([server, "--listen", "127.0.0.1:0", "--db",
                         "sqlite://" + os.path.join(tmp.name, "db.sqlite"), "--rate-limit", "0",
                         "--workers", workers, "--log-level", "info"] + extra,
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
url = None
for raw in proc.stdout:
    line = json.loads(raw)
    if line.get("msg") == "listening":
        url = line["url"]
        print("# server:", {k: line.get(k) for k in ("workers", "password_workers")})
        break
threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
host, port = url.split("//", 1)[1].rsplit(":", 1)


def request(c, method, path, body=None):
    h = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    r.read()
    return r.status


def conn():
    return http.client.HTTPConnection(host, int(port), timeout=120)


c = conn()
for i in range(conns + 1):
    st = request(c, "POST", "/v1/members",
                 {"email": "m%d@example.test" % i, "name": "M", "password": password})
    assert st == 201, st


def read_latencies():
    rc = conn()
    request(rc, "GET", "/v1/events?limit=20")
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        st = request(rc, "GET", "/v1/events?limit=20")
        out.append((time.perf_counter() - t) * 1000)
        assert st == 200, st
        time.sleep(0.02)
    rc.close()
    return out


def summary(name, xs):
    xs = sorted(xs)
    print("%-22s median %8.2f ms   p90 %8.2f ms   (n=%d)"
          % (name, statistics.median(xs), xs[int(len(xs) * 0.9)], len(xs)))


summary("read alone", read_latencies())
stop = threading.Event()
logins = [0]
lock = threading.Lock()


def login_loop(i):
    lc = conn()
    while not stop.is_set():
        st = request(lc, "POST", "/v1/sessions",
                     {"email": "m%d@example.test" % (i + 1), "password": password})
        assert st == 200, st
        with lock:
            logins[0] += 1
    lc.close()


threads = [threading.Thread(target=login_loop, args=(i,)) for i in range(conns)]
for t in threads:
    t.start()
time.sleep(1)
t0, n0 = time.perf_counter(), logins[0]
lat = read_latencies()
rate = (logins[0] - n0) / (time.perf_counter() - t0)
stop.set()
for t in threads:
    t.join()
summary("read during %d logins" % conns, lat)
print("sign-ins/s during the read: %.1f" % rate)
proc.terminate()
proc.wait()
