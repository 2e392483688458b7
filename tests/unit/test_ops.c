/*
 * test_ops.c - the operation table itself: the index refuses more
 * operations than it holds and duplicate names (no silent cut), the JSON
 * Schema of every input field accepts and refuses exactly what the
 * validator does at the bounds, and every operation declares its result
 * (the fixtures check each result the suites produce against it).
 */
#include "fixtures.h"
#include "core/ops_int.h"

#include <string.h>

static int op_nop(cm__ctx *ctx, json_t *in, json_t **out)
{
    (void)ctx, (void)in;
    *out = json_object();
    return CM_OK;
}

static const cm__op table_a[] = {
    {.name = "b.two", .summary = "2", .fn = op_nop},
    {.name = "a.one", .summary = "1", .fn = op_nop},
    {.name = NULL},
};
static const cm__op table_b[] = {
    {.name = "c.three", .summary = "3", .fn = op_nop},
    {.name = NULL},
};
static const cm__op table_dup[] = {
    {.name = "a.one", .summary = "again", .fn = op_nop},
    {.name = NULL},
};

START_TEST(index_larger_than_its_room_is_an_error_not_a_cut)
{
    const cm__op *dst[3];
    const cm__op *const mods[] = {table_a, table_b};
    size_t n = 99;
    ck_assert_int_eq(cm__ops_index(dst, 2, &n, mods, 2), CM_ERROR);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "3 operations, more than the 2"));
    ck_assert_int_eq(cm__ops_index(dst, 3, &n, mods, 2), CM_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(dst[0]->name, "a.one");
    ck_assert_str_eq(dst[2]->name, "c.three");
}
END_TEST

START_TEST(index_refuses_a_name_declared_twice)
{
    const cm__op *dst[8];
    const cm__op *const mods[] = {table_a, table_dup};
    size_t n = 99;
    ck_assert_int_eq(cm__ops_index(dst, 8, &n, mods, 2), CM_ERROR);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "'a.one' is declared twice"));
}
END_TEST

START_TEST(library_table_fits_its_index)
{
    ck_assert_int_eq(cm__ops_ready(), CM_OK);
    size_t n = 0;
    while (cm__op_at(n))
        n++;
    char *d = NULL;
    ck_assert_ok(cm_ops_describe(&d));
    json_t *doc = json_loads(d, 0, NULL);
    cm_free(d);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "operations")), n);
    ck_assert_uint_gt(n, 50);
    json_decref(doc);
}
END_TEST

/* A string of len code points: ASCII 'x' or the two-byte 'é'. */
static json_t *str_of(int64_t len, bool wide)
{
    size_t unit = wide ? 2 : 1;
    char *b = malloc((size_t)len * unit + 1);
    for (int64_t i = 0; i < len; i++)
        memcpy(b + i * (int64_t)unit, wide ? "\xc3\xa9" : "x", unit);
    b[len * (int64_t)unit] = '\0';
    json_t *s = json_string(b);
    free(b);
    return s;
}

/* A well-formed e-mail address or URL of exactly len characters. */
static json_t *shaped(const char *format, int64_t len)
{
    char *b = malloc((size_t)len + 1);
    memset(b, 'a', (size_t)len);
    b[len] = '\0';
    if (strcmp(format, "uri") == 0) {
        memcpy(b, "https://", 8);
    } else { /* email: a 64-character local part at most */
        int64_t at = len / 2 < 64 ? len / 2 : 64;
        b[at] = '@';
        memcpy(b + len - 4, ".com", 4);
    }
    json_t *s = json_string(b);
    free(b);
    return s;
}

static int n_compared;

/* The validator accepts v for f exactly when f's JSON Schema does. */
static void agree(const char *op, const cm__field *f, const json_t *schema, json_t *v,
                  const char *what)
{
    char err[512];
    bool schema_ok = fx_schema_check(schema, NULL, v, err, sizeof err) == 0;
    bool valid_ok = cm__validate_field(f, v) == CM_OK;
    ck_assert_msg(schema_ok == valid_ok,
                  "%s.%s (%s): the schema %s it (%s), the validator %s it (%s)", op, f->name, what,
                  schema_ok ? "accepts" : "refuses", err, valid_ok ? "accepts" : "refuses",
                  cm_error_message());
    n_compared++;
    json_decref(v);
}

static int64_t get_i(const json_t *s, const char *k, int64_t def)
{
    const json_t *v = json_object_get(s, k);
    return v ? (int64_t)json_integer_value(v) : def;
}

/* Candidate lengths/values around [lo, hi] (hi < 0: unbounded: a large one). */
static int around(int64_t out[5], int64_t lo, int64_t hi, int64_t big)
{
    int n = 0;
    if (lo > 0)
        out[n++] = lo - 1;
    out[n++] = lo;
    if (hi >= 0) {
        out[n++] = hi;
        out[n++] = hi + 1;
    } else {
        out[n++] = big;
    }
    return n;
}

START_TEST(input_schema_and_validator_agree_at_the_bounds)
{
    char *d = NULL;
    ck_assert_ok(cm_ops_describe(&d));
    json_t *doc = json_loads(d, 0, NULL);
    cm_free(d);
    const cm__op *op;
    for (size_t i = 0; (op = cm__op_at(i)); i++) {
        const json_t *props = NULL;
        size_t j;
        json_t *o;
        json_array_foreach(json_object_get(doc, "operations"), j, o)
        {
            if (strcmp(json_string_value(json_object_get(o, "name")), op->name) == 0)
                props = json_object_get(json_object_get(o, "input"), "properties");
        }
        ck_assert_ptr_nonnull(props);
        for (const cm__field *f = op->fields; f && f->name; f++) {
            const json_t *s = json_object_get(props, f->name);
            ck_assert_ptr_nonnull(s);
            const char *type = json_string_value(json_object_get(s, "type"));
            const json_t *fmt = json_object_get(s, "format");
            const char *format = fmt ? json_string_value(fmt) : NULL;
            int64_t c[5];
            int n;
            if (strcmp(type, "string") == 0 && !json_object_get(s, "enum") &&
                !json_object_get(s, "pattern") && !json_object_get(s, "x-format") &&
                !(format && strcmp(format, "date-time") == 0)) {
                n = around(c, get_i(s, "minLength", 0), get_i(s, "maxLength", -1), 100000);
                for (int k = 0; k < n; k++) {
                    if (format) { /* email, uri: only lengths a valid value can have */
                        if (c[k] >= 12)
                            agree(op->name, f, s, shaped(format, c[k]), "length");
                        continue;
                    }
                    agree(op->name, f, s, str_of(c[k], false), "ASCII length");
                    agree(op->name, f, s, str_of(c[k], true), "two-byte length");
                }
            } else if (strcmp(type, "integer") == 0) {
                n = around(c, get_i(s, "minimum", 0), get_i(s, "maximum", -1), (int64_t)1 << 53);
                for (int k = 0; k < n; k++)
                    agree(op->name, f, s, json_integer(c[k]), "value");
                agree(op->name, f, s, json_integer(-1), "negative");
            } else if (strcmp(type, "array") == 0) {
                const json_t *items = json_object_get(s, "items");
                bool strings =
                    strcmp(json_string_value(json_object_get(items, "type")), "string") == 0;
                n = around(c, get_i(s, "minItems", 0), get_i(s, "maxItems", -1), 5000);
                for (int k = 0; k < n; k++) {
                    json_t *a = json_array();
                    for (int64_t m = 0; m < c[k]; m++)
                        json_array_append_new(a, strings ? json_string("ab") : json_real(0.5));
                    agree(op->name, f, s, a, "item count");
                }
                if (strings) {
                    int64_t l[5];
                    int nl = around(l, get_i(items, "minLength", 0), get_i(items, "maxLength", -1),
                                    100000);
                    for (int k = 0; k < nl; k++)
                        agree(op->name, f, s, json_pack("[o]", str_of(l[k], true)), "item length");
                }
            }
        }
    }
    json_decref(doc);
    ck_assert_int_gt(n_compared, 200);
}
END_TEST

START_TEST(every_operation_declares_its_result)
{
    const cm__op *op;
    for (size_t i = 0; (op = cm__op_at(i)); i++)
        ck_assert_msg(op->result != NULL, "%s declares no result", op->name);
}
END_TEST

/* The other suites run most operations through fx_exec, which checks each
 * result against its declaration; these are the ones they do not reach. */
START_TEST(results_of_the_remaining_operations_match_their_declarations)
{
    json_t *r;
    ck_assert_ok(fx_exec(&r, FX.sys, "members.signup", "{s:s,s:s,s:s}", "email", "a@example.org",
                         "name", "A", "password", "a long password"));
    const char *token = json_string_value(json_object_get(json_object_get(r, "session"), "token"));
    cm_actor *a;
    ck_assert_ok(cm_actor_from_session(&a, FX.store, token));
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, a, "members.me", "{}"));
    ck_assert_ok(fx_exec(NULL, a, "auth.change_password", "{s:s,s:s}", "current_password",
                         "a long password", "new_password", "another long one"));
    ck_assert_ok(fx_exec(NULL, a, "auth.revoke_sessions", "{}"));
    cm_actor_free(a);

    ck_assert_ok(cm_jobs_define(FX.store, "mail.send", NULL));
    int64_t id;
    ck_assert_ok(cm_jobs_enqueue(&id, FX.store, "mail.send", "{\"to\":\"a\"}", 10, NULL));
    ck_assert_ok(fx_exec(NULL, FX.sys, "jobs.list", "{}"));
    ck_assert_ok(fx_exec(NULL, FX.sys, "jobs.get", "{s:I}", "job_id", (json_int_t)id));
    ck_assert_ok(fx_exec(NULL, FX.sys, "jobs.stats", "{}"));
    ck_assert_ok(fx_exec(NULL, FX.sys, "jobs.cancel", "{s:I}", "job_id", (json_int_t)id));
    ck_assert_ok(fx_exec(NULL, FX.sys, "jobs.retry", "{s:I}", "job_id", (json_int_t)id));
    ck_assert_ok(fx_exec(NULL, FX.sys, "jobs.redrive", "{}"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, index_larger_than_its_room_is_an_error_not_a_cut);
    tcase_add_test(tc, index_refuses_a_name_declared_twice);
    tcase_add_test(tc, library_table_fits_its_index);
    tcase_add_test(tc, input_schema_and_validator_agree_at_the_bounds);
    tcase_add_test(tc, every_operation_declares_its_result);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("results");
    tcase_add_checked_fixture(tr, fx_setup, fx_teardown);
    tcase_add_test(tr, results_of_the_remaining_operations_match_their_declarations);
    suite_add_tcase(s, tr);
    return fx_run(s);
}
