"""httptest.py - helpers for the community-server tests (Python 3 stdlib only).

Starts the real server binary ($COMMUNITY_SERVER) on a free loopback port
(--listen 127.0.0.1:0; the URL is read from the "listening" log line) with a
temporary SQLite database, speaks HTTP over real sockets, and reports in TAP
with a final "N passed, N failed" line.
"""
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import http.client

SERVER = os.environ.get("COMMUNITY_SERVER", "")


class Server:
    """A community-server process and its captured JSON log lines."""

    def __init__(self, db_path=None, args=(), env=None, db_uri=None):
        self.tmp = None
        self.db_uri = db_uri  # another store URI (e.g. PostgreSQL) instead of db_path
        if db_path is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="cmh-test-")
            db_path = os.path.join(self.tmp.name, "db.sqlite")
        self.db_path = db_path
        self.args = list(args)
        self.env = env
        self.lines = []
        self.proc = None
        self.start()

    def start(self):
        if not SERVER or not os.path.exists(SERVER):
            raise RuntimeError("COMMUNITY_SERVER is not set to the server binary")
        env = dict(os.environ)
        env.update(self.env or {})
        cmd = [SERVER, "--listen", "127.0.0.1:0", "--db", self.db_uri or "sqlite://" + self.db_path,
               "--log-level", "info"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env)
        self.lines = []
        ready = threading.Event()
        self.url = None

        def pump():
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if obj.get("msg") == "listening":
                    self.url = obj["url"]
                    ready.set()
            ready.set()

        self.errlines = []

        def pump_err():
            for raw in self.proc.stderr:
                self.errlines.append(raw.decode("utf-8", "replace"))

        self.reader = threading.Thread(target=pump, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=pump_err, daemon=True)
        self.err_reader.start()
        if not ready.wait(30) or not self.url:
            self.kill()
            err = "".join(self.errlines)
            raise RuntimeError("server did not start: %s %s" % (self.lines, err))
        hostport = self.url.split("//", 1)[1]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)

    def stop(self, sig=15, timeout=30):
        """Send a signal and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        finally:
            self.reader.join(5)
            self.err_reader.join(5)
        return rc

    def check_clean_exit(self):
        """SIGTERM, then exit code 0 and nothing on stderr (sanitizer reports,
        leaks)."""
        rc = self.stop()
        err = "".join(self.errlines)
        if rc != 0 or err:
            raise Failure("exit code %r, stderr: %s" % (rc, err[:3000]))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.stop()
        finally:
            self.kill()
            if self.tmp:
                self.tmp.cleanup()

    def log_objects(self):
        out = []
        for line in self.lines:
            out.append(json.loads(line))  # every line must be JSON
        return out

    # -- HTTP -----------------------------------------------------------------

    def conn(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, token=None, raw_body=None,
                conn=None):
        """One request; returns (status, headers dict (lower-case, multi -> list), body
        bytes, parsed JSON or None)."""
        h = {"Host": "%s:%d" % (self.host, self.port)}
        if body is not None:
            raw_body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        own = conn is None
        c = conn or self.conn()
        try:
            c.request(method, path, body=raw_body, headers=h)
            r = c.getresponse()
            data = r.read()
            hd = {}
            for k, v in r.getheaders():
                k = k.lower()
                if k in hd:
                    hd[k] = hd[k] if isinstance(hd[k], list) else [hd[k]]
                    hd[k].append(v)
                else:
                    hd[k] = v
            js = None
            ctype = hd.get("content-type", "")
            if data and "json" in ctype:
                js = json.loads(data)
            return r.status, hd, data, js
        finally:
            if own:
                c.close()

    def raw(self, data, timeout=10, shut=False):
        """Send raw bytes; return everything received until the server closes
        or `timeout` passes without data."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            s.close()

    # -- seeding (the test plays the operator: SQL only to make an admin) -----

    def make_admin(self, member_id):
        db = sqlite3.connect(self.db_path, timeout=10)
        try:
            db.execute("UPDATE members SET role='admin' WHERE id=?", (member_id,))
            db.commit()
        finally:
            db.close()


def parse_responses(data):
    """Split raw bytes into a list of (status, headers dict, body) by
    Content-Length (the server always sends it)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("truncated response: %r" % data[:200])
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hd = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hd[k.strip().lower()] = v.strip()
        n = int(hd.get("content-length", "0")) if status >= 200 and status != 204 else 0
        out.append((status, hd, rest[:n]))
        data = rest[n:]
    return out


# -- a tiny TAP runner ----------------------------------------------------------

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


class Failure(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Failure(msg)


def eq(a, b, msg=""):
    if a != b:
        raise Failure("%s: expected %r, got %r" % (msg or "values differ", b, a))


def problem(resp, status, code, field=None):
    """Assert an RFC 9457 problem response with this status and code."""
    st, hd, data, js = resp
    eq(st, status, "status (body %s)" % data[:300])
    eq(hd.get("content-type"), "application/problem+json", "problem content type")
    check(js is not None, "problem body is JSON")
    for k in ("type", "title", "status", "detail", "code"):
        check(k in js, "problem has %s: %s" % (k, js))
    eq(js["status"], status, "problem status")
    eq(js["code"], code, "problem code")
    if field is not None:
        eq(js.get("field"), field, "problem field")
    return js


def run(setup=None, teardown=None):
    passed = failed = 0
    ctx = setup() if setup else None
    try:
        print("1..%d" % len(_tests), flush=True)
        for i, fn in enumerate(_tests, 1):
            name = fn.__name__
            try:
                fn(ctx) if setup else fn()
                print("ok %d - %s" % (i, name), flush=True)
                passed += 1
            except Exception as e:  # noqa: BLE001 - report every failure
                print("not ok %d - %s" % (i, name), flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line)
                failed += 1
    finally:
        if teardown:
            teardown(ctx)
    print("# %d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
