#!/usr/bin/env python3
"""standin.py - a local stand-in for a Stripe-shaped payment provider, for tests only.

Production talks to the real provider (docs/payments.md); this process plays its part on
loopback so that the tests exercise libcommunity's real HTTP client and webhook inbox:

  POST /v1/checkout/sessions   form-encoded like Stripe's API, Bearer secret key, Idempotency-Key
  GET  /pay/<session>          the hosted payment page (a Pay and a Cancel button)
  POST /pay/<session>          pay: completes the session (a subscription is created) and sends
                               the webhooks, then redirects to success_url
  POST /pay/<session>/cancel   back to cancel_url, nothing paid
  POST /v1/refunds             form-encoded (payment_intent, amount), Bearer key, Idempotency-Key:
                               refunds (part of) a paid session's payment; 400 beyond what is left

Webhooks are POSTed to the configured URL with a `Stripe-Signature: t=<time>,v1=<hex>` header
(HMAC-SHA256 of "<t>.<body>" under the webhook secret). Event `created` times come from a clock
that advances at least one second per event, so that every event has its own version.

Test controls (JSON in, JSON out), to deliver events twice, late, out of order or tampered:
  POST /_test/config            {"webhook_url": ...}
  POST /_test/hold              {"hold": true|false}: queue events instead of sending them
  POST /_test/release           {"order": "forward"|"reverse"}: send the queued events
  POST /_test/pay/<session>     pay without the browser (same as the Pay button)
  POST /_test/subscriptions/<id> {"status": ...}: the provider changes the subscription
                                (customer.subscription.updated, or .deleted for canceled)
  POST /_test/event             {"type": ..., "object": {...}}: a new event of any type
  POST /_test/send/<event>      {"mode": "normal"|"tampered"|"old"|"wrong_secret"}: deliver
                                an existing event again ("old": signed 10 minutes ago)
  GET  /_test/events            every event created, oldest first, with delivery results
  GET  /_test/refunds           every refund made, oldest first
  POST /_test/refunds/fail      {"fail": n}: answer the next n refund requests with HTTP 500

Start: standin.py --port 0 --secret-key sk_test_x --webhook-secret whsec_x [--portfile F];
it prints "PORT <n>" on stdout once listening.
"""
import argparse
import hashlib
import hmac
import html
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()
STATE = {
    "sessions": {}, "subscriptions": {}, "events": [], "idem": {}, "held": [], "hold": False,
    "webhook_url": None, "clock": 0, "n": 0, "refunds": [], "refund_failures": 0,
}
ARGS = None


def next_id(prefix):
    STATE["n"] += 1
    return "%s_test_%06d" % (prefix, STATE["n"])


def tick():
    """The provider's clock for event `created`: real time, at least 1 s after the last."""
    STATE["clock"] = max(int(time.time()), STATE["clock"] + 1)
    return STATE["clock"]


def sign(body, t, secret):
    mac = hmac.new(secret.encode(), ("%d." % t).encode() + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def deliver(ev, mode="normal"):
    body = json.dumps(ev["event"], separators=(",", ":")).encode()
    t = int(time.time())
    secret = ARGS.webhook_secret
    if mode == "old":
        t -= 600
    if mode == "wrong_secret":
        secret = "whsec_not_the_secret"
    header = sign(body, t, secret)
    if mode == "tampered":
        body = body.replace(b'"livemode":false', b'"livemode":true ')
    result = {"mode": mode, "status": None}
    url = STATE["webhook_url"]
    if url:
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Stripe-Signature": header})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                result["status"] = r.status
                result["reply"] = json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            result["status"] = e.code
            try:
                result["reply"] = json.loads(e.read() or b"null")
            except ValueError:
                result["reply"] = None
        except OSError as e:
            result["error"] = str(e)
    ev["deliveries"].append(result)
    return result


def emit(etype, obj):
    """Create an event; send it now unless events are held."""
    with LOCK:
        ev = {"event": {"id": next_id("evt"), "object": "event", "type": etype,
                        "created": tick(), "livemode": False, "api_version": "2024-06-20",
                        "data": {"object": json.loads(json.dumps(obj))}},
              "deliveries": []}
        STATE["events"].append(ev)
        if STATE["hold"]:
            STATE["held"].append(ev)
            return {"id": ev["event"]["id"], "held": True}
    return {"id": ev["event"]["id"], "delivery": deliver(ev)}


def pay(sid):
    with LOCK:
        s = STATE["sessions"].get(sid)
        if not s:
            return None, "no such session"
        if s["status"] != "open":
            return None, "session is " + s["status"]
        s["status"] = "complete"
        now = int(time.time())
        sub = None
        if s["mode"] == "subscription":
            trial = int(s.get("_trial_days") or 0)
            sub = {"id": next_id("sub"), "object": "subscription",
                   "status": "trialing" if trial else "active",
                   "current_period_end": now + (trial * 86400 if trial else
                                                (31 if s["_interval"] == "month" else 366) * 86400),
                   "metadata": s["_sub_metadata"], "cancel_at_period_end": False,
                   "items": {"data": [{"price": {"currency": s["currency"],
                                                 "unit_amount": s["amount_total"],
                                                 "recurring": {"interval": s["_interval"]}}}]}}
            STATE["subscriptions"][sub["id"]] = sub
            s["subscription"] = sub["id"]
            s["payment_status"] = "no_payment_required" if trial else "paid"
        else:
            s["payment_status"] = "paid"
            s["payment_intent"] = next_id("pi")
        public = {k: v for k, v in s.items() if not k.startswith("_")}
    out = []
    if sub:
        out.append(emit("customer.subscription.created", sub))
    out.append(emit("checkout.session.completed", public))
    return s, out


def parse_form(body):
    f = {}
    for k, v in urllib.parse.parse_qsl(body.decode(), keep_blank_values=True):
        f[k] = v
    return f


def create_session(f):
    li = "line_items[0][price_data]"
    mode = f.get("mode")
    if mode not in ("payment", "subscription"):
        return 400, {"error": {"type": "invalid_request_error", "message": "mode is invalid"}}
    try:
        amount = int(f[li + "[unit_amount]"]) * int(f.get("line_items[0][quantity]", "1"))
        currency = f[li + "[currency]"]
    except (KeyError, ValueError):
        return 400, {"error": {"type": "invalid_request_error", "message": "line_items invalid"}}
    if mode == "subscription" and f.get(li + "[recurring][interval]") not in ("month", "year"):
        return 400, {"error": {"type": "invalid_request_error", "message": "interval missing"}}
    for u in ("success_url", "cancel_url"):
        if not f.get(u, "").startswith(("http://", "https://")):
            return 400, {"error": {"type": "invalid_request_error", "message": u + " invalid"}}
    sid = next_id("cs")
    meta = {k[9:-1]: v for k, v in f.items() if k.startswith("metadata[")}
    smeta = {k[len("subscription_data[metadata]["):-1]: v for k, v in f.items()
             if k.startswith("subscription_data[metadata][")}
    s = {"id": sid, "object": "checkout.session", "mode": mode, "status": "open",
         "payment_status": "unpaid", "amount_total": amount, "currency": currency,
         "client_reference_id": f.get("client_reference_id"),
         "customer_email": f.get("customer_email"), "metadata": meta,
         "success_url": f["success_url"], "cancel_url": f["cancel_url"],
         "url": "http://127.0.0.1:%d/pay/%s" % (ARGS.port, sid),
         "expires_at": int(time.time()) + 86400, "created": int(time.time()),
         "subscription": None,
         "_interval": f.get(li + "[recurring][interval]"), "_sub_metadata": smeta,
         "_trial_days": f.get("subscription_data[trial_period_days]"),
         "_product": f.get(li + "[product_data][name]", "")}
    STATE["sessions"][sid] = s
    return 200, {k: v for k, v in s.items() if not k.startswith("_")}


def create_refund(f):
    pi = f.get("payment_intent")
    s = next((x for x in STATE["sessions"].values() if x.get("payment_intent") == pi), None)
    if not s:
        return 404, {"error": {"type": "invalid_request_error",
                               "message": "No such payment_intent: '%s'" % pi}}
    try:
        amount = int(f.get("amount", s["amount_total"]))
    except ValueError:
        return 400, {"error": {"type": "invalid_request_error", "message": "amount invalid"}}
    done = sum(r["amount"] for r in STATE["refunds"] if r["payment_intent"] == pi)
    if amount <= 0 or done + amount > s["amount_total"]:
        return 400, {"error": {"type": "invalid_request_error",
                               "message": "Refund amount is greater than unrefunded amount"}}
    meta = {k[9:-1]: v for k, v in f.items() if k.startswith("metadata[")}
    r = {"id": next_id("re"), "object": "refund", "amount": amount, "currency": s["currency"],
         "payment_intent": pi, "status": "succeeded", "metadata": meta,
         "created": int(time.time())}
    STATE["refunds"].append(r)
    return 200, r


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def reply(self, status, obj=None, ctype="application/json", body=None, headers=None):
        if body is None:
            body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def jbody(self):
        b = self.body()
        return json.loads(b) if b else {}

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path.startswith("/pay/"):
            s = STATE["sessions"].get(path[5:])
            if not s:
                return self.reply(404, body=b"no such checkout session", ctype="text/plain")
            page = ("<!doctype html><html><head><title>Pay - payment provider stand-in</title>"
                    "</head><body><h1>Test payment</h1><p id=product>%s</p>"
                    "<p id=amount>%d %s</p><p id=status>%s</p>"
                    "<form method=post action='/pay/%s'><button id=pay>Pay</button></form>"
                    "<form method=post action='/pay/%s/cancel'><button id=cancel>Cancel"
                    "</button></form></body></html>") % (
                        html.escape(s["_product"]), s["amount_total"],
                        html.escape(s["currency"].upper()), s["status"], s["id"], s["id"])
            return self.reply(200, body=page.encode(), ctype="text/html; charset=utf-8")
        if path == "/_test/events":
            with LOCK:
                return self.reply(200, STATE["events"])
        if path == "/_test/refunds":
            with LOCK:
                return self.reply(200, STATE["refunds"])
        if path.startswith("/v1/checkout/sessions/"):
            if not self.authorized():
                return
            s = STATE["sessions"].get(path.rsplit("/", 1)[1])
            if not s:
                return self.reply(404, {"error": {"message": "No such checkout session"}})
            return self.reply(200, {k: v for k, v in s.items() if not k.startswith("_")})
        return self.reply(404, {"error": {"message": "not found"}})

    def authorized(self):
        if self.headers.get("Authorization") != "Bearer " + ARGS.secret_key:
            self.reply(401, {"error": {"type": "invalid_request_error",
                                       "message": "Invalid API Key provided"}})
            return False
        return True

    def do_POST(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/v1/checkout/sessions":
            if not self.authorized():
                return
            raw = self.body()
            key = self.headers.get("Idempotency-Key")
            with LOCK:
                if key and key in STATE["idem"]:
                    prev_body, st, obj = STATE["idem"][key]
                    if prev_body != raw:
                        return self.reply(400, {"error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the "
                                       "same parameters they were first used with."}})
                    return self.reply(st, obj)
                st, obj = create_session(parse_form(raw))
                if key:
                    STATE["idem"][key] = (raw, st, obj)
            return self.reply(st, obj)
        if path == "/v1/refunds":
            if not self.authorized():
                return
            raw = self.body()
            key = self.headers.get("Idempotency-Key")
            with LOCK:
                if STATE["refund_failures"] > 0:
                    STATE["refund_failures"] -= 1
                    return self.reply(500, {"error": {"type": "api_error",
                                                      "message": "try again later"}})
                if key and key in STATE["idem"]:
                    prev_body, st, obj = STATE["idem"][key]
                    if prev_body != raw:
                        return self.reply(400, {"error": {"type": "idempotency_error",
                                                          "message": "key reused"}})
                    return self.reply(st, obj)
                st, obj = create_refund(parse_form(raw))
                if key:
                    STATE["idem"][key] = (raw, st, obj)
            return self.reply(st, obj)
        if path == "/_test/refunds/fail":
            STATE["refund_failures"] = int(self.jbody().get("fail", 0))
            return self.reply(200, {"ok": True})
        if path.startswith("/pay/"):
            self.body()
            rest = path[5:]
            if rest.endswith("/cancel"):
                s = STATE["sessions"].get(rest[:-7])
                if not s:
                    return self.reply(404, body=b"no such session", ctype="text/plain")
                return self.reply(303, body=b"", headers={"Location": s["cancel_url"]})
            s, out = pay(rest)
            if not s:
                return self.reply(409, body=out.encode(), ctype="text/plain")
            loc = s["success_url"].replace("{CHECKOUT_SESSION_ID}", s["id"])
            return self.reply(303, body=b"", headers={"Location": loc})
        if path == "/_test/config":
            STATE["webhook_url"] = self.jbody().get("webhook_url")
            return self.reply(200, {"ok": True})
        if path == "/_test/hold":
            STATE["hold"] = bool(self.jbody().get("hold"))
            return self.reply(200, {"ok": True})
        if path == "/_test/release":
            order = self.jbody().get("order", "forward")
            with LOCK:
                held, STATE["held"] = STATE["held"], []
            if order == "reverse":
                held.reverse()
            return self.reply(200, [dict(id=e["event"]["id"], delivery=deliver(e)) for e in held])
        if path.startswith("/_test/pay/"):
            self.body()
            s, out = pay(path[len("/_test/pay/"):])
            return self.reply(200 if s else 409, out if s else {"error": out})
        if path.startswith("/_test/subscriptions/"):
            sid = path[len("/_test/subscriptions/"):]
            status = self.jbody().get("status")
            with LOCK:
                sub = STATE["subscriptions"].get(sid)
                if not sub:
                    return self.reply(404, {"error": "no such subscription"})
                sub["status"] = status
                snap = json.loads(json.dumps(sub))
            etype = ("customer.subscription.deleted" if status == "canceled"
                     else "customer.subscription.updated")
            return self.reply(200, emit(etype, snap))
        if path == "/_test/event":
            b = self.jbody()
            return self.reply(200, emit(b["type"], b.get("object", {})))
        if path.startswith("/_test/send/"):
            eid = path[len("/_test/send/"):]
            mode = self.jbody().get("mode", "normal")
            ev = next((e for e in STATE["events"] if e["event"]["id"] == eid), None)
            if not ev:
                return self.reply(404, {"error": "no such event"})
            return self.reply(200, deliver(ev, mode))
        return self.reply(404, {"error": {"message": "not found"}})


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret-key", default="sk_test_standin")
    ap.add_argument("--webhook-secret", default="whsec_standin")
    ap.add_argument("--webhook-url")
    ap.add_argument("--portfile")
    ARGS = ap.parse_args()
    STATE["webhook_url"] = ARGS.webhook_url
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    ARGS.port = srv.server_address[1]
    if ARGS.portfile:
        with open(ARGS.portfile + ".tmp", "w") as f:
            f.write(str(ARGS.port))
        import os
        os.rename(ARGS.portfile + ".tmp", ARGS.portfile)
    print("PORT %d" % ARGS.port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
