/*
 * bench_rsvp.c - RSVP write throughput through the public API (cm_exec of
 * rsvps.add / rsvps.cancel) on any store URI, with N concurrent clients.
 *
 *   bench_rsvp setup URI STATE     create the data set, write its ids to STATE
 *   bench_rsvp run URI STATE CLIENTS SECONDS
 *                                  measure, verify, print one JSON line
 *
 * Data set (setup): BENCH_RSVP_MEMBERS members (default 400, plain
 * members.signup without a password, 16 threads), one organizer, and
 * BENCH_RSVP_EVENTS published events (default 10) of BENCH_RSVP_CAPACITY
 * seats (default 200). Every (member, event) pair then holds an RSVP with
 * probability 1/2, guests 0..2 (1..3 seats): about 200 RSVPs and 400 seats
 * asked per event, so about half of them are going and the rest waitlisted.
 * That is also the steady state of the run loop, so runs start in balance.
 *
 * Run: CLIENTS threads share one store opened with pool_size = CLIENTS. The
 * members are dealt out to the threads (member i to thread i % CLIENTS), each
 * member with its own actor, so a member's RSVPs are only ever changed by one
 * client and that client knows whether the member holds an active RSVP
 * (going or waitlisted) on each event. Each client loops for SECONDS: pick
 * one of its members and an event at random; rsvps.cancel if the pair is
 * active, otherwise rsvps.add with 0..2 guests. Each operation is one write
 * transaction (fsynced commit; cancels of going RSVPs also promote the
 * waitlist). CM_EBUSY / CM_ECONFLICT that reach the client (after the
 * library's own retries) are counted and the operation retried; its latency
 * then spans all attempts. Any other error is counted and fails the run.
 *
 * Verification after the run, per event, through events.get and rsvps.list
 * (system actor): seats_taken (counts.going_seats) <= capacity; seats_taken
 * == sum of the seats of the going RSVPs; counts.waitlisted == the number of
 * waitlisted RSVPs; going + waitlisted RSVPs == the pairs the clients
 * believe active (nothing lost or doubled); and the waitlist head does not
 * fit in the seats left (promotion is complete). Exit status 1 if any fails.
 *
 * Output (stdout, one line): {"clients":N,"seconds":S,"ops":..,"ops_s":..,
 * "p50_ms":..,"p99_ms":..,"adds":..,"cancels":..,"add_going":..,
 * "add_waitlisted":..,"busy":..,"conflict":..,"errors":..,"verify":"ok"}.
 */
#include <community/community.h>

#include <jansson.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
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

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : def;
}

static void die(int rc, const char *what)
{
    fprintf(stderr, "bench_rsvp: %s: %s: %s\n", what, cm_status_name(rc), cm_error_message());
    exit(1);
}

/* xorshift64*: per-thread random numbers. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* cm_exec with printf-formatted input; parses the result into *res when
 * res is non-NULL. Returns the cm_exec code. */
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
    if (rc == CM_OK && res) {
        json_error_t err;
        *res = json_loads(out, 0, &err);
        if (!*res) {
            fprintf(stderr, "bench_rsvp: %s: bad JSON result: %s\n", op, err.text);
            exit(1);
        }
    }
    cm_free(out);
    return rc;
}

static cm_store *open_store(const char *uri, uint32_t pool)
{
    cm_store_options o = CM_STORE_OPTIONS_INIT;
    o.pool_size = pool;
    cm_store *st;
    int rc = cm_store_open(&st, uri, &o);
    if (rc)
        die(rc, "cm_store_open");
    return st;
}

/* ---- the data set ---------------------------------------------------- */

typedef struct dataset {
    int64_t *members; /* member ids */
    int n_members;
    int64_t events[64];
    int n_events;
    int64_t organizer;
} dataset;

static void state_write(const dataset *d, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "organizer %" PRId64 "\nevents %d\n", d->organizer, d->n_events);
    for (int i = 0; i < d->n_events; i++)
        fprintf(f, "%" PRId64 "\n", d->events[i]);
    fprintf(f, "members %d\n", d->n_members);
    for (int i = 0; i < d->n_members; i++)
        fprintf(f, "%" PRId64 "\n", d->members[i]);
    if (fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void state_read(dataset *d, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    bool ok = fscanf(f, " organizer %" SCNd64 " events %d", &d->organizer, &d->n_events) == 2 &&
              d->n_events > 0 && d->n_events <= 64;
    for (int i = 0; ok && i < d->n_events; i++)
        ok = fscanf(f, " %" SCNd64, &d->events[i]) == 1;
    ok = ok && fscanf(f, " members %d", &d->n_members) == 1 && d->n_members > 0;
    if (ok && !(d->members = calloc((size_t)d->n_members, sizeof *d->members)))
        ok = false;
    for (int i = 0; ok && i < d->n_members; i++)
        ok = fscanf(f, " %" SCNd64, &d->members[i]) == 1;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "bench_rsvp: %s: not a state file\n", path);
        exit(1);
    }
}

typedef struct setup_arg {
    cm_store *st;
    dataset *d;
    int tid, nthreads;
    int phase; /* 0: signups, 1: RSVPs */
    atomic_long *done;
} setup_arg;

static void *setup_thread(void *p)
{
    setup_arg *a = p;
    dataset *d = a->d;
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(a->tid + 1);
    for (int i = a->tid; i < d->n_members; i += a->nthreads) {
        if (a->phase == 0) {
            json_t *r;
            int rc =
                exec_json(&r, a->st, NULL, "members.signup",
                          "{\"email\":\"rsvpbench%d@example.org\",\"name\":\"Member %d\"}", i, i);
            if (rc)
                die(rc, "members.signup");
            d->members[i] = json_integer_value(json_object_get(json_object_get(r, "member"), "id"));
            json_decref(r);
            continue;
        }
        cm_actor *actor;
        int rc = cm_actor_for_member(&actor, a->st, d->members[i]);
        if (rc)
            die(rc, "cm_actor_for_member");
        for (int e = 0; e < d->n_events; e++) {
            if (rnd(&seed) % 2)
                continue;
            do
                rc = exec_json(NULL, a->st, actor, "rsvps.add",
                               "{\"event_id\":%" PRId64 ",\"guests\":%d}", d->events[e],
                               (int)(rnd(&seed) % 3));
            while (rc == CM_EBUSY || rc == CM_ECONFLICT);
            if (rc)
                die(rc, "rsvps.add (setup)");
            atomic_fetch_add(a->done, 1);
        }
        cm_actor_free(actor);
    }
    return NULL;
}

static int cmd_setup(const char *uri, const char *state_path)
{
    const int nthreads = 16;
    dataset d = {0};
    d.n_members = (int)env_long("BENCH_RSVP_MEMBERS", 400);
    d.n_events = (int)env_long("BENCH_RSVP_EVENTS", 10);
    long capacity = env_long("BENCH_RSVP_CAPACITY", 200);
    if (d.n_members < 1 || d.n_events < 1 || d.n_events > 64 || capacity < 1) {
        fprintf(stderr, "bench_rsvp: bad BENCH_RSVP_* sizes\n");
        return 2;
    }
    d.members = calloc((size_t)d.n_members, sizeof *d.members);
    if (!d.members)
        return 1;
    double t0 = now_s();
    cm_store *st = open_store(uri, (uint32_t)nthreads);
    cm_actor *sys;
    int rc = cm_actor_system(&sys);
    if (rc)
        die(rc, "cm_actor_system");
    json_t *r;
    if ((rc = exec_json(&r, st, NULL, "members.signup",
                        "{\"email\":\"rsvpbench-organizer@example.org\",\"name\":\"Org\"}")))
        die(rc, "members.signup (organizer)");
    d.organizer = json_integer_value(json_object_get(json_object_get(r, "member"), "id"));
    json_decref(r);
    if ((rc = exec_json(NULL, st, sys, "members.set_role",
                        "{\"member_id\":%" PRId64 ",\"role\":\"organizer\"}", d.organizer)))
        die(rc, "members.set_role");
    cm_actor *org;
    if ((rc = cm_actor_for_member(&org, st, d.organizer)))
        die(rc, "cm_actor_for_member (organizer)");
    for (int e = 0; e < d.n_events; e++) {
        if ((rc = exec_json(&r, st, org, "events.create",
                            "{\"title\":\"RSVP bench %d\",\"format\":\"in_person\","
                            "\"start_local\":\"2099-06-01T18:00\",\"end_local\":"
                            "\"2099-06-01T21:00\",\"timezone\":\"UTC\",\"capacity\":%ld,"
                            "\"publish\":true}",
                            e, capacity)))
            die(rc, "events.create");
        d.events[e] = json_integer_value(json_object_get(r, "id"));
        json_decref(r);
    }
    cm_actor_free(org);
    atomic_long done = 0;
    pthread_t th[16];
    setup_arg args[16];
    for (int phase = 0; phase < 2; phase++) {
        for (int t = 0; t < nthreads; t++) {
            args[t] = (setup_arg){st, &d, t, nthreads, phase, &done};
            if (pthread_create(&th[t], NULL, setup_thread, &args[t]))
                return 1;
        }
        for (int t = 0; t < nthreads; t++)
            pthread_join(th[t], NULL);
    }
    cm_actor_free(sys);
    cm_store_close(st);
    state_write(&d, state_path);
    fprintf(stderr, "bench_rsvp: setup: %d members, %d events x %ld seats, %ld RSVPs in %.1f s\n",
            d.n_members, d.n_events, capacity, (long)atomic_load(&done), now_s() - t0);
    free(d.members);
    return 0;
}

/* ---- listing and verification ------------------------------------- */

typedef struct event_view {
    int64_t capacity, going_seats, waitlisted;  /* events.get */
    int64_t going_rsvps, going_sum, wait_rsvps; /* rsvps.list */
    int64_t head_seats;                         /* first waitlisted, 0 if none */
} event_view;

/* Walk rsvps.list of one status; calls mark(member_id) for each item when
 * mark_cb is given. */
static void list_status(cm_store *st, const cm_actor *sys, int64_t event_id, const char *status,
                        event_view *v, void (*mark_cb)(int64_t member, void *p), void *p)
{
    char cursor[256] = "";
    bool first = true;
    for (;;) {
        json_t *r;
        int rc;
        if (cursor[0])
            rc = exec_json(&r, st, sys, "rsvps.list",
                           "{\"event_id\":%" PRId64 ",\"status\":\"%s\",\"limit\":100,"
                           "\"cursor\":\"%s\"}",
                           event_id, status, cursor);
        else
            rc = exec_json(&r, st, sys, "rsvps.list",
                           "{\"event_id\":%" PRId64 ",\"status\":\"%s\",\"limit\":100}", event_id,
                           status);
        if (rc)
            die(rc, "rsvps.list");
        json_t *items = json_object_get(r, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            int64_t seats = json_integer_value(json_object_get(it, "seats"));
            int64_t member =
                json_integer_value(json_object_get(json_object_get(it, "member"), "id"));
            if (strcmp(status, "going") == 0) {
                v->going_rsvps++;
                v->going_sum += seats;
            } else {
                /* a waitlisted RSVP holds no seats yet: its need is 1 + guests */
                if (first)
                    v->head_seats = 1 + json_integer_value(json_object_get(it, "guests"));
                v->wait_rsvps++;
            }
            first = false;
            if (mark_cb)
                mark_cb(member, p);
        }
        const char *next = json_string_value(json_object_get(r, "next_cursor"));
        if (next && strlen(next) < sizeof cursor)
            snprintf(cursor, sizeof cursor, "%s", next);
        else
            cursor[0] = 0;
        json_decref(r);
        if (!cursor[0])
            break;
    }
}

static void view_event(event_view *v, cm_store *st, const cm_actor *sys, int64_t event_id,
                       void (*mark_cb)(int64_t member, void *p), void *p)
{
    memset(v, 0, sizeof *v);
    json_t *r;
    int rc = exec_json(&r, st, sys, "events.get", "{\"event_id\":%" PRId64 "}", event_id);
    if (rc)
        die(rc, "events.get");
    json_t *counts = json_object_get(r, "counts");
    v->capacity = json_integer_value(json_object_get(counts, "capacity"));
    v->going_seats = json_integer_value(json_object_get(counts, "going_seats"));
    v->waitlisted = json_integer_value(json_object_get(counts, "waitlisted"));
    json_decref(r);
    list_status(st, sys, event_id, "going", v, mark_cb, p);
    list_status(st, sys, event_id, "waitlisted", v, mark_cb, p);
}

/* ---- the run ------------------------------------------------------- */

typedef struct run_ctx {
    cm_store *st;
    dataset d;
    int clients;
    double seconds;
    uint8_t *active; /* [member index * n_events + event index] */
    int64_t max_member_id;
    int *member_index; /* member id -> index, -1 if not ours */
    atomic_int ready;
    atomic_bool go, stop;
} run_ctx;

typedef struct client {
    run_ctx *rc;
    int tid;
    double *lat; /* seconds */
    size_t n_lat, cap_lat;
    long adds, cancels, add_going, add_wait, busy, conflict, errors;
} client;

typedef struct mark_arg {
    run_ctx *rc;
    int e;
} mark_arg;

static void mark_active(int64_t member, void *p)
{
    mark_arg *m = p;
    if (member < 1 || member > m->rc->max_member_id)
        return;
    int i = m->rc->member_index[member];
    if (i >= 0)
        m->rc->active[(size_t)i * (size_t)m->rc->d.n_events + (size_t)m->e] = 1;
}

static void *client_thread(void *p)
{
    client *c = p;
    run_ctx *rc = c->rc;
    const dataset *d = &rc->d;
    int mine_n = 0;
    for (int i = c->tid; i < d->n_members; i += rc->clients)
        mine_n++;
    int *mine = calloc((size_t)mine_n, sizeof *mine);
    cm_actor **actors = calloc((size_t)mine_n, sizeof *actors);
    if (!mine || !actors)
        exit(1);
    for (int i = c->tid, k = 0; i < d->n_members; i += rc->clients, k++) {
        mine[k] = i;
        int e = cm_actor_for_member(&actors[k], rc->st, d->members[i]);
        if (e)
            die(e, "cm_actor_for_member");
    }
    uint64_t seed = 0xD1B54A32D192ED03ULL * (uint64_t)(c->tid + 1) ^ (uint64_t)time(NULL);
    atomic_fetch_add(&rc->ready, 1);
    while (!atomic_load(&rc->go))
        sched_yield();
    while (!atomic_load_explicit(&rc->stop, memory_order_relaxed)) {
        int k = (int)(rnd(&seed) % (uint64_t)mine_n);
        int e = (int)(rnd(&seed) % (uint64_t)d->n_events);
        uint8_t *act = &rc->active[(size_t)mine[k] * (size_t)d->n_events + (size_t)e];
        bool cancel = *act;
        int guests = (int)(rnd(&seed) % 3);
        double t0 = now_s();
        int r;
        json_t *res = NULL;
        for (;;) {
            if (cancel)
                r = exec_json(NULL, rc->st, actors[k], "rsvps.cancel", "{\"event_id\":%" PRId64 "}",
                              d->events[e]);
            else
                r = exec_json(&res, rc->st, actors[k], "rsvps.add",
                              "{\"event_id\":%" PRId64 ",\"guests\":%d}", d->events[e], guests);
            if (r == CM_EBUSY)
                c->busy++;
            else if (r == CM_ECONFLICT)
                c->conflict++;
            else
                break;
        }
        double dt = now_s() - t0;
        if (r) {
            c->errors++;
            fprintf(stderr, "bench_rsvp: %s: %s: %s\n", cancel ? "rsvps.cancel" : "rsvps.add",
                    cm_status_name(r), cm_error_message());
            continue;
        }
        if (cancel) {
            c->cancels++;
            *act = 0;
        } else {
            c->adds++;
            const char *s = json_string_value(json_object_get(res, "status"));
            if (s && strcmp(s, "going") == 0)
                c->add_going++;
            else
                c->add_wait++;
            json_decref(res);
            *act = 1;
        }
        if (c->n_lat == c->cap_lat) {
            c->cap_lat = c->cap_lat ? 2 * c->cap_lat : 65536;
            c->lat = realloc(c->lat, c->cap_lat * sizeof *c->lat);
            if (!c->lat)
                exit(1);
        }
        c->lat[c->n_lat++] = dt;
    }
    for (int k = 0; k < mine_n; k++)
        cm_actor_free(actors[k]);
    free(actors);
    free(mine);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_run(const char *uri, const char *state_path, int clients, double seconds)
{
    if (clients < 1 || clients > MAX_CLIENTS || seconds <= 0) {
        fprintf(stderr, "bench_rsvp: CLIENTS must be 1..%d and SECONDS > 0\n", MAX_CLIENTS);
        return 2;
    }
    static run_ctx rc;
    state_read(&rc.d, state_path);
    const dataset *d = &rc.d;
    rc.clients = clients;
    rc.seconds = seconds;
    rc.st = open_store(uri, (uint32_t)clients);
    cm_actor *sys;
    int e = cm_actor_system(&sys);
    if (e)
        die(e, "cm_actor_system");
    rc.active = calloc((size_t)d->n_members * (size_t)d->n_events, 1);
    for (int i = 0; i < d->n_members; i++)
        if (d->members[i] > rc.max_member_id)
            rc.max_member_id = d->members[i];
    rc.member_index = malloc(((size_t)rc.max_member_id + 1) * sizeof *rc.member_index);
    if (!rc.active || !rc.member_index)
        return 1;
    for (int64_t i = 0; i <= rc.max_member_id; i++)
        rc.member_index[i] = -1;
    for (int i = 0; i < d->n_members; i++)
        rc.member_index[d->members[i]] = i;

    /* Which pairs are active now (and the invariants before the run). */
    bool ok = true;
    for (int ev = 0; ev < d->n_events; ev++) {
        event_view v;
        mark_arg m = {&rc, ev};
        view_event(&v, rc.st, sys, d->events[ev], mark_active, &m);
    }

    client *cl = calloc((size_t)clients, sizeof *cl);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    if (!cl || !th)
        return 1;
    for (int t = 0; t < clients; t++) {
        cl[t].rc = &rc;
        cl[t].tid = t;
        if (pthread_create(&th[t], NULL, client_thread, &cl[t]))
            return 1;
    }
    while (atomic_load(&rc.ready) < clients) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    double t0 = now_s();
    atomic_store(&rc.go, true);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&rc.stop, true);
    for (int t = 0; t < clients; t++)
        pthread_join(th[t], NULL);
    double elapsed = now_s() - t0; /* includes the operations in flight at the stop */

    client tot = {0};
    size_t n = 0;
    for (int t = 0; t < clients; t++)
        n += cl[t].n_lat;
    double *lat = malloc((n ? n : 1) * sizeof *lat);
    if (!lat)
        return 1;
    n = 0;
    for (int t = 0; t < clients; t++) {
        memcpy(lat + n, cl[t].lat, cl[t].n_lat * sizeof *lat);
        n += cl[t].n_lat;
        tot.adds += cl[t].adds;
        tot.cancels += cl[t].cancels;
        tot.add_going += cl[t].add_going;
        tot.add_wait += cl[t].add_wait;
        tot.busy += cl[t].busy;
        tot.conflict += cl[t].conflict;
        tot.errors += cl[t].errors;
        free(cl[t].lat);
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    double p50 = n ? lat[(size_t)(0.50 * (double)(n - 1))] : 0;
    double p99 = n ? lat[(size_t)(0.99 * (double)(n - 1))] : 0;

    /* Verification. */
    int64_t going_total = 0, wait_total = 0;
    for (int ev = 0; ev < d->n_events; ev++) {
        event_view v;
        view_event(&v, rc.st, sys, d->events[ev], NULL, NULL);
        int64_t expect = 0;
        for (int i = 0; i < d->n_members; i++)
            expect += rc.active[(size_t)i * (size_t)d->n_events + (size_t)ev];
        going_total += v.going_rsvps;
        wait_total += v.wait_rsvps;
        const char *bad = NULL;
        if (v.going_seats > v.capacity)
            bad = "seats_taken > capacity";
        else if (v.going_seats != v.going_sum)
            bad = "seats_taken != sum of going seats";
        else if (v.waitlisted != v.wait_rsvps)
            bad = "waitlist_count != waitlisted RSVPs";
        else if (v.going_rsvps + v.wait_rsvps != expect)
            bad = "active RSVPs != what the clients did";
        else if (v.wait_rsvps && v.head_seats <= v.capacity - v.going_seats)
            bad = "the waitlist head fits but was not promoted";
        if (bad) {
            ok = false;
            fprintf(stderr,
                    "bench_rsvp: event %" PRId64 ": %s (capacity %" PRId64 ", seats_taken %" PRId64
                    ", going seats %" PRId64 " in %" PRId64 " RSVPs, waitlisted %" PRId64
                    " / %" PRId64 " listed, expected %" PRId64 " active)\n",
                    d->events[ev], bad, v.capacity, v.going_seats, v.going_sum, v.going_rsvps,
                    v.waitlisted, v.wait_rsvps, expect);
        }
    }
    printf("{\"backend\":\"%s\",\"clients\":%d,\"seconds\":%.2f,\"ops\":%zu,\"ops_s\":%.1f,"
           "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"adds\":%ld,\"cancels\":%ld,\"add_going\":%ld,"
           "\"add_waitlisted\":%ld,\"busy\":%ld,\"conflict\":%ld,\"errors\":%ld,"
           "\"going_rsvps\":%" PRId64 ",\"waitlisted_rsvps\":%" PRId64 ",\"verify\":\"%s\"}\n",
           cm_store_backend_name(rc.st), clients, elapsed, n, (double)n / elapsed, p50 * 1e3,
           p99 * 1e3, tot.adds, tot.cancels, tot.add_going, tot.add_wait, tot.busy, tot.conflict,
           tot.errors, going_total, wait_total, ok ? "ok" : "FAILED");
    free(lat);
    free(cl);
    free(th);
    free(rc.active);
    free(rc.member_index);
    free(rc.d.members);
    cm_actor_free(sys);
    cm_store_close(rc.st);
    return ok && tot.errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "setup") == 0)
        return cmd_setup(argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
    fprintf(stderr, "usage: bench_rsvp setup URI STATE\n"
                    "       bench_rsvp run URI STATE CLIENTS SECONDS\n");
    return 2;
}
