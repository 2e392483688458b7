"""test_redis.py - the global rate limit in Redis (COMMUNITY_REDIS) with a real
redis-server started here on a free loopback port: two community-server
processes on one database share one budget per client; when redis-server is
stopped mid-load, or hangs (DEBUG SLEEP), requests keep being answered with
each process's own limit (fail open) and the failures are counted; once
redis-server is back the budget is global again. redis-server is required
(scripts/setup.sh installs it): without it this test fails, it never skips."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, run, test  # noqa: E402

S = {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    """A redis-server process on a loopback port, no persistence."""

    def __init__(self, port):
        self.port = port
        self.proc = None
        self.start()

    def start(self):
        exe = shutil.which("redis-server")
        if not exe:
            raise RuntimeError("redis-server is not installed (scripts/setup.sh test)")
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no",
                                      "--enable-debug-command", "yes"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cmd(self, *args, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            out = "*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)
            s.sendall(out.encode())
            return s.recv(65536).decode()
        finally:
            s.close()

    def ping(self):
        try:
            return self.cmd("PING", timeout=1).startswith("+PONG")
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def setup():
    S["tmp"] = tempfile.TemporaryDirectory(prefix="cmh-redis-")
    S["redis"] = Redis(free_port())
    db = os.path.join(S["tmp"].name, "db.sqlite")
    env = {"COMMUNITY_REDIS": "redis://127.0.0.1:%d" % S["redis"].port}
    # rate 1/s, burst 6: each process alone would let 6 requests of a burst
    # through, both together 12; the global budget lets 6 through (plus one
    # per second that passes)
    # --trust-proxy: each phase plays a different client (X-Forwarded-For)
    args = ["--rate-limit", "1", "--rate-burst", "6", "--redis-timeout", "200", "--trust-proxy"]
    S["a"] = Server(db_path=db, args=args, env=env)
    S["b"] = Server(db_path=db, args=args, env=env)
    return S


def teardown(ctx):
    for k in ("a", "b"):
        if k in S:
            S[k].close()
    if "redis" in S:
        S["redis"].stop()


def get(srv, client):
    return srv.request("GET", "/v1/events", headers={"X-Forwarded-For": client})


def burst(client, n=12):
    """n requests of one client alternating between the two servers; their
    statuses."""
    return [get(S["a"] if i % 2 == 0 else S["b"], client)[0] for i in range(n)]


def metric(srv, name):
    st, _, body, _ = srv.request("GET", "/metrics")
    eq(st, 200, "metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


@test
def one_budget_across_servers(ctx):
    st = burst("10.0.0.1")
    ok = st.count(200)
    check(set(st) <= {200, 429}, "statuses %s" % st)
    check(6 <= ok <= 8, "the two servers let %d of 12 through (one budget of 6): %s" % (ok, st))
    check(st[-1] == 429, "the last one is refused: %s" % st)
    r = get(S["a"], "10.0.0.1")
    eq(r[0], 429, "still refused")
    check(int(r[1]["retry-after"]) >= 1, "Retry-After")
    eq(metric(S["a"], "community_http_redis_errors_total"), 0, "no Redis errors")


@test
def redis_keys_hold_no_client_secrets(ctx):
    keys = S["redis"].cmd("KEYS", "*")
    check("cm:rl:" in keys, "rate keys: %r" % keys)
    check("10.0.0.1" not in keys, "client addresses are hashed: %r" % keys)


@test
def redis_stopped_mid_load_fails_open(ctx):
    # load from a thread while redis-server is killed: every request is
    # answered (200 or 429), none fails
    statuses = []
    stop = threading.Event()

    def load():
        i = 0
        while not stop.is_set():  # new clients: each request reaches Redis
            i += 1
            statuses.append(get(S["a"] if i % 2 else S["b"], "10.2.%d.%d" % (i // 250, i % 250))[0])

    t = threading.Thread(target=load)
    t.start()
    while len(statuses) < 20:
        time.sleep(0.01)
    S["redis"].stop()
    n = len(statuses)
    while len(statuses) < n + 30:
        time.sleep(0.01)
    stop.set()
    t.join()
    check(set(statuses) <= {200, 429}, "answered throughout: %s" % sorted(set(statuses)))
    for srv in (S["a"], S["b"]):
        check(metric(srv, "community_http_redis_errors_total") >= 1, "the failure is counted")
        check(any("redis unavailable" in line for line in srv.lines), "and logged")
    # fail open to each process's own limit: a fresh client gets the burst
    # of 6 from each server, 12 in all
    st = burst("10.0.0.3")
    eq(st, [200] * 12, "each process's own budget while Redis is down")


@test
def redis_back_makes_the_budget_global_again(ctx):
    S["redis"].start()
    # the servers ask Redis again at most a second after the failure: wait
    # until a request has reached it (its key appears)
    for i in range(100):
        get(S["a"], "10.1.0.%d" % i)
        get(S["b"], "10.1.1.%d" % i)
        if S["redis"].cmd("DBSIZE").strip() != ":0":
            break
        time.sleep(0.1)
    st = burst("10.0.0.4")
    check(6 <= st.count(200) <= 8, "one budget again: %s" % st)


@test
def slow_redis_fails_open_within_the_timeout(ctx):
    # DEBUG SLEEP blocks redis-server; requests meanwhile are answered (each
    # server waits at most --redis-timeout, then lets them through) before
    # the sleep ends
    done = {}

    def sleeper():
        done["reply"] = S["redis"].cmd("DEBUG", "SLEEP", "5", timeout=30)
        done["sleep"] = time.monotonic()

    t = threading.Thread(target=sleeper)
    t.start()
    time.sleep(0.2)
    st = [get(S["a"], "10.0.0.5")[0] for _ in range(3)]
    done["requests"] = time.monotonic()
    t.join()
    eq(done["reply"].strip(), "+OK", "DEBUG SLEEP ran")
    eq(st, [200, 200, 200], "answered while Redis hangs")
    check(done["requests"] < done["sleep"], "before Redis woke up")


@test
def clean_exit(ctx):
    S["a"].check_clean_exit()
    S["b"].check_clean_exit()


if __name__ == "__main__":
    run(setup, teardown)
