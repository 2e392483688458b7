#!/usr/bin/env python3
"""How long a dead worker's job takes to run again (docs/benchmarks.md).

usage: bench/jobs/takeover.py BUILD_DIR [LEASE_MS] [RESTART_EVERY_S]

Worker processes (tests/jobs/jobs_worker, SQLite) share one database. Worker A
claims a slow job and is killed with SIGKILL; the time until another worker
starts the job again is measured in two cases:
  fresh:    one new worker is started right after the kill;
  crashing: a new worker is started right after the kill and every
            RESTART_EVERY_S seconds (default 5) killed and replaced, as a
            worker in a crash loop is (each restart before its first heartbeat).
A case gives up after 4 x lease + 30 s.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

build = sys.argv[1]
lease_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 30000
every = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
exe = os.path.join(build, "tests", "jobs", "jobs_worker")


def started_by(log, job):
    """Workers whose log line says they started `job`."""
    try:
        with open(log) as f:
            return [l.split()[3] for l in f if l.startswith("S %d " % job)]
    except FileNotFoundError:
        return []


def case(name, restart):
    d = tempfile.mkdtemp(prefix="takeover-")
    db, log = os.path.join(d, "jobs.db"), os.path.join(d, "exec.log")
    def spawn(wname):
        return subprocess.Popen([exe, db, log, wname, str(lease_ms), "600000", "1"],
                                stderr=subprocess.DEVNULL)
    a = spawn("A")
    while True:  # A defines the kinds
        try:
            con = sqlite3.connect(db, timeout=30)
            row = con.execute("SELECT queue FROM job_kinds WHERE kind = 'crash.slow'").fetchone()
            if row:
                break
            con.close()
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    job = con.execute(
        "INSERT INTO jobs (queue, kind, payload, state, run_at, max_attempts, backoff, "
        "backoff_us, backoff_max_us, created_at, updated_at) VALUES (?, 'crash.slow', '{}', "
        "'queued', 0, 100, 'exponential', 1000000, 3600000000, 0, 0)", row).lastrowid
    con.commit()
    con.close()
    while "A" not in started_by(log, job):
        time.sleep(0.01)
    a.kill()
    a.wait()
    t0 = time.monotonic()
    n, cur, last = 0, spawn("B0"), t0
    limit = 4 * lease_ms / 1000 + 30
    took = None
    while time.monotonic() - t0 < limit:
        if any(w != "A" for w in started_by(log, job)):
            took = time.monotonic() - t0
            break
        if restart and time.monotonic() - last >= every:
            cur.kill()
            cur.wait()
            n += 1
            cur, last = spawn("B%d" % n), time.monotonic()
        time.sleep(0.01)
    cur.kill()
    cur.wait()
    res = "%.1f s" % took if took is not None else "not within %.0f s" % limit
    print("%-9s lease %d ms: the job ran again after %s (%d restarts)" % (name, lease_ms, res, n))
    sys.stdout.flush()


case("fresh", False)
case("crashing", True)
