/*
 * test_ai.c - embeddings and the AI operations through cm_exec: relevance
 * of semantic search, visibility applied before ranking, the upcoming
 * filter, similar events, members.similar (opt-in only), recommendations,
 * the embeddings table kept in step with writes (also across stores), the
 * HNSW path, bad input, and the OpenAI-compatible HTTP provider against a
 * fake server running in a thread of this test (success, HTTP 500,
 * timeout, malformed JSON; the API key never appears in errors or logs).
 */
#include "fixtures.h"

#include "ai/ai_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* 2026-01-01T00:00:00Z: every test runs on this fixed clock. */
#define T0 1767225600000000LL

static void setup(void)
{
    fx_setup();
    fx_clock_set(T0);
}

/* shorthands for the fixtures helpers */
#define I fx_int
#define id_of fx_id_of
#define exec_obj fx_exec_obj

/* A published (unless draft) Berlin event; capacity < 0: unlimited; group 0: none. */
static json_int_t mk_event_full(const cm_actor *a, const char *title, const char *desc,
                                const char *day, json_int_t capacity, bool draft, json_int_t group)
{
    char start[32], end[32];
    snprintf(start, sizeof start, "%sT18:00", day);
    snprintf(end, sizeof end, "%sT21:00", day);
    json_t *in = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title", title, "description", desc,
                           "format", "in_person", "start_local", start, "end_local", end,
                           "timezone", "Europe/Berlin", "publish", !draft);
    if (capacity >= 0)
        json_object_set_new(in, "capacity", json_integer(capacity));
    if (group)
        json_object_set_new(in, "group_id", json_integer(group));
    json_t *r;
    int rc = exec_obj(&r, a, "events.create", in);
    ck_assert_msg(rc == 0, "events.create: %s (%s)", cm_error_message(), cm_error_field());
    json_int_t id = I(r, "id");
    json_decref(r);
    return id;
}

static json_int_t mk_event(const cm_actor *a, const char *title, const char *desc, const char *day)
{
    return mk_event_full(a, title, desc, day, -1, false, 0);
}

/* A member with a profile; discoverable as given. */
static cm_actor *mk_person(const char *email, const char *headline, const char *bio,
                           bool discoverable)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "members.signup", "{s:s,s:s,s:s,s:s,s:b,s:s}", "email", email,
                         "name", email, "headline", headline, "bio", bio, "discoverable",
                         discoverable, "visibility", "members"));
    json_int_t id = I(json_object_get(r, "member"), "id");
    json_decref(r);
    cm_actor *a;
    ck_assert_ok(cm_actor_for_member(&a, FX.store, id));
    return a;
}

/* The ids of a result's items of one type ("" = any), in order. */
static size_t item_ids(json_int_t *ids, size_t cap, json_t *res, const char *type)
{
    json_t *items = json_object_get(res, "items");
    ck_assert_msg(json_is_array(items), "result has no items");
    size_t n = 0, i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *t = json_string_value(json_object_get(it, "type"));
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_nonnull(json_object_get(it, "summary"));
        ck_assert(json_is_number(json_object_get(it, "score")));
        if (*type && strcmp(t, type) != 0)
            continue;
        if (n < cap)
            ids[n] = I(it, "id");
        n++;
    }
    return n;
}

static bool has_id(const json_int_t *ids, size_t n, json_int_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static int search(json_t **out, const cm_actor *a, const char *query, const char *types, int limit)
{
    json_t *in = json_pack("{s:s,s:i}", "query", query, "limit", limit);
    if (types)
        json_object_set_new(in, "types", json_pack("[s]", types));
    return exec_obj(out, a, "search.semantic", in);
}

/* ------------------------------------------------------------------------ */

START_TEST(builtin_embedder_shares_words)
{
    float a[384], b[384], c[384], d[384];
    const char *ta = "Rust systems programming meetup";
    const char *tb = "rust programming";
    const char *tc = "Gardening club: tomatoes and roses";
    cm__embed_builtin(a, 384, ta, strlen(ta));
    cm__embed_builtin(b, 384, tb, strlen(tb));
    cm__embed_builtin(c, 384, tc, strlen(tc));
    cm__embed_builtin(d, 384, ta, strlen(ta));
    ck_assert(memcmp(a, d, sizeof a) == 0); /* deterministic */
    ck_assert_float_eq_tol(cm_vec_dot_f32(a, a, 384), 1.0f, 1e-5f);
    float related = cm_vec_dot_f32(a, b, 384), unrelated = cm_vec_dot_f32(c, b, 384);
    ck_assert_msg(related > 0.4f && related > unrelated + 0.3f, "related %f unrelated %f",
                  (double)related, (double)unrelated);
    /* stems: "meetups" is "meetup", "programmers" is "programming" */
    const char *te = "programmers meetups", *tf = "programming meetup";
    cm__embed_builtin(a, 384, te, strlen(te));
    cm__embed_builtin(b, 384, tf, strlen(tf));
    float stemmed = cm_vec_dot_f32(a, b, 384);
    ck_assert_msg(stemmed > 0.6f, "stemmed forms: %f", (double)stemmed);
    /* no words: the zero vector */
    cm__embed_builtin(d, 384, " -- ", 4);
    for (int i = 0; i < 384; i++)
        ck_assert(d[i] == 0.0f);
}
END_TEST

START_TEST(search_ranks_by_meaning)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t py =
        mk_event(org, "Python data science workshop", "Pandas and notebooks", "2026-02-10");
    json_int_t rust = mk_event(org, "Rust systems programming meetup",
                               "Ownership, borrowing and fearless concurrency", "2026-02-11");
    json_int_t garden =
        mk_event(org, "Gardening club", "Tomatoes, roses and compost", "2026-02-12");
    json_t *r;
    ck_assert_ok(search(&r, NULL, "rust programming", "events", 10));
    json_int_t ids[10];
    size_t n = item_ids(ids, 10, r, "event");
    /* the unrelated events are no match at all */
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], rust);
    ck_assert(!has_id(ids, n, py) && !has_id(ids, n, garden));
    json_t *first = json_array_get(json_object_get(r, "items"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "summary")),
                     "Rust systems programming meetup");
    ck_assert_str_eq(json_string_value(json_object_get(first, "type")), "event");
    ck_assert_str_eq(json_string_value(json_object_get(r, "model")), CM__EMBED_BUILTIN_MODEL);
    /* first in both lists */
    ck_assert(json_real_value(json_object_get(first, "score")) == 1.0);
    json_decref(r);
    /* a word of each: the better match first, scores rounded to 3 decimals */
    ck_assert_ok(search(&r, NULL, "python notebooks programming", "events", 10));
    n = item_ids(ids, 10, r, "event");
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], py);
    ck_assert_int_eq(ids[1], rust);
    double s0 = json_real_value(
        json_object_get(first = json_array_get(json_object_get(r, "items"), 0), "score"));
    double s1 =
        json_real_value(json_object_get(json_array_get(json_object_get(r, "items"), 1), "score"));
    ck_assert(s0 > s1);
    ck_assert(s1 * 1000 == round(s1 * 1000));
    /* deterministic: the same call gives the same bytes */
    char *a = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    ck_assert_ok(search(&r, NULL, "python notebooks programming", "events", 10));
    char *b = json_dumps(r, JSON_COMPACT);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    json_decref(r);
    /* limit cuts the list, best first */
    ck_assert_ok(search(&r, NULL, "gardening tomatoes", "events", 1));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 1);
    ck_assert_int_eq(ids[0], garden);
    json_decref(r);
    /* every request is counted */
    ck_assert_int_eq(fx_count("SELECT value FROM metric_counters WHERE name = 'ai_requests'"), 4);
    /* read-only: no audit rows */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM audit_log WHERE op = 'search.semantic'"), 0);
    cm_actor_free(org);
}
END_TEST

/* The case reported in issue 15: the words of the query in an event's
 * title and venue put it first, ahead of a member and an event that share
 * one word; a query that matches nothing answers no results. */
START_TEST(hybrid_search_finds_things)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *ann = mk_person("ann@example.org", "Rust engineer",
                              "I meet new people at meetups and write Rust", true);
    json_int_t lagos =
        mk_event(org, "Lagos Community Meetup", "Yaba Tech Hub, Lagos", "2026-02-10");
    json_int_t go = mk_event(org, "Go meetup", "Gophers in Berlin", "2026-02-11");
    json_int_t nyc =
        mk_event(org, "Rust NYC", "Monthly Rust meetups in Manhattan, New York", "2026-02-12");
    json_t *r;
    json_int_t ids[10];
    ck_assert_ok(search(&r, ann, "rust meetup in new york", NULL, 10));
    size_t n = item_ids(ids, 10, r, "");
    ck_assert_int_ge(n, 3);
    ck_assert_int_eq(ids[0], nyc);
    ck_assert_str_eq(fx_str(json_array_get(json_object_get(r, "items"), 0), "type"), "event");
    json_decref(r);
    /* nonsense: no results, whatever the mode */
    const char *modes[] = {"hybrid", "text", "vector"};
    for (int m = 0; m < 3; m++) {
        ck_assert_ok(exec_obj(&r, ann, "search.semantic",
                              json_pack("{s:s,s:s}", "query", "xqzvw plokijuh", "mode", modes[m])));
        ck_assert_msg(item_ids(ids, 10, r, "") == 0, "mode %s found something", modes[m]);
        json_decref(r);
    }
    /* text alone: stemmed words ("meetups" finds "meetup"), visibility first */
    ck_assert_ok(exec_obj(
        &r, NULL, "search.semantic",
        json_pack("{s:s,s:s,s:[s]}", "query", "meetups", "mode", "text", "types", "events")));
    n = item_ids(ids, 10, r, "");
    ck_assert_int_eq(n, 3);
    ck_assert(has_id(ids, n, lagos) && has_id(ids, n, go) && has_id(ids, n, nyc));
    json_decref(r);
    /* the full-text index follows edits */
    ck_assert_ok(fx_exec(NULL, org, "events.update", "{s:I,s:s,s:s}", "event_id", go, "title",
                         "Gardening afternoon", "description", "tulips"));
    ck_assert_ok(exec_obj(&r, NULL, "search.semantic",
                          json_pack("{s:s,s:s}", "query", "tulips", "mode", "text")));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 1);
    ck_assert_int_eq(ids[0], go);
    json_decref(r);
    ck_assert_ok(exec_obj(&r, NULL, "search.semantic",
                          json_pack("{s:s,s:s}", "query", "gophers", "mode", "text")));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 0);
    json_decref(r);
    /* a query_vector is searched by vectors only */
    ck_assert_int_eq(
        fx_exec(NULL, NULL, "search.semantic", "{s:[f],s:s}", "query_vector", 1.0, "mode", "text"),
        CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "mode");
    cm_actor_free(org);
    cm_actor_free(ann);
}
END_TEST

/* A place or a tool named another way ("NYC" for "new york"): the synonym
 * table expands the query (lib/ai/synonyms.c); an operator's file replaces
 * the table, an empty one turns expansion off. */
START_TEST(synonyms_find_a_place_named_another_way)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t nyc = mk_event(org, "Rust Meetup NYC", "Monthly, near Union Square", "2026-02-12");
    mk_event(org, "Product Design Meetup New York", "New York designers meet", "2026-02-13");
    mk_event(org, "Data Science Night", "Manhattan, New York", "2026-02-14");
    json_int_t go = mk_event(org, "Gophers at night", "Concurrency talks", "2026-02-15");
    json_t *r;
    json_int_t ids[10];
    ck_assert_ok(search(&r, NULL, "rust meetup in new york", "events", 10));
    ck_assert_int_ge(item_ids(ids, 10, r, ""), 3);
    ck_assert_int_eq(ids[0], nyc);
    json_decref(r);
    ck_assert_ok(exec_obj(&r, NULL, "search.semantic",
                          json_pack("{s:s,s:s}", "query", "events in nyc", "mode", "text")));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 3);
    json_decref(r);
    /* an operator's table */
    char path[400];
    snprintf(path, sizeof path, "%s/synonyms.txt", FX.dir);
    FILE *f = fopen(path, "w");
    fputs("# ours\ngophers, go programmers # the Go community\nlonely\n", f);
    fclose(f);
    ck_assert_ok(cm__search_synonyms_load(path));
    ck_assert_ok(exec_obj(&r, NULL, "search.semantic",
                          json_pack("{s:s,s:s}", "query", "programmers", "mode", "text")));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 0);
    json_decref(r);
    ck_assert_ok(exec_obj(&r, NULL, "search.semantic",
                          json_pack("{s:s,s:s}", "query", "go programmers", "mode", "text")));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 1);
    ck_assert_int_eq(ids[0], go);
    json_decref(r);
    /* it replaced the built-in table: NYC is only NYC again */
    ck_assert_ok(exec_obj(&r, NULL, "search.semantic",
                          json_pack("{s:s,s:s}", "query", "events in nyc", "mode", "text")));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 1);
    json_decref(r);
    /* an empty file: no expansion; a missing one: refused, the table stays */
    f = fopen(path, "w");
    fclose(f);
    ck_assert_ok(cm__search_synonyms_load(path));
    ck_assert_ok(exec_obj(&r, NULL, "search.semantic",
                          json_pack("{s:s,s:s}", "query", "go programmers", "mode", "text")));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 0);
    json_decref(r);
    ck_assert_int_eq(cm__search_synonyms_load("/nonexistent/synonyms.txt"), CM_EIO);
    char *x = NULL;
    ck_assert_ok(cm__search_expand(&x, "new york", 8));
    ck_assert_str_eq(x, "new york");
    cm_free(x);
    ck_assert_ok(cm__search_synonyms_load(NULL));
    ck_assert_ok(cm__search_expand(&x, "Rust in New York", 16));
    ck_assert_str_eq(x, "Rust in New York nyc city");
    cm_free(x);
    cm_actor_free(org);
}
END_TEST

START_TEST(search_covers_members_and_posts)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *ann = mk_person("ann@example.org", "Rust compiler engineer",
                              "I write systems programming tools in Rust", true);
    cm_actor *bob =
        mk_person("bob@example.org", "Rust enthusiast", "Loves Rust programming", false);
    json_t *r;
    ck_assert_ok(fx_exec(&r, ann, "posts.create", "{s:s,s:s}", "title", "Learning Rust programming",
                         "body", "Which book for the borrow checker?"));
    json_int_t post = I(r, "id");
    json_decref(r);
    mk_event(org, "Rust systems programming meetup", "", "2026-02-11");
    ck_assert_ok(search(&r, org, "rust programming", NULL, 10));
    json_int_t ids[10];
    ck_assert_int_eq(item_ids(ids, 10, r, "post"), 1);
    ck_assert_int_eq(ids[0], post);
    size_t n = item_ids(ids, 10, r, "member");
    ck_assert_int_eq(n, 1); /* bob did not opt in */
    ck_assert_int_eq(ids[0], id_of(ann));
    ck_assert_int_eq(item_ids(ids, 10, r, "event"), 1);
    json_decref(r);
    /* anonymous callers do not see members-only profiles */
    ck_assert_ok(search(&r, NULL, "rust programming", "members", 10));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 0);
    json_decref(r);
    cm_actor_free(org);
    cm_actor_free(ann);
    cm_actor_free(bob);
}
END_TEST

START_TEST(hidden_items_never_ranked_and_k_results_come_back)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *out = fx_member("outsider@example.org", "member");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "groups.create", "{s:s,s:s,s:s,s:s,s:s}", "slug", "secret",
                         "name", "Secret circle", "kind", "interest", "visibility", "private",
                         "join_policy", "invite"));
    json_int_t gid = I(r, "id");
    json_decref(r);
    /* the two best matches are hidden from outsiders */
    json_int_t draft =
        mk_event_full(org, "Rust programming", "rust programming rust", "2026-02-01", -1, true, 0);
    json_int_t priv = mk_event_full(org, "Rust programming night", "rust programming", "2026-02-02",
                                    -1, false, gid);
    json_int_t v1 = mk_event(org, "Rust meetup", "systems", "2026-02-03");
    json_int_t v2 = mk_event(org, "Programming dojo", "katas", "2026-02-04");
    json_int_t v3 = mk_event(org, "Board games", "dice and programming puzzles", "2026-02-05");
    json_int_t ids[10];
    ck_assert_ok(search(&r, out, "rust programming", "events", 3));
    size_t n = item_ids(ids, 10, r, "");
    ck_assert_int_eq(n, 3);
    ck_assert(has_id(ids, n, v1) && has_id(ids, n, v2) && has_id(ids, n, v3));
    ck_assert(!has_id(ids, n, draft) && !has_id(ids, n, priv));
    json_decref(r);
    ck_assert_ok(search(&r, NULL, "rust programming", "events", 50));
    n = item_ids(ids, 10, r, "");
    ck_assert_int_eq(n, 3);
    ck_assert(!has_id(ids, n, draft) && !has_id(ids, n, priv));
    json_decref(r);
    /* a member of the group sees its event (drafts stay out of search) */
    ck_assert_ok(search(&r, org, "rust programming", "events", 50));
    n = item_ids(ids, 10, r, "");
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(ids[0], priv);
    ck_assert(!has_id(ids, n, draft));
    json_decref(r);
    /* similar events of a visible event never show hidden ones either */
    ck_assert_ok(fx_exec(&r, out, "events.similar", "{s:I}", "event_id", v1));
    n = item_ids(ids, 10, r, "");
    ck_assert_int_eq(n, 2);
    ck_assert(!has_id(ids, n, v1) && !has_id(ids, n, draft) && !has_id(ids, n, priv));
    json_decref(r);
    /* and the hidden ones cannot be used as a starting point */
    ck_assert_int_eq(fx_exec(NULL, out, "events.similar", "{s:I}", "event_id", priv), CM_ENOTFOUND);
    ck_assert_int_eq(fx_exec(NULL, out, "events.similar", "{s:I}", "event_id", draft),
                     CM_ENOTFOUND);
    cm_actor_free(org);
    cm_actor_free(out);
}
END_TEST

START_TEST(upcoming_filter)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t past = mk_event(org, "Rust programming retro", "", "2025-12-01");
    json_int_t next = mk_event(org, "Rust programming meetup", "", "2026-03-01");
    json_t *r;
    json_int_t ids[10];
    ck_assert_ok(search(&r, NULL, "rust programming", "events", 10));
    size_t n = item_ids(ids, 10, r, "");
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], next);
    json_decref(r);
    ck_assert_ok(fx_exec(&r, NULL, "search.semantic", "{s:s,s:[s],s:b}", "query",
                         "rust programming retro", "types", "events", "upcoming_only", 0));
    n = item_ids(ids, 10, r, "");
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], past);
    json_decref(r);
    cm_actor_free(org);
}
END_TEST

START_TEST(similar_events)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t a =
        mk_event(org, "Rust systems programming meetup", "borrow checker talks", "2026-02-01");
    json_int_t b =
        mk_event(org, "Rust programming workshop", "borrow checker exercises", "2026-02-08");
    json_int_t c = mk_event(org, "Watercolour painting", "brushes and paper", "2026-02-09");
    json_t *r;
    ck_assert_ok(fx_exec(&r, NULL, "events.similar", "{s:I,s:i}", "event_id", a, "limit", 5));
    json_int_t ids[10];
    size_t n = item_ids(ids, 10, r, "");
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], b);
    ck_assert_int_eq(ids[1], c);
    json_decref(r);
    ck_assert_int_eq(fx_exec(NULL, NULL, "events.similar", "{s:I}", "event_id", 9999),
                     CM_ENOTFOUND);
    cm_actor_free(org);
}
END_TEST

START_TEST(members_similar_is_opt_in)
{
    cm_actor *me = mk_person("me@example.org", "Rust developer", "systems programming", false);
    cm_actor *a = mk_person("a@example.org", "Rust engineer", "systems programming in Rust", true);
    cm_actor *b = mk_person("b@example.org", "Rust developer", "systems programming", false);
    cm_actor *c = mk_person("c@example.org", "Potter", "ceramics and glazes", true);
    json_t *r;
    json_int_t ids[10];
    ck_assert_ok(fx_exec(&r, me, "members.similar", "{}"));
    size_t n = item_ids(ids, 10, r, "member");
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], id_of(a));
    ck_assert_int_eq(ids[1], id_of(c));
    ck_assert(!has_id(ids, n, id_of(b)) && !has_id(ids, n, id_of(me)));
    json_decref(r);
    /* opting in (an update) makes b appear; opting out makes a disappear */
    ck_assert_ok(fx_exec(NULL, b, "members.update", "{s:b}", "discoverable", 1));
    ck_assert_ok(fx_exec(NULL, a, "members.update", "{s:b}", "discoverable", 0));
    ck_assert_ok(fx_exec(&r, me, "members.similar", "{s:i}", "limit", 5));
    n = item_ids(ids, 10, r, "member");
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], id_of(b));
    ck_assert(!has_id(ids, n, id_of(a)));
    json_decref(r);
    /* as seen from another member: the caller is left out too */
    ck_assert_ok(fx_exec(&r, c, "members.similar", "{s:I}", "member_id", id_of(me)));
    n = item_ids(ids, 10, r, "member");
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], id_of(b));
    json_decref(r);
    /* anonymous: not allowed; system actor needs a member_id */
    ck_assert_int_eq(fx_exec(NULL, NULL, "members.similar", "{}"), CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "members.similar", "{}"), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "member_id");
    ck_assert_int_eq(fx_exec(NULL, me, "members.similar", "{s:I}", "member_id", 9999),
                     CM_ENOTFOUND);
    cm_actor_free(me);
    cm_actor_free(a);
    cm_actor_free(b);
    cm_actor_free(c);
}
END_TEST

START_TEST(recommendations_skip_full_past_cancelled_and_joined)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *me = mk_person("me@example.org", "Rust programmer", "systems programming", false);
    cm_actor *other = fx_member("other@example.org", "member");
    json_int_t joined = mk_event(org, "Rust meetup", "rust programming", "2026-02-01");
    json_int_t full =
        mk_event_full(org, "Rust conference", "rust programming talks", "2026-02-02", 1, false, 0);
    json_int_t past = mk_event(org, "Rust retro", "rust programming", "2025-12-01");
    json_int_t cancelled = mk_event(org, "Rust hack day", "rust programming", "2026-02-03");
    json_int_t good = mk_event(org, "Rust hack night", "rust programming", "2026-02-04");
    json_int_t far = mk_event(org, "Knitting circle", "wool", "2026-02-05");
    ck_assert_ok(fx_exec(NULL, me, "rsvps.add", "{s:I}", "event_id", joined));
    ck_assert_ok(fx_exec(NULL, other, "rsvps.add", "{s:I}", "event_id", full));
    ck_assert_ok(fx_exec(NULL, org, "events.cancel", "{s:I}", "event_id", cancelled));
    json_t *r;
    ck_assert_ok(fx_exec(&r, me, "events.recommended", "{}"));
    json_int_t ids[10];
    size_t n = item_ids(ids, 10, r, "event");
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], good);
    ck_assert_int_eq(ids[1], far);
    ck_assert(!has_id(ids, n, joined) && !has_id(ids, n, full) && !has_id(ids, n, past) &&
              !has_id(ids, n, cancelled));
    json_t *basis = json_object_get(r, "based_on");
    ck_assert(json_is_true(json_object_get(basis, "profile")));
    ck_assert_int_eq(I(basis, "events_going"), 1);
    json_decref(r);
    /* nothing to go on: no profile text, no RSVPs -> no recommendations */
    cm_actor *blank = fx_member("blank@example.org", "member");
    ck_assert_ok(fx_exec(&r, blank, "events.recommended", "{}"));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 0);
    ck_assert(json_is_false(json_object_get(json_object_get(r, "based_on"), "profile")));
    json_decref(r);
    cm_actor_free(blank);
    ck_assert_int_eq(fx_exec(NULL, NULL, "events.recommended", "{}"), CM_EAUTH);
    ck_assert_int_eq(fx_exec(NULL, FX.sys, "events.recommended", "{}"), CM_EAUTH);
    cm_actor_free(org);
    cm_actor_free(me);
    cm_actor_free(other);
}
END_TEST

/* "hash|generation|vector as hex" of an entity's row. */
static const char *row_of(const char *type, json_int_t id)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT content_hash || '|' || generation || '|' || %s || '|' || stale "
             "FROM embeddings WHERE entity_type = '%s' AND entity_id = %lld",
             fx_is_pg() ? "encode(vector, 'hex')" : "hex(vector)", type, (long long)id);
    return fx_text(sql);
}

START_TEST(embeddings_follow_writes)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t ev = mk_event(org, "Rust meetup", "systems programming", "2026-02-01");
    mk_event(org, "Gardening club", "roses", "2026-02-02");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE entity_type = 'event' "
                              "AND dim = 384 AND length(vector) = 1536 AND stale = 0"),
                     2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE entity_type = 'member'"), 1);
    char before[4000];
    snprintf(before, sizeof before, "%s", row_of("event", ev));
    /* a change that leaves the text alone leaves the row alone */
    ck_assert_ok(fx_exec(NULL, org, "events.update", "{s:I,s:i}", "event_id", ev, "capacity", 9));
    ck_assert_str_eq(row_of("event", ev), before);
    /* a new text: new hash, new vector, newer generation */
    json_t *r;
    json_int_t ids[10];
    ck_assert_ok(search(&r, NULL, "gardening roses", "events", 1)); /* builds the index */
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, org, "events.update", "{s:I,s:s,s:s}", "event_id", ev, "title",
                         "Gardening roses and tulips", "description", "gardening roses"));
    const char *after = row_of("event", ev);
    ck_assert_str_ne(after, before);
    ck_assert(strncmp(after, before, 64) != 0);                                /* content hash */
    ck_assert(strcmp(strchr(after + 65, '|'), strchr(before + 65, '|')) != 0); /* vector */
    ck_assert_int_gt(atoll(after + 65), atoll(before + 65));                   /* generation */
    /* the in-memory index follows: the edited event now ranks first */
    ck_assert_ok(search(&r, NULL, "gardening roses tulips", "events", 1));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 1);
    ck_assert_int_eq(ids[0], ev);
    json_decref(r);
    /* profiles and posts follow their writes too */
    const char *m0 = row_of("member", id_of(org));
    char mbefore[4000];
    snprintf(mbefore, sizeof mbefore, "%s", m0);
    ck_assert_ok(fx_exec(NULL, org, "members.update", "{s:s}", "bio", "I grow roses"));
    ck_assert_str_ne(row_of("member", id_of(org)), mbefore);
    ck_assert_ok(
        fx_exec(&r, org, "posts.create", "{s:s,s:s}", "title", "Roses", "body", "pruning"));
    json_int_t post = I(r, "id");
    json_decref(r);
    snprintf(mbefore, sizeof mbefore, "%s", row_of("post", post));
    ck_assert_ok(fx_exec(NULL, org, "posts.update", "{s:I,s:s}", "post_id", post, "body",
                         "pruning in march"));
    ck_assert_str_ne(row_of("post", post), mbefore);
    cm_actor_free(org);
}
END_TEST

START_TEST(other_stores_writes_are_picked_up)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    mk_event(org, "Gardening club", "roses and programming", "2026-02-02");
    json_t *r;
    json_int_t ids[10];
    ck_assert_ok(search(&r, NULL, "rust programming", "events", 5)); /* index built */
    json_decref(r);
    /* another store on the same database (as another process would) writes */
    cm_store *b;
    ck_assert_ok(cm_store_open(&b, FX.uri, NULL));
    char *out = NULL;
    const char *in = "{\"title\":\"Rust programming night\",\"format\":\"in_person\","
                     "\"start_local\":\"2026-02-03T18:00\",\"end_local\":\"2026-02-03T20:00\","
                     "\"timezone\":\"UTC\",\"publish\":true}";
    ck_assert_ok(cm_exec(&out, b, org, "events.create", in, strlen(in)));
    cm_free(out);
    ck_assert_ok(search(&r, NULL, "rust programming", "events", 5));
    ck_assert_int_eq(item_ids(ids, 10, r, ""), 2);
    json_t *first = json_array_get(json_object_get(r, "items"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "summary")),
                     "Rust programming night");
    json_decref(r);
    /* rows lost (or written before the table existed) are rebuilt by a new store */
    fx_sql("DELETE FROM embeddings");
    cm_store_close(b);
    ck_assert_ok(cm_store_open(&b, FX.uri, NULL));
    const char *q = "{\"query\":\"rust programming\",\"types\":[\"events\"]}";
    ck_assert_ok(cm_exec(&out, b, NULL, "search.semantic", q, strlen(q)));
    json_t *res = json_loads(out, 0, NULL);
    cm_free(out);
    ck_assert_int_eq(item_ids(ids, 10, res, ""), 2);
    json_decref(res);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings"), 3); /* 2 events, 1 member */
    cm_store_close(b);
    cm_actor_free(org);
}
END_TEST

START_TEST(hnsw_path_filters_too)
{
    cm__embed_set_exact_max(FX.store, 3);
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *out = fx_member("outsider@example.org", "member");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "groups.create", "{s:s,s:s,s:s,s:s,s:s}", "slug", "secret",
                         "name", "Secret circle", "kind", "interest", "visibility", "private",
                         "join_policy", "invite"));
    json_int_t gid = I(r, "id");
    json_decref(r);
    static const char *const titles[] = {"Rust meetup",    "Go meetup",      "Python meetup",
                                         "Zig meetup",     "Haskell meetup", "OCaml meetup",
                                         "Gardening club", "Chess club"};
    json_int_t ids[16], got[16];
    for (int i = 0; i < 8; i++)
        ids[i] = mk_event(org, titles[i], "programming languages", "2026-02-01");
    json_int_t priv = mk_event_full(org, "Rust programming", "rust programming rust", "2026-02-02",
                                    -1, false, gid);
    ck_assert_ok(search(&r, out, "rust programming", "events", 4));
    size_t n = item_ids(got, 16, r, "");
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(got[0], ids[0]);
    ck_assert(!has_id(got, n, priv));
    json_decref(r);
    /* updates land in the graph */
    ck_assert_ok(fx_exec(NULL, org, "events.update", "{s:I,s:s}", "event_id", ids[7], "title",
                         "Rust programming chess"));
    ck_assert_ok(search(&r, out, "rust programming chess", "events", 2));
    n = item_ids(got, 16, r, "");
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(got[0], ids[7]);
    json_decref(r);
    cm_actor_free(org);
    cm_actor_free(out);
}
END_TEST

START_TEST(bad_input)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t ev = mk_event(org, "Rust meetup", "", "2026-02-01");
    struct {
        const char *op, *json, *field;
    } cases[] = {
        {"search.semantic", "{\"query\":\"x\",\"limit\":0}", "limit"},
        {"search.semantic", "{\"query\":\"x\",\"limit\":51}", "limit"},
        {"search.semantic", "{\"query\":\"\"}", "query"},
        {"search.semantic", "{}", "query"},
        {"search.semantic", "{\"query\":\"x\",\"query_vector\":[1,2]}", "query"},
        {"search.semantic", "{\"query\":\"x\",\"types\":[\"groups\"]}", "types"},
        {"search.semantic", "{\"query\":\"x\",\"types\":\"events\"}", "types"},
        {"search.semantic", "{\"query\":\"x\",\"types\":[]}", "types"},
        {"search.semantic", "{\"query_vector\":[1,2,3]}", "query_vector"},
        {"search.semantic", "{\"query_vector\":[]}", "query_vector"},
        {"search.semantic", "{\"query_vector\":[1,\"a\"]}", "query_vector"},
        {"search.semantic", "{\"query_vector\":[NaN]}", ""}, /* not JSON */
        {"search.semantic", "{\"query\":\"x\",\"k\":3}", "k"},
        {"events.similar", "{\"event_id\":0}", "event_id"},
        {"events.similar", "{\"limit\":3}", "event_id"},
        {"members.similar", "{\"limit\":0}", "limit"},
        {"events.recommended", "{\"limit\":100}", "limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(fx_exec_raw(NULL, org, cases[i].op, cases[i].json) == CM_EINVAL,
                      "case %zu accepted", i);
        ck_assert_msg(strcmp(cm_error_field(), cases[i].field) == 0, "case %zu: field '%s'", i,
                      cm_error_field());
    }
    /* a vector of the right size is a valid query */
    json_t *vec = json_array();
    for (int i = 0; i < 384; i++)
        json_array_append_new(vec, json_real(i == 7 ? 1.0 : 0.0));
    json_t *r;
    ck_assert_ok(exec_obj(&r, org, "search.semantic",
                          json_pack("{s:o,s:[s]}", "query_vector", vec, "types", "events")));
    json_int_t ids[4];
    ck_assert_int_eq(item_ids(ids, 4, r, ""), 1);
    ck_assert_int_eq(ids[0], ev);
    json_decref(r);
    /* bad provider configurations */
    cm_embedder_options o = CM_EMBEDDER_OPTIONS_INIT;
    o.kind = CM_EMBEDDER_OPENAI;
    ck_assert_int_eq(cm_store_set_embedder(FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "base_url");
    o.base_url = "ftp://x";
    ck_assert_int_eq(cm_store_set_embedder(FX.store, &o), CM_EINVAL);
    o.base_url = "http://127.0.0.1:1";
    ck_assert_int_eq(cm_store_set_embedder(FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "model");
    o.kind = 7;
    ck_assert_int_eq(cm_store_set_embedder(FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "kind");
    o.kind = CM_EMBEDDER_BUILTIN;
    o.dim = 3;
    ck_assert_int_eq(cm_store_set_embedder(FX.store, &o), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "dim");
    ck_assert_int_eq(cm_store_set_embedder(NULL, NULL), CM_EINVAL);
    ck_assert_int_eq(cm_embedder_options_init(NULL, 0), CM_EINVAL);
    cm_actor_free(org);
}
END_TEST

START_TEST(switching_models_rebuilds_vectors)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t ev = mk_event(org, "Rust meetup", "rust programming", "2026-02-01");
    cm_embedder_options o;
    ck_assert_ok(cm_embedder_options_init(&o, sizeof o));
    o.dim = 64;
    ck_assert_ok(cm_store_set_embedder(FX.store, &o));
    json_t *r;
    json_int_t ids[4];
    ck_assert_ok(search(&r, NULL, "rust programming", "events", 5));
    ck_assert_int_eq(item_ids(ids, 4, r, ""), 1);
    ck_assert_int_eq(ids[0], ev);
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE dim = 64"), 2);
    /* a 384-number vector no longer fits */
    json_t *vec = json_array();
    for (int i = 0; i < 384; i++)
        json_array_append_new(vec, json_real(0.5));
    ck_assert_int_eq(
        exec_obj(NULL, NULL, "search.semantic", json_pack("{s:o}", "query_vector", vec)),
        CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "query_vector");
    uint32_t n = 7;
    ck_assert_ok(cm_store_embed_refresh(FX.store, 0, &n));
    ck_assert_int_eq(n, 0); /* nothing left to do */
    cm_actor_free(org);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The HTTP provider against a fake OpenAI-compatible server                 */
/* ------------------------------------------------------------------------ */

enum { FAKE_OK, FAKE_500, FAKE_SLOW, FAKE_BADJSON, FAKE_WRONG_DIM };

#define FAKE_DIM 32
#define KEY "sk-test-SECRET-0123456789abcdef"

typedef struct fake_server {
    int fd, port;
    pthread_t th;
    volatile int mode, stop;
    volatile int requests, inputs;
    char auth[256];
    char model[64];
} fake_server;

static fake_server FAKE;

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

/* Read one request; returns its body (malloc) or NULL. */
static char *read_request(int fd, fake_server *s)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    char *end = NULL;
    while (!end) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head = (size_t)(end + 4 - buf), clen = 0;
    for (char *l = buf; l && l < end; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL) {
        if (strncasecmp(l, "Content-Length:", 15) == 0)
            clen = (size_t)strtoul(l + 15, NULL, 10);
        if (strncasecmp(l, "Authorization:", 14) == 0)
            snprintf(s->auth, sizeof s->auth, "%.*s", (int)(strstr(l, "\r\n") - l), l);
    }
    while (len < head + clen) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        len += (size_t)r;
        buf[len] = '\0';
    }
    memmove(buf, buf + head, clen);
    buf[clen] = '\0';
    return buf;
}

/* Answer like the embeddings endpoint, with builtin vectors of FAKE_DIM. */
static void answer_ok(int fd, fake_server *s, const char *body, size_t dim)
{
    json_t *in = json_loads(body, 0, NULL);
    json_t *inputs = json_object_get(in, "input");
    const char *model = json_string_value(json_object_get(in, "model"));
    snprintf(s->model, sizeof s->model, "%s", model ? model : "");
    json_t *data = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(inputs, i, t)
    {
        float v[FAKE_DIM * 2];
        const char *text = json_string_value(t);
        cm__embed_builtin(v, dim, text, strlen(text));
        json_t *emb = json_array();
        for (size_t j = 0; j < dim; j++)
            json_array_append_new(emb, json_real(v[j] * 3.0)); /* not normalised */
        /* answer in reverse order: the client must sort by index */
        json_array_insert_new(data, 0,
                              json_pack("{s:s,s:I,s:o}", "object", "embedding", "index",
                                        (json_int_t)i, "embedding", emb));
        __atomic_add_fetch(&s->inputs, 1, __ATOMIC_SEQ_CST);
    }
    json_t *res = json_pack("{s:s,s:o,s:s}", "object", "list", "data", data, "model", "fake");
    char *out = json_dumps(res, JSON_COMPACT);
    reply(fd, 200, out);
    free(out);
    json_decref(res);
    json_decref(in);
}

static void *fake_main(void *arg)
{
    fake_server *s = arg;
    while (!s->stop) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        char *body = read_request(c, s);
        if (body) {
            __atomic_add_fetch(&s->requests, 1, __ATOMIC_SEQ_CST);
            switch (s->mode) {
                case FAKE_OK:
                    answer_ok(c, s, body, FAKE_DIM);
                    break;
                case FAKE_WRONG_DIM:
                    answer_ok(c, s, body, FAKE_DIM * 2);
                    break;
                case FAKE_500: {
                    /* some services echo the key they were given */
                    char msg[512];
                    snprintf(msg, sizeof msg,
                             "{\"error\":{\"message\":\"Incorrect API key provided: %s\"}}",
                             s->auth + (strlen(s->auth) > 22 ? 22 : 0));
                    reply(c, 500, msg);
                    break;
                }
                case FAKE_SLOW:
                    for (int i = 0; i < 100 && !s->stop; i++)
                        usleep(20000);
                    answer_ok(c, s, body, FAKE_DIM);
                    break;
                case FAKE_BADJSON:
                    reply(c, 200, "{\"data\": [oops");
                    break;
            }
            free(body);
        }
        close(c);
    }
    return NULL;
}

static void fake_start(void)
{
    memset(&FAKE, 0, sizeof FAKE);
    FAKE.fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(FAKE.fd, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(FAKE.fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(FAKE.fd, 16), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(FAKE.fd, (struct sockaddr *)&a, &len), 0);
    FAKE.port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&FAKE.th, NULL, fake_main, &FAKE), 0);
}

static void fake_stop(void)
{
    FAKE.stop = 1;
    pthread_join(FAKE.th, NULL);
    close(FAKE.fd);
}

/* Log lines, to check that the key never shows. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[1 << 16];

static void capture_log(int level, const char *component, const char *message, void *payload)
{
    (void)level;
    (void)payload;
    pthread_mutex_lock(&log_lock);
    size_t n = strlen(log_buf);
    snprintf(log_buf + n, sizeof log_buf - n, "%s: %s\n", component, message);
    pthread_mutex_unlock(&log_lock);
}

static void http_setup(void)
{
    setup();
    fake_start();
    log_buf[0] = '\0';
    cm_set_log_callback(capture_log, CM_LOG_DEBUG, NULL);
}

static void http_teardown(void)
{
    cm_set_log_callback(NULL, 0, NULL);
    fake_stop();
    fx_teardown();
}

static void use_fake(cm_store *s, uint32_t timeout_ms, uint32_t dim)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", FAKE.port);
    cm_embedder_options o = CM_EMBEDDER_OPTIONS_INIT;
    o.kind = CM_EMBEDDER_OPENAI;
    o.base_url = url;
    o.api_key = KEY;
    o.model = "text-embedding-fake";
    o.timeout_ms = timeout_ms;
    o.dim = dim;
    o.batch = 2;
    ck_assert_ok(cm_store_set_embedder(s, &o));
}

static void assert_no_key(void)
{
    ck_assert_msg(!strstr(cm_error_message(), KEY) && !strstr(cm_error_message(), "SECRET"),
                  "key in error: %s", cm_error_message());
    pthread_mutex_lock(&log_lock);
    bool leaked = strstr(log_buf, KEY) || strstr(log_buf, "SECRET");
    pthread_mutex_unlock(&log_lock);
    ck_assert_msg(!leaked, "key in logs:\n%s", log_buf);
}

START_TEST(http_provider_success)
{
    use_fake(FX.store, 5000, 0);
    cm_actor *org = fx_member("org@example.org", "organizer");
    json_int_t rust = mk_event(org, "Rust systems programming meetup", "", "2026-02-11");
    mk_event(org, "Gardening club", "roses", "2026-02-12");
    mk_event(org, "Python data science", "notebooks", "2026-02-13");
    /* writes never call the network: they mark the rows stale */
    ck_assert_int_eq(FAKE.requests, 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE stale = 1"), 4);
    json_t *r;
    json_int_t ids[8];
    ck_assert_ok(search(&r, NULL, "rust programming", "events", 5));
    ck_assert_int_eq(item_ids(ids, 8, r, ""), 1); /* the others are no match */
    ck_assert_int_eq(ids[0], rust);
    ck_assert_str_eq(json_string_value(json_object_get(r, "model")), "text-embedding-fake");
    json_decref(r);
    ck_assert_str_eq(FAKE.auth, "Authorization: Bearer " KEY);
    ck_assert_str_eq(FAKE.model, "text-embedding-fake");
    /* 4 stale texts in batches of 2, plus the query */
    ck_assert_int_eq(FAKE.requests, 3);
    ck_assert_int_eq(FAKE.inputs, 4); /* the member's empty profile needs no request */
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE stale = 0 AND dim = 32"), 4);
    /* an edit marks the event stale again, keeping its old vector meanwhile */
    ck_assert_ok(fx_exec(NULL, org, "events.update", "{s:I,s:s}", "event_id", rust, "title",
                         "Rust and gardening"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE stale = 1 AND vector IS "
                              "NOT NULL"),
                     1);
    uint32_t n = 0;
    ck_assert_ok(cm_store_embed_refresh(FX.store, 0, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE stale = 1"), 0);
    /* another store (process) that does not know the size yet redoes nothing:
     * neither a refresh nor an edit that leaves the text alone */
    int before = FAKE.requests;
    cm_store *b;
    ck_assert_ok(cm_store_open(&b, FX.uri, NULL));
    use_fake(b, 5000, 0);
    ck_assert_ok(cm_store_embed_refresh(b, 0, &n));
    ck_assert_int_eq(n, 0);
    char *out = NULL;
    char in[64];
    snprintf(in, sizeof in, "{\"event_id\":%lld,\"capacity\":5}", (long long)rust);
    ck_assert_ok(cm_exec(&out, b, org, "events.update", in, strlen(in)));
    cm_free(out);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE stale = 1"), 0);
    ck_assert_int_eq(FAKE.requests, before);
    cm_store_close(b);
    assert_no_key();
    cm_actor_free(org);
}
END_TEST

START_TEST(http_provider_errors_are_clear_and_keep_the_key_secret)
{
    use_fake(FX.store, 300, 0);
    cm_actor *org = fx_member("org@example.org", "organizer");
    mk_event(org, "Rust meetup", "", "2026-02-11");
    uint32_t n = 9;

    FAKE.mode = FAKE_500;
    ck_assert_int_eq(cm_store_embed_refresh(FX.store, 0, &n), CM_EIO);
    ck_assert_int_eq(n, 0);
    ck_assert_msg(strstr(cm_error_message(), "HTTP 500"), "%s", cm_error_message());
    ck_assert_msg(strstr(cm_error_message(), "Incorrect API key"), "%s", cm_error_message());
    assert_no_key();
    /* the search needs the query embedded: the same error reaches the caller */
    ck_assert_int_eq(search(NULL, NULL, "rust", "events", 5), CM_EIO);
    assert_no_key();

    FAKE.mode = FAKE_BADJSON;
    ck_assert_int_eq(cm_store_embed_refresh(FX.store, 0, &n), CM_EIO);
    ck_assert_msg(strstr(cm_error_message(), "malformed reply"), "%s", cm_error_message());
    assert_no_key();

    FAKE.mode = FAKE_SLOW;
    ck_assert_int_eq(cm_store_embed_refresh(FX.store, 0, &n), CM_ETIMEOUT);
    ck_assert_msg(strstr(cm_error_message(), "within 300 ms"), "%s", cm_error_message());
    assert_no_key();

    /* a fixed size the service does not honour */
    FAKE.mode = FAKE_WRONG_DIM;
    use_fake(FX.store, 5000, FAKE_DIM);
    ck_assert_int_eq(cm_store_embed_refresh(FX.store, 0, &n), CM_EIO);
    ck_assert_msg(strstr(cm_error_message(), "expected 32"), "%s", cm_error_message());

    /* nothing listening */
    cm_embedder_options o = CM_EMBEDDER_OPTIONS_INIT;
    o.kind = CM_EMBEDDER_OPENAI;
    o.base_url = "http://user:pw@127.0.0.1:1";
    o.api_key = KEY;
    o.model = "m";
    o.timeout_ms = 2000;
    ck_assert_ok(cm_store_set_embedder(FX.store, &o));
    ck_assert_int_eq(cm_store_embed_refresh(FX.store, 0, &n), CM_EIO);
    ck_assert_msg(strstr(cm_error_message(), "127.0.0.1:1/embeddings"), "%s", cm_error_message());
    ck_assert_msg(!strstr(cm_error_message(), "pw@"), "%s", cm_error_message());
    assert_no_key();

    /* nothing was written, nothing is lost: the vectors come once the service works */
    FAKE.mode = FAKE_OK;
    use_fake(FX.store, 5000, 0);
    ck_assert_ok(cm_store_embed_refresh(FX.store, 0, &n));
    ck_assert_int_eq(n, 2);
    assert_no_key();
    cm_actor_free(org);
}
END_TEST

START_TEST(http_provider_from_the_environment)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", FAKE.port);
    setenv("COMMUNITY_EMBEDDER", "openai", 1);
    setenv("COMMUNITY_EMBEDDINGS_URL", url, 1);
    setenv("COMMUNITY_EMBEDDINGS_KEY", KEY, 1);
    setenv("COMMUNITY_EMBEDDINGS_MODEL", "env-model", 1);
    cm_store *b;
    ck_assert_ok(cm_store_open(&b, FX.uri, NULL));
    char *out = NULL;
    const char *in = "{\"email\":\"env@example.org\",\"name\":\"Env\",\"bio\":\"rust\"}";
    ck_assert_ok(cm_exec(&out, b, NULL, "members.signup", in, strlen(in)));
    cm_free(out);
    ck_assert_int_eq(FAKE.requests, 0);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM embeddings WHERE stale = 1 AND "
                              "model = 'env-model'"),
                     1);
    uint32_t n = 0;
    ck_assert_ok(cm_store_embed_refresh(b, 0, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(FAKE.model, "env-model");
    ck_assert_str_eq(FAKE.auth, "Authorization: Bearer " KEY);
    cm_store_close(b);
    unsetenv("COMMUNITY_EMBEDDER");
    unsetenv("COMMUNITY_EMBEDDINGS_URL");
    unsetenv("COMMUNITY_EMBEDDINGS_KEY");
    unsetenv("COMMUNITY_EMBEDDINGS_MODEL");
    assert_no_key();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ai");
    TCase *tc = tcase_create("ai");
    tcase_add_checked_fixture(tc, setup, fx_teardown);
    tcase_add_test(tc, builtin_embedder_shares_words);
    tcase_add_test(tc, search_ranks_by_meaning);
    tcase_add_test(tc, hybrid_search_finds_things);
    tcase_add_test(tc, synonyms_find_a_place_named_another_way);
    tcase_add_test(tc, search_covers_members_and_posts);
    tcase_add_test(tc, hidden_items_never_ranked_and_k_results_come_back);
    tcase_add_test(tc, upcoming_filter);
    tcase_add_test(tc, similar_events);
    tcase_add_test(tc, members_similar_is_opt_in);
    tcase_add_test(tc, recommendations_skip_full_past_cancelled_and_joined);
    tcase_add_test(tc, embeddings_follow_writes);
    tcase_add_test(tc, other_stores_writes_are_picked_up);
    tcase_add_test(tc, hnsw_path_filters_too);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, switching_models_rebuilds_vectors);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("http");
    tcase_add_checked_fixture(th, http_setup, http_teardown);
    tcase_add_test(th, http_provider_success);
    tcase_add_test(th, http_provider_errors_are_clear_and_keep_the_key_secret);
    tcase_add_test(th, http_provider_from_the_environment);
    suite_add_tcase(s, th);
    return fx_run(s);
}
