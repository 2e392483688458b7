/*
 * ops_int.h - the operation table: how an operation is declared (name,
 * input schema, role, handler, HTTP route) and what a handler receives.
 * Everything hosts expose (REST routes, CLI subcommands, Node methods,
 * TypeScript types, the API reference) is derived from these declarations
 * through cm_ops_describe().
 */
#ifndef CM_OPS_INT_H
#define CM_OPS_INT_H

#include "../store/store_int.h"

/* Field types of an operation's input. */
typedef enum cm__ftype {
    CM__T_STRING, /* UTF-8 string; min/max bound the length in code points */
    CM__T_INT,    /* integer; min/max bound the value */
    CM__T_BOOL,
    CM__T_ENUM,      /* string from `values` */
    CM__T_EMAIL,     /* string, local@domain, <= 254 bytes */
    CM__T_INSTANT,   /* RFC 3339 instant */
    CM__T_LOCALTIME, /* wall clock "YYYY-MM-DDTHH:MM[:SS]" */
    CM__T_TIMEZONE,  /* IANA zone name */
    CM__T_ID,        /* integer >= 1 */
    CM__T_STRINGS,   /* array of strings; max = items, max_len per item */
    CM__T_URL,       /* http(s) URL */
    CM__T_SECRET,    /* string never logged (password, token) */
    CM__T_CURSOR,    /* opaque pagination cursor from a previous result */
    CM__T_NUMBERS,   /* array of numbers (vectors); min/max bound the count */
} cm__ftype;

#define CM__REQUIRED 0x1u
/* CM__T_STRING holding a file as base64: the schema says contentEncoding
 * base64, and HTTP hosts take the raw request body for it. */
#define CM__BASE64 0x2u

/* The default bounds of each field type, for a field that leaves min or max
 * at 0. The validator (validate.c) and the JSON Schema of cm_ops_describe
 * (ops.c) both read them, so the two never disagree. */
typedef struct cm__type_limits {
    int64_t min, max;           /* length in code points, value or item count; max 0 = none */
    int64_t item_min, item_max; /* CM__T_STRINGS: the length of each item */
} cm__type_limits;
extern const cm__type_limits cm__type_limits_of[]; /* indexed by cm__ftype */

typedef struct cm__field {
    const char *name;
    cm__ftype type;
    uint32_t flags;
    int64_t min, max;          /* see cm__ftype; 0,0 = unbounded */
    const char *const *values; /* CM__T_ENUM: NULL-terminated list */
    const char *doc;
} cm__field;

/* One input field: the name, the type, then designated initialisers for the
 * rest (.doc is always given), e.g.
 *   CM__FIELD("title", CM__T_STRING, .flags = CM__REQUIRED, .min = 1, .max = 200,
 *             .doc = "Title (1-200 characters)"),
 * A field list ends with {.name = NULL}. */
#define CM__FIELD(name_, type_, ...)                                                               \
    {                                                                                              \
        .name = (name_), .type = (type_), __VA_ARGS__                                              \
    }

/* ---- What an operation returns ----
 * A result is a JSON object declared as a shape: a list of result fields.
 * Named shapes (Member, Event, ...) are declared once in results.c and
 * referenced by every operation that returns them; cm_ops_describe() emits
 * them under "$defs" and each operation's "result" as JSON Schema, from
 * which the OpenAPI responses, the TypeScript result types and the
 * operations reference are derived. The test fixtures check every result
 * of every operation the suites run against its declaration. */
typedef enum cm__rtype {
    CM__R_STRING = 1,
    CM__R_INT,
    CM__R_NUMBER,
    CM__R_BOOL,
    CM__R_TIME,   /* RFC 3339 string */
    CM__R_ENUM,   /* string from `values` */
    CM__R_OBJECT, /* `shape` */
    CM__R_ARRAY,  /* of `shape`, or of `items` (with `values` for CM__R_ENUM) */
    CM__R_MAP,    /* an object with any keys, values as for CM__R_ARRAY */
    CM__R_ANY,    /* any JSON value (job payloads and results) */
} cm__rtype;

#define CM__R_NULL 0x1u /* the value may be null */
#define CM__R_OPT 0x2u  /* the key may be absent */

typedef struct cm__shape cm__shape;

/* One key of a result object, written {"name", CM__R_TYPE, .flags = ..., ...}. */
typedef struct cm__rfield {
    const char *name;
    cm__rtype type;
    uint32_t flags;            /* CM__R_* */
    const cm__shape *shape;    /* CM__R_OBJECT; items of CM__R_ARRAY / CM__R_MAP */
    cm__rtype items;           /* scalar items of CM__R_ARRAY / CM__R_MAP */
    const char *const *values; /* CM__R_ENUM (or enum items): NULL-terminated */
    const char *doc;
} cm__rfield;

struct cm__shape {
    const char *name; /* "Member": a named, shared definition; NULL: inline */
    const char *doc;
    const cm__rfield *fields; /* terminated by {NULL} */
};

/* The shared shapes (results.c). */
extern const cm__shape cm__shape_member, cm__shape_member_ref, cm__shape_session, cm__shape_event,
    cm__shape_rsvp, cm__shape_group, cm__shape_group_ref, cm__shape_membership, cm__shape_post,
    cm__shape_comment, cm__shape_reactions, cm__shape_job, cm__shape_search_hit,
    cm__shape_rsvp_entry, cm__shape_my_rsvp, cm__shape_group_member;

/* A page of a listing (see cm__page): {items: [item], next_cursor}. Declares
 * the static shape `var`. */
#define CM__PAGE_FIELDS(item_shape)                                                                \
    {"items", CM__R_ARRAY, .shape = &(item_shape)},                                                \
    {                                                                                              \
        "next_cursor", CM__R_STRING,                                                               \
            .flags = CM__R_NULL, .doc = "Pass as cursor for the next page; null on the last page"  \
    }
#define CM__PAGE(var, item_shape)                                                                  \
    static const cm__rfield var##_fields[] = {CM__PAGE_FIELDS(item_shape), {NULL}};                \
    static const cm__shape var = {.fields = var##_fields}

/* Operation flags. */
#define CM__OP_WRITE 0x1u /* mutates: runs in a write transaction, audited */
#define CM__OP_CACHE                                                                               \
    0x4u /* read-only and cacheable: its result depends only on the                                \
          * input, the actor and the data (and "now" within 1 s) */

#define CM__OP_PASSWORD 0x8u /* computes argon2id (describe: "password_hashing") */
#define CM__OP_STREAM                                                                              \
    0x20u /* sends events of its own to cm_exec_stream() (describe: "stream"):                     \
           * through ctx->stream while it runs, and its stream_end hook after                      \
           * the commit */
#define CM__OP_FORM                                                                                \
    0x10u /* an HTTP POST that a mail client sends (RFC 8058 one-click): hosts                     \
           * accept a form body (application/x-www-form-urlencoded or                              \
           * multipart/form-data) and ignore it; the input is in the path */

/* argon2id through the process-wide gate (at most
 * COMMUNITY_PASSWORD_CONCURRENCY at once; ops_auth.c). hash: 0 or
 * CM_ENOMEM; verify: 0 when pw matches hash, -1 otherwise. */
int cm__password_hash(char out[128], const char *pw);
int cm__password_verify(const char *hash, const char *pw);

/* The bounds that apply to f: its own min and max where not 0, else its type's. */
void cm__field_bounds(const cm__field *f, int64_t *min, int64_t *max);

/* The reader of a streamed call (cm_exec_stream); NULL for cm_exec. */
typedef struct cm__stream {
    cm_stream_cb cb;
    void *payload;
    bool stopped; /* cb returned non-zero */
} cm__stream;
/* Send one event (data a JSON object) to s; NULL s: nothing. CM_OK, or
 * CM_ECANCELED with the detail set once the reader stopped it (also for
 * every later event), CM_ENOMEM. */
int cm__stream_emit(cm__stream *s, const char *event, const json_t *data);

typedef struct cm__ctx cm__ctx;
typedef int (*cm__op_fn)(cm__ctx *ctx, json_t *in, json_t **out);

/* An operation, declared with designated initialisers in its module's
 * table (lib/core/ops_<module>.c); members left out are 0/NULL. */
typedef struct cm__op {
    const char *name;        /* "events.create": module.verb */
    const char *summary;     /* one line for docs and --help */
    int role;                /* minimal cm_role */
    uint32_t flags;          /* CM__OP_* */
    const char *http_method; /* GET, POST, PATCH, DELETE */
    const char *http_path;   /* "/v1/events/{event_id}": {x} are input fields */
    /* The JSON body may also come labelled text/plain (Amazon SNS sends
     * its JSON so): described as http.text_body. */
    bool http_text_body;
    /* Optional, for webhooks: the input field that receives the request body
     * as received (a string, not parsed as JSON), and header-to-field pairs
     * ({"Stripe-Signature", "signature", NULL}) the host copies into the
     * input. Both appear in the describe document under "http". */
    const char *http_raw_body;
    const char *const *http_headers;
    const cm__field *fields; /* terminated by {NULL} */
    cm__op_fn fn;
    /* Optional: runs before the transaction, outside any lock, for slow
     * work such as password hashing. It may add "_"-prefixed keys to `in`
     * (clients cannot send those: validation rejects unknown fields). */
    int (*prepare)(cm__ctx *ctx, json_t *in);
    const cm__shape *result; /* what the result object holds */
    /* Optional, with CM__OP_STREAM: the events that report the committed
     * result (before "done", which cm_exec_stream sends itself). */
    void (*stream_end)(cm__stream *s, const json_t *result);
} cm__op;

struct cm_actor {
    int64_t member_id; /* 0 for anonymous and system */
    int role;          /* cm_role */
};

/* What a handler gets: the open transaction and who calls. */
struct cm__ctx {
    cm_store *store;
    cm__conn *conn;
    const cm_actor *actor;
    const cm__op *op;
    int64_t now;
    /* The handler names the row it acted on; the audit row records it. */
    const char *target_type;
    int64_t target_id;
    /* The reader of a streamed call (CM__OP_STREAM), or NULL. */
    cm__stream *stream;
};

/* One operation call, shared by cm_exec() and cm_job_complete_exec():
 *   cm__call_init     find, parse, validate, authorize (before any lock)
 *   cm__call_prepare  the op's prepare hook (outside the transaction)
 *   cm__call_run      a cm__tx_fn: handler, audit row, serialised result
 *   cm__call_dispose  always, also after a failed init. */
typedef struct cm__call {
    cm_store *store;
    const cm_actor *actor; /* never NULL after init: anonymous by default */
    const struct cm__op *op;
    json_t *in;
    json_t *result;
    char *out;          /* the result serialised inside the transaction */
    cm__stream *stream; /* cm_exec_stream's reader, or NULL */
} cm__call;
int cm__call_init(cm__call *c, cm_store *store, const cm_actor *actor, const char *opname,
                  const char *json_in, size_t len);
int cm__call_prepare(cm__call *c);
int cm__call_run(cm__conn *conn, void *call);
/* The serialised result (caller frees with cm_free), or NULL. */
char *cm__call_take_out(cm__call *c);
void cm__call_dispose(cm__call *c);

/* The operation index, built on first use from the module tables: CM_OK, or
 * CM_ERROR (with the detail set) when the tables hold more operations than
 * the index has room for or declare a name twice. Nothing is cut: a broken
 * table fails every call to cm_exec and cm_ops_describe. */
int cm__ops_ready(void);
/* Find an operation by name (NULL if absent or the index is broken). */
const cm__op *cm__op_find(const char *name);
/* Iterate all operations: returns NULL past the end. */
const cm__op *cm__op_at(size_t i);
/* Build a sorted index of the n_modules tables (each ended by name == NULL)
 * into dst (room for cap entries); *n gets the count. CM_ERROR when they hold
 * more than cap operations or a name twice. */
int cm__ops_index(const cm__op **dst, size_t cap, size_t *n, const cm__op *const *modules,
                  size_t n_modules);

/* The JSON Schema of an operation's input (as cm_ops_describe gives it). */
json_t *cm__op_input_schema(const cm__op *op);

/* Validate `in` against the op's schema (types, bounds, required fields,
 * unknown fields, UTF-8). CM_EINVAL with the field on failure. */
int cm__validate(const cm__op *op, json_t *in);
/* Validate one present, non-null value of field f (as cm__validate does). */
int cm__validate_field(const cm__field *f, json_t *v);

/* Role names ("member", ...) and parsing. */
const char *cm__role_name(int role);
int cm__role_parse(const char *name);

/* Helpers for handlers. */
int cm__require_member(cm__ctx *ctx); /* actor is a logged-in member (or system) */
bool cm__actor_at_least(cm__ctx *ctx, int role);
/* One page of a listing from q (opened and bound, its row limit limit + 1):
 * row(q, payload) makes each item (NULL: the row is left out); the last
 * row's columns key_col and key2_col (-1: none) make the next cursor
 * (cm__page). Closes q. CM_OK with *out set, or q's error. */
int cm__page_collect(json_t **out, cm__q *q, int64_t limit, int key_col, int key2_col,
                     json_t *(*row)(cm__q *q, void *payload), void *payload);
/* SHA-256 hex of a token, as stored for sessions and single-use tokens. */
void cm__token_hash(char out[65], const char *token);
/* New random token with a prefix ("cms_"): out >= 64 bytes. */
int cm__token_new(char out[64], const char *prefix);

#endif /* CM_OPS_INT_H */
