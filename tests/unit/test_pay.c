/*
 * test_pay.c - membership tiers, subscriptions and the payment webhook inbox
 * on SQLite and, as pg-pay, on PostgreSQL, against the provider stand-in
 * (tests/payments/standin.py, started once per run on a loopback port):
 * the library opens real checkout sessions over HTTP; the test pays them
 * through the stand-in's control API, reads the events the stand-in made
 * and delivers them itself, signed with the test secret (cm__pay_sign), in
 * the order and as often as each test needs, with the library's clock
 * under the test's control (timestamp tolerance, grace period).
 */
#include "fixtures.h"

#include "pay/pay.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEC 1000000LL
#define SECRET_KEY "sk_test_unit"
#define WEBHOOK_SECRET "whsec_unit_test"

static pid_t standin_pid;
static int standin_port;

/* Start the stand-in; its port from its "PORT n" line. */
static void standin_start(void)
{
    const char *script = getenv("CM_TEST_PAY_STANDIN");
    if (!script) {
        fprintf(stderr, "CM_TEST_PAY_STANDIN is not set\n");
        exit(1);
    }
    int fds[2];
    if (pipe(fds)) {
        perror("pipe");
        exit(1);
    }
    standin_pid = fork();
    if (standin_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execlp("python3", "python3", script, "--port", "0", "--secret-key", SECRET_KEY,
               "--webhook-secret", WEBHOOK_SECRET, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[64] = "";
    if (!f || !fgets(line, sizeof line, f) || sscanf(line, "PORT %d", &standin_port) != 1) {
        fprintf(stderr, "the payment stand-in did not start (%s)\n", script);
        exit(1);
    }
    fclose(f);
}

static void standin_stop(void)
{
    if (standin_pid > 0) {
        kill(standin_pid, SIGTERM);
        waitpid(standin_pid, NULL, 0);
    }
}

typedef struct body {
    char *p;
    size_t n;
} body;

static size_t on_body(char *p, size_t s, size_t n, void *u)
{
    body *b = u;
    b->p = realloc(b->p, b->n + s * n + 1);
    memcpy(b->p + b->n, p, s * n);
    b->n += s * n;
    b->p[b->n] = '\0';
    return s * n;
}

/* A request to the stand-in's control API; the parsed JSON reply. */
static json_t *standin(const char *method, const char *path, const char *json)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", standin_port, path);
    CURL *h = curl_easy_init();
    body b = {0};
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (json)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    curl_slist_free_all(hd);
    json_error_t e;
    json_t *j = json_loads(b.p ? b.p : "null", JSON_DECODE_ANY, &e);
    free(b.p);
    ck_assert_ptr_nonnull(j);
    return j;
}

static cm_actor *admin, *alice;

static void setup(void)
{
    fx_setup();
    cm_payments_options o = CM_PAYMENTS_OPTIONS_INIT;
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", standin_port);
    o.base_url = base;
    o.secret_key = SECRET_KEY;
    o.webhook_secret = WEBHOOK_SECRET;
    o.success_url = "http://localhost:3000/membership?paid={CHECKOUT_SESSION_ID}";
    o.cancel_url = "http://localhost:3000/membership";
    o.grace_s = 3 * 86400;
    ck_assert_ok(cm_store_set_payments(FX.store, &o));
    admin = fx_member("admin@example.org", "admin");
    alice = fx_member("alice@example.org", "member");
}

static void teardown(void)
{
    cm_actor_free(admin);
    cm_actor_free(alice);
    fx_clock_real();
    fx_teardown();
}

static json_int_t make_tier(const char *slug, int monthly, int yearly, int trial)
{
    json_t *t;
    if (monthly || yearly)
        ck_assert_ok(fx_exec(&t, admin, "memberships.create_tier", "{s:s,s:s,s:s,s:i,s:i,s:i}",
                             "slug", slug, "name", slug, "currency", "EUR", "monthly_price",
                             monthly, "yearly_price", yearly, "trial_days", trial));
    else
        ck_assert_ok(
            fx_exec(&t, admin, "memberships.create_tier", "{s:s,s:s}", "slug", slug, "name", slug));
    json_int_t id = fx_int(t, "id");
    json_decref(t);
    return id;
}

/* Deliver an event object (as the stand-in made it) signed at the library's
 * "now" (or `t` when not 0), optionally with a changed body. Returns the
 * status; *out the result. */
static int deliver_at(json_t **out, json_t *event, int64_t t, bool tamper)
{
    char *payload = json_dumps(event, JSON_COMPACT);
    char sig[160];
    cm__pay_sign(sig, sizeof sig, WEBHOOK_SECRET, t ? t : cm_now_us() / SEC, payload,
                 strlen(payload));
    if (tamper) {
        char *p = strstr(payload, "\"livemode\":false");
        ck_assert_ptr_nonnull(p);
        memcpy(p, "\"livemode\":true ", 16);
    }
    int rc =
        fx_exec(out, NULL, "payments.webhook", "{s:s,s:s}", "payload", payload, "signature", sig);
    free(payload);
    return rc;
}

static const char *deliver(json_t *event)
{
    static char outcome[32];
    json_t *r = NULL;
    ck_assert_ok(deliver_at(&r, event, 0, false));
    snprintf(outcome, sizeof outcome, "%s", fx_str(r, "outcome"));
    json_decref(r);
    return outcome;
}

/* The stand-in's events (the "event" member of each), oldest first. */
static json_t *events(void)
{
    json_t *all = standin("GET", "/_test/events", NULL), *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e) json_array_append(out, json_object_get(e, "event"));
    json_decref(all);
    return out;
}

static json_t *last_event(void)
{
    json_t *all = events();
    json_t *e = json_incref(json_array_get(all, json_array_size(all) - 1));
    json_decref(all);
    return e;
}

/* Subscribe alice to a paid tier and pay: returns the subscription id;
 * *session and *events_out (the two events the payment made: subscription
 * created, checkout completed) for the caller to deliver. */
static json_int_t subscribe_and_pay(json_int_t tier, char session[64], json_t **evs)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, alice, "memberships.subscribe", "{s:I,s:s}", "tier_id", tier,
                         "interval", "month"));
    json_t *sub = json_object_get(r, "subscription");
    ck_assert_str_eq(fx_str(sub, "status"), "incomplete");
    ck_assert(!json_is_true(json_object_get(sub, "in_good_standing")));
    const char *url = fx_str(r, "checkout_url");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "http://127.0.0.1:%d/pay/", standin_port);
    ck_assert_msg(strncmp(url, prefix, strlen(prefix)) == 0, "checkout_url %s", url);
    snprintf(session, 64, "%s", url + strlen(prefix));
    json_int_t id = fx_int(sub, "id");
    json_decref(r);
    char path[128];
    snprintf(path, sizeof path, "/_test/pay/%s", session);
    json_decref(standin("POST", path, NULL));
    json_t *all = events();
    size_t n = json_array_size(all);
    ck_assert_uint_ge(n, 2);
    *evs = json_array();
    json_array_append(*evs, json_array_get(all, n - 2));
    json_array_append(*evs, json_array_get(all, n - 1));
    json_decref(all);
    ck_assert_str_eq(fx_str(json_array_get(*evs, 0), "type"), "customer.subscription.created");
    ck_assert_str_eq(fx_str(json_array_get(*evs, 1), "type"), "checkout.session.completed");
    return id;
}

static json_t *my_sub(void)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, alice, "memberships.mine", "{}"));
    json_t *s = json_incref(json_array_get(json_object_get(r, "items"), 0));
    json_decref(r);
    ck_assert_ptr_nonnull(s);
    return s;
}

static const char *my_status(void)
{
    static char st[32];
    json_t *s = my_sub();
    snprintf(st, sizeof st, "%s", fx_str(s, "status"));
    json_decref(s);
    return st;
}

static json_int_t metric(const char *name)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, admin, "metrics.get", "{}"));
    json_int_t v = fx_int(json_object_get(r, "counters"), name);
    json_decref(r);
    return v;
}

static const char *provider_sub_id(json_t *evs)
{
    return fx_str(json_object_get(json_object_get(json_array_get(evs, 0), "data"), "object"), "id");
}

/* The provider changes the subscription; returns the new event. */
static json_t *provider_sets(const char *sub_id, const char *status)
{
    char path[128], in[64];
    snprintf(path, sizeof path, "/_test/subscriptions/%s", sub_id);
    snprintf(in, sizeof in, "{\"status\":\"%s\"}", status);
    json_decref(standin("POST", path, in));
    return last_event();
}

START_TEST(tiers_free_subscription_and_access)
{
    json_int_t free_tier = make_tier("free", 0, 0, 0);
    json_int_t gold = make_tier("gold", 500, 5000, 0);
    json_t *r;
    ck_assert_int_eq(
        fx_exec(&r, alice, "memberships.create_tier", "{s:s,s:s}", "slug", "x", "name", "x"),
        CM_EPERM);
    ck_assert_int_eq(fx_exec(&r, admin, "memberships.create_tier", "{s:s,s:s,s:i}", "slug", "y",
                             "name", "y", "monthly_price", 100),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "currency");
    ck_assert_int_eq(
        fx_exec(&r, admin, "memberships.create_tier", "{s:s,s:s}", "slug", "gold", "name", "again"),
        CM_EEXISTS);
    ck_assert_ok(fx_exec(&r, admin, "memberships.grant_access", "{s:I,s:s,s:i}", "tier_id",
                         free_tier, "kind", "group", "target_id", 7));
    ck_assert_int_eq(json_array_size(json_object_get(r, "access")), 1);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "memberships.tiers", "{}"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 2);
    ck_assert(
        json_is_true(json_object_get(json_array_get(json_object_get(r, "items"), 0), "free")));
    json_decref(r);

    ck_assert_ok(
        fx_exec(&r, alice, "memberships.access", "{s:s,s:i}", "kind", "group", "target_id", 7));
    ck_assert(json_is_false(json_object_get(r, "allowed")));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, alice, "memberships.subscribe", "{s:I}", "tier_id", free_tier));
    ck_assert(json_is_null(json_object_get(r, "checkout_url")));
    ck_assert_str_eq(fx_str(json_object_get(r, "subscription"), "status"), "active");
    json_decref(r);
    ck_assert_int_eq(fx_exec(&r, alice, "memberships.subscribe", "{s:I}", "tier_id", free_tier),
                     CM_EEXISTS);
    ck_assert_ok(
        fx_exec(&r, alice, "memberships.access", "{s:s,s:i}", "kind", "group", "target_id", 7));
    ck_assert(json_is_true(json_object_get(r, "allowed")));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, alice, "memberships.access", "{s:s,s:i}", "kind", "newsletter",
                         "target_id", 7));
    ck_assert(json_is_false(json_object_get(r, "allowed")));
    json_decref(r);
    ck_assert_int_eq(metric("subscriptions"), 1);
    ck_assert_int_eq(metric("subscriptions_active"), 1);
    /* a tier no longer offered takes no new subscriber */
    ck_assert_ok(fx_exec(&r, admin, "memberships.set_tier_active", "{s:I,s:b}", "tier_id", gold,
                         "active", 0));
    json_decref(r);
    ck_assert_int_eq(fx_exec(&r, alice, "memberships.subscribe", "{s:I}", "tier_id", gold),
                     CM_ENOTFOUND);
}
END_TEST

START_TEST(paid_subscription_follows_the_webhooks)
{
    fx_clock_real();
    json_int_t gold = make_tier("gold", 500, 5000, 0);
    json_t *r;
    ck_assert_ok(fx_exec(&r, admin, "memberships.grant_access", "{s:I,s:s,s:i}", "tier_id", gold,
                         "kind", "ticket_type", "target_id", 3));
    json_decref(r);
    char session[64];
    json_t *evs;
    subscribe_and_pay(gold, session, &evs);
    ck_assert_str_eq(deliver(json_array_get(evs, 0)), "applied");
    ck_assert_str_eq(my_status(), "active");
    ck_assert_str_eq(deliver(json_array_get(evs, 1)), "stale"); /* the subscription said more */
    ck_assert_int_eq(metric("subscriptions"), 1);
    ck_assert_int_eq(metric("subscriptions_active"), 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM payment_checkouts WHERE status = 'complete'"),
                     1);
    const char *pid = provider_sub_id(evs);

    /* past_due: access during the grace period, none after it */
    json_t *e = provider_sets(pid, "past_due");
    ck_assert_str_eq(deliver(e), "applied");
    json_decref(e);
    json_t *s = my_sub();
    ck_assert_str_eq(fx_str(s, "status"), "past_due");
    ck_assert(json_is_true(json_object_get(s, "in_good_standing")));
    ck_assert(json_is_string(json_object_get(s, "grace_ends_at")));
    json_decref(s);
    ck_assert_ok(fx_exec(&r, alice, "memberships.access", "{s:s,s:i}", "kind", "ticket_type",
                         "target_id", 3));
    ck_assert(json_is_true(json_object_get(r, "allowed")));
    json_decref(r);
    /* (the stand-in's event clock may run a few seconds ahead of real time) */
    fx_clock_set(cm_now_us() + 3 * 86400 * SEC + 3600 * SEC);
    ck_assert_ok(fx_exec(&r, alice, "memberships.access", "{s:s,s:i}", "kind", "ticket_type",
                         "target_id", 3));
    ck_assert(json_is_false(json_object_get(r, "allowed")));
    json_decref(r);
    ck_assert_int_eq(metric("subscriptions_active"), 0);
    fx_clock_real();

    /* paid again, then unpaid, then canceled: churn counted once */
    e = provider_sets(pid, "active");
    ck_assert_str_eq(deliver(e), "applied");
    json_decref(e);
    s = my_sub();
    ck_assert(json_is_null(json_object_get(s, "past_due_since")));
    json_decref(s);
    e = provider_sets(pid, "unpaid");
    ck_assert_str_eq(deliver(e), "applied");
    json_decref(e);
    ck_assert_int_eq(metric("subscriptions_churned"), 1);
    json_t *cancel = provider_sets(pid, "canceled");
    ck_assert_str_eq(fx_str(cancel, "type"), "customer.subscription.deleted");
    ck_assert_str_eq(deliver(cancel), "applied");
    json_decref(cancel);
    ck_assert_str_eq(my_status(), "canceled");
    ck_assert_int_eq(metric("subscriptions_churned"), 1);
    ck_assert_int_eq(metric("subscriptions"), 1);
    /* canceled is final: a later "active" is refused as stale */
    e = provider_sets(pid, "active");
    ck_assert_str_eq(deliver(e), "stale");
    json_decref(e);
    ck_assert_str_eq(my_status(), "canceled");
    /* and the member may subscribe again */
    ck_assert_ok(fx_exec(&r, alice, "memberships.subscribe", "{s:I,s:s}", "tier_id", gold,
                         "interval", "year"));
    ck_assert_str_eq(fx_str(json_object_get(r, "subscription"), "interval"), "year");
    json_decref(r);
    json_decref(evs);
}
END_TEST

START_TEST(duplicate_deliveries_change_nothing)
{
    json_int_t gold = make_tier("gold", 500, 0, 0);
    char session[64];
    json_t *evs, *r;
    subscribe_and_pay(gold, session, &evs);
    json_t *created = json_array_get(evs, 0);
    ck_assert_ok(deliver_at(&r, created, 0, false));
    ck_assert(json_is_false(json_object_get(r, "duplicate")));
    json_decref(r);
    for (int i = 0; i < 3; i++) {
        ck_assert_ok(deliver_at(&r, created, 0, false));
        ck_assert(json_is_true(json_object_get(r, "duplicate")));
        ck_assert_str_eq(fx_str(r, "outcome"), "applied");
        ck_assert_int_eq(fx_int(r, "deliveries"), 2 + i);
        json_decref(r);
    }
    ck_assert_int_eq(fx_count("SELECT count(*) FROM payment_events"), 1);
    ck_assert_int_eq(metric("subscriptions"), 1);
    json_decref(evs);
}
END_TEST

START_TEST(reordered_events_keep_the_newest_state)
{
    json_int_t gold = make_tier("gold", 500, 0, 0);
    char session[64];
    json_t *evs;
    subscribe_and_pay(gold, session, &evs);
    json_t *past_due = provider_sets(provider_sub_id(evs), "past_due");
    /* newest first: the later states win whatever arrives after them */
    ck_assert_str_eq(deliver(past_due), "applied");
    ck_assert_str_eq(my_status(), "past_due");
    ck_assert_str_eq(deliver(json_array_get(evs, 1)), "stale"); /* checkout completed */
    ck_assert_str_eq(deliver(json_array_get(evs, 0)), "stale"); /* subscription created */
    ck_assert_str_eq(my_status(), "past_due");
    /* the checkout session itself is marked complete all the same */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM payment_checkouts WHERE status = 'complete'"),
                     1);
    json_decref(past_due);
    json_decref(evs);
}
END_TEST

START_TEST(checkout_completed_first_then_subscription)
{
    json_int_t gold = make_tier("gold", 500, 0, 14);
    char session[64];
    json_t *evs;
    subscribe_and_pay(gold, session, &evs);
    ck_assert_str_eq(deliver(json_array_get(evs, 1)), "applied");
    ck_assert_str_eq(my_status(), "trialing");
    ck_assert_str_eq(deliver(json_array_get(evs, 0)), "applied");
    ck_assert_str_eq(my_status(), "trialing");
    ck_assert_int_eq(metric("subscriptions"), 1);
    json_decref(evs);
}
END_TEST

START_TEST(bad_signatures_are_refused_and_not_stored)
{
    json_int_t gold = make_tier("gold", 500, 0, 0);
    char session[64];
    json_t *evs, *r = NULL;
    subscribe_and_pay(gold, session, &evs);
    json_t *ev = json_array_get(evs, 0);
    /* tampered body */
    ck_assert_int_eq(deliver_at(&r, ev, 0, true), CM_EAUTH);
    ck_assert_str_eq(cm_error_field(), "signature");
    /* signed too long ago, or too far ahead */
    ck_assert_int_eq(deliver_at(&r, ev, cm_now_us() / SEC - 301, false), CM_EAUTH);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "tolerance"));
    ck_assert_int_eq(deliver_at(&r, ev, cm_now_us() / SEC + 301, false), CM_EAUTH);
    /* within the tolerance */
    ck_assert_ok(deliver_at(&r, ev, cm_now_us() / SEC - 299, false));
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM payment_events"), 1);
    /* another secret, a malformed or missing header */
    char *payload = json_dumps(json_array_get(evs, 1), JSON_COMPACT);
    char sig[160];
    cm__pay_sign(sig, sizeof sig, "whsec_other", cm_now_us() / SEC, payload, strlen(payload));
    const char *bad[] = {sig, "t=abc,v1=00", "v1=abcdef", "", "t=1,v0=ab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(fx_exec(&r, NULL, "payments.webhook", "{s:s,s:s}", "payload", payload,
                                 "signature", bad[i]),
                         CM_EAUTH);
    ck_assert_int_eq(fx_exec(&r, NULL, "payments.webhook", "{s:s}", "payload", payload), CM_EAUTH);
    /* clients cannot claim a verified payload */
    ck_assert_int_eq(
        fx_exec(&r, NULL, "payments.webhook", "{s:s,s:b}", "payload", payload, "_verified", 1),
        CM_EINVAL);
    free(payload);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM payment_events"), 1);
    json_decref(evs);
}
END_TEST

START_TEST(unknown_events_are_kept_and_ignored)
{
    json_decref(standin("POST", "/_test/event",
                        "{\"type\":\"invoice.finalized\",\"object\":{\"id\":\"in_1\"}}"));
    json_t *ev = last_event(), *r;
    ck_assert_ok(deliver_at(&r, ev, 0, false));
    ck_assert_str_eq(fx_str(r, "outcome"), "ignored");
    ck_assert_str_eq(fx_str(r, "object_id"), "in_1");
    json_decref(r);
    ck_assert_int_eq(
        fx_count("SELECT count(*) FROM payment_events WHERE type = 'invoice.finalized'"), 1);
    /* the raw body is kept byte for byte */
    char *payload = json_dumps(ev, JSON_COMPACT);
    ck_assert_str_eq(fx_text("SELECT payload FROM payment_events"), payload);
    free(payload);
    json_decref(ev);
    /* malformed but signed: refused, not stored */
    char sig[160];
    const char *junk = "{\"nothing\":1}";
    cm__pay_sign(sig, sizeof sig, WEBHOOK_SECRET, cm_now_us() / SEC, junk, strlen(junk));
    ck_assert_int_eq(
        fx_exec(&r, NULL, "payments.webhook", "{s:s,s:s}", "payload", junk, "signature", sig),
        CM_EINVAL);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM payment_events"), 1);
}
END_TEST

START_TEST(admins_replay_unmatched_events)
{
    json_int_t gold = make_tier("gold", 500, 0, 0);
    json_decref(
        standin("POST", "/_test/event",
                "{\"type\":\"customer.subscription.updated\",\"object\":{\"id\":\"sub_later\","
                "\"status\":\"active\",\"metadata\":{\"cm_ref\":\"sub_ref_later\"}}}"));
    json_t *ev = last_event(), *r;
    ck_assert_ok(deliver_at(&r, ev, 0, false));
    ck_assert_str_eq(fx_str(r, "outcome"), "unmatched");
    json_int_t id = fx_int(r, "id");
    json_decref(r);
    json_decref(ev);
    ck_assert_int_eq(fx_exec(&r, alice, "payments.replay", "{s:I}", "event_id", id), CM_EPERM);
    /* the subscription it names appears (e.g. its transaction committed late) */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO subscriptions (member_id, tier_id, billing_interval, status, reference, "
             "created_at, updated_at) VALUES (%lld, %lld, 'month', 'incomplete', 'sub_ref_later', "
             "1, 1)",
             (long long)fx_id_of(alice), (long long)gold);
    fx_sql(sql);
    ck_assert_ok(fx_exec(&r, admin, "payments.replay", "{s:I}", "event_id", id));
    ck_assert_str_eq(fx_str(r, "outcome"), "applied");
    json_decref(r);
    ck_assert_str_eq(my_status(), "active");
    ck_assert_str_eq(fx_text("SELECT provider_subscription_id FROM subscriptions"), "sub_later");
    /* replaying again is harmless */
    ck_assert_ok(fx_exec(&r, admin, "payments.replay", "{s:I}", "event_id", id));
    json_decref(r);
    ck_assert_int_eq(metric("subscriptions"), 1);
    ck_assert_ok(fx_exec(&r, admin, "payments.events", "{s:s}", "outcome", "applied"));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
}
END_TEST

START_TEST(checkout_needs_a_configured_provider)
{
    json_int_t gold = make_tier("gold", 500, 0, 0);
    cm_payments_options o = CM_PAYMENTS_OPTIONS_INIT;
    o.base_url = "http://127.0.0.1:1"; /* nothing listens */
    o.secret_key = "sk_test_wrong_key_123";
    o.success_url = o.cancel_url = "http://localhost/";
    ck_assert_ok(cm_store_set_payments(FX.store, &o));
    json_t *r;
    ck_assert_int_eq(fx_exec(&r, alice, "memberships.subscribe", "{s:I}", "tier_id", gold), CM_EIO);
    /* a wrong key: the provider's 401, the key never in the message */
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", standin_port);
    o.base_url = base;
    ck_assert_ok(cm_store_set_payments(FX.store, &o));
    ck_assert_int_eq(fx_exec(&r, alice, "memberships.subscribe", "{s:I}", "tier_id", gold), CM_EIO);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "401"));
    ck_assert_ptr_null(strstr(cm_error_message(), "sk_test_wrong_key_123"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM subscriptions"), 0);
    /* no success URL configured and none given */
    o.secret_key = SECRET_KEY;
    o.success_url = o.cancel_url = NULL;
    ck_assert_ok(cm_store_set_payments(FX.store, &o));
    ck_assert_int_eq(fx_exec(&r, alice, "memberships.subscribe", "{s:I}", "tier_id", gold),
                     CM_EINVAL);
    ck_assert_ok(fx_exec(&r, alice, "memberships.subscribe", "{s:I,s:s}", "tier_id", gold,
                         "return_url", "http://localhost:3000/membership"));
    json_decref(r);
    o.base_url = "ftp://x";
    ck_assert_int_eq(cm_store_set_payments(FX.store, &o), CM_EINVAL);
}
END_TEST

/* An event with a 15.00 EUR ticket type; alice holds an order of n tickets.
 * Returns the order id. */
static json_int_t hold_tickets(int n)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i}", "title",
                         "Gala", "format", "online", "online_url", "https://meet.example/x",
                         "start_local", "2030-05-01T18:00", "end_local", "2030-05-01T20:00",
                         "timezone", "UTC", "publish", 1, "capacity", 10));
    json_int_t ev = fx_int(r, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, org, "ticket_types.create", "{s:I,s:s,s:i,s:s}", "event_id", ev,
                         "name", "Standard", "price_minor", 1500, "currency", "EUR"));
    json_int_t tt = fx_int(r, "id");
    json_decref(r);
    cm_actor_free(org);
    ck_assert_ok(
        fx_exec(&r, alice, "orders.create", "{s:I,s:i}", "ticket_type_id", tt, "quantity", n));
    ck_assert_str_eq(fx_str(r, "state"), "reserved");
    json_int_t id = fx_int(r, "id");
    json_decref(r);
    return id;
}

/* orders.checkout for order id, then pay at the stand-in: the
 * checkout.session.completed event it made. */
static json_t *checkout_and_pay(json_int_t id)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, alice, "orders.checkout", "{s:I}", "order_id", id));
    ck_assert_str_eq(fx_str(json_object_get(r, "order"), "state"), "pending_payment");
    const char *url = fx_str(r, "checkout_url");
    const char *sid = strrchr(url, '/') + 1;
    char path[128];
    snprintf(path, sizeof path, "/_test/pay/%s", sid);
    json_decref(r);
    json_decref(standin("POST", path, NULL));
    json_t *ev = last_event();
    ck_assert_str_eq(fx_str(ev, "type"), "checkout.session.completed");
    json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    ck_assert_int_eq(fx_int(obj, "amount_total"), 3000);
    return ev;
}

static const char *order_state(json_int_t id)
{
    static char st[32];
    json_t *r;
    ck_assert_ok(fx_exec(&r, alice, "orders.get", "{s:I}", "order_id", id));
    snprintf(st, sizeof st, "%s", fx_str(r, "state"));
    json_decref(r);
    return st;
}

/* The refunds the stand-in made of payment pi (it serves every test). */
static json_t *refunds_of(const char *pi)
{
    json_t *all = standin("GET", "/_test/refunds", NULL), *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(all, i, x) if (strcmp(fx_str(x, "payment_intent"), pi) == 0)
        json_array_append(out, x);
    json_decref(all);
    return out;
}

/* The only refund owed at the provider, which must have this status. */
static json_t *only_refund(const char *status)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, admin, "payments.refunds", "{}"));
    json_t *items = json_object_get(r, "items");
    ck_assert_int_eq(json_array_size(items), 1);
    json_t *one = json_incref(json_array_get(items, 0));
    json_decref(r);
    ck_assert_str_eq(fx_str(one, "status"), status);
    return one;
}

/* payments.send_refunds: what it says it did, and what is left. */
static void send_refunds(int sent, int failed, int pending)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, admin, "payments.send_refunds", "{}"));
    ck_assert_int_eq(fx_int(r, "sent"), sent);
    ck_assert_int_eq(fx_int(r, "failed"), failed);
    ck_assert_int_eq(fx_int(r, "pending"), pending);
    json_decref(r);
}

START_TEST(order_checkout_pays_the_order_once)
{
    json_int_t id = hold_tickets(2);
    json_t *r, *bob_r;
    cm_actor *bob = fx_member("bob@example.org", "member");
    ck_assert_int_eq(fx_exec(&bob_r, bob, "orders.checkout", "{s:I}", "order_id", id),
                     CM_ENOTFOUND);
    cm_actor_free(bob);
    json_t *ev = checkout_and_pay(id);
    ck_assert_ok(deliver_at(&r, ev, 0, false));
    ck_assert_str_eq(fx_str(r, "outcome"), "applied");
    json_int_t inbox = fx_int(r, "id");
    json_decref(r);
    ck_assert_str_eq(order_state(id), "paid");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets"), 2);
    /* delivered again, replayed: paid once */
    ck_assert_ok(deliver_at(&r, ev, 0, false));
    ck_assert(json_is_true(json_object_get(r, "duplicate")));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, admin, "payments.replay", "{s:I}", "event_id", inbox));
    ck_assert_str_eq(fx_str(r, "outcome"), "stale");
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets"), 2);
    ck_assert_int_eq(metric("ticket_purchases"), 1);
    /* a paid order takes no second checkout */
    ck_assert_int_eq(fx_exec(&r, alice, "orders.checkout", "{s:I}", "order_id", id),
                     CM_ECONSTRAINT);
    json_decref(ev);
}
END_TEST

START_TEST(a_payment_after_the_hold_ended_is_refunded)
{
    fx_clock_set(cm_now_us());
    json_int_t id = hold_tickets(2);
    json_t *ev = checkout_and_pay(id), *r;
    fx_clock_advance(16 * 60 * SEC); /* the 15-minute hold ends before the webhook */
    ck_assert_ok(deliver_at(&r, ev, 0, false));
    ck_assert_str_eq(fx_str(r, "outcome"), "applied");
    ck_assert_ptr_nonnull(strstr(fx_str(r, "detail"), "refunded"));
    json_decref(r);
    ck_assert_str_eq(order_state(id), "expired");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets"), 0);
    ck_assert_int_eq(metric("ticket_purchases"), 0);
    /* the refund is owed at the provider, and sent there once */
    json_t *refund = only_refund("pending");
    ck_assert_str_eq(fx_str(refund, "reason"), "late_payment");
    ck_assert_int_eq(fx_int(refund, "amount_minor"), 3000);
    json_decref(refund);
    send_refunds(1, 0, 0);
    send_refunds(0, 0, 0);
    ck_assert_ok(deliver_at(&r, ev, 0, false)); /* delivered again: nothing more */
    ck_assert(json_is_true(json_object_get(r, "duplicate")));
    json_decref(r);
    send_refunds(0, 0, 0);
    json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    json_t *made = refunds_of(fx_str(obj, "payment_intent"));
    ck_assert_int_eq(json_array_size(made), 1);
    ck_assert_int_eq(fx_int(json_array_get(made, 0), "amount"), 3000);
    refund = only_refund("sent");
    ck_assert_str_eq(fx_str(refund, "provider_refund_id"), fx_str(json_array_get(made, 0), "id"));
    json_decref(refund);
    json_decref(made);
    json_decref(ev);
}
END_TEST

/* The event ev as another provider event (new id) whose data.object has
 * `key` set to `value` (a string, or an integer when value is NULL). */
static json_t *variant(json_t *ev, const char *id, const char *key, const char *value, json_int_t n)
{
    json_t *v = json_deep_copy(ev);
    json_object_set_new(v, "id", json_string(id));
    json_t *obj = json_object_get(json_object_get(v, "data"), "object");
    json_object_set_new(obj, key, value ? json_string(value) : json_integer(n));
    return v;
}

START_TEST(a_payment_of_another_amount_is_recorded_and_refunded)
{
    json_int_t id = hold_tickets(2);
    json_t *ev = checkout_and_pay(id), *r;
    /* the provider reports 20.00 for an order of 30.00: the delivery
     * succeeds (no endless retries), the order is not paid */
    json_t *odd = variant(ev, "evt_odd_amount", "amount_total", NULL, 2000);
    ck_assert_ok(deliver_at(&r, odd, 0, false));
    ck_assert_str_eq(fx_str(r, "outcome"), "applied");
    ck_assert_ptr_nonnull(strstr(fx_str(r, "detail"), "refused"));
    json_decref(r);
    ck_assert_str_eq(order_state(id), "pending_payment");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets"), 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM ledger WHERE amount_minor = 2000"), 2);
    ck_assert_ok(fx_exec(&r, alice, "orders.get", "{s:I}", "order_id", id));
    ck_assert_int_eq(fx_int(r, "paid_minor") - fx_int(r, "refunded_minor"), 0);
    json_decref(r);
    json_t *refund = only_refund("pending");
    ck_assert_str_eq(fx_str(refund, "reason"), "amount_mismatch");
    ck_assert_int_eq(fx_int(refund, "amount_minor"), 2000);
    json_decref(refund);
    /* the provider fails once: the refund stays pending with the error, and
     * goes through on the next round */
    json_decref(standin("POST", "/_test/refunds/fail", "{\"fail\":1}"));
    send_refunds(0, 0, 1);
    refund = only_refund("pending");
    ck_assert_int_eq(fx_int(refund, "attempts"), 1);
    ck_assert_ptr_nonnull(strstr(fx_str(refund, "last_error"), "HTTP 500"));
    json_decref(refund);
    send_refunds(1, 0, 0);
    json_t *made = refunds_of(
        fx_str(json_object_get(json_object_get(ev, "data"), "object"), "payment_intent"));
    ck_assert_int_eq(json_array_size(made), 1);
    ck_assert_int_eq(fx_int(json_array_get(made, 0), "amount"), 2000);
    json_decref(made);
    /* another currency is refused the same way */
    json_t *odd_cur = variant(ev, "evt_odd_currency", "currency", "usd", 0);
    json_object_set_new(json_object_get(json_object_get(odd_cur, "data"), "object"),
                        "payment_intent", json_string("pi_other_currency"));
    ck_assert_ok(deliver_at(&r, odd_cur, 0, false));
    ck_assert_str_eq(fx_str(r, "outcome"), "applied");
    json_decref(r);
    ck_assert_str_eq(order_state(id), "pending_payment");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM payment_refunds WHERE reason = "
                              "'amount_mismatch' AND currency = 'USD'"),
                     1);
    json_decref(odd_cur);
    json_decref(odd);
    json_decref(ev);
}
END_TEST

START_TEST(a_second_payment_for_a_paid_order_is_refunded)
{
    json_int_t a = hold_tickets(2), b;
    json_t *r;
    ck_assert_ok(fx_exec(&r, alice, "orders.get", "{s:I}", "order_id", a));
    json_int_t tt = fx_int(r, "ticket_type_id");
    json_decref(r);
    json_t *ev_a = checkout_and_pay(a);
    ck_assert_str_eq(deliver(ev_a), "applied");
    ck_assert_str_eq(order_state(a), "paid");
    /* a second payment at the provider that names order a's checkout */
    ck_assert_ok(
        fx_exec(&r, alice, "orders.create", "{s:I,s:i}", "ticket_type_id", tt, "quantity", 2));
    b = fx_int(r, "id");
    json_decref(r);
    json_t *ev_b = checkout_and_pay(b);
    const char *session_a = fx_str(json_object_get(json_object_get(ev_a, "data"), "object"), "id");
    json_t *twice = variant(ev_b, "evt_paid_twice", "id", session_a, 0);
    ck_assert_ok(deliver_at(&r, twice, 0, false));
    ck_assert_str_eq(fx_str(r, "outcome"), "applied");
    ck_assert_ptr_nonnull(strstr(fx_str(r, "detail"), "refund"));
    json_decref(r);
    ck_assert_str_eq(order_state(a), "paid");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM tickets"), 2);
    ck_assert_ok(fx_exec(&r, alice, "orders.get", "{s:I}", "order_id", a));
    ck_assert_int_eq(fx_int(r, "paid_minor") - fx_int(r, "refunded_minor"), 3000);
    json_decref(r);
    json_t *refund = only_refund("pending");
    ck_assert_str_eq(fx_str(refund, "reason"), "already_paid");
    ck_assert_int_eq(fx_int(refund, "order_id"), a);
    json_decref(refund);
    send_refunds(1, 0, 0);
    json_t *made = refunds_of(
        fx_str(json_object_get(json_object_get(ev_b, "data"), "object"), "payment_intent"));
    ck_assert_int_eq(json_array_size(made), 1);
    ck_assert_int_eq(fx_int(json_array_get(made, 0), "amount"), 3000);
    json_decref(made);
    json_decref(twice);
    json_decref(ev_a);
    json_decref(ev_b);
}
END_TEST

/* The refunds owed at the provider for order id (oldest first), and what
 * orders.refund answered. */
static json_t *refunds_of_order(json_int_t id)
{
    json_t *r, *out = json_array();
    ck_assert_ok(fx_exec(&r, admin, "payments.refunds", "{s:i}", "limit", 100));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(r, "items"), i, x) if (fx_int(x, "order_id") == id)
        json_array_insert(out, 0, x);
    json_decref(r);
    return out;
}

static bool refund_order(json_int_t id, const char *reference, json_int_t amount)
{
    json_t *r;
    if (amount)
        ck_assert_ok(fx_exec(&r, admin, "orders.refund", "{s:I,s:s,s:I,s:s}", "order_id", id,
                             "reference", reference, "amount_minor", amount, "reason",
                             "asked by the member"));
    else
        ck_assert_ok(fx_exec(&r, admin, "orders.refund", "{s:I,s:s}", "order_id", id, "reference",
                             reference));
    bool replay = json_is_true(json_object_get(r, "replay"));
    json_decref(r);
    return replay;
}

START_TEST(refunds_of_a_provider_paid_order_go_back_at_the_provider)
{
    json_int_t id = hold_tickets(2);
    json_t *ev = checkout_and_pay(id);
    ck_assert_str_eq(deliver(ev), "applied");
    ck_assert_str_eq(order_state(id), "paid");
    const char *pi =
        fx_str(json_object_get(json_object_get(ev, "data"), "object"), "payment_intent");
    /* a part: owed at the provider in the transaction of the ledger row */
    ck_assert(!refund_order(id, "part-1", 1000));
    ck_assert_str_eq(order_state(id), "partially_refunded");
    json_t *owed = refunds_of_order(id);
    ck_assert_int_eq(json_array_size(owed), 1);
    json_t *one = json_array_get(owed, 0);
    ck_assert_str_eq(fx_str(one, "reason"), "requested");
    ck_assert_str_eq(fx_str(one, "status"), "pending");
    ck_assert_str_eq(fx_str(one, "payment_reference"), pi);
    ck_assert_int_eq(fx_int(one, "amount_minor"), 1000);
    json_decref(owed);
    /* the same refund again owes nothing more */
    ck_assert(refund_order(id, "part-1", 1000));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM payment_refunds"), 1);
    send_refunds(1, 0, 0);
    /* a crash after the provider refunded but before the answer was
     * recorded: sent again with the same Idempotency-Key, refunded once */
    fx_sql("UPDATE payment_refunds SET status = 'pending', provider_refund_id = NULL, "
           "attempts = 0");
    send_refunds(1, 0, 0);
    json_t *made = refunds_of(pi);
    ck_assert_int_eq(json_array_size(made), 1);
    ck_assert_int_eq(fx_int(json_array_get(made, 0), "amount"), 1000);
    owed = refunds_of_order(id);
    ck_assert_str_eq(fx_str(json_array_get(owed, 0), "provider_refund_id"),
                     fx_str(json_array_get(made, 0), "id"));
    json_decref(owed);
    json_decref(made);
    /* the rest (the default amount): a second refund with a key of its own;
     * the provider fails twice, each attempt counted, then refunds */
    ck_assert(!refund_order(id, "rest", 0));
    ck_assert_str_eq(order_state(id), "refunded");
    json_decref(standin("POST", "/_test/refunds/fail", "{\"fail\":2}"));
    send_refunds(0, 0, 1);
    send_refunds(0, 0, 1);
    owed = refunds_of_order(id);
    ck_assert_int_eq(json_array_size(owed), 2);
    one = json_array_get(owed, 1);
    ck_assert_str_eq(fx_str(one, "status"), "pending");
    ck_assert_int_eq(fx_int(one, "attempts"), 2);
    ck_assert_int_eq(fx_int(one, "amount_minor"), 2000);
    ck_assert_ptr_nonnull(strstr(fx_str(one, "last_error"), "HTTP 500"));
    json_decref(owed);
    send_refunds(1, 0, 0);
    made = refunds_of(pi);
    ck_assert_int_eq(json_array_size(made), 2);
    ck_assert_int_eq(fx_int(json_array_get(made, 0), "amount") +
                         fx_int(json_array_get(made, 1), "amount"),
                     3000);
    ck_assert_str_ne(fx_str(json_array_get(made, 0), "id"), fx_str(json_array_get(made, 1), "id"));
    json_decref(made);
    owed = refunds_of_order(id);
    ck_assert_str_eq(fx_str(json_array_get(owed, 1), "status"), "sent");
    ck_assert_int_eq(fx_int(json_array_get(owed, 1), "attempts"), 3);
    json_decref(owed);
    json_decref(ev);
}
END_TEST

START_TEST(a_refund_the_provider_keeps_refusing_fails_after_5_attempts)
{
    json_int_t id = hold_tickets(1);
    json_t *r;
    ck_assert_ok(fx_exec(&r, alice, "orders.get", "{s:I}", "order_id", id));
    json_int_t tt = fx_int(r, "ticket_type_id");
    json_decref(r);
    /* an order paid at the provider */
    ck_assert_ok(
        fx_exec(&r, alice, "orders.create", "{s:I,s:i}", "ticket_type_id", tt, "quantity", 2));
    json_int_t paid = fx_int(r, "id");
    json_decref(r);
    json_t *ev = checkout_and_pay(paid);
    ck_assert_str_eq(deliver(ev), "applied");
    /* an order paid outside the provider (confirmed by an admin): its
     * refund stays in the ledger only */
    ck_assert_ok(fx_exec(&r, admin, "orders.confirm_payment", "{s:I,s:i,s:s,s:s}", "order_id", id,
                         "amount_minor", 1500, "currency", "EUR", "reference", "cash-1"));
    json_decref(r);
    ck_assert(!refund_order(id, "cash-back", 0));
    ck_assert_str_eq(order_state(id), "refunded");
    json_t *owed = refunds_of_order(id);
    ck_assert_int_eq(json_array_size(owed), 0);
    json_decref(owed);
    /* the provider refuses 5 times: failed, never asked again */
    ck_assert(!refund_order(paid, "all", 0));
    json_decref(standin("POST", "/_test/refunds/fail", "{\"fail\":6}"));
    for (int i = 0; i < 4; i++)
        send_refunds(0, 0, 1);
    send_refunds(0, 1, 0);
    send_refunds(0, 0, 0);
    owed = refunds_of_order(paid);
    ck_assert_int_eq(json_array_size(owed), 1);
    ck_assert_str_eq(fx_str(json_array_get(owed, 0), "status"), "failed");
    ck_assert_int_eq(fx_int(json_array_get(owed, 0), "attempts"), 5);
    json_decref(owed);
    json_t *made = refunds_of(
        fx_str(json_object_get(json_object_get(ev, "data"), "object"), "payment_intent"));
    ck_assert_int_eq(json_array_size(made), 0);
    json_decref(made);
    json_decref(standin("POST", "/_test/refunds/fail", "{\"fail\":0}"));
    json_decref(ev);
}
END_TEST

/* What alice may see: the names of the ticket types of event ev she is
 * shown, comma-separated, and whether she can read private group g. */
static const char *visible_types(json_int_t ev)
{
    static char names[128];
    json_t *r;
    ck_assert_ok(fx_exec(&r, alice, "ticket_types.list", "{s:I}", "event_id", ev));
    names[0] = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r, "items"), i, t)
    {
        if (names[0])
            strncat(names, ",", sizeof names - strlen(names) - 1);
        strncat(names, fx_str(t, "name"), sizeof names - strlen(names) - 1);
    }
    json_decref(r);
    return names;
}

/* Whether items (an array of objects) holds one whose `key` is id. */
static bool lists_id(json_t *items, const char *key, json_int_t id)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        if (json_integer_value(json_object_get(it, key)) == id)
            return true;
    }
    return false;
}

/* Whether the list operation op (input: extra pairs) shows alice id. */
static bool alice_lists(const char *op, json_t *in, const char *key, json_int_t id)
{
    json_t *r;
    int rc = fx_exec_obj(&r, alice, op, in);
    ck_assert_msg(rc == CM_OK, "%s: %d", op, rc);
    bool found = lists_id(json_object_get(r, "items"), key, id);
    json_decref(r);
    return found;
}

/* Whether alice reads private group g, asserting that every way in agrees:
 * groups.get, groups.list (all and mine), groups.members, posts.list of the
 * group and the feed (g holds a post by the admin), events.get and
 * events.list (all and the group's) of the group's event gev, and search
 * (text) for that event and the group's post. */
static bool reads_group(json_int_t g, json_int_t gev)
{
    json_t *r = NULL;
    int rc = fx_exec(&r, alice, "groups.get", "{s:I}", "group_id", g);
    ck_assert_msg(rc == CM_OK || rc == CM_ENOTFOUND, "groups.get: %d", rc);
    json_decref(r);
    bool reads = rc == CM_OK;
    ck_assert_int_eq(alice_lists("groups.list", json_pack("{s:i}", "limit", 100), "id", g), reads);
    ck_assert_int_eq(
        alice_lists("groups.list", json_pack("{s:b,s:i}", "mine", 1, "limit", 100), "id", g),
        reads);
    r = NULL;
    rc = fx_exec(&r, alice, "groups.members", "{s:I}", "group_id", g);
    ck_assert_int_eq(rc, reads ? CM_OK : CM_ENOTFOUND);
    if (reads)
        ck_assert(lists_id(json_object_get(r, "items"), "member_id", fx_id_of(admin)));
    json_decref(r);
    r = NULL;
    rc = fx_exec(&r, alice, "posts.list", "{s:I}", "group_id", g);
    ck_assert_int_eq(rc, reads ? CM_OK : CM_ENOTFOUND);
    if (reads)
        ck_assert_int_ge(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
    ck_assert_int_eq(alice_lists("posts.list", json_pack("{s:i}", "limit", 100), "group_id", g),
                     reads);
    r = NULL;
    rc = fx_exec(&r, alice, "events.get", "{s:I}", "event_id", gev);
    ck_assert_int_eq(rc, reads ? CM_OK : CM_ENOTFOUND);
    json_decref(r);
    ck_assert_int_eq(alice_lists("events.list", json_pack("{s:i}", "limit", 100), "id", gev),
                     reads);
    ck_assert_int_eq(
        alice_lists("events.list", json_pack("{s:I,s:i}", "group_id", g, "limit", 100), "id", gev),
        reads);
    ck_assert_int_eq(alice_lists("search.semantic",
                                 json_pack("{s:s,s:s,s:[s]}", "query", "rehearsal", "mode", "text",
                                           "types", "events"),
                                 "id", gev),
                     reads);
    ck_assert_int_eq(alice_lists("search.semantic",
                                 json_pack("{s:s,s:s,s:[s]}", "query", "welcome", "mode", "text",
                                           "types", "posts"),
                                 "group_id", g),
                     reads);
    return reads;
}

START_TEST(tiers_unlock_ticket_types_and_private_groups)
{
    fx_clock_real();
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i}", "title",
                         "Members night", "format", "online", "online_url",
                         "https://meet.example/m", "start_local", "2030-05-01T18:00", "end_local",
                         "2030-05-01T20:00", "timezone", "UTC", "publish", 1, "capacity", 10));
    json_int_t ev = fx_int(r, "id");
    json_decref(r);
    /* "Gold": for the gold tier by its slug; "Insider": restricted to another
     * tier, but gold's access table lists it; "Open": everyone */
    json_int_t types[3];
    const char *names[] = {"Open", "Gold", "Insider"}, *tiers[] = {NULL, "gold", "inner-circle"};
    for (int i = 0; i < 3; i++) {
        if (tiers[i])
            ck_assert_ok(fx_exec(&r, org, "ticket_types.create", "{s:I,s:s,s:i,s:s,s:s}",
                                 "event_id", ev, "name", names[i], "price_minor", 1000, "currency",
                                 "EUR", "tier", tiers[i]));
        else
            ck_assert_ok(fx_exec(&r, org, "ticket_types.create", "{s:I,s:s,s:i,s:s}", "event_id",
                                 ev, "name", names[i], "price_minor", 1000, "currency", "EUR"));
        types[i] = fx_int(r, "id");
        json_decref(r);
    }
    ck_assert_ok(fx_exec(&r, admin, "groups.create", "{s:s,s:s,s:s,s:s,s:s}", "slug", "backstage",
                         "name", "Backstage", "kind", "interest", "visibility", "private",
                         "join_policy", "invite"));
    json_int_t g = fx_int(r, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, admin, "posts.create", "{s:I,s:s,s:s}", "group_id", g, "title",
                         "Welcome backstage", "body", "hello"));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, admin, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "title",
                         "Backstage rehearsal", "format", "online", "online_url",
                         "https://meet.example/b", "start_local", "2030-06-01T18:00", "end_local",
                         "2030-06-01T20:00", "timezone", "UTC", "publish", 1, "group_id", g));
    json_int_t gev = fx_int(r, "id");
    json_decref(r);
    json_int_t gold = make_tier("gold", 500, 0, 0);
    ck_assert_ok(fx_exec(&r, admin, "memberships.grant_access", "{s:I,s:s,s:I}", "tier_id", gold,
                         "kind", "ticket_type", "target_id", types[2]));
    json_decref(r);
    ck_assert_ok(fx_exec(&r, admin, "memberships.grant_access", "{s:I,s:s,s:I}", "tier_id", gold,
                         "kind", "group", "target_id", g));
    json_decref(r);

    /* not a member yet: the open type only, no group, no tier-only order */
    ck_assert_str_eq(visible_types(ev), "Open");
    ck_assert(!reads_group(g, gev));
    ck_assert_int_eq(
        fx_exec(&r, alice, "orders.create", "{s:I,s:i}", "ticket_type_id", types[1], "quantity", 1),
        CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(&r, alice, "groups.join", "{s:I}", "group_id", g), CM_ENOTFOUND);
    /* the organizer sees every type */
    ck_assert_ok(fx_exec(&r, org, "ticket_types.list", "{s:I}", "event_id", ev));
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 3);
    json_decref(r);

    /* a paid subscription: both restricted types, and the group as a member */
    char session[64];
    json_t *evs;
    subscribe_and_pay(gold, session, &evs);
    ck_assert_str_eq(deliver(json_array_get(evs, 0)), "applied");
    ck_assert_str_eq(visible_types(ev), "Open,Gold,Insider");
    ck_assert_ok(fx_exec(&r, alice, "orders.create", "{s:I,s:i}", "ticket_type_id", types[1],
                         "quantity", 1));
    json_decref(r);
    ck_assert(reads_group(g, gev));
    ck_assert_ok(fx_exec(&r, alice, "posts.create", "{s:I,s:s,s:s}", "group_id", g, "title",
                         "Hello backstage", "body", "hi"));
    json_decref(r);
    ck_assert_int_eq(fx_exec(&r, alice, "groups.join", "{s:I}", "group_id", g), CM_EEXISTS);

    /* past_due keeps the access during the grace period only */
    const char *pid = provider_sub_id(evs);
    json_t *e = provider_sets(pid, "past_due");
    ck_assert_str_eq(deliver(e), "applied");
    json_decref(e);
    ck_assert_str_eq(visible_types(ev), "Open,Gold,Insider");
    ck_assert(reads_group(g, gev));
    fx_clock_set(cm_now_us() + 3 * 86400 * SEC + 3600 * SEC);
    ck_assert_str_eq(visible_types(ev), "Open");
    ck_assert(!reads_group(g, gev));
    fx_clock_real();

    /* unpaid loses it, paid again brings it back, canceled loses it for good */
    e = provider_sets(pid, "unpaid");
    ck_assert_str_eq(deliver(e), "applied");
    json_decref(e);
    ck_assert_str_eq(visible_types(ev), "Open");
    ck_assert(!reads_group(g, gev));
    e = provider_sets(pid, "active");
    ck_assert_str_eq(deliver(e), "applied");
    json_decref(e);
    ck_assert_str_eq(visible_types(ev), "Open,Gold,Insider");
    ck_assert(reads_group(g, gev));
    /* a ban from the group outweighs the tier, lifting it restores the access */
    ck_assert_ok(
        fx_exec(&r, admin, "groups.ban", "{s:I,s:I}", "group_id", g, "member_id", fx_id_of(alice)));
    json_decref(r);
    ck_assert(!reads_group(g, gev));
    ck_assert_ok(fx_exec(&r, admin, "groups.unban", "{s:I,s:I}", "group_id", g, "member_id",
                         fx_id_of(alice)));
    json_decref(r);
    ck_assert(reads_group(g, gev));
    e = provider_sets(pid, "canceled");
    ck_assert_str_eq(deliver(e), "applied");
    json_decref(e);
    ck_assert_str_eq(visible_types(ev), "Open");
    ck_assert(!reads_group(g, gev));
    ck_assert_int_eq(
        fx_exec(&r, alice, "orders.create", "{s:I,s:i}", "ticket_type_id", types[2], "quantity", 1),
        CM_ENOTFOUND);
    /* the order made while a member stands */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM orders WHERE state = 'reserved'"), 1);
    json_decref(evs);
    cm_actor_free(org);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    standin_start();
    Suite *s = suite_create("pay");
    TCase *tc = tcase_create("payments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tiers_free_subscription_and_access);
    tcase_add_test(tc, paid_subscription_follows_the_webhooks);
    tcase_add_test(tc, duplicate_deliveries_change_nothing);
    tcase_add_test(tc, reordered_events_keep_the_newest_state);
    tcase_add_test(tc, checkout_completed_first_then_subscription);
    tcase_add_test(tc, bad_signatures_are_refused_and_not_stored);
    tcase_add_test(tc, unknown_events_are_kept_and_ignored);
    tcase_add_test(tc, admins_replay_unmatched_events);
    tcase_add_test(tc, checkout_needs_a_configured_provider);
    tcase_add_test(tc, order_checkout_pays_the_order_once);
    tcase_add_test(tc, a_payment_after_the_hold_ended_is_refunded);
    tcase_add_test(tc, tiers_unlock_ticket_types_and_private_groups);
    tcase_add_test(tc, a_payment_of_another_amount_is_recorded_and_refunded);
    tcase_add_test(tc, a_second_payment_for_a_paid_order_is_refunded);
    tcase_add_test(tc, refunds_of_a_provider_paid_order_go_back_at_the_provider);
    tcase_add_test(tc, a_refund_the_provider_keeps_refusing_fails_after_5_attempts);
    suite_add_tcase(s, tc);
    int rc = fx_run(s);
    standin_stop();
    return rc;
}
