"""test_payments_http.py - paid memberships end to end over HTTP: community-server with its
payment provider pointed at the stand-in (tests/payments/standin.py); a member subscribes, pays on
the stand-in's page, and the stand-in's signed webhooks reach POST /v1/payments/webhook (the raw
body and the Stripe-Signature header go to the library as they came). Then deliveries twice,
tampered, signed too long ago, with another secret, of an unknown type, and out of order; an
admin replays an event from the inbox; /openapi.json documents the webhook.

With CM_HTTP_PAYMENTS_PG=1 (test pg-http-payments) the server's store is a fresh schema on the
PostgreSQL server named by CM_TEST_PG_URI (psql creates and drops it); without that URI it skips,
as the other PostgreSQL suites do."""
import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("CM_HTTP_TESTS", ""), ""))
from httptest import Server, check, eq, problem, run, test  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "sk_test_http"
WEBHOOK_SECRET = "whsec_http_test"
PASSWORD = "correct horse battery"
S = {}


def standin(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(S["standin"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


PG = os.environ.get("CM_HTTP_PAYMENTS_PG") == "1"


def psql(sql):
    subprocess.run(["psql", os.environ["CM_TEST_PG_URI"], "-q", "-v", "ON_ERROR_STOP=1",
                    "-c", sql], check=True, stdout=subprocess.DEVNULL)


def store_uri():
    """None (the harness's SQLite file), or a fresh PostgreSQL schema's URI."""
    if not PG:
        return None
    base = os.environ["CM_TEST_PG_URI"]
    S["schema"] = "cmh_payments_%d" % os.getpid()
    psql("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s" % (S["schema"], S["schema"]))
    return "%s%soptions=-csearch_path%%3D%s" % (base, "&" if "?" in base else "?", S["schema"])


def make_admin(srv, member_id):
    if PG:
        psql("UPDATE %s.members SET role = 'admin' WHERE id = %d" % (S["schema"], member_id))
    else:
        srv.make_admin(member_id)


def setup():
    uri = store_uri()  # first: a failure here leaves no stand-in behind
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "standin.py"), "--port", "0",
                          "--secret-key", SECRET_KEY, "--webhook-secret", WEBHOOK_SECRET],
                         stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()
    check(line.startswith("PORT "), "stand-in started: %r" % line)
    S["standin_proc"] = p
    S["standin"] = "http://127.0.0.1:%d" % int(line.split()[1])
    srv = Server(args=["--rate-limit", "0"], db_uri=uri, env={
        "COMMUNITY_PAYMENTS_URL": S["standin"],
        "COMMUNITY_PAYMENTS_SECRET_KEY": SECRET_KEY,
        "COMMUNITY_PAYMENTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "COMMUNITY_PAYMENTS_SUCCESS_URL": "http://localhost:3000/membership?paid=1",
        "COMMUNITY_PAYMENTS_CANCEL_URL": "http://localhost:3000/membership",
    })
    S["srv"] = srv
    standin("POST", "/_test/config", {"webhook_url": srv.url + "/v1/payments/webhook"})
    for email in ("root@example.test", "mia@example.test"):
        st, _, _, js = srv.request("POST", "/v1/members",
                                   {"email": email, "name": "X", "password": PASSWORD})
        eq(st, 201, "signup")
        if email.startswith("root"):
            make_admin(srv, js["member"]["id"])
        st, _, _, js = srv.request("POST", "/v1/sessions", {"email": email, "password": PASSWORD})
        eq(st, 200, "login")
        S[email.split("@")[0]] = js["session"]["token"]
    return srv


def teardown(srv):
    srv.close()
    S["standin_proc"].terminate()
    S["standin_proc"].wait()
    if PG:
        psql("DROP SCHEMA IF EXISTS %s CASCADE" % S["schema"])


def events():
    return standin("GET", "/_test/events")


def mine(srv):
    st, _, _, js = srv.request("GET", "/v1/memberships/mine", token=S["mia"])
    eq(st, 200, "memberships.mine")
    return js["items"][0]


@test
def subscribe_pay_and_the_webhooks_activate(srv):
    st, _, _, tier = srv.request("POST", "/v1/membership-tiers", {
        "slug": "supporter", "name": "Supporter", "currency": "EUR", "monthly_price": 700,
        "yearly_price": 7000}, token=S["root"])
    eq(st, 201, "tier created")
    S["tier"] = tier["id"]
    st, _, _, js = srv.request("POST", "/v1/memberships", {"tier_id": tier["id"]},
                               token=S["mia"])
    eq(st, 200, "subscribe")
    url = js["checkout_url"]
    check(url.startswith(S["standin"] + "/pay/"), url)
    eq(js["subscription"]["status"], "incomplete", "before paying")
    with urllib.request.urlopen(url, timeout=30) as r:
        page = r.read().decode()
    check("700 EUR" in page and "Supporter" in page, "the payment page shows the price")
    # Pay: the stand-in completes the session, sends its webhooks, then redirects
    sid = url.rsplit("/", 1)[1]
    req = urllib.request.Request(url, data=b"", method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(req, timeout=60)
        check(False, "expected a redirect")
    except urllib.error.HTTPError as e:
        eq(e.code, 303, "redirect after paying")
        eq(e.headers["Location"], "http://localhost:3000/membership?paid=1", "success_url")
    evs = events()
    eq([e["event"]["type"] for e in evs],
       ["customer.subscription.created", "checkout.session.completed"], "events")
    eq([d["status"] for e in evs for d in e["deliveries"]], [200, 200], "both accepted")
    eq(evs[1]["event"]["data"]["object"]["id"], sid, "the session paid")
    sub = mine(srv)
    eq((sub["status"], sub["in_good_standing"]), ("active", True), "active after the webhooks")
    S["provider_sub"] = evs[0]["event"]["data"]["object"]["id"]
    S["first_event"] = evs[0]["event"]["id"]
    st, _, _, m = srv.request("GET", "/v1/metrics/business", token=S["root"])
    eq((m["counters"]["subscriptions"], m["counters"]["subscriptions_active"]), (1, 1), "metrics")


@test
def a_second_delivery_changes_nothing(srv):
    d = standin("POST", "/_test/send/" + S["first_event"], {"mode": "normal"})
    eq(d["status"], 200, "accepted")
    eq((d["reply"]["duplicate"], d["reply"]["deliveries"]), (True, 2), "duplicate")


@test
def tampered_old_and_foreign_signatures_are_refused(srv):
    for mode in ("tampered", "old", "wrong_secret"):
        d = standin("POST", "/_test/send/" + S["first_event"], {"mode": mode})
        eq(d["status"], 401, mode)
        eq((d["reply"]["code"], d["reply"].get("field")), ("CM_EAUTH", "signature"), mode)
    # no header at all
    body = json.dumps({"id": "evt_x", "type": "x", "created": 1, "data": {"object": {}}})
    problem(srv.request("POST", "/v1/payments/webhook", raw_body=body.encode(),
                        headers={"Content-Type": "application/json"}), 401, "CM_EAUTH")


@test
def unknown_event_types_are_stored_and_ignored(srv):
    r = standin("POST", "/_test/event", {"type": "charge.dispute.created",
                                         "object": {"id": "dp_1"}})
    eq(r["delivery"]["status"], 200, "accepted")
    eq(r["delivery"]["reply"]["outcome"], "ignored", "ignored")


@test
def out_of_order_deliveries_keep_the_newest_state(srv):
    standin("POST", "/_test/hold", {"hold": True})
    standin("POST", "/_test/subscriptions/" + S["provider_sub"], {"status": "past_due"})
    standin("POST", "/_test/subscriptions/" + S["provider_sub"], {"status": "active"})
    standin("POST", "/_test/hold", {"hold": False})
    out = standin("POST", "/_test/release", {"order": "reverse"})
    eq([o["delivery"]["reply"]["outcome"] for o in out], ["applied", "stale"], "newest wins")
    eq(mine(srv)["status"], "active", "still active")
    S["stale_event"] = out[1]["delivery"]["reply"]["id"]


@test
def admins_list_and_replay_the_inbox(srv):
    st, _, _, js = srv.request("GET", "/v1/payments/events?outcome=stale", token=S["root"])
    eq(st, 200, "list")
    ids = [e["id"] for e in js["items"]]
    check(S["stale_event"] in ids and all(e["outcome"] == "stale" for e in js["items"]), ids)
    path = "/v1/payments/events/%d/replay" % S["stale_event"]
    problem(srv.request("POST", path, {}, token=S["mia"]), 403, "CM_EPERM")
    st, _, _, js = srv.request("POST", path, {}, token=S["root"])
    eq((st, js["outcome"]), (200, "stale"), "replayed: still older than the state")
    eq(mine(srv)["status"], "active", "unchanged")


@test
def openapi_documents_the_webhook(srv):
    st, _, _, doc = srv.request("GET", "/openapi.json")
    eq(st, 200, "openapi")
    op = doc["paths"]["/v1/payments/webhook"]["post"]
    hdr = [p for p in op["parameters"] if p.get("in") == "header" and
           p.get("name") == "Stripe-Signature"]
    eq(len(hdr), 1, "the signature header is a parameter")
    eq(op["x-community-raw-body"], "payload", "raw body")
    check("requestBody" in op, "request body")


if __name__ == "__main__":
    if PG and not os.environ.get("CM_TEST_PG_URI"):
        print("1..0 # SKIP CM_TEST_PG_URI is not set (scripts/pg-test-server.sh start)")
        sys.exit(0)
    run(setup, teardown)
