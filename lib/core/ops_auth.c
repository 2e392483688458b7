/*
 * ops_auth.c - authentication: password login (argon2id via libsodium),
 * sessions stored only as SHA-256 hashes of random tokens, logout and
 * revocation, password change and reset, and magic-link sign-in. Reset and
 * magic-link tokens are single-use and expire; they reach the member
 * through the e-mail outbox, never through the anonymous caller.
 */
#include "member_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cm__sodium_ready(void);

/*
 * The password gate: at most `gate_max` argon2id computations at once in
 * this process (COMMUNITY_PASSWORD_CONCURRENCY, default half the CPUs, at
 * least 1), so that sign-ins cannot take every core from other calls.
 * The others wait their turn, first come first served.
 */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static pthread_once_t gate_once = PTHREAD_ONCE_INIT;
static int gate_max, gate_running;
static uint64_t gate_next, gate_serving; /* tickets: FIFO order */

static void gate_init(void)
{
    const char *e = getenv("COMMUNITY_PASSWORD_CONCURRENCY");
    long n = e && *e ? strtol(e, NULL, 10) : 0;
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 1 ? cpus / 2 : 1;
    }
    gate_max = n > 1024 ? 1024 : (int)n;
}

static void gate_enter(void)
{
    pthread_once(&gate_once, gate_init);
    pthread_mutex_lock(&gate_mu);
    uint64_t me = gate_next++;
    while (me != gate_serving || gate_running >= gate_max)
        pthread_cond_wait(&gate_cv, &gate_mu);
    gate_serving++;
    gate_running++;
    pthread_cond_broadcast(&gate_cv); /* the next ticket may fit too */
    pthread_mutex_unlock(&gate_mu);
}

static void gate_leave(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_running--;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

int cm__password_verify(const char *hash, const char *pw)
{
    gate_enter();
    int rc = crypto_pwhash_str_verify(hash, pw, strlen(pw));
    gate_leave();
    return rc == 0 ? 0 : -1;
}

int cm__password_hash(char out[128], const char *pw)
{
    gate_enter();
    int rc = crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    gate_leave();
    return rc == 0 ? 0 : CM_ENOMEM;
}

/* A real argon2id hash of a random password, verified against when the
 * e-mail is unknown so that timing does not reveal which accounts exist. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void make_dummy(void)
{
    if (cm__password_hash(dummy_hash, "not-a-password") != 0)
        dummy_hash[0] = '\0'; /* out of memory: verification below just fails */
}

static int hash_password(char out[crypto_pwhash_STRBYTES], const char *pw)
{
    int rc = cm__sodium_ready();
    if (rc)
        return rc;
    if (cm__password_hash(out, pw) != 0)
        return cm__error_set(CM_ENOMEM, "out of memory hashing the password");
    return CM_OK;
}

/* prepare hook: replace "password" (or "new_password") by its argon2id
 * hash in "_password_hash", before the transaction starts. */
int cm__password_hash_prepare(cm__ctx *ctx, json_t *in)
{
    (void)ctx;
    const char *pw = cm__json_str(in, "password");
    if (!pw)
        pw = cm__json_str(in, "new_password");
    if (!pw)
        return CM_OK;
    char h[crypto_pwhash_STRBYTES];
    int rc = hash_password(h, pw);
    if (rc)
        return rc;
    return json_object_set_new(in, "_password_hash", json_string(h)) ? cm__oom() : CM_OK;
}

/* Create a session for member_id and add {session: {token, expires_at}}
 * to result. The token is returned once; only its hash is stored. */
int cm__session_create(cm__ctx *ctx, int64_t member_id, json_t *result)
{
    char token[64], hash[65];
    int rc = cm__token_new(token, "cms_");
    if (rc)
        return rc;
    cm__token_hash(hash, token);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "session.insert")))
        return rc;
    int64_t expires = ctx->now + CM__SESSION_TTL_US;
    cm__q_int64(&q, 1, member_id);
    cm__q_text(&q, 2, hash);
    cm__q_int64(&q, 3, ctx->now);
    cm__q_int64(&q, 4, expires);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        return rc;
    json_t *s = json_object();
    json_object_set_new(s, "token", json_string(token));
    cm__json_set_time(s, "expires_at", expires);
    json_object_set_new(result, "session", s);
    sodium_memzero(token, sizeof token);
    return CM_OK;
}

/*
 * Per-account sign-in throttle (table login_failures): the first
 * LOGIN_FREE_FAILURES failures of an address cost nothing; each further
 * one locks the address for LOGIN_LOCK_BASE_US, doubled each time, at most
 * LOGIN_LOCK_MAX_US. A locked address is refused with CM_ETHROTTLED before
 * any password work. The count starts again once the address has been
 * idle for LOGIN_IDLE_US, and a successful sign-in clears it. It lives in
 * the database, so every host of one database shares it.
 */
#define LOGIN_FREE_FAILURES 5
#define LOGIN_LOCK_BASE_US (1000000LL)
#define LOGIN_LOCK_MAX_US (15LL * 60 * 1000000)
#define LOGIN_IDLE_US (60LL * 60 * 1000000)

typedef struct pw_lookup {
    const char *email;
    char norm[256];
    int64_t now;
    int64_t id;
    int64_t locked_until;
    char hash[crypto_pwhash_STRBYTES];
    bool active;
} pw_lookup;

/* The member of l->email (normalised into l->norm): id, hash, status. */
static int read_hash(cm__conn *c, void *payload)
{
    pw_lookup *l = payload;
    cm__email_normalize(l->norm, l->email, sizeof l->norm);
    cm__q q;
    int rc = cm__q_open(&q, c, "member.by_email");
    if (rc)
        return rc;
    cm__q_text(&q, 1, l->norm);
    rc = cm__q_step(&q);
    if (rc == 1) {
        l->id = cm__q_col_int64(&q, 0);
        (void)snprintf(l->hash, sizeof l->hash, "%s", cm__q_col_text(&q, 1));
        l->active = strcmp(cm__q_col_text(&q, 2), "active") == 0;
    }
    cm__q_close(&q);
    return cm__ok(rc);
}

/* Read transaction of a sign-in: the address's lock, then (unless
 * locked) its member. */
static int read_login(cm__conn *c, void *payload)
{
    pw_lookup *l = payload;
    cm__email_normalize(l->norm, l->email, sizeof l->norm);
    cm__q q;
    int rc = cm__q_open(&q, c, "login.locked_until");
    if (rc)
        return rc;
    cm__q_text(&q, 1, l->norm);
    rc = cm__q_step(&q);
    if (rc == 1)
        l->locked_until = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    if ((rc = cm__ok(rc)) || l->locked_until > l->now)
        return rc;
    return read_hash(c, l);
}

/* Write transaction: count one failed sign-in of l->norm, lock it when
 * past the free failures, and prune a few idle rows. */
static int record_failure(cm__conn *c, void *payload)
{
    pw_lookup *l = payload;
    cm__q q;
    int rc = cm__q_open(&q, c, "login.fail");
    if (rc)
        return rc;
    cm__q_text(&q, 1, l->norm);
    cm__q_int64(&q, 2, l->now);
    cm__q_int64(&q, 3, l->now - LOGIN_IDLE_US);
    rc = cm__q_step(&q);
    int64_t failures = rc == 1 ? cm__q_col_int64(&q, 0) : 0;
    cm__q_close(&q);
    if ((rc = cm__ok(rc)))
        return rc;
    l->locked_until = 0;
    if (failures >= LOGIN_FREE_FAILURES) {
        int64_t n = failures - LOGIN_FREE_FAILURES, lock = LOGIN_LOCK_BASE_US;
        while (n-- > 0 && lock < LOGIN_LOCK_MAX_US)
            lock *= 2;
        l->locked_until = l->now + (lock < LOGIN_LOCK_MAX_US ? lock : LOGIN_LOCK_MAX_US);
        if ((rc = cm__q_open(&q, c, "login.lock")))
            return rc;
        cm__q_text(&q, 1, l->norm);
        cm__q_int64(&q, 2, l->locked_until);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        if (rc)
            return rc;
    }
    if ((rc = cm__q_open(&q, c, "login.prune")))
        return rc;
    cm__q_int64(&q, 1, l->now - LOGIN_IDLE_US);
    cm__q_int64(&q, 2, l->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    return rc;
}

static int throttled(int64_t locked_until, int64_t now)
{
    int64_t s = (locked_until - now + 999999) / 1000000;
    cm__error_set(CM_ETHROTTLED,
                  "too many failed sign-ins for this e-mail address; retry in %lld s",
                  (long long)(s < 1 ? 1 : s));
    cm__error_set_retry_after(s);
    return CM_ETHROTTLED;
}

/* prepare hook of members.login: check the throttle, then the password,
 * outside the write transaction (argon2id takes tens of milliseconds by
 * design). A failure is counted in its own write transaction. */
static int login_prepare(cm__ctx *ctx, json_t *in)
{
    int rc = cm__sodium_ready();
    if (rc)
        return rc;
    pw_lookup l = {.email = cm__json_str(in, "email"), .now = ctx->now};
    if ((rc = cm__store_run_tx(ctx->store, false, read_login, &l)))
        return rc;
    if (l.locked_until > l.now)
        return throttled(l.locked_until, l.now);
    const char *pw = cm__json_str(in, "password");
    bool ok;
    if (l.id && l.hash[0]) {
        ok = cm__password_verify(l.hash, pw) == 0;
    } else {
        pthread_once(&dummy_once, make_dummy);
        volatile int spent = cm__password_verify(dummy_hash, pw);
        (void)spent;
        ok = false;
    }
    if (!ok || !l.active) {
        l.now = cm_now_us();
        if ((rc = cm__store_run_tx(ctx->store, true, record_failure, &l)))
            return rc;
        return cm__error_set(CM_EAUTH, "invalid e-mail or password");
    }
    json_object_set_new(in, "_member_id", json_integer(l.id));
    return CM_OK;
}

static int op_login(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "_member_id", 0);
    ctx->target_type = "member";
    ctx->target_id = id;
    /* a password sign-in forgets the address's failures (magic links
     * come here without an address) */
    const char *email = cm__json_str(in, "email");
    int rc = CM_OK;
    if (email) {
        char norm[256];
        cm__email_normalize(norm, email, sizeof norm);
        cm__q q;
        if ((rc = cm__q_open(&q, ctx->conn, "login.clear")))
            return rc;
        cm__q_text(&q, 1, norm);
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        if (rc)
            return rc;
    }
    json_t *res = json_object(), *member;
    cm_actor self = {id, CM_ROLE_MEMBER};
    const cm_actor *saved = ctx->actor;
    ctx->actor = &self;
    rc = cm__member_load(&member, ctx, id);
    ctx->actor = saved;
    if (rc == CM_OK) {
        json_object_set_new(res, "member", member);
        rc = cm__session_create(ctx, id, res);
    }
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return CM_OK;
}

static int op_logout(cm__ctx *ctx, json_t *in, json_t **out)
{
    char hash[65];
    cm__token_hash(hash, cm__json_str(in, "token"));
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "session.revoke");
    if (rc)
        return rc;
    cm__q_text(&q, 1, hash);
    cm__q_int64(&q, 2, ctx->actor->member_id);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__q_step(&q);
    int64_t n = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    if (rc < 0)
        return rc;
    if (n == 0)
        return cm__error_set_field(CM_ENOTFOUND, "token",
                                   "token: no active session of yours with this token");
    ctx->target_type = "member";
    ctx->target_id = ctx->actor->member_id;
    *out = json_pack("{s:b}", "revoked", 1);
    return CM_OK;
}

static int revoke_all(cm__ctx *ctx, int64_t id, int64_t *count)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "session.revoke_all");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_int64(&q, 2, ctx->now);
    rc = cm__q_step(&q);
    *count = rc == 0 ? cm__q_changes(&q) : 0;
    cm__q_close(&q);
    return cm__ok(rc);
}

static int op_revoke_sessions(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = cm__json_int(in, "member_id", ctx->actor->member_id);
    if (id != ctx->actor->member_id && !cm__actor_at_least(ctx, CM_ROLE_ADMIN))
        return cm__error_set_field(CM_EPERM, "member_id",
                                   "member_id: only admins may revoke another member's sessions");
    if (id == 0)
        return cm__error_set_field(CM_EINVAL, "member_id", "member_id: required");
    int64_t n;
    int rc = revoke_all(ctx, id, &n);
    if (rc)
        return rc;
    ctx->target_type = "member";
    ctx->target_id = id;
    *out = json_pack("{s:I}", "revoked", (json_int_t)n);
    return CM_OK;
}

/* Tokens (and so e-mails) of one kind a member may be sent per hour:
 * COMMUNITY_TOKEN_MAILS_PER_HOUR, 1..1000, default 5. */
#define CM__HOUR_US INT64_C(3600000000)

static int64_t token_mails_per_hour(void)
{
    const char *v = getenv("COMMUNITY_TOKEN_MAILS_PER_HOUR");
    char *end;
    long long n = v && *v ? strtoll(v, &end, 10) : 0;
    return v && *v && !*end && n >= 1 && n <= 1000 ? (int64_t)n : 5;
}

/* ?1 member, ?2 kind, ?3 time: run one of the token.* statements above;
 * for token.count_recent *count receives the count. */
static int token_stmt(cm__ctx *ctx, const char *id, int64_t member, const char *kind, int64_t t,
                      int64_t *count)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, id);
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member);
    cm__q_text(&q, 2, kind);
    cm__q_int64(&q, 3, t);
    rc = cm__q_step(&q);
    if (rc == 1 && count)
        *count = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    return cm__ok(rc);
}

/* Issue a single-use token of `kind` for the member with this e-mail and
 * queue the e-mail carrying it. Unknown addresses succeed silently so
 * that the endpoint does not reveal who is a member; so do suspended
 * members (no token) and members who were sent the hourly maximum of
 * this kind (no token, no mail). A new token supersedes the member's live
 * tokens of its kind: they stop working, and their mails not sent yet are
 * suppressed. The system actor (a trusted host, e.g. the admin CLI) also
 * gets the token back. */
static int issue_token(cm__ctx *ctx, json_t *in, json_t **out, const char *kind, int64_t ttl)
{
    pw_lookup l = {.email = cm__json_str(in, "email")};
    int rc = read_hash(ctx->conn, &l);
    if (rc)
        return rc;
    json_t *res = json_pack("{s:b}", "requested", 1);
    if (!l.id || !l.active) {
        *out = res;
        return CM_OK;
    }
    int64_t recent = 0, limit = token_mails_per_hour();
    if ((rc = token_stmt(ctx, "token.count_recent", l.id, kind, ctx->now - CM__HOUR_US, &recent)))
        goto fail;
    if (recent >= limit) {
        cm__log(CM_LOG_WARN, "auth",
                "member %lld asked for more than %lld %s e-mails in an hour: none sent",
                (long long)l.id, (long long)limit, kind);
        *out = res;
        return CM_OK;
    }
    if ((rc = token_stmt(ctx, "token.suppress_mails", l.id, kind, ctx->now, NULL)) ||
        (rc = token_stmt(ctx, "token.supersede", l.id, kind, ctx->now, NULL)))
        goto fail;
    char token[64], hash[65];
    if ((rc = cm__token_new(token, strcmp(kind, "magic_link") == 0 ? "cml_" : "cmr_")))
        goto fail;
    cm__token_hash(hash, token);
    cm__q q;
    if ((rc = cm__q_open(&q, ctx->conn, "token.insert")))
        goto fail;
    cm__q_int64(&q, 1, l.id);
    cm__q_text(&q, 2, kind);
    cm__q_text(&q, 3, hash);
    cm__q_int64(&q, 4, ctx->now);
    cm__q_int64(&q, 5, ctx->now + ttl);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    if (rc)
        goto fail;
    char payload[160];
    (void)snprintf(payload, sizeof payload, "{\"token\":\"%s\"}", token);
    if ((rc = cm__q_open(&q, ctx->conn, "outbox.insert")))
        goto fail;
    cm__q_int64(&q, 1, l.id);
    cm__q_text(&q, 2, l.email);
    cm__q_text(&q, 3, kind);
    cm__q_text(&q, 4, payload);
    cm__q_text(&q, 5, hash); /* one e-mail per token */
    cm__q_int64(&q, 6, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    sodium_memzero(payload, sizeof payload);
    if (rc)
        goto fail;
    ctx->target_type = "member";
    ctx->target_id = l.id;
    if (ctx->actor->role == CM_ROLE_SYSTEM)
        json_object_set_new(res, "token", json_string(token));
    sodium_memzero(token, sizeof token);
    *out = res;
    return CM_OK;
fail:
    json_decref(res);
    return rc;
}

static int consume_token(cm__ctx *ctx, json_t *in, const char *kind, int64_t *member_id)
{
    char hash[65];
    cm__token_hash(hash, cm__json_str(in, "token"));
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "token.consume");
    if (rc)
        return rc;
    cm__q_text(&q, 1, hash);
    cm__q_text(&q, 2, kind);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__q_step(&q);
    if (rc == 1)
        *member_id = cm__q_col_int64(&q, 0);
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_EAUTH, "token", "token: invalid, expired or already used");
    if (rc < 0)
        return rc;
    /* A token issued before a suspension does not let the member back in
     * (the failed call rolls back: the token stays as it was). */
    if ((rc = cm__q_open(&q, ctx->conn, "member.role")))
        return rc;
    cm__q_int64(&q, 1, *member_id);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    if (rc == 0)
        return cm__error_set_field(CM_EAUTH, "token", "token: the account is suspended");
    return cm__ok(rc);
}

static int op_reset_request(cm__ctx *ctx, json_t *in, json_t **out)
{
    return issue_token(ctx, in, out, "password_reset", CM__RESET_TTL_US);
}

static int op_magic_request(cm__ctx *ctx, json_t *in, json_t **out)
{
    return issue_token(ctx, in, out, "magic_link", CM__MAGIC_TTL_US);
}

static int set_password_revoke(cm__ctx *ctx, int64_t id, const char *hash)
{
    cm__q q;
    int rc = cm__q_open(&q, ctx->conn, "member.set_password");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, id);
    cm__q_text(&q, 2, hash);
    cm__q_int64(&q, 3, ctx->now);
    rc = cm__ok(cm__q_step(&q));
    cm__q_close(&q);
    int64_t n;
    return rc ? rc : revoke_all(ctx, id, &n);
}

static int op_reset(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = 0;
    int rc = consume_token(ctx, in, "password_reset", &id);
    if (rc || (rc = set_password_revoke(ctx, id, cm__json_str(in, "_password_hash"))))
        return rc;
    ctx->target_type = "member";
    ctx->target_id = id;
    *out = json_pack("{s:b}", "reset", 1);
    return CM_OK;
}

static int op_magic_login(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = 0;
    int rc = consume_token(ctx, in, "magic_link", &id);
    if (rc)
        return rc;
    json_object_set_new(in, "_member_id", json_integer(id));
    return op_login(ctx, in, out);
}

/* prepare hook of members.change_password: verify the current password,
 * hash the new one. */
static int change_prepare(cm__ctx *ctx, json_t *in)
{
    if (!ctx->actor->member_id)
        return cm__error_set(CM_EAUTH, "change_password needs a member");
    int rc = cm__sodium_ready();
    if (rc)
        return rc;
    cm__conn *c;
    if ((rc = cm__store_acquire(&c, ctx->store)))
        return rc;
    char hash[crypto_pwhash_STRBYTES] = "";
    cm__q q;
    if ((rc = cm__q_open(&q, c, "member.password")) == CM_OK) {
        cm__q_int64(&q, 1, ctx->actor->member_id);
        if ((rc = cm__q_step(&q)) == 1)
            (void)snprintf(hash, sizeof hash, "%s", cm__q_col_text(&q, 0));
        cm__q_close(&q);
    }
    cm__store_release(c);
    if (rc < 0)
        return rc;
    const char *cur = cm__json_str(in, "current_password");
    if (!hash[0] || cm__password_verify(hash, cur) != 0)
        return cm__error_set_field(CM_EAUTH, "current_password",
                                   "current_password: does not match");
    return cm__password_hash_prepare(ctx, in);
}

static int op_change_password(cm__ctx *ctx, json_t *in, json_t **out)
{
    int64_t id = ctx->actor->member_id;
    int rc = set_password_revoke(ctx, id, cm__json_str(in, "_password_hash"));
    if (rc)
        return rc;
    ctx->target_type = "member";
    ctx->target_id = id;
    json_t *res = json_object();
    if ((rc = cm__session_create(ctx, id, res))) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return CM_OK;
}

static const cm__field login_fields[] = {
    CM__FIELD("email", CM__T_EMAIL, .flags = CM__REQUIRED, .min = 3, .max = 254,
              .doc = "E-mail address"),
    CM__FIELD("password", CM__T_SECRET, .flags = CM__REQUIRED, .min = 1, .max = 256,
              .doc = "Password"),
    {.name = NULL},
};
static const cm__field token_fields[] = {
    CM__FIELD("token", CM__T_SECRET, .flags = CM__REQUIRED, .min = 1, .max = 128,
              .doc = "The token"),
    {.name = NULL},
};
static const cm__field email_fields[] = {
    CM__FIELD("email", CM__T_EMAIL, .flags = CM__REQUIRED, .min = 3, .max = 254,
              .doc = "E-mail address of the account"),
    {.name = NULL},
};
static const cm__field reset_fields[] = {
    CM__FIELD("token", CM__T_SECRET, .flags = CM__REQUIRED, .min = 1, .max = 128,
              .doc = "Token from the reset e-mail"),
    CM__FIELD("new_password", CM__T_SECRET, .flags = CM__REQUIRED, .min = 8, .max = 256,
              .doc = "New password (8-256)"),
    {.name = NULL},
};
static const cm__field change_fields[] = {
    CM__FIELD("current_password", CM__T_SECRET, .flags = CM__REQUIRED, .min = 1, .max = 256,
              .doc = "Current password"),
    CM__FIELD("new_password", CM__T_SECRET, .flags = CM__REQUIRED, .min = 8, .max = 256,
              .doc = "New password (8-256)"),
    {.name = NULL},
};
static const cm__field revoke_fields[] = {
    CM__FIELD("member_id", CM__T_ID, .doc = "Whose sessions (admins only; default: yours)"),
    {.name = NULL},
};

static const cm__rfield signin_fields[] = {
    {"member", CM__R_OBJECT, .shape = &cm__shape_member},
    {"session", CM__R_OBJECT, .shape = &cm__shape_session},
    {NULL},
};
static const cm__shape signin_result = {.fields = signin_fields};
static const cm__rfield session_fields[] = {
    {"session", CM__R_OBJECT, .shape = &cm__shape_session},
    {NULL},
};
static const cm__shape session_result = {.fields = session_fields};
static const cm__rfield logout_fields[] = {{"revoked", CM__R_BOOL}, {NULL}};
static const cm__shape logout_result = {.fields = logout_fields};
static const cm__rfield revoke_result_fields[] = {
    {"revoked", CM__R_INT, .doc = "Sessions ended"},
    {NULL},
};
static const cm__shape revoke_result = {.fields = revoke_result_fields};
static const cm__rfield requested_fields[] = {
    {"requested", CM__R_BOOL, .doc = "Always true: whether the address exists is not revealed"},
    {"token", CM__R_STRING, .flags = CM__R_OPT,
     .doc = "Only for the system actor, which delivers the token itself"},
    {NULL},
};
static const cm__shape requested_result = {.fields = requested_fields};
static const cm__rfield reset_result_fields[] = {{"reset", CM__R_BOOL}, {NULL}};
static const cm__shape reset_result = {.fields = reset_result_fields};

const cm__op cm__auth_ops[] = {
    {
        .name = "auth.login",
        .summary = "Sign in with e-mail and password; returns a session token",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE | CM__OP_PASSWORD,
        .http_method = "POST",
        .http_path = "/v1/sessions",
        .fields = login_fields,
        .fn = op_login,
        .prepare = login_prepare,
        .result = &signin_result,
    },
    {
        .name = "auth.logout",
        .summary = "End one session (the token given)",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/sessions/logout",
        .fields = token_fields,
        .fn = op_logout,
        .result = &logout_result,
    },
    {
        .name = "auth.revoke_sessions",
        .summary = "End every session of a member",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/sessions/revoke",
        .fields = revoke_fields,
        .fn = op_revoke_sessions,
        .result = &revoke_result,
    },
    {
        .name = "auth.change_password",
        .summary = "Change your password; ends other sessions, returns a new one",
        .role = CM_ROLE_MEMBER,
        .flags = CM__OP_WRITE | CM__OP_PASSWORD,
        .http_method = "POST",
        .http_path = "/v1/me/password",
        .fields = change_fields,
        .fn = op_change_password,
        .prepare = change_prepare,
        .result = &session_result,
    },
    {
        .name = "auth.password_reset_request",
        .summary = "E-mail a single-use password reset link",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/password-resets",
        .fields = email_fields,
        .fn = op_reset_request,
        .result = &requested_result,
    },
    {
        .name = "auth.password_reset",
        .summary = "Set a new password with a reset token; ends every session",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE | CM__OP_PASSWORD,
        .http_method = "POST",
        .http_path = "/v1/password-resets/confirm",
        .fields = reset_fields,
        .fn = op_reset,
        .prepare = cm__password_hash_prepare,
        .result = &reset_result,
    },
    {
        .name = "auth.magic_link_request",
        .summary = "E-mail a single-use sign-in link",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/magic-links",
        .fields = email_fields,
        .fn = op_magic_request,
        .result = &requested_result,
    },
    {
        .name = "auth.magic_link_login",
        .summary = "Sign in with a magic-link token",
        .role = CM_ROLE_ANONYMOUS,
        .flags = CM__OP_WRITE,
        .http_method = "POST",
        .http_path = "/v1/magic-links/confirm",
        .fields = token_fields,
        .fn = op_magic_login,
        .result = &signin_result,
    },
    {.name = NULL},
};
