"""test_payments_http.py - paid memberships end to end over HTTP: community-server with its
payment provider pointed at the stand-in (tests/payments/standin.py); a member subscribes, pays on
the stand-in's page, and the stand-in's signed webhooks reach POST /v1/payments/webhook (the raw
body and the Stripe-Signature header go to the library as they came). Then deliveries twice,
tampered, signed too long ago, with another secret, of an unknown type, and out of order; an
admin replays an event from the inbox; /openapi.json documents the webhook. Then ticket orders:
one paid on the stand-in's page and refunded by an admin in two parts (a retry is a replay, more
than what is left is refused, the ledger and the order's totals and the revenue follow, each part
is refunded once at the stand-in by payments.send_refunds), and two
payments that cannot pay their order (after the buyer cancelled the hold, and of another amount)
refunded at the stand-in by payments.send_refunds, once each, a failing first request included;
8 refunds of 10.00 sent at once on 8 connections for a payment of 30.00: 3 pass (and are refunded
at the stand-in), 5 are refused.

With CM_HTTP_PAYMENTS_PG=1 (test pg-http-payments) the server's store is a fresh schema on the
PostgreSQL server named by CM_TEST_PG_URI (psql creates and drops it); without that URI it skips,
as the other PostgreSQL suites do."""
import json
import os
import subprocess
import sys
import threading
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


# ---- ticket orders: payments and refunds over HTTP ----

def order(srv, oid, token=None):
    st, _, _, o = srv.request("GET", "/v1/orders/%d" % oid, token=token or S["mia"])
    eq(st, 200, "orders.get")
    return o


def ledger(o):
    return [(e["kind"], e["amount_minor"], e["reason"]) for e in o["ledger"]]


def hold(srv, n):
    """Mia holds n tickets of the 15.00 EUR type and starts its checkout: (order, session id)."""
    st, _, _, o = srv.request("POST", "/v1/ticket-types/%d/orders" % S["ticket_type"],
                              {"quantity": n}, token=S["mia"])
    eq((st, o["state"], o["total_minor"]), (200, "reserved", 1500 * n), "hold")
    st, _, _, js = srv.request("POST", "/v1/orders/%d/checkout" % o["id"], {}, token=S["mia"])
    eq((st, js["order"]["state"]), (200, "pending_payment"), "checkout")
    check(js["checkout_url"].startswith(S["standin"] + "/pay/"), js["checkout_url"])
    return o["id"], js["checkout_url"].rsplit("/", 1)[1]


def refund(srv, oid, body, token=None):
    return srv.request("POST", "/v1/orders/%d/refunds" % oid, body, token=token or S["root"])


def refunds_at_provider(pi):
    return [r["amount"] for r in standin("GET", "/_test/refunds") if r["payment_intent"] == pi]


def owed(srv):
    """The refunds owed at the provider, by payment: (reason, amount, status, attempts)."""
    st, _, _, js = srv.request("GET", "/v1/payments/refunds", token=S["root"])
    eq(st, 200, "payments.refunds")
    return {r["payment_reference"]: (r["reason"], r["amount_minor"], r["status"], r["attempts"])
            for r in js["items"]}


def payment_of(event_id):
    """The payment_intent of the stand-in's event event_id."""
    ev = [e for e in events() if e["event"]["id"] == event_id][0]
    return ev["event"]["data"]["object"]["payment_intent"]


def requested(srv, oid):
    """The refunds orders.refund owes at the provider for order oid, oldest first:
    (ledger reference, payment, amount, status)."""
    st, _, _, js = srv.request("GET", "/v1/payments/refunds?limit=500", token=S["root"])
    eq(st, 200, "payments.refunds")
    return [(r["ledger_reference"], r["payment_reference"], r["amount_minor"], r["status"])
            for r in reversed(js["items"]) if r["order_id"] == oid and r["reason"] == "requested"]


def send_refunds(srv):
    st, _, _, js = srv.request("POST", "/v1/payments/refunds/send", {}, token=S["root"])
    eq(st, 200, "payments.send_refunds")
    return (js["sent"], js["failed"], js["pending"])


def revenue(srv):
    st, _, _, m = srv.request("GET", "/v1/metrics/business", token=S["root"])
    eq(st, 200, "metrics")
    r = m["revenue"].get("EUR", {"paid_minor": 0, "refunded_minor": 0, "net_minor": 0})
    return (r["paid_minor"], r["refunded_minor"], r["net_minor"])


@test
def a_paid_order_is_refunded_in_parts_never_beyond_what_was_paid(srv):
    st, _, _, ev = srv.request("POST", "/v1/events", {
        "title": "Gala", "format": "online", "online_url": "https://meet.example/gala",
        "start_local": "2030-05-01T18:00", "end_local": "2030-05-01T20:00", "timezone": "UTC",
        "publish": True, "capacity": 10}, token=S["root"])
    eq(st, 201, "event")
    st, _, _, tt = srv.request("POST", "/v1/events/%d/ticket-types" % ev["id"], {
        "name": "Standard", "price_minor": 1500, "currency": "EUR"}, token=S["root"])
    eq(st, 201, "ticket type")
    S["ticket_type"] = tt["id"]
    oid, sid = hold(srv, 2)
    out = standin("POST", "/_test/pay/" + sid)
    eq(len(out), 1, "one event")
    eq((out[0]["delivery"]["status"], out[0]["delivery"]["reply"]["outcome"]), (200, "applied"),
       "the webhook pays the order")
    o = order(srv, oid)
    eq((o["state"], o["paid_minor"], o["refunded_minor"]), ("paid", 3000, 0), "paid")
    eq(len(o["tickets"]), 2, "a ticket per seat")
    before = revenue(srv)
    # the buyer does not refund herself; nobody refunds more than was paid
    problem(refund(srv, oid, {"amount_minor": 1000, "reference": "r-mia"}, token=S["mia"]), 403,
            "CM_EPERM")
    problem(refund(srv, oid, {"amount_minor": 3001, "reference": "r-big"}), 409,
            "CM_ECONSTRAINT", "amount_minor")
    st, _, _, js = refund(srv, oid, {"amount_minor": 1000, "reference": "r-1",
                                     "reason": "one guest cannot come"})
    eq((st, js["replay"], js["order"]["state"]), (200, False, "partially_refunded"), "part")
    eq((js["order"]["paid_minor"], js["order"]["refunded_minor"]), (3000, 1000), "totals")
    # the same refund again (a retry) is a replay; the same key for another amount a conflict
    st, _, _, js = refund(srv, oid, {"amount_minor": 1000, "reference": "r-1",
                                     "reason": "one guest cannot come"})
    eq((st, js["replay"], js["order"]["refunded_minor"]), (200, True, 1000), "replay")
    problem(refund(srv, oid, {"amount_minor": 900, "reference": "r-1"}), 409, "CM_ECONFLICT",
            "reference")
    problem(refund(srv, oid, {"amount_minor": 2001, "reference": "r-2"}), 409,
            "CM_ECONSTRAINT", "amount_minor")
    o = order(srv, oid)
    eq([t["status"] for t in o["tickets"]], ["valid", "valid"], "a part keeps the tickets")
    # the rest (no amount: all that is left) makes the order refunded, its tickets void
    st, _, _, js = refund(srv, oid, {"reference": "r-2"})
    eq((st, js["order"]["state"]), (200, "refunded"), "rest")
    o = order(srv, oid)
    eq((o["paid_minor"], o["refunded_minor"]), (3000, 3000), "all refunded")
    eq(ledger(o), [("payment", 3000, ""), ("refund", 1000, "one guest cannot come"),
                   ("refund", 2000, "")], "the ledger, in order")
    check(all(t["status"] == "void" for t in o["tickets"]), o["tickets"])
    problem(refund(srv, oid, {"amount_minor": 1, "reference": "r-3"}), 409, "CM_ECONSTRAINT")
    # paid at the provider: each part is owed there (the replay owes nothing more) and sent
    # once, under a key of its own: the stand-in refunded the whole payment in two refunds
    pi = payment_of(out[0]["id"])
    eq(requested(srv, oid), [("r-1", pi, 1000, "pending"), ("r-2", pi, 2000, "pending")],
       "owed at the provider")
    eq(send_refunds(srv), (2, 0, 0), "both parts sent")
    eq(send_refunds(srv), (0, 0, 0), "nothing twice")
    eq(refunds_at_provider(pi), [1000, 2000], "refunded at the stand-in, in two parts")
    eq(requested(srv, oid), [("r-1", pi, 1000, "sent"), ("r-2", pi, 2000, "sent")], "sent")
    after = revenue(srv)
    eq((after[0] - before[0], after[1] - before[1], after[2] - before[2]), (0, 3000, -3000),
       "revenue: the refunds, summed from the ledger")
    # the seats came back: the event sells all 10 again
    st, _, _, js = srv.request("POST", "/v1/ticket-types/%d/orders" % S["ticket_type"],
                               {"quantity": 10}, token=S["root"])
    eq((st, js["state"]), (200, "reserved"), "10 seats free again")
    st, _, _, _ = srv.request("DELETE", "/v1/orders/%d" % js["id"], token=S["root"])
    eq(st, 200, "cancel that hold")


@test
def payments_that_cannot_pay_are_refunded_at_the_provider_once(srv):
    owed_before = owed(srv)
    eq(send_refunds(srv), (0, 0, 0), "nothing owed yet")
    # a late payment: the buyer cancels her hold while the provider takes the money
    late, sid = hold(srv, 2)
    standin("POST", "/_test/hold", {"hold": True})
    standin("POST", "/_test/pay/" + sid)
    st, _, _, _ = srv.request("DELETE", "/v1/orders/%d" % late, token=S["mia"])
    eq(st, 200, "cancelled")
    standin("POST", "/_test/hold", {"hold": False})
    out = standin("POST", "/_test/release", {"order": "forward"})
    reply = out[0]["delivery"]["reply"]
    eq((out[0]["delivery"]["status"], reply["outcome"]), (200, "applied"), "accepted")
    check("refund" in reply["detail"], reply["detail"])
    session = [e for e in events() if e["event"]["type"] == "checkout.session.completed"][-1]
    pi_late = session["event"]["data"]["object"]["payment_intent"]
    o = order(srv, late)
    eq((o["state"], o["paid_minor"], o["refunded_minor"]), ("cancelled", 3000, 3000), "late")
    eq(ledger(o), [("payment", 3000, ""), ("refund", 3000, "late_payment")],
       "payment and equal refund")
    eq(o.get("tickets"), [], "no tickets")
    problem(refund(srv, late, {"amount_minor": 1, "reference": "r-late"}), 409, "CM_ECONSTRAINT")
    # a payment of another amount for a live hold: recorded, refused, refunded (the
    # provider's own event for the session stays held, never delivered)
    odd, sid = hold(srv, 1)
    standin("POST", "/_test/hold", {"hold": True})
    standin("POST", "/_test/pay/" + sid)
    standin("POST", "/_test/hold", {"hold": False})
    held = [e for e in events() if e["event"]["type"] == "checkout.session.completed"][-1]
    pi_odd = held["event"]["data"]["object"]["payment_intent"]
    obj = dict(held["event"]["data"]["object"], amount_total=900)
    r = standin("POST", "/_test/event", {"type": "checkout.session.completed", "object": obj})
    eq((r["delivery"]["status"], r["delivery"]["reply"]["outcome"]), (200, "applied"), "odd")
    o = order(srv, odd)
    eq((o["state"], o["paid_minor"], o["refunded_minor"]), ("pending_payment", 900, 900),
       "not paid by another amount")
    problem(refund(srv, odd, {"amount_minor": 1, "reference": "r-odd"}), 409, "CM_ECONSTRAINT")
    # both refunds are owed at the provider; the first request fails, the job retries
    new = {k: v for k, v in owed(srv).items() if k not in owed_before}
    eq(new, {pi_late: ("late_payment", 3000, "pending", 0),
             pi_odd: ("amount_mismatch", 900, "pending", 0)}, "owed")
    standin("POST", "/_test/refunds/fail", {"fail": 1})
    eq(send_refunds(srv), (1, 0, 1), "one sent, one failed once and still pending")
    eq(send_refunds(srv), (1, 0, 0), "the other on the next round")
    eq(send_refunds(srv), (0, 0, 0), "nothing twice")
    eq(refunds_at_provider(pi_late), [3000], "the late payment returned once")
    left = {k: v[2] for k, v in owed(srv).items() if k not in owed_before}
    eq(left, {pi_late: "sent", pi_odd: "sent"}, "both sent")
    eq(refunds_at_provider(pi_odd), [900], "the odd payment returned once")
    # a redelivery of the late payment changes nothing and owes nothing more
    d = standin("POST", "/_test/send/" + session["event"]["id"], {"mode": "normal"})
    eq(d["reply"]["duplicate"], True, "duplicate")
    eq(send_refunds(srv), (0, 0, 0), "still nothing")
    eq(order(srv, late)["refunded_minor"], 3000, "refunded once")


@test
def concurrent_refunds_never_exceed_the_payment(srv):
    oid, sid = hold(srv, 2)
    out = standin("POST", "/_test/pay/" + sid)
    eq(out[0]["delivery"]["reply"]["outcome"], "applied", "paid")
    # 8 admins' requests of 10.00 each at once, on 8 connections, for a payment of 30.00
    n = 8
    gate = threading.Barrier(n)
    answers = [None] * n

    def one(i):
        gate.wait()
        answers[i] = refund(srv, oid, {"amount_minor": 1000, "reference": "race-%d" % i})
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [a for a in answers if a[0] == 200]
    for a in answers:  # the others find the order refunded: nothing is left
        if a[0] != 200:
            problem(a, 409, "CM_ECONSTRAINT", "order_id")
    eq(len(ok), 3, "three refunds of 10.00 fit in 30.00")
    o = order(srv, oid)
    eq((o["state"], o["paid_minor"], o["refunded_minor"]), ("refunded", 3000, 3000), "totals")
    eq(sorted(e[1] for e in ledger(o) if e[0] == "refund"), [1000, 1000, 1000], "ledger")
    # the three are owed at the provider, and sent there once each
    eq(sorted(r[2] for r in requested(srv, oid)), [1000, 1000, 1000], "owed at the provider")
    eq(send_refunds(srv), (3, 0, 0), "the three sent")
    pi = payment_of(out[0]["id"])
    eq(refunds_at_provider(pi), [1000, 1000, 1000], "refunded at the stand-in")

if __name__ == "__main__":
    if PG and not os.environ.get("CM_TEST_PG_URI"):
        print("1..0 # SKIP CM_TEST_PG_URI is not set (scripts/pg-test-server.sh start)")
        sys.exit(0)
    run(setup, teardown)
