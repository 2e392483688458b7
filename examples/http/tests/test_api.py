"""test_api.py - community-server REST API over real sockets: routes derived
from cm_ops_describe, authentication (bearer, cookie + CSRF), error mapping
to problem details, pagination, idempotency, CORS, health/readiness/metrics,
logs. Every rejected request is checked to have changed nothing."""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, problem, run, test  # noqa: E402

ORIGIN = "https://app.example.test"
PASSWORD = "correct horse 1"
S = {}  # shared state between tests (they run in order)


def setup():
    srv = Server(args=["--rate-limit", "0", "--cors-origins", ORIGIN + ",https://other.test"])
    S["srv"] = srv
    return srv


def teardown(srv):
    srv.close()


def signup(srv, email, name="Someone", password=PASSWORD, **kw):
    body = {"email": email, "name": name}
    if password:
        body["password"] = password
    body.update(kw)
    return srv.request("POST", "/v1/members", body)


def audit_count(srv):
    """Rows in the audit log (every committed mutation writes one), through the
    API as the admin."""
    n, cursor = 0, None
    while True:
        path = "/v1/audit?limit=500" + ("&cursor=" + cursor if cursor else "")
        st, _, _, js = srv.request("GET", path, token=S["admin_token"])
        eq(st, 200, "audit.list")
        n += len(js["items"])
        cursor = js["next_cursor"]
        if not cursor:
            return n


def unchanged(srv, before, what):
    eq(audit_count(srv), before, "audit rows after " + what)


def cookies_of(hd):
    sc = hd.get("set-cookie", [])
    return sc if isinstance(sc, list) else [sc]


def cookie_value(set_cookie, name):
    for c in set_cookie:
        first = c.split(";", 1)[0]
        k, _, v = first.partition("=")
        if k == name:
            return v, c
    return None, None


# -- host endpoints ---------------------------------------------------------


@test
def healthz_and_readyz(srv):
    st, hd, _, js = srv.request("GET", "/healthz")
    eq((st, js), (200, {"status": "ok"}), "healthz")
    st, _, _, js = srv.request("GET", "/readyz")
    eq((st, js), (200, {"status": "ready"}), "readyz")
    st, hd, data, _ = srv.request("HEAD", "/healthz")
    eq((st, data), (200, b""), "HEAD healthz has no body")
    eq(hd.get("content-length"), "15", "HEAD keeps Content-Length")
    problem(srv.request("POST", "/healthz", {}), 405, "HTTP_METHOD_NOT_ALLOWED")


@test
def openapi_document(srv):
    st, hd, _, doc = srv.request("GET", "/openapi.json")
    eq(st, 200, "openapi status")
    eq(doc["openapi"], "3.1.0", "openapi version")
    sec = doc["components"]["securitySchemes"]
    eq(sec["bearerAuth"]["scheme"], "bearer", "bearer scheme")
    eq((sec["cookieAuth"]["in"], sec["cookieAuth"]["name"]), ("cookie", "cm_session"), "cookie")
    check("Problem" in doc["components"]["schemas"], "Problem schema")
    # every operation of the library is a path+method, with its schema
    paths = doc["paths"]
    signup_op = paths["/v1/members"]["post"]
    eq(signup_op["operationId"], "members.signup", "signup operationId")
    body = signup_op["requestBody"]["content"]["application/json"]["schema"]
    check("email" in body["properties"] and "email" in body["required"], "signup body schema")
    check("201" in signup_op["responses"] and "422" in signup_op["responses"], "responses")
    # results are typed from the operations' result schemas
    res = signup_op["responses"]["201"]["content"]["application/json"]["schema"]
    eq(res["properties"]["member"]["$ref"], "#/components/schemas/Member", "signup result")
    member = doc["components"]["schemas"]["Member"]
    check("email" in member["properties"] and "id" in member["required"], "Member schema")
    lst_res = paths["/v1/events"]["get"]["responses"]["200"]["content"]["application/json"]
    eq(lst_res["schema"]["properties"]["items"]["items"]["$ref"], "#/components/schemas/Event",
       "events.list result")
    get_op = paths["/v1/members/{member_id}"]["get"]
    p = [x for x in get_op["parameters"] if x.get("name") == "member_id"][0]
    eq((p["in"], p["required"], p["schema"]["type"]), ("path", True, "integer"), "path param")
    lst = paths["/v1/members"]["get"]
    q = {x["name"]: x for x in lst["parameters"] if "name" in x}
    eq((q["limit"]["in"], q["limit"]["schema"]["type"]), ("query", "integer"), "query param")
    eq(paths["/v1/me"]["get"]["security"], [{"bearerAuth": []}, {"cookieAuth": []}], "security")
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        check(path in paths, "host path " + path)
    # every $ref resolves
    refs = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "$ref":
                    refs.append(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(doc)
    for r in refs:
        node = doc
        for part in r[2:].split("/"):
            node = node[part]


# -- sign-up, login, bearer -----------------------------------------------------


@test
def signup_creates_member_with_session(srv):
    st, hd, _, js = srv.request("POST", "/v1/members",
                                {"email": "ann@example.test", "name": "Ann",
                                 "password": PASSWORD},
                                headers={"X-Request-Id": "req-signup-1"})
    eq(st, 201, "signup status")
    eq(hd.get("x-request-id"), "req-signup-1", "request id echoed")
    check(js["session"]["token"].startswith("cms_"), "session token")
    S["ann"] = js["member"]["id"]
    S["ann_token"] = js["session"]["token"]
    check("set-cookie" not in hd, "no cookie unless asked")
    # the admin: a member promoted by the operator
    st, _, _, js = signup(srv, "root@example.test", "Root")
    eq(st, 201, "admin signup")
    srv.make_admin(js["member"]["id"])
    S["admin"] = js["member"]["id"]
    st, _, _, js = srv.request("POST", "/v1/sessions",
                               {"email": "root@example.test", "password": PASSWORD})
    eq(st, 200, "admin login")
    eq(js["member"]["role"], "admin", "admin role")
    S["admin_token"] = js["session"]["token"]


@test
def login_and_bearer(srv):
    st, _, _, js = srv.request("POST", "/v1/sessions",
                               {"email": "ANN@example.test", "password": PASSWORD})
    eq(st, 200, "login")
    tok = js["session"]["token"]
    st, _, _, me = srv.request("GET", "/v1/me", token=tok)
    eq((st, me["email"]), (200, "ann@example.test"), "members.me by bearer")
    before = audit_count(srv)
    problem(srv.request("POST", "/v1/sessions",
                        {"email": "ann@example.test", "password": "wrong password"}),
            401, "CM_EAUTH")
    unchanged(srv, before, "bad login")


@test
def password_guessing_is_throttled_per_account(srv):
    # The per-IP rate limit is off in this server: the account's own
    # throttle answers 429 after a few failures, before any password work,
    # even to the right password, and with a Retry-After.
    eq(signup(srv, "guessed@example.test")[0], 201, "signup")
    import concurrent.futures
    body = {"email": "guessed@example.test", "password": "wrong guess"}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        res = list(pool.map(lambda _: srv.request("POST", "/v1/sessions", body), range(40)))
    statuses = [r[0] for r in res]
    check(set(statuses) <= {401, 429}, "only 401 and 429: %s" % statuses)
    check(statuses.count(401) <= 5 + 8, "at most the free failures (+ those in flight) were "
          "checked: %d" % statuses.count(401))
    st, hd, _, js = srv.request("POST", "/v1/sessions",
                                {"email": "GUESSED@example.test", "password": PASSWORD})
    eq((st, js["code"]), (429, "CM_ETHROTTLED"), "the right password is refused while locked")
    check(int(hd["retry-after"]) >= 1, "Retry-After: %s" % hd.get("retry-after"))
    eq(srv.request("POST", "/v1/sessions", {"email": "ann@example.test",
                                            "password": PASSWORD})[0], 200, "others sign in")


@test
def missing_and_bad_auth(srv):
    r = srv.request("GET", "/v1/me")
    problem(r, 401, "CM_EAUTH")
    check("Bearer" in r[1].get("www-authenticate", ""), "WWW-Authenticate")
    r = srv.request("GET", "/v1/me", token="cms_not-a-real-token")
    problem(r, 401, "CM_EAUTH")
    check("invalid_token" in r[1].get("www-authenticate", ""), "invalid_token")
    problem(srv.request("GET", "/v1/me", headers={"Authorization": "Basic YTpi"}), 401,
            "CM_EAUTH")
    before = audit_count(srv)
    problem(srv.request("PATCH", "/v1/me", {"headline": "x"}), 401, "CM_EAUTH")
    unchanged(srv, before, "anonymous PATCH")


@test
def wrong_role_is_403(srv):
    before = audit_count(srv)
    problem(srv.request("GET", "/v1/audit", token=S["ann_token"]), 403, "CM_EPERM")
    problem(srv.request("PUT", "/v1/members/%d/role" % S["admin"], {"role": "member"},
                        token=S["ann_token"]), 403, "CM_EPERM")
    unchanged(srv, before, "forbidden role change")
    st, _, _, js = srv.request("GET", "/v1/members/%d" % S["admin"], token=S["ann_token"])
    eq((st, js["role"]), (200, "admin"), "admin still admin")


# -- create / read / update -------------------------------------------------------


@test
def create_read_update(srv):
    st, _, _, js = srv.request("PATCH", "/v1/me", {"headline": "Organizer of things"},
                               token=S["ann_token"])
    eq((st, js["headline"]), (200, "Organizer of things"), "update")
    st, _, _, js = srv.request("GET", "/v1/members/%d" % S["ann"], token=S["admin_token"])
    eq((st, js["headline"]), (200, "Organizer of things"), "read back")
    # PUT with a path parameter + body, by the admin
    st, _, _, js = srv.request("PUT", "/v1/members/%d/role" % S["ann"], {"role": "organizer"},
                               token=S["admin_token"])
    eq((st, js["role"]), (200, "organizer"), "set_role")
    # body contradicting the path
    before = audit_count(srv)
    problem(srv.request("PUT", "/v1/members/%d/role" % S["ann"],
                        {"role": "member", "member_id": S["admin"]}, token=S["admin_token"]),
            400, "CM_EINVAL", "member_id")
    problem(srv.request("GET", "/v1/members/999999", token=S["admin_token"]), 404,
            "CM_ENOTFOUND")
    unchanged(srv, before, "contradicting path")


# -- validation and error mapping ----------------------------------------------------


@test
def duplicate_is_409_with_field(srv):
    before = audit_count(srv)
    problem(signup(srv, "Ann@Example.test"), 409, "CM_EEXISTS", "email")
    unchanged(srv, before, "duplicate signup")


@test
def schema_errors_are_422_with_field(srv):
    before = audit_count(srv)
    problem(srv.request("POST", "/v1/members", {"email": "x@example.test", "name": 5}), 422,
            "CM_EINVAL", "name")
    problem(srv.request("POST", "/v1/members", {"name": "No Email"}), 422, "CM_EINVAL",
            "email")
    problem(srv.request("POST", "/v1/members", {"email": "not-an-email", "name": "X"}), 422,
            "CM_EINVAL", "email")
    problem(srv.request("POST", "/v1/members",
                        {"email": "y@example.test", "name": "Y", "is_admin": True}),
            422, "CM_EINVAL", "is_admin")
    problem(srv.request("GET", "/v1/members?limit=1000", token=S["admin_token"]), 422,
            "CM_EINVAL", "limit")
    problem(srv.request("PATCH", "/v1/me", {"visibility": "everyone"}, token=S["ann_token"]),
            422, "CM_EINVAL", "visibility")
    unchanged(srv, before, "schema errors")


@test
def malformed_input_is_400(srv):
    before = audit_count(srv)
    hj = {"Content-Type": "application/json"}
    problem(srv.request("POST", "/v1/members", raw_body=b'{"email": "a@b.c", ', headers=hj),
            400, "CM_EINVAL")
    problem(srv.request("POST", "/v1/members", raw_body=b'[1,2]', headers=hj), 400,
            "CM_EINVAL")
    problem(srv.request("POST", "/v1/members",
                        raw_body=b'{"email":"d@example.test","email":"e@example.test",'
                                 b'"name":"D"}', headers=hj), 400, "CM_EINVAL")
    problem(srv.request("POST", "/v1/members", raw_body=b'email=a@b.c',
                        headers={"Content-Type": "application/x-www-form-urlencoded"}),
            415, "HTTP_UNSUPPORTED_MEDIA_TYPE")
    problem(srv.request("GET", "/v1/members?limit=abc", token=S["admin_token"]), 400,
            "CM_EINVAL", "limit")
    problem(srv.request("GET", "/v1/members/abc", token=S["admin_token"]), 400, "CM_EINVAL",
            "member_id")
    problem(srv.request("GET", "/v1/members?limit=1&limit=2", token=S["admin_token"]), 400,
            "CM_EINVAL", "limit")
    problem(srv.request("POST", "/v1/members?email=z@example.test", {"name": "Q"}), 400,
            "CM_EINVAL", "email")
    unchanged(srv, before, "malformed input")


@test
def unknown_route_and_wrong_method(srv):
    problem(srv.request("GET", "/v1/nothing-here"), 404, "CM_EUNKNOWNOP")
    problem(srv.request("GET", "/v1/members/"), 404, "CM_EUNKNOWNOP")
    before = audit_count(srv)
    r = srv.request("DELETE", "/v1/me", token=S["ann_token"])
    problem(r, 405, "HTTP_METHOD_NOT_ALLOWED")
    allow = r[1].get("allow", "")
    check("GET" in allow and "PATCH" in allow, "Allow lists the methods: " + allow)
    unchanged(srv, before, "405")


# -- pagination ------------------------------------------------------------------


@test
def cursor_pagination(srv):
    for i in range(5):
        st, _, _, _ = signup(srv, "page%d@example.test" % i, "Page %d" % i, password=None)
        eq(st, 201, "signup for paging")
    seen, cursor, pages, link_ok = [], None, 0, True
    while True:
        path = "/v1/members?limit=2" + ("&cursor=" + cursor if cursor else "")
        st, hd, _, js = srv.request("GET", path, token=S["admin_token"])
        eq(st, 200, "members.list page")
        check(len(js["items"]) <= 2, "page size")
        seen += [m["id"] for m in js["items"]]
        pages += 1
        cursor = js["next_cursor"]
        if cursor:
            link_ok &= "cursor=" in hd.get("link", "") and 'rel="next"' in hd.get("link", "")
        else:
            check("link" not in hd, "no Link on the last page")
            break
        check(pages < 50, "pagination terminates")
    check(link_ok, "Link rel=next on every non-last page")
    eq(len(seen), len(set(seen)), "no duplicates across pages")
    check(len(seen) >= 7 and pages >= 4, "all members paged: %d in %d pages" % (len(seen), pages))


@test
def invalid_utf8_is_400_with_the_field(srv):
    problem(srv.request("GET", "/v1/events?q=%FF"), 400, "CM_EINVAL", "q")
    problem(srv.request("GET", "/v1/events?q=ok%C3"), 400, "CM_EINVAL", "q")
    before = audit_count(srv)
    problem(srv.request("DELETE", "/v1/reactions/%FF/1/like", token=S["ann_token"]), 400,
            "CM_EINVAL", "target_type")
    unchanged(srv, before, "invalid UTF-8 in a path segment")
    st, _, _, _ = srv.request("GET", "/v1/events?q=%C3%A9t%C3%A9")
    eq(st, 200, "valid UTF-8 still works")


@test
def link_header_is_built_from_parsed_values(srv):
    # the host's own cookie parameter is not an operation input: its raw text
    # must not reach the Link header
    evil = "/v1/members?limit=1&cookie=0%3E;rel=x&cookie=a>,<https://evil.test/>;rel=preload"
    st, hd, _, js = srv.request("GET", evil, token=S["admin_token"])
    eq(st, 200, "list")
    link = hd.get("link", "")
    check(js["next_cursor"] and link, "a next page")
    check("evil" not in link and "preload" not in link and "cookie" not in link,
          "no injected text: %r" % link)
    eq(link.count("<"), 1, "one link: %r" % link)
    eq(link.count(">"), 1, "one link: %r" % link)
    check(link.startswith("</v1/members?limit=1&cursor=") and link.endswith('>; rel="next"'),
          "rebuilt link: %r" % link)
    # values are re-encoded from their decoded form
    st, hd, _, js = srv.request("GET", "/v1/members?limit=%31", token=S["admin_token"])
    check(hd.get("link", "").startswith("</v1/members?limit=1&cursor="), hd.get("link"))


# -- cookies and CSRF --------------------------------------------------------------


@test
def cookie_login_and_csrf(srv):
    st, hd, _, js = srv.request("POST", "/v1/sessions?cookie=1",
                                {"email": "ann@example.test", "password": PASSWORD})
    eq(st, 200, "cookie login")
    check(js["session"]["token"], "JSON still has the session")
    sc = cookies_of(hd)
    sess, sess_attr = cookie_value(sc, "cm_session")
    csrf, csrf_attr = cookie_value(sc, "cm_csrf")
    check(sess and csrf, "both cookies set: %s" % sc)
    for attr in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="):
        check(attr in sess_attr, "cm_session has " + attr)
    check("HttpOnly" not in csrf_attr and "Secure" in csrf_attr, "cm_csrf readable, Secure")
    eq(hd.get("x-csrf-token"), csrf, "X-CSRF-Token header")
    jar = "cm_session=%s; cm_csrf=%s" % (sess, csrf)
    st, _, _, me = srv.request("GET", "/v1/me", headers={"Cookie": jar})
    eq((st, me["id"]), (200, S["ann"]), "cookie-authenticated read")
    before = audit_count(srv)
    headline = me["headline"]
    problem(srv.request("PATCH", "/v1/me", {"headline": "csrf"}, headers={"Cookie": jar}),
            403, "HTTP_CSRF_FAILED")
    problem(srv.request("PATCH", "/v1/me", {"headline": "csrf"},
                        headers={"Cookie": jar, "X-CSRF-Token": "0" * 64}),
            403, "HTTP_CSRF_FAILED")
    problem(srv.request("PATCH", "/v1/me", {"headline": "csrf"},
                        headers={"Cookie": jar, "X-CSRF-Token": csrf,
                                 "Origin": "https://evil.test"}),
            403, "HTTP_CSRF_FAILED")
    unchanged(srv, before, "CSRF rejections")
    st, _, _, me = srv.request("GET", "/v1/me", headers={"Cookie": jar})
    eq(me["headline"], headline, "headline unchanged")
    st, _, _, me = srv.request("PATCH", "/v1/me", {"headline": "via cookie"},
                               headers={"Cookie": jar, "X-CSRF-Token": csrf, "Origin": ORIGIN})
    eq((st, me["headline"]), (200, "via cookie"), "cookie PATCH with CSRF token")
    # the token is bound to the session: a cm_csrf cookie planted by an
    # attacker (e.g. from a sibling subdomain) with a matching header fails
    planted = "cm_session=%s; cm_csrf=%s" % (sess, "a" * 64)
    before = audit_count(srv)
    problem(srv.request("PATCH", "/v1/me", {"headline": "planted"},
                        headers={"Cookie": planted, "X-CSRF-Token": "a" * 64}),
            403, "HTTP_CSRF_FAILED")
    unchanged(srv, before, "planted CSRF cookie")
    # and it stays the same for the session (another sign-in gives another)
    st, hd2, _, _ = srv.request("POST", "/v1/sessions?cookie=1",
                                {"email": "ann@example.test", "password": PASSWORD})
    check(hd2.get("x-csrf-token") not in (None, csrf), "per-session CSRF token")
    # a bearer request needs no CSRF token even with stray cookies
    st, _, _, _ = srv.request("PATCH", "/v1/me", {"headline": "bearer"}, token=S["ann_token"],
                              headers={"Cookie": "cm_csrf=zzz"})
    eq(st, 200, "bearer PATCH")
    # cookie logout ends the cookie's session and clears the cookies
    st, hd, _, js = srv.request("POST", "/v1/sessions/logout", {},
                                headers={"Cookie": jar, "X-CSRF-Token": csrf})
    eq((st, js), (200, {"revoked": True}), "cookie logout (an action: 200)")
    v, attr = cookie_value(cookies_of(hd), "cm_session")
    check(v == "" and "Max-Age=0" in attr, "cookie cleared")
    problem(srv.request("GET", "/v1/me", headers={"Cookie": jar}), 401, "CM_EAUTH")


@test
def signup_can_set_cookie(srv):
    st, hd, _, js = srv.request("POST", "/v1/members", {"email": "cookie@example.test",
                                                        "name": "C", "password": PASSWORD},
                                headers={"X-Session-Cookie": "1", "Origin": ORIGIN})
    eq(st, 201, "signup with cookie")
    v, _ = cookie_value(cookies_of(hd), "cm_session")
    eq(v, js["session"]["token"], "cookie holds the session")
    eq(hd.get("access-control-allow-origin"), ORIGIN, "CORS on the response")
    before = audit_count(srv)
    problem(srv.request("POST", "/v1/sessions?cookie=1",
                        {"email": "cookie@example.test", "password": PASSWORD},
                        headers={"Origin": "https://evil.test"}), 403, "HTTP_CSRF_FAILED")
    unchanged(srv, before, "cross-site cookie login")


# -- idempotency ---------------------------------------------------------------------


@test
def idempotency_key_replays(srv):
    before = audit_count(srv)
    body = {"email": "idem@example.test", "name": "Idem"}
    h = {"Idempotency-Key": "key-123"}
    st1, hd1, data1, js1 = srv.request("POST", "/v1/members", body, headers=h)
    eq(st1, 201, "first")
    st2, hd2, data2, js2 = srv.request("POST", "/v1/members", body, headers=h)
    eq((st2, data2), (201, data1), "replayed identical response")
    eq(hd2.get("idempotent-replayed"), "true", "replay marked")
    eq(audit_count(srv), before + 1, "one mutation only")
    problem(srv.request("POST", "/v1/members", {"email": "other@example.test", "name": "O"},
                        headers=h), 422, "HTTP_IDEMPOTENCY_KEY_REUSED")
    problem(srv.request("POST", "/v1/members", body, headers={"Idempotency-Key": "bad key"}),
            400, "CM_EINVAL", "Idempotency-Key")
    # keys are per caller: the same key from a member is a different request
    st, _, _, _ = srv.request("PATCH", "/v1/me", {"bio": "b"}, token=S["ann_token"], headers=h)
    eq(st, 200, "same key, other caller and route")
    eq(audit_count(srv), before + 2, "after per-caller key")


# -- CORS ----------------------------------------------------------------------------


@test
def cors(srv):
    st, hd, _, _ = srv.request("OPTIONS", "/v1/me",
                               headers={"Origin": ORIGIN,
                                        "Access-Control-Request-Method": "PATCH",
                                        "Access-Control-Request-Headers": "content-type"})
    eq(st, 204, "preflight")
    eq(hd.get("access-control-allow-origin"), ORIGIN, "allowed origin echoed")
    eq(hd.get("access-control-allow-credentials"), "true", "credentials")
    check("PATCH" in hd.get("access-control-allow-methods", ""), "methods")
    check("X-CSRF-Token" in hd.get("access-control-allow-headers", ""), "headers")
    st, hd, _, _ = srv.request("OPTIONS", "/v1/me", headers={
        "Origin": "https://evil.test", "Access-Control-Request-Method": "PATCH"})
    check("access-control-allow-origin" not in hd, "no CORS for other origins")
    st, hd, _, _ = srv.request("GET", "/healthz", headers={"Origin": "https://evil.test"})
    check("access-control-allow-origin" not in hd, "no CORS on simple requests either")


@test
def cors_wildcard_never_allows_credentials(srv):
    wild = Server(args=["--rate-limit", "0", "--cors-origins", "*"])
    try:
        st, _, _, _ = wild.request("POST", "/v1/members", {"email": "w@example.test",
                                                           "name": "W", "password": PASSWORD})
        eq(st, 201, "signup")
        st, hd, _, _ = wild.request("GET", "/healthz", headers={"Origin": "https://evil.test"})
        eq(hd.get("access-control-allow-origin"), "*", "any origin may read")
        check("access-control-allow-credentials" not in hd, "without credentials")
        # no cookie sign-in from an origin that is only covered by '*'
        r = wild.request("POST", "/v1/sessions?cookie=1",
                         {"email": "w@example.test", "password": PASSWORD},
                         headers={"Origin": "https://evil.test"})
        problem(r, 403, "HTTP_CSRF_FAILED")
        check("set-cookie" not in r[1], "no cookie set")
        # nor a cookie-authenticated write, even with the right CSRF token
        st, hd, _, js = wild.request("POST", "/v1/sessions?cookie=1",
                                     {"email": "w@example.test", "password": PASSWORD})
        eq(st, 200, "same-site cookie sign-in")
        sess, _ = cookie_value(cookies_of(hd), "cm_session")
        csrf = hd.get("x-csrf-token")
        problem(wild.request("PATCH", "/v1/me", {"headline": "x"},
                             headers={"Cookie": "cm_session=%s; cm_csrf=%s" % (sess, csrf),
                                      "X-CSRF-Token": csrf, "Origin": "https://evil.test"}),
                403, "HTTP_CSRF_FAILED")
        wild.check_clean_exit()
    finally:
        wild.close()


# -- metrics and logs ------------------------------------------------------------------


@test
def metrics_pass_promtool(srv):
    # one question to the assistant: its inference histogram and tokens appear
    st, _, _, js = srv.request("POST", "/v1/assistant/ask", {"message": "what is on?"},
                               token=S["ann_token"])
    eq(st, 200, "assistant.ask: %s" % js)
    st, hd, data, _ = srv.request("GET", "/metrics")
    eq(st, 200, "metrics")
    check(hd["content-type"].startswith("text/plain; version=0.0.4"), "exposition type")
    text = data.decode()
    check('community_http_requests_total{method="POST",route="/v1/members",status="201"}'
          in text, "per-route counter")
    check('route="/v1/members/{member_id}"' in text, "templates, not raw paths")
    check("/v1/members/999999" not in text, "no raw paths")
    check("community_http_request_duration_seconds_bucket" in text, "histogram")
    check("community_http_requests_in_flight" in text, "in-flight gauge")
    sizes = [l for l in text.splitlines()
             if l.startswith('community_db_pool_connections{state="size"}')]
    check(sizes and int(sizes[0].split()[-1]) >= 1, "database pool gauge: %s" % sizes)
    check('community_result_cache_lookups_total{result="hit"}' in text, "result cache counter")
    signups = [l for l in text.splitlines()
               if l.startswith('community_business_events_total{counter="signups"}')]
    check(signups and int(signups[0].split()[-1]) >= 9, "business counter: %s" % signups)
    _, _, _, doc = srv.request("GET", "/openapi.json")
    ops = {o["operationId"] for p in doc["paths"].values() for o in p.values()}
    if "jobs.stats" in ops:  # the library has a jobs module: its queue gauges appear
        check("community_job_stats_up 1" in text, "job queue gauges")
    else:
        check("community_job_queue_depth" not in text, "no invented job gauges")
    check("community_assistant_stats_up 1" in text, "assistant statistics")
    check('community_assistant_inference_latency_seconds_count{model="offline-compose-v1"} 1'
          in text, "inference latency histogram")
    check('community_assistant_tokens_total{model="offline-compose-v1",direction="in"}' in text,
          "assistant tokens")
    promtool = os.environ.get("PROMTOOL")
    check(promtool, "promtool is installed (apt-get install -y prometheus)")
    r = subprocess.run([promtool, "check", "metrics"], input=data, capture_output=True)
    eq(r.returncode, 0, "promtool check metrics: %s %s" % (r.stdout, r.stderr))


def unsubscribe_token(srv, member_id, category):
    """The token of a List-Unsubscribe link, as the library signs it, under a
    key the test plays the operator to set."""
    key = bytes(range(32))
    db = sqlite3.connect(srv.db_path, timeout=10)
    try:
        db.execute("INSERT OR REPLACE INTO site_keys (name, secret, created_at) "
                   "VALUES ('unsubscribe', ?, 0)", (key.hex(),))
        db.commit()
    finally:
        db.close()
    mac = hmac.new(key, ("unsubscribe:%d:%s" % (member_id, category)).encode(),
                   hashlib.sha256).digest()
    return "%d.%s.%s" % (member_id, category,
                         base64.urlsafe_b64encode(mac).decode().rstrip("="))


@test
def one_click_unsubscribe(srv):
    """RFC 8058: a mail client POSTs "List-Unsubscribe=One-Click" as a form to
    the link, with no session; the token in the path is the authority."""
    tok = unsubscribe_token(srv, S["ann"], "newsletters")
    st, _, _, js = srv.request("PUT", "/v1/mail/preferences", {"newsletters": True},
                               token=S["ann_token"])
    eq(st, 200, "opt in")
    eq(js["preferences"]["newsletters"], True, "opted in")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    st, _, _, js = srv.request("POST", "/v1/mail/unsubscribe/" + tok, headers=form,
                               raw_body=b"List-Unsubscribe=One-Click")
    eq(st, 200, "one-click status: %s" % js)
    eq(js, {"unsubscribed": True, "category": "newsletters"}, "one-click result")
    st, _, _, js = srv.request("GET", "/v1/mail/preferences?token=" + tok)
    eq(st, 200, "preferences by token")
    eq(js["preferences"]["newsletters"], False, "newsletters off")
    # multipart/form-data is accepted too; a tampered token is refused
    multipart = {"Content-Type": "multipart/form-data; boundary=x"}
    body = (b"--x\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
            b"One-Click\r\n--x--\r\n")
    st, _, _, js = srv.request("POST", "/v1/mail/unsubscribe/" + tok, headers=multipart,
                               raw_body=body)
    eq(st, 200, "multipart one-click: %s" % js)
    bad = tok[:-2] + ("AA" if not tok.endswith("AA") else "BA")
    problem(srv.request("POST", "/v1/mail/unsubscribe/" + bad, headers=multipart,
                        raw_body=body), 422, "CM_EINVAL", "token")
    # other operations still take JSON only
    st, _, _, _ = srv.request("PUT", "/v1/mail/preferences", headers=form,
                              raw_body=b"newsletters=1", token=S["ann_token"])
    eq(st, 415, "form body elsewhere")


@test
def logs_are_json_without_secrets(srv):
    objs = srv.log_objects()
    reqs = [o for o in objs if o.get("msg") == "request"]
    check(len(reqs) > 20, "access log lines")
    for o in reqs:
        for k in ("time", "level", "request_id", "method", "route", "status", "duration_ms",
                  "actor_id"):
            check(k in o, "log field %s in %s" % (k, o))
    mine = [o for o in reqs if o["request_id"] == "req-signup-1"]
    eq(len(mine), 1, "request id in the log")
    check(any(o.get("actor_id") == S["ann"] for o in reqs), "actor id logged")
    text = "\n".join(srv.lines)
    for secret in (S["ann_token"], S["admin_token"], PASSWORD, "cms_"):
        check(secret not in text, "secret in the log: %s" % secret[:8])
    check(any(o.get("source") == "libcommunity" for o in objs), "library log routed")


@test
def sign_ins_wait_in_line_for_the_password_workers(srv):
    # One password worker of two: concurrent sign-ins all succeed in turn,
    # clients that leave while waiting cost nothing, reads still run.
    import concurrent.futures
    import socket
    other = Server(args=["--rate-limit", "0", "--workers", "2", "--password-workers", "1"])
    try:
        for i in range(4):
            eq(signup(other, "line%d@example.test" % i)[0], 201, "signup")

        def login(i):
            return other.request("POST", "/v1/sessions", {"email": "line%d@example.test" % (i % 4),
                                                          "password": PASSWORD})[0]
        body = json.dumps({"email": "line0@example.test", "password": PASSWORD}).encode()
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            futs = [pool.submit(login, i) for i in range(10)]
            for _ in range(3):  # sent, then gone before the answer
                s = socket.create_connection((other.host, other.port))
                s.sendall(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n%s"
                          % (len(body), body))
                s.close()
            eq(other.request("GET", "/v1/events")[0], 200, "a read meanwhile")
            eq([f.result() for f in futs], [200] * 10, "every sign-in answered")
        eq(login(0), 200, "and afterwards")
        other.check_clean_exit()
    finally:
        other.close()


@test
def clean_exit(srv):
    srv.check_clean_exit()


if __name__ == "__main__":
    run(setup, teardown)
