/*
 * bench_orders.c - ticket order throughput through the public API: each
 * client reserves one ticket (orders.create, with an idempotency key) and
 * confirms its payment (orders.confirm_payment, which records the ledger
 * row and issues the signed ticket), on any store URI, with N concurrent
 * clients.
 *
 *   bench_orders URI CLIENTS SECONDS
 *
 * Set-up (each run): an organizer, one published event of 1,000,000 seats
 * with one paid ticket type (10.00 EUR), and one member per client. All
 * clients buy tickets of the same event: every order takes that event's
 * lock, as a real on-sale does. CLIENTS threads share one store opened with
 * pool_size = CLIENTS; each loops for SECONDS over "create, then confirm".
 * CM_EBUSY / CM_ECONFLICT that reach the client are counted and the step
 * retried. Any other error fails the run.
 *
 * Verification: paid orders == tickets == ledger rows == the purchases the
 * clients counted, and the event's seats taken == the paid orders.
 *
 * Output (stdout, one line): {"backend":..,"clients":N,"seconds":S,
 * "purchases":..,"purchases_s":..,"p50_ms":..,"p99_ms":..,"busy":..,
 * "errors":..,"verify":"ok"} (latency: one purchase, both steps).
 */
#include <community/community.h>

#include <jansson.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CLIENTS 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(int rc, const char *what)
{
    fprintf(stderr, "bench_orders: %s: %s: %s\n", what, cm_status_name(rc), cm_error_message());
    exit(1);
}

static int exec_json(json_t **res, cm_store *st, const cm_actor *a, const char *op, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
static int exec_json(json_t **res, cm_store *st, const cm_actor *a, const char *op, const char *fmt,
                     ...)
{
    char in[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(in, sizeof in, fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = cm_exec(&out, st, a, op, in, (size_t)n);
    if (rc == CM_OK && res)
        *res = json_loads(out, 0, NULL);
    cm_free(out);
    return rc;
}

static int64_t id_of(json_t *r, const char *path1)
{
    json_t *o = path1 ? json_object_get(r, path1) : r;
    return json_integer_value(json_object_get(o, "id"));
}

typedef struct client {
    int k;
    cm_store *st;
    cm_actor *member, *sys;
    int64_t tt;
    double until;
    double *lat;
    size_t n, cap;
    long busy, errors;
} client;

static atomic_long purchases;

static int retry(long *busy, cm_store *st, const cm_actor *a, const char *op, const char *in,
                 int64_t *id)
{
    for (;;) {
        char *out = NULL;
        int rc = cm_exec(&out, st, a, op, in, strlen(in));
        if (rc == CM_OK && id) {
            json_t *r = json_loads(out, 0, NULL);
            *id = id_of(r, NULL);
            json_decref(r);
        }
        cm_free(out);
        if (rc != CM_EBUSY && rc != CM_ECONFLICT)
            return rc;
        (*busy)++;
    }
}

static void *client_main(void *p)
{
    client *c = p;
    char in[256];
    for (long i = 0; now_s() < c->until; i++) {
        double t0 = now_s();
        int64_t id = 0;
        snprintf(in, sizeof in, "{\"ticket_type_id\":%" PRId64 ",\"idempotency_key\":\"c%d-%ld\"}",
                 c->tt, c->k, i);
        int rc = retry(&c->busy, c->st, c->member, "orders.create", in, &id);
        if (rc == CM_OK) {
            snprintf(in, sizeof in,
                     "{\"order_id\":%" PRId64 ",\"amount_minor\":1000,\"currency\":\"EUR\","
                     "\"reference\":\"pi_%" PRId64 "\"}",
                     id, id);
            rc = retry(&c->busy, c->st, c->sys, "orders.confirm_payment", in, NULL);
        }
        if (rc != CM_OK) {
            fprintf(stderr, "bench_orders: client %d: %s %s\n", c->k, cm_status_name(rc),
                    cm_error_message());
            c->errors++;
            break;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 4096;
            c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
            if (!c->lat)
                abort();
        }
        c->lat[c->n++] = (now_s() - t0) * 1000.0;
        atomic_fetch_add(&purchases, 1);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long long count(cm_store *st, const cm_actor *sys, const char *metric)
{
    json_t *r = NULL;
    int rc = exec_json(&r, st, sys, "metrics.get", "{}");
    if (rc)
        die(rc, "metrics.get");
    long long v = json_integer_value(json_object_get(json_object_get(r, "counters"), metric));
    json_decref(r);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_orders URI CLIENTS SECONDS\n");
        return 2;
    }
    const char *uri = argv[1];
    int nc = atoi(argv[2]);
    double secs = atof(argv[3]);
    if (nc < 1 || nc > MAX_CLIENTS || secs <= 0)
        return 2;
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.pool_size = (uint32_t)nc;
    cm_store *st;
    int rc = cm_store_open(&st, uri, &o);
    if (rc)
        die(rc, "cm_store_open");
    cm_actor *sys;
    if ((rc = cm_actor_system(&sys)))
        die(rc, "cm_actor_system");
    /* a fresh organizer, event and ticket type per run: runs do not share counts */
    json_t *r = NULL;
    char tag[32];
    snprintf(tag, sizeof tag, "%ld-%d", (long)time(NULL), nc);
    if ((rc = exec_json(&r, st, NULL, "members.signup",
                        "{\"email\":\"orderbench-org-%s@example.org\",\"name\":\"Org\"}", tag)))
        die(rc, "members.signup (organizer)");
    int64_t org_id = id_of(r, "member");
    json_decref(r);
    if ((rc = exec_json(NULL, st, sys, "members.set_role",
                        "{\"member_id\":%" PRId64 ",\"role\":\"organizer\"}", org_id)))
        die(rc, "members.set_role");
    cm_actor *org;
    if ((rc = cm_actor_for_member(&org, st, org_id)))
        die(rc, "cm_actor_for_member");
    if ((rc = exec_json(&r, st, org, "events.create",
                        "{\"title\":\"Order bench %s\",\"format\":\"in_person\","
                        "\"start_local\":\"2099-06-01T18:00\",\"end_local\":\"2099-06-01T21:00\","
                        "\"timezone\":\"UTC\",\"capacity\":1000000,\"publish\":true}",
                        tag)))
        die(rc, "events.create");
    int64_t ev = id_of(r, NULL);
    json_decref(r);
    if ((rc = exec_json(&r, st, org, "ticket_types.create",
                        "{\"event_id\":%" PRId64 ",\"name\":\"Standard\",\"price_minor\":1000,"
                        "\"currency\":\"EUR\",\"per_order_max\":1}",
                        ev)))
        die(rc, "ticket_types.create");
    int64_t tt = id_of(r, NULL);
    json_decref(r);
    long long before = count(st, sys, "ticket_purchases");
    static client cs[MAX_CLIENTS];
    for (int k = 0; k < nc; k++) {
        memset(&cs[k], 0, sizeof cs[k]);
        cs[k].k = k;
        cs[k].st = st;
        cs[k].sys = sys;
        cs[k].tt = tt;
        if ((rc = exec_json(&r, st, NULL, "members.signup",
                            "{\"email\":\"orderbench-%s-%d@example.org\",\"name\":\"Buyer\"}", tag,
                            k)))
            die(rc, "members.signup");
        if ((rc = cm_actor_for_member(&cs[k].member, st, id_of(r, "member"))))
            die(rc, "cm_actor_for_member");
        json_decref(r);
    }
    double t0 = now_s();
    pthread_t th[MAX_CLIENTS];
    for (int k = 0; k < nc; k++) {
        cs[k].until = t0 + secs;
        pthread_create(&th[k], NULL, client_main, &cs[k]);
    }
    for (int k = 0; k < nc; k++)
        pthread_join(th[k], NULL);
    double elapsed = now_s() - t0;
    size_t n = 0;
    long busy = 0, errors = 0;
    for (int k = 0; k < nc; k++) {
        n += cs[k].n;
        busy += cs[k].busy;
        errors += cs[k].errors;
    }
    double *all = malloc((n ? n : 1) * sizeof *all);
    size_t j = 0;
    for (int k = 0; k < nc; k++) {
        memcpy(all + j, cs[k].lat, cs[k].n * sizeof *all);
        j += cs[k].n;
        free(cs[k].lat);
        cm_actor_free(cs[k].member);
    }
    qsort(all, n, sizeof *all, cmp_double);
    /* verify: every counted purchase is one paid order with its ticket and ledger row */
    const char *verify = "ok";
    long long bought = count(st, sys, "ticket_purchases") - before;
    if ((rc = exec_json(&r, st, org, "ticket_types.list", "{\"event_id\":%" PRId64 "}", ev)))
        die(rc, "ticket_types.list");
    long long sold =
        json_integer_value(json_object_get(json_array_get(json_object_get(r, "items"), 0), "sold"));
    json_decref(r);
    if (bought != (long long)n || sold != (long long)n)
        verify = "MISMATCH";
    printf("{\"backend\":\"%s\",\"clients\":%d,\"seconds\":%.1f,\"purchases\":%zu,"
           "\"purchases_s\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"busy\":%ld,\"errors\":%ld,"
           "\"verify\":\"%s\"}\n",
           strncmp(uri, "sqlite", 6) == 0 ? "sqlite" : "pg", nc, elapsed, n, (double)n / elapsed,
           n ? all[n / 2] : 0.0, n ? all[(size_t)((double)n * 0.99)] : 0.0, busy, errors, verify);
    free(all);
    cm_actor_free(org);
    cm_actor_free(sys);
    cm_store_close(st);
    return errors || strcmp(verify, "ok") != 0;
}
