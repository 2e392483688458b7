/*
 * ops_ai.c - the AI operations: hybrid search over events, members and
 * posts (full text and embedding similarity fused by reciprocal rank),
 * similar events, members you should meet, and event recommendations
 * (ranked by embedding similarity, lib/ai).
 *
 * Visibility comes first: for every entity type the ids the caller may see
 * are computed in SQL (published events, private groups only for their
 * members, discoverable and visible profiles, undeleted readable posts,
 * ...) and handed to the vector search and the full-text list as their
 * filter, so a hidden item can never be ranked, even when it is the best
 * match, and k results come back whenever k visible items match.
 *
 * The operations are read-only. Their prepare hook runs before the read
 * transaction: it refreshes stale vectors (HTTP providers call the network
 * there, never inside a transaction), embeds the query text, and counts
 * the request in the metric "ai_requests" in its own small write
 * transaction (no audit row: searches are not changes). Results are
 * deterministic with the builtin embedder.
 */
#include "ai/ai_int.h"
#include "event_int.h"
#include "member_int.h"
#include "pay_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT 10
#define MAX_LIMIT 50

/* ---- allowed ids ---- */

typedef struct idlist {
    int64_t *v;
    size_t n, cap;
} idlist;

/* Step q to the end collecting column 0 (ascending by the SQL's ORDER BY);
 * closes q. */
static int collect_ids(idlist *out, cm__q *q)
{
    int rc;
    while ((rc = cm__q_step(q)) == 1) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 256;
            int64_t *v = cm__realloc(out->v, cap * sizeof *v);
            if (!v) {
                rc = cm__oom();
                break;
            }
            out->v = v;
            out->cap = cap;
        }
        out->v[out->n++] = cm__q_col_int64(q, 0);
    }
    cm__q_close(q);
    return cm__ok(rc);
}

static void drop_id(idlist *l, int64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == id) {
            memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof *l->v);
            l->n--;
            return;
        }
}

/* The ids of `type` the caller may see (events: upcoming ones only when
 * asked; recommend: the events that may be recommended to the caller). */
static int allowed_ids(idlist *out, cm__ctx *ctx, int type, bool upcoming, bool recommend)
{
    memset(out, 0, sizeof *out);
    static const char *const ids[] = {"embed.allowed_event", "embed.allowed_member",
                                      "embed.allowed_post"};
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, recommend ? "embed.allowed_recommend" : ids[type]);
    if (rc)
        return rc;
    int64_t me = ctx->actor->member_id;
    bool staff = cm__actor_at_least(ctx, CM_ROLE_MODERATOR);
    int64_t grace = cm__pay_grace_us(ctx->store);
    if (!recommend && type == CM__EMB_EVENT) {
        cm__q_int64(&q, 1, me);
        cm__q_int64(&q, 2, staff);
        cm__q_int64(&q, 3, upcoming);
        cm__q_int64(&q, 4, ctx->now);
        cm__q_int64(&q, 5, grace);
    } else if (!recommend && type == CM__EMB_MEMBER) {
        cm__q_int64(&q, 1, me);
        cm__q_int64(&q, 2, ctx->actor->role);
    } else { /* recommendations and posts: the same four parameters */
        cm__q_int64(&q, 1, me);
        cm__q_int64(&q, 2, staff);
        cm__q_int64(&q, 3, ctx->now);
        cm__q_int64(&q, 4, grace);
    }
    rc = collect_ids(out, &q);
    if (rc) {
        cm__free(out->v);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* ---- results ---- */

typedef struct hit {
    int type;
    int64_t id;
    double score;
} hit;

static int cmp_hit(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->type != y->type)
        return x->type - y->type;
    return (x->id > y->id) - (x->id < y->id);
}

/* Rank `type` for the query among `allowed` (minus exclude), appending up
 * to k hits to hits[*n]. */
static int rank(hit *hits, size_t *n, cm__ctx *ctx, int type, const float *q, size_t dim,
                const idlist *allowed, int64_t exclude, size_t k)
{
    cm__embed_hit *h = cm__malloc(k * sizeof *h);
    if (!h)
        return cm__oom();
    size_t m = 0;
    int rc = cm__embed_search(h, &m, ctx->conn, type, q, dim, allowed->v, allowed->n, exclude, k);
    for (size_t i = 0; rc == CM_OK && i < m; i++)
        hits[(*n)++] = (hit){type, h[i].id, h[i].score};
    cm__free(h);
    return rc;
}

/* One result: {type, id, score, summary, ...a few fields per type}. */
static int item_json(json_t **out, cm__ctx *ctx, const hit *h)
{
    static const char *const ids[] = {"embed.summary_event", "embed.summary_member",
                                      "embed.summary_post"};
    *out = NULL;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, ids[h->type]);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, h->id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(cm__embed_type_name(h->type)));
        json_object_set_new(o, "id", json_integer(h->id));
        json_object_set_new(o, "score", json_real(round(h->score * 1e3) / 1e3));
        cm__json_set_col_text(o, "summary", &q, 0);
        if (h->type == CM__EMB_EVENT) {
            cm__json_set_col_time(o, "start", &q, 1);
            cm__json_set_col_int(o, "group_id", &q, 2);
        } else if (h->type == CM__EMB_MEMBER) {
            cm__json_set_col_text(o, "headline", &q, 1);
        } else {
            cm__json_set_col_int(o, "group_id", &q, 1);
        }
        *out = o;
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

/* {items: [...], model} from the best `limit` hits. */
static int result(json_t **out, cm__ctx *ctx, hit *hits, size_t n, size_t limit)
{
    qsort(hits, n, sizeof *hits, cmp_hit);
    json_t *items = json_array();
    for (size_t i = 0; i < n && json_array_size(items) < limit; i++) {
        json_t *o;
        int rc = item_json(&o, ctx, &hits[i]);
        if (rc) {
            json_decref(items);
            return rc;
        }
        if (o)
            json_array_append_new(items, o);
    }
    cm__embedder cfg;
    int rc = cm__embed_config(&cfg, ctx->store);
    if (rc) {
        json_decref(items);
        return rc;
    }
    json_t *res = json_object();
    json_object_set_new(res, "items", items);
    json_object_set_new(res, "model", json_string(cfg.model ? cfg.model : ""));
    cm__embedder_dispose(&cfg);
    *out = res;
    return CM_OK;
}

/* The floats of a JSON array of numbers (validated by the schema or
 * written by the prepare hook). */
static int floats_of(float **out, size_t *n, json_t *arr)
{
    *n = json_array_size(arr);
    *out = cm__malloc((*n ? *n : 1) * sizeof **out);
    if (!*out)
        return cm__oom();
    for (size_t i = 0; i < *n; i++)
        (*out)[i] = (float)json_number_value(json_array_get(arr, i));
    return CM_OK;
}

/* ---- search.semantic: hybrid ---- */

/* Reciprocal rank fusion (Cormack, Clarke and Buettcher, 2009): an item at
 * rank r (1 = best) of a list earns 1 / (RRF_K + r); the lists' shares are
 * summed. RRF_K = 60 is the paper's constant. */
#define RRF_K 60.0
/* Each list brings at most this many candidates to the fusion. */
#define CANDIDATES 100
/* Full-text matches read at most (best first, before visibility). */
#define TEXT_SCAN_MAX 20000

enum { MODE_HYBRID = 0, MODE_TEXT = 1, MODE_VECTOR = 2 };
static const char *const mode_values[] = {"hybrid", "text", "vector", NULL};

static const char *const type_values[] = {"events", "members", "posts", NULL};

static int search_mode(json_t *in)
{
    const char *m = cm__json_str(in, "mode");
    for (int k = 0; m && mode_values[k]; k++)
        if (strcmp(m, mode_values[k]) == 0)
            return k;
    return json_is_array(json_object_get(in, "query_vector")) ? MODE_VECTOR : MODE_HYBRID;
}

/* Bit t set for each requested entity type; all three by default. */
static int parse_types(unsigned *mask, json_t *in)
{
    json_t *arr = json_object_get(in, "types");
    if (!arr || json_is_null(arr)) {
        *mask = 7;
        return CM_OK;
    }
    *mask = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        int t = -1;
        for (int k = 0; type_values[k]; k++)
            if (s && strcmp(s, type_values[k]) == 0)
                t = k;
        if (t < 0)
            return cm__error_set_field(CM_EINVAL, "types",
                                       "types: unknown type '%.32s' (events, members or posts)",
                                       s ? s : "");
        *mask |= 1u << t;
    }
    if (!*mask)
        return cm__error_set_field(CM_EINVAL, "types", "types: name at least one type");
    return CM_OK;
}

static int prep_search(cm__ctx *ctx, json_t *in)
{
    const char *text = cm__json_str(in, "query");
    bool has_vec = json_is_array(json_object_get(in, "query_vector"));
    unsigned mask;
    if (!text == !has_vec)
        return cm__error_set_field(CM_EINVAL, "query",
                                   "query: give either a query text or a query_vector");
    int mode = search_mode(in);
    if (has_vec && mode != MODE_VECTOR)
        return cm__error_set_field(CM_EINVAL, "mode",
                                   "mode: a query_vector is searched by vector only");
    int rc = parse_types(&mask, in);
    if (rc || (rc = cm__embed_before_op(ctx->store)))
        return rc;
    char *expanded = NULL;
    if (text && (rc = cm__search_expand(&expanded, text, strlen(text))))
        return rc;
    if (text && mode != MODE_VECTOR) {
        char *terms;
        if ((rc = cm__search_terms(&terms, expanded, strlen(expanded)))) {
            cm__free(expanded);
            return rc;
        }
        json_object_set_new(in, "_terms", json_string(terms));
        cm__free(terms);
    }
    if (text && mode != MODE_TEXT) {
        float *v;
        uint32_t dim;
        if ((rc = cm__embed_query(&v, &dim, ctx->store, expanded))) {
            cm__free(expanded);
            return rc;
        }
        json_t *arr = json_array();
        for (uint32_t i = 0; i < dim; i++)
            json_array_append_new(arr, json_real(v[i]));
        cm__free(v);
        json_object_set_new(in, "_query_vector", arr);
    }
    cm__free(expanded);
    return CM_OK;
}

/* One candidate of the fusion: its rank in each list (0: not in it). */
typedef struct cand {
    int type;
    int64_t id;
    size_t text_rank, vec_rank;
    double cosine;
} cand;

static cand *cand_find(cand *c, size_t n, int type, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (c[i].type == type && c[i].id == id)
            return &c[i];
    return NULL;
}

static bool id_allowed(const idlist *l, int64_t id)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid] == id)
            return true;
        if (l->v[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The vector list: up to CANDIDATES per type at or above min_sim, merged
 * best first into c (which has room for CM__EMB_NTYPES * CANDIDATES). */
static int vector_list(cand *c, size_t *n, cm__ctx *ctx, unsigned mask, const idlist *allowed,
                       const float *q, size_t dim, double min_sim)
{
    hit *hits = cm__malloc(CM__EMB_NTYPES * CANDIDATES * sizeof *hits);
    if (!hits)
        return cm__oom();
    size_t m = 0;
    int rc = CM_OK;
    for (int t = 0; rc == CM_OK && t < CM__EMB_NTYPES; t++)
        if (mask & (1u << t))
            rc = rank(hits, &m, ctx, t, q, dim, &allowed[t], 0, CANDIDATES);
    if (rc == CM_OK) {
        qsort(hits, m, sizeof *hits, cmp_hit);
        for (size_t i = 0; i < m && *n < CANDIDATES; i++) {
            if (hits[i].score < min_sim)
                break;
            c[*n] = (cand){hits[i].type, hits[i].id, 0, *n + 1, hits[i].score};
            ++*n;
        }
    }
    cm__free(hits);
    return rc;
}

/* The text list: the visible entities of the requested types that contain
 * a term, best first, merged into c[0..*n) (room for CANDIDATES more). */
static int text_list(cand *c, size_t *n, cm__ctx *ctx, unsigned mask, const idlist *allowed,
                     const char *terms)
{
    if (!*terms)
        return CM_OK;
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "search.text");
    if (rc)
        return rc;
    cm__q_text(&q, 1, terms);
    cm__q_int64(&q, 2, TEXT_SCAN_MAX);
    size_t r = 0, before = *n;
    while (r < CANDIDATES && (rc = cm__q_step(&q)) == 1) {
        int t = (int)cm__q_col_int64(&q, 0);
        int64_t id = cm__q_col_int64(&q, 1);
        if (t < 0 || t >= CM__EMB_NTYPES || !(mask & (1u << t)) || !id_allowed(&allowed[t], id))
            continue;
        r++;
        cand *x = cand_find(c, before, t, id);
        if (x)
            x->text_rank = r;
        else
            c[(*n)++] = (cand){t, id, r, 0, 0};
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

/* The fused score, scaled so that first in every list used is 1. */
static double fused(const cand *c, int mode)
{
    if (mode == MODE_VECTOR)
        return c->cosine;
    double s = 0, best = 1 / (RRF_K + 1);
    if (c->text_rank)
        s += 1 / (RRF_K + (double)c->text_rank);
    if (mode == MODE_HYBRID) {
        best += 1 / (RRF_K + 1);
        if (c->vec_rank)
            s += 1 / (RRF_K + (double)c->vec_rank);
    }
    return s / best;
}

/* The smallest cosine similarity at which a vector match counts. */
static double min_similarity(cm_store *store)
{
    cm__embedder cfg;
    if (cm__embed_config(&cfg, store) != CM_OK)
        return CM__SEARCH_MIN_SIM_HTTP;
    double v =
        cfg.kind == CM_EMBEDDER_BUILTIN ? CM__SEARCH_MIN_SIM_BUILTIN : CM__SEARCH_MIN_SIM_HTTP;
    cm__embedder_dispose(&cfg);
    return v;
}

static int op_search(cm__ctx *ctx, json_t *in, json_t **out)
{
    unsigned mask;
    int rc = parse_types(&mask, in);
    if (rc)
        return rc;
    int mode = search_mode(in);
    size_t limit = (size_t)cm__json_int(in, "limit", DEFAULT_LIMIT);
    bool upcoming = cm__json_bool(in, "upcoming_only", true);
    idlist allowed[CM__EMB_NTYPES] = {{0}};
    for (int t = 0; rc == CM_OK && t < CM__EMB_NTYPES; t++)
        if (mask & (1u << t))
            rc = allowed_ids(&allowed[t], ctx, t, upcoming, false);
    cand *c = cm__malloc((CM__EMB_NTYPES + 1) * CANDIDATES * sizeof *c);
    hit *hits = NULL;
    size_t n = 0;
    if (rc == CM_OK && !c)
        rc = cm__oom();
    if (rc == CM_OK && mode != MODE_TEXT) {
        json_t *qv = json_object_get(in, "_query_vector");
        if (!qv)
            qv = json_object_get(in, "query_vector");
        float *q;
        size_t dim;
        if ((rc = floats_of(&q, &dim, qv)) == CM_OK) {
            /* a caller's own query_vector ranks every visible item */
            double min_sim = cm__json_str(in, "query") ? min_similarity(ctx->store) : -2.0;
            rc = vector_list(c, &n, ctx, mask, allowed, q, dim, min_sim);
            cm__free(q);
        }
    }
    if (rc == CM_OK && mode != MODE_VECTOR)
        rc = text_list(c, &n, ctx, mask, allowed, cm__json_str(in, "_terms"));
    if (rc == CM_OK && !(hits = cm__malloc((n ? n : 1) * sizeof *hits)))
        rc = cm__oom();
    for (size_t i = 0; rc == CM_OK && i < n; i++)
        hits[i] = (hit){c[i].type, c[i].id, fused(&c[i], mode)};
    if (rc == CM_OK)
        rc = result(out, ctx, hits, n, limit);
    for (int t = 0; t < CM__EMB_NTYPES; t++)
        cm__free(allowed[t].v);
    cm__free(hits);
    cm__free(c);
    return rc;
}

/* ---- similar events and members ---- */

static int prep_count(cm__ctx *ctx, json_t *in)
{
    (void)in;
    return cm__embed_before_op(ctx->store);
}

/* Rank `type` near the stored vector of (type, id), excluding it (and the
 * caller, for members). No vector yet: no results. */
static int similar(json_t **out, cm__ctx *ctx, int type, int64_t id, bool upcoming, size_t limit)
{
    float *v;
    size_t dim;
    int rc = cm__embed_vector(&v, &dim, ctx->conn, type, id);
    if (rc)
        return rc;
    hit *hits = cm__malloc(limit * sizeof *hits);
    size_t n = 0;
    idlist allowed = {0};
    if (!hits)
        rc = cm__oom();
    if (rc == CM_OK && v && (rc = allowed_ids(&allowed, ctx, type, upcoming, false)) == CM_OK) {
        if (type == CM__EMB_MEMBER)
            drop_id(&allowed, ctx->actor->member_id);
        rc = rank(hits, &n, ctx, type, v, dim, &allowed, id, limit);
    }
    if (rc == CM_OK)
        rc = result(out, ctx, hits, n, limit);
    cm__free(allowed.v);
    cm__free(hits);
    cm__free(v);
    return rc;
}

static int op_events_similar(cm__ctx *ctx, json_t *in, json_t **out)
{
    cm__event ev;
    int rc = cm__event_load(&ev, NULL, ctx, cm__json_int(in, "event_id", 0));
    if (rc)
        return rc;
    return similar(out, ctx, CM__EMB_EVENT, ev.id, cm__json_bool(in, "upcoming_only", true),
                   (size_t)cm__json_int(in, "limit", DEFAULT_LIMIT));
}

static int op_members_similar(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "member_id", ctx->actor->member_id);
    if (!id)
        return cm__error_set_field(CM_EINVAL, "member_id",
                                   "member_id: required for the system actor");
    json_t *m;
    int rc = cm__member_load(&m, ctx, id); /* CM_ENOTFOUND unless the caller may see it */
    if (rc)
        return rc;
    json_decref(m);
    return similar(out, ctx, CM__EMB_MEMBER, id, false,
                   (size_t)cm__json_int(in, "limit", DEFAULT_LIMIT));
}

/* ---- recommendations ---- */

/* Add the unit vector v (dim d) scaled by w to acc (dim *acc_dim, set by
 * the first vector); vectors of another size are skipped. */
static void accumulate(double **acc, size_t *acc_dim, const float *v, size_t d, double w, bool *oom)
{
    if (!*acc) {
        if (!(*acc = cm__calloc(d, sizeof **acc))) {
            *oom = true;
            return;
        }
        *acc_dim = d;
    }
    if (d != *acc_dim)
        return;
    for (size_t i = 0; i < d; i++)
        (*acc)[i] += w * v[i];
}

static int op_recommended(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t me = ctx->actor->member_id;
    if (!me)
        return cm__error_set(CM_EAUTH, "events.recommended needs a member, not the system actor");
    size_t limit = (size_t)cm__json_int(in, "limit", DEFAULT_LIMIT);
    double *acc = NULL;
    size_t dim = 0, used = 0, sum_dim = 0, n = 0;
    bool oom = false;
    float *sum = NULL;
    hit *hits = NULL;
    /* the profile, weight 1 */
    float *v;
    size_t d;
    int rc = cm__embed_vector(&v, &d, ctx->conn, CM__EMB_MEMBER, me);
    if (rc)
        return rc;
    bool profile = v && cm__embed_normalize(v, d);
    if (profile)
        accumulate(&acc, &dim, v, d, 1.0, &oom);
    cm__free(v);
    /* the events the member is going to: their mean, weight 1 */
    idlist going = {0};
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "embed.going_events")))
        goto out;
    cm__q_int64(&q, 1, me);
    if ((rc = collect_ids(&going, &q)))
        goto out;
    for (size_t i = 0; i < going.n && !oom; i++) {
        if ((rc = cm__embed_vector(&v, &d, ctx->conn, CM__EMB_EVENT, going.v[i])))
            break;
        if (v && cm__embed_normalize(v, d) && (!sum || d == sum_dim)) {
            if (!sum && !(sum = cm__calloc(d, sizeof *sum)))
                oom = true;
            sum_dim = d;
            for (size_t j = 0; sum && j < d; j++)
                sum[j] += v[j];
            used++;
        }
        cm__free(v);
    }
    if (rc == CM_OK && sum && cm__embed_normalize(sum, sum_dim))
        accumulate(&acc, &dim, sum, sum_dim, 1.0, &oom);
    cm__free(sum);
    sum = NULL;
    if (rc)
        goto out;
    if (oom) {
        rc = cm__oom();
        goto out;
    }
    if (!(hits = cm__malloc(limit * sizeof *hits))) {
        rc = cm__oom();
        goto out;
    }
    if (acc) {
        float *query = cm__malloc(dim * sizeof *query);
        idlist allowed = {0};
        if (!query)
            rc = cm__oom();
        for (size_t i = 0; query && i < dim; i++)
            query[i] = (float)acc[i];
        if (rc == CM_OK && cm__embed_normalize(query, dim) &&
            (rc = allowed_ids(&allowed, ctx, CM__EMB_EVENT, true, true)) == CM_OK)
            rc = rank(hits, &n, ctx, CM__EMB_EVENT, query, dim, &allowed, 0, limit);
        cm__free(allowed.v);
        cm__free(query);
    }
    if (rc == CM_OK)
        rc = result(out, ctx, hits, n, limit);
    if (rc == CM_OK) {
        json_t *basis = json_object();
        json_object_set_new(basis, "profile", json_boolean(profile));
        json_object_set_new(basis, "events_going", json_integer((json_int_t)used));
        json_object_set_new(*out, "based_on", basis);
    }
out:
    cm__free(hits);
    cm__free(sum);
    cm__free(going.v);
    cm__free(acc);
    return rc;
}

/* ---- the table ---- */

static const cm__field search_fields[] = {
    CM__FIELD("query", CM__T_STRING, .min = 1, .max = 1000,
              .doc = "What to look for, in words (or give query_vector)"),
    CM__FIELD("query_vector", CM__T_NUMBERS, .min = 1, .max = CM__EMBED_MAX_DIM,
              .doc = "A query embedding of the store's model (as many numbers as its vectors)"),
    CM__FIELD("types", CM__T_STRINGS, .max = 3,
              .doc = "Any of events, members, posts (default: all three)"),
    CM__FIELD("upcoming_only", CM__T_BOOL,
              .doc = "Events: only those not yet ended (default true)"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = MAX_LIMIT, .doc = "Results (1-50, default 10)"),
    CM__FIELD("mode", CM__T_ENUM, .values = mode_values,
              .doc = "hybrid (default: full text and vectors fused by reciprocal rank), text or "
                     "vector (the default with query_vector)"),
    {.name = NULL},
};

static const cm__field events_similar_fields[] = {
    CM__FIELD("event_id", CM__T_ID, .flags = CM__REQUIRED, .doc = "Event to compare with"),
    CM__FIELD("upcoming_only", CM__T_BOOL, .doc = "Only events not yet ended (default true)"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = MAX_LIMIT, .doc = "Results (1-50, default 10)"),
    {.name = NULL},
};

static const cm__field members_similar_fields[] = {
    CM__FIELD("member_id", CM__T_ID, .doc = "Member to compare with (default: yourself)"),
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = MAX_LIMIT, .doc = "Results (1-50, default 10)"),
    {.name = NULL},
};

static const cm__field recommended_fields[] = {
    CM__FIELD("limit", CM__T_INT, .min = 1, .max = MAX_LIMIT, .doc = "Results (1-50, default 10)"),
    {.name = NULL},
};

static const cm__rfield hits_fields[] = {
    {"items", CM__R_ARRAY, .shape = &cm__shape_search_hit, .doc = "Best first"},
    {"model", CM__R_STRING, .doc = "The embedding model that ranked them"},
    {NULL},
};
static const cm__shape hits_result = {.fields = hits_fields};
static const cm__rfield based_on_fields[] = {
    {"profile", CM__R_BOOL, .doc = "Your profile text was used"},
    {"events_going", CM__R_INT, .doc = "How many of your events were used"},
    {NULL},
};
static const cm__shape based_on = {.fields = based_on_fields};
static const cm__rfield recommended_result_fields[] = {
    {"items", CM__R_ARRAY, .shape = &cm__shape_search_hit, .doc = "Best first"},
    {"model", CM__R_STRING, .doc = "The embedding model that ranked them"},
    {"based_on", CM__R_OBJECT, .shape = &based_on},
    {NULL},
};
static const cm__shape recommended_result = {.fields = recommended_result_fields};

const cm__op cm__ai_ops[] = {
    {
        .name = "search.semantic",
        .summary = "Search events, members and posts by their words and meaning (full text and "
                   "vectors fused); only what you may see is ranked, no match gives no results",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "POST",
        .http_path = "/v1/search",
        .fields = search_fields,
        .fn = op_search,
        .prepare = prep_search,
        .result = &hits_result,
    },
    {
        .name = "events.similar",
        .summary = "Events like this one (visible to you, upcoming by default)",
        .role = CM_ROLE_ANONYMOUS,
        .http_method = "GET",
        .http_path = "/v1/events/{event_id}/similar",
        .fields = events_similar_fields,
        .fn = op_events_similar,
        .prepare = prep_count,
        .result = &hits_result,
    },
    {
        .name = "members.similar",
        .summary =
            "Members you should meet: discoverable profiles like yours (or like member_id's)",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/similar/members",
        .fields = members_similar_fields,
        .fn = op_members_similar,
        .prepare = prep_count,
        .result = &hits_result,
    },
    {
        .name = "events.recommended",
        .summary =
            "Upcoming events for you, from your profile and the events you are going to (never "
            "full, past, cancelled or already joined ones)",
        .role = CM_ROLE_MEMBER,
        .http_method = "GET",
        .http_path = "/v1/recommendations/events",
        .fields = recommended_fields,
        .fn = op_recommended,
        .prepare = prep_count,
        .result = &recommended_result,
    },
    {.name = NULL},
};
