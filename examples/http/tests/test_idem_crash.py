"""test_idem_crash.py - an Idempotency-Key answer commits with its operation.

A community-server started with CMH_TEST_CRASH_AFTER_COMMIT=1 kills itself
(SIGKILL) once an operation sent with an Idempotency-Key has committed,
before its answer leaves: a host that dies right after the commit. The retry,
on another server on the same database, must get the first answer
(Idempotent-Replayed) and the operation must not run a second time; the key
with another body is still refused. Then requests with one key sent at once
to two servers run the operation once: every other answer is the replay or
409 in progress.

On SQLite (http-idem-crash) and, with CM_HTTP_IDEM_PG=1 (pg-http-idem-crash),
on a fresh schema of the PostgreSQL server named by CM_TEST_PG_URI (psql
creates and drops it; without that URI it skips, as the other pg- tests).
"""
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, problem, run, test  # noqa: E402

PG = os.environ.get("CM_HTTP_IDEM_PG") == "1"
S = {}


def psql(query):
    return subprocess.run(["psql", os.environ["CM_TEST_PG_URI"], "-q", "-t", "-A", "-v",
                           "ON_ERROR_STOP=1", "-c", query],
                          check=True, capture_output=True, text=True).stdout.strip()


def setup():
    S["dir"] = tempfile.TemporaryDirectory(prefix="cmh-idem-crash-")
    S["db"] = os.path.join(S["dir"].name, "db.sqlite")
    S["uri"] = None
    if PG:
        base = os.environ["CM_TEST_PG_URI"]
        S["schema"] = "cmh_idem_crash_%d" % os.getpid()
        psql("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s" % (S["schema"], S["schema"]))
        S["uri"] = "%s%soptions=-csearch_path%%3D%s" % (base, "&" if "?" in base else "?",
                                                          S["schema"])
    return S


def teardown(_):
    for k in ("a", "b"):
        if k in S:
            S[k].close()
    if PG:
        psql("DROP SCHEMA IF EXISTS %s CASCADE" % S["schema"])
    S["dir"].cleanup()


def server(env=None):
    return Server(db_path=S["db"], db_uri=S["uri"], args=["--rate-limit", "0"], env=env)


def count(table, where="true"):
    q = "SELECT count(*) FROM %s WHERE %s" % (table, where)
    if PG:
        return int(psql(q.replace(" FROM ", " FROM %s." % S["schema"], 1)))
    db = sqlite3.connect(S["db"], timeout=30)
    try:
        return db.execute(q.replace("true", "1")).fetchone()[0]
    finally:
        db.close()


@test
def retry_after_a_crash_past_the_commit_replays_the_first_answer(s):
    s["a"] = server({"CMH_TEST_CRASH_AFTER_COMMIT": "1"})
    before = count("members")
    body = {"email": "crash@example.test", "name": "Crash"}
    h = {"Idempotency-Key": "crash-1"}
    try:
        resp = s["a"].request("POST", "/v1/members", body, headers=h)
    except Exception as e:  # noqa: BLE001 (the server died mid-request)
        resp = e
    check(not isinstance(resp, tuple), "no answer from the crashing server: %r" % (resp,))
    eq(s["a"].proc.wait(30), -9, "the server killed itself after the commit")
    eq(count("members"), before + 1, "the operation committed once")

    s["b"] = server()
    st, hd, data, js = s["b"].request("POST", "/v1/members", body, headers=h)
    eq(st, 201, "the retry's status (body %s)" % data[:300])
    eq(hd.get("idempotent-replayed"), "true", "the retry is a replay")
    eq(js["member"]["email"] if "member" in js else js.get("email"), "crash@example.test",
       "the first answer")
    eq(count("members"), before + 1, "the retry did not run the operation again")
    st2, hd2, data2, _ = s["b"].request("POST", "/v1/members", body, headers=h)
    eq((st2, data2, hd2.get("idempotent-replayed")), (201, data, "true"), "replayed again")
    problem(s["b"].request("POST", "/v1/members", {"email": "other@example.test", "name": "O"},
                           headers=h), 422, "HTTP_IDEMPOTENCY_KEY_REUSED")
    eq(count("members"), before + 1, "no mutation on reuse")
    eq(count("idempotency_keys", "status IS NULL"), 0, "no claim left open")


@test
def one_key_sent_at_once_to_two_servers_runs_once(s):
    s["a"].close()
    s["a"] = server()  # without the crash hook from here on
    a, b = s["a"], s["b"]
    before = count("members")
    keys = 8
    answers = {}
    lock = threading.Lock()

    def send(host, k):
        body = {"email": "race%d@example.test" % k, "name": "Race %d" % k}
        r = host.request("POST", "/v1/members", body, headers={"Idempotency-Key": "race-%d" % k})
        with lock:
            answers.setdefault(k, []).append(r)

    threads = [threading.Thread(target=send, args=(host, k))
               for k in range(keys) for host in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(count("members"), before + keys, "one member per key")
    for k, rs in answers.items():
        firsts = [r for r in rs if r[0] == 201 and "idempotent-replayed" not in r[1]]
        eq(len(firsts), 1, "key %d: one answer ran the operation (%s)" % (k, [r[0] for r in rs]))
        for st, hd, data, js in rs:
            if st == 201:
                eq(data, firsts[0][2], "key %d: replays carry the first answer" % k)
            else:
                problem((st, hd, data, js), 409, "HTTP_IDEMPOTENCY_IN_PROGRESS", "Idempotency-Key")


if __name__ == "__main__":
    if PG and not os.environ.get("CM_TEST_PG_URI"):
        print("1..0 # SKIP CM_TEST_PG_URI is not set (scripts/pg-test-server.sh start)")
        sys.exit(0)
    run(setup, teardown)
