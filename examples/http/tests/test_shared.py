"""test_shared.py - state shared by several community-server processes (hosts
behind a load balancer) on one database: an Idempotency-Key answered by one
host is replayed by another, also after the first host is gone; the other
host refuses the same key for another request (422) and answers 409 while the
first request is still in flight; client errors are stored and replayed too."""
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, problem, run, test  # noqa: E402

S = {}


def setup():
    S["dir"] = tempfile.TemporaryDirectory(prefix="cmh-shared-")
    S["db"] = os.path.join(S["dir"].name, "db.sqlite")
    S["a"] = Server(db_path=S["db"], args=["--rate-limit", "0"])
    S["b"] = Server(db_path=S["db"], args=["--rate-limit", "0"])
    return S


def teardown(_):
    for k in ("a", "b"):
        if k in S:
            S[k].close()
    S["dir"].cleanup()


def sql(query, *args):
    db = sqlite3.connect(S["db"], timeout=30)
    try:
        with db:
            return db.execute(query, args).fetchall()
    finally:
        db.close()


def members():
    return sql("SELECT count(*) FROM members")[0][0]


@test
def key_answered_by_one_host_is_replayed_by_another(s):
    a, b = s["a"], s["b"]
    before = members()
    body = {"email": "shared@example.test", "name": "Shared"}
    h = {"Idempotency-Key": "shared-1"}
    st1, hd1, data1, _ = a.request("POST", "/v1/members", body, headers=h)
    eq(st1, 201, "first, on host A")
    check("idempotent-replayed" not in hd1, "first answer is not a replay")
    st2, hd2, data2, _ = b.request("POST", "/v1/members", body, headers=h)
    eq((st2, data2), (201, data1), "host B replays host A's answer")
    eq(hd2.get("idempotent-replayed"), "true", "replay marked")
    eq(members(), before + 1, "one mutation only")
    # the same key for another request (other body, or other path) is refused anywhere
    problem(b.request("POST", "/v1/members", {"email": "x@example.test", "name": "X"},
                      headers=h), 422, "HTTP_IDEMPOTENCY_KEY_REUSED")
    problem(a.request("POST", "/v1/groups", {"name": "G", "slug": "g"}, headers=h),
            422, "HTTP_IDEMPOTENCY_KEY_REUSED")
    eq(members(), before + 1, "no mutation on reuse")


@test
def replay_survives_the_answering_host(s):
    a, b = s["a"], s["b"]
    body = {"email": "gone@example.test", "name": "Gone"}
    h = {"Idempotency-Key": "shared-2"}
    st1, _, data1, _ = a.request("POST", "/v1/members", body, headers=h)
    eq(st1, 201, "first, on host A")
    a.kill()
    before = members()
    st2, hd2, data2, _ = b.request("POST", "/v1/members", body, headers=h)
    eq((st2, data2, hd2.get("idempotent-replayed")), (201, data1, "true"),
       "host B replays after host A died")
    eq(members(), before, "no second mutation")
    a.start()


@test
def request_in_flight_on_another_host_is_busy(s):
    a, b = s["a"], s["b"]
    body = {"email": "flight@example.test", "name": "Flight"}
    h = {"Idempotency-Key": "shared-3"}
    st1, _, _, _ = a.request("POST", "/v1/members", body, headers=h)
    eq(st1, 201, "first, on host A")
    # make the record look as it does while host A still runs the request
    sql("UPDATE idempotency_keys SET status = NULL, response = NULL WHERE key = ?", "shared-3")
    eq(sql("SELECT count(*) FROM idempotency_keys WHERE key = 'shared-3' AND status IS NULL")[0][0],
       1, "claim in flight")
    st, hd, _, _ = resp = b.request("POST", "/v1/members", body, headers=h)
    problem(resp, 409, "HTTP_IDEMPOTENCY_IN_PROGRESS", "Idempotency-Key")
    eq(hd.get("retry-after"), "1", "Retry-After")


@test
def client_errors_are_stored_and_replayed(s):
    a, b = s["a"], s["b"]
    h = {"Idempotency-Key": "shared-4"}
    body = {"email": "not an e-mail", "name": "Bad"}
    st, _, data, _ = a.request("POST", "/v1/members", body, headers=h)
    eq(st, 422, "invalid input")
    st2, hd2, data2, _ = b.request("POST", "/v1/members", body, headers=h)
    eq((st2, data2, hd2.get("idempotent-replayed")), (422, data, "true"), "4xx replayed")
    eq(sql("SELECT count(*) FROM idempotency_keys WHERE status IS NULL")[0][0], 1,
       "only the record made in flight by hand is open")


if __name__ == "__main__":
    run(setup, teardown)
