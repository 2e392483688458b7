/*
 * test_idem.c - Idempotency-Key records (include/community/idem.h) on
 * SQLite and, as pg-idem, on PostgreSQL: a claim is new once, busy while
 * it runs, replays the stored answer once completed (also through a
 * second store on the same database, as another host would), refuses
 * another request under the same key, can be released, lapses after its
 * lease, and stored answers expire after their TTL. cm_idem_exec() stores
 * an operation's result as the answer in the operation's transaction: both
 * commit or neither does, and a request whose claim was lost commits
 * nothing.
 */
#include "fixtures.h"

#include <stdio.h>
#include <string.h>

#define SEC 1000000LL

static int claim(const char *scope, const char *key, const char *hash, int32_t *status, char **resp,
                 size_t *len)
{
    return cm_idem_claim(status, resp, len, FX.store, scope, key, hash, 60 * SEC);
}

START_TEST(claim_then_replay)
{
    int32_t st;
    char *r;
    size_t len;
    fx_clock_set(1700000000LL * SEC);
    ck_assert_int_eq(claim("member:1", "k1", "h1", &st, &r, &len), CM_IDEM_NEW);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(claim("member:1", "k1", "h1", &st, &r, &len), CM_IDEM_BUSY);
    ck_assert_int_eq(claim("member:1", "k1", "h2", &st, &r, &len), CM_IDEM_MISMATCH);
    /* another scope, same key: its own record */
    ck_assert_int_eq(claim("member:2", "k1", "h2", &st, &r, &len), CM_IDEM_NEW);
    ck_assert_ok(cm_idem_complete(FX.store, "member:1", "k1", "h1", 201, "a\0b", 3, 3600 * SEC));
    ck_assert_int_eq(claim("member:1", "k1", "h1", &st, &r, &len), CM_IDEM_REPLAY);
    ck_assert_int_eq(st, 201);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(r, "a\0b", 4);
    cm_free(r);
    ck_assert_int_eq(claim("member:1", "k1", "h2", &st, &r, &len), CM_IDEM_MISMATCH);

    /* another store on the same database sees the same records */
    cm_store *other;
    ck_assert_ok(cm_store_open(&other, FX.uri, NULL));
    ck_assert_int_eq(cm_idem_claim(&st, &r, &len, other, "member:1", "k1", "h1", 60 * SEC),
                     CM_IDEM_REPLAY);
    ck_assert_int_eq(st, 201);
    cm_free(r);
    ck_assert_int_eq(cm_idem_claim(&st, &r, &len, other, "member:2", "k1", "h2", 60 * SEC),
                     CM_IDEM_BUSY);
    cm_store_close(other);

    /* the stored answer expires after its TTL */
    fx_clock_advance(3601 * SEC);
    ck_assert_int_eq(claim("member:1", "k1", "h2", &st, &r, &len), CM_IDEM_NEW);
    fx_clock_real();
}
END_TEST

START_TEST(release_and_lapse)
{
    int32_t st;
    char *r;
    fx_clock_set(1700000000LL * SEC);
    ck_assert_int_eq(claim("anon:1.2.3.4", "k", "h", &st, &r, NULL), CM_IDEM_NEW);
    ck_assert_ok(cm_idem_release(FX.store, "anon:1.2.3.4", "k", "h"));
    ck_assert_int_eq(claim("anon:1.2.3.4", "k", "h", &st, &r, NULL), CM_IDEM_NEW);
    /* a claim whose host never answers lapses after the lease */
    fx_clock_advance(59 * SEC);
    ck_assert_int_eq(claim("anon:1.2.3.4", "k", "h", &st, &r, NULL), CM_IDEM_BUSY);
    fx_clock_advance(2 * SEC);
    ck_assert_int_eq(claim("anon:1.2.3.4", "k", "h", &st, &r, NULL), CM_IDEM_NEW);
    /* release keeps stored answers */
    ck_assert_ok(cm_idem_complete(FX.store, "anon:1.2.3.4", "k", "h", 200, "{}", 2, 10 * SEC));
    ck_assert_ok(cm_idem_release(FX.store, "anon:1.2.3.4", "k", "h"));
    ck_assert_int_eq(claim("anon:1.2.3.4", "k", "h", &st, &r, NULL), CM_IDEM_REPLAY);
    ck_assert_str_eq(r, "{}");
    cm_free(r);
    /* expired rows are pruned by later claims */
    fx_clock_advance(11 * SEC);
    ck_assert_int_eq(claim("anon:5.6.7.8", "k", "h", &st, &r, NULL), CM_IDEM_NEW);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM idempotency_keys"), 1);
    fx_clock_real();
}
END_TEST

START_TEST(arguments_are_checked)
{
    int32_t st;
    char *r;
    char long_key[300];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    ck_assert_int_eq(cm_idem_claim(&st, &r, NULL, NULL, "s", "k", "h", SEC), CM_EINVAL);
    ck_assert_int_eq(claim("", "k", "h", &st, &r, NULL), CM_EINVAL);
    ck_assert_int_eq(claim("s", long_key, "h", &st, &r, NULL), CM_EINVAL);
    ck_assert_int_eq(claim("s", "k", NULL, &st, &r, NULL), CM_EINVAL);
    ck_assert_int_eq(cm_idem_claim(&st, &r, NULL, FX.store, "s", "k", "h", 0), CM_EINVAL);
    ck_assert_int_eq(cm_idem_complete(FX.store, "s", "k", "h", 200, NULL, 1, SEC), CM_EINVAL);
    ck_assert_int_eq(cm_idem_complete(FX.store, "s", "k", "h", 200, "x", 1, 0), CM_EINVAL);
    ck_assert_int_eq(cm_idem_release(FX.store, "s", NULL, "h"), CM_EINVAL);
    /* completing or releasing a key never claimed does nothing */
    ck_assert_ok(cm_idem_complete(FX.store, "s", "k", "h", 200, "x", 1, SEC));
    ck_assert_ok(cm_idem_release(FX.store, "s", "k", "h"));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM idempotency_keys"), 0);
}
END_TEST

static int exec_group(const cm_actor *a, const char *key, const char *hash, const char *slug,
                      char **out)
{
    char in[128];
    (void)snprintf(in, sizeof in, "{\"name\":\"Group %s\",\"slug\":\"%s\",\"kind\":\"chapter\"}",
                   slug, slug);
    return cm_idem_exec(out, FX.store, a, "groups.create", in, strlen(in), "member:1", key, hash,
                        201, 3600 * SEC);
}

START_TEST(exec_answer_commits_with_the_operation)
{
    cm_actor *admin = fx_member("idem-admin@example.test", "admin");
    int32_t st;
    char *r, *out;
    size_t len;
    long long groups = fx_count("SELECT count(*) FROM groups");

    ck_assert_int_eq(claim("member:1", "g1", "h1", &st, &r, &len), CM_IDEM_NEW);
    ck_assert_ok(exec_group(admin, "g1", "h1", "g-one", &out));
    ck_assert_int_eq(fx_count("SELECT count(*) FROM groups"), groups + 1);
    ck_assert_int_eq(claim("member:1", "g1", "h1", &st, &r, &len), CM_IDEM_REPLAY);
    ck_assert_int_eq(st, 201);
    ck_assert_uint_eq(len, strlen(out));
    ck_assert_str_eq(r, out);
    ck_assert_int_eq(r[0], '{');
    cm_free(r);
    cm_free(out);
    ck_assert_int_eq(claim("member:1", "g1", "h2", &st, &r, &len), CM_IDEM_MISMATCH);

    /* a failed operation commits nothing and leaves the claim held */
    ck_assert_int_eq(claim("member:1", "g2", "h1", &st, &r, &len), CM_IDEM_NEW);
    int rc = exec_group(admin, "g2", "h1", "g-one", &out);
    ck_assert_int_lt(rc, 0);
    ck_assert_int_ne(rc, CM_ELEASE);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(claim("member:1", "g2", "h1", &st, &r, &len), CM_IDEM_BUSY);
    ck_assert_ok(cm_idem_release(FX.store, "member:1", "g2", "h1"));

    /* a claim that lapsed while its request ran: another request took the
     * key again and answered it, so the first commits nothing */
    fx_clock_set(1700000000LL * SEC);
    ck_assert_int_eq(claim("member:1", "g3", "h3", &st, &r, &len), CM_IDEM_NEW);
    fx_clock_advance(61 * SEC);
    ck_assert_int_eq(claim("member:1", "g3", "h3", &st, &r, &len), CM_IDEM_NEW);
    ck_assert_ok(exec_group(admin, "g3", "h3", "g-three", &out));
    cm_free(out);
    ck_assert_int_eq(exec_group(admin, "g3", "h3", "g-four", &out), CM_ELEASE);
    ck_assert_ptr_null(out);
    /* ... or took it for another request */
    ck_assert_int_eq(claim("member:1", "g4", "h4", &st, &r, &len), CM_IDEM_NEW);
    fx_clock_advance(61 * SEC);
    ck_assert_int_eq(claim("member:1", "g4", "h5", &st, &r, &len), CM_IDEM_NEW);
    ck_assert_int_eq(exec_group(admin, "g4", "h4", "g-four", &out), CM_ELEASE);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM groups"), groups + 2);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM groups WHERE slug = 'g-four'"), 0);
    fx_clock_real();

    /* arguments */
    ck_assert_int_eq(
        cm_idem_exec(NULL, FX.store, admin, "groups.create", NULL, 0, "s", "k", "h", 201, SEC),
        CM_EINVAL);
    ck_assert_int_eq(
        cm_idem_exec(&out, FX.store, admin, "groups.create", NULL, 0, "s", "", "h", 201, SEC),
        CM_EINVAL);
    ck_assert_int_eq(
        cm_idem_exec(&out, FX.store, admin, "groups.create", NULL, 0, "s", "k", "h", 201, 0),
        CM_EINVAL);
    cm_actor_free(admin);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idem");
    TCase *tc = tcase_create("idem");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, claim_then_replay);
    tcase_add_test(tc, release_and_lapse);
    tcase_add_test(tc, arguments_are_checked);
    tcase_add_test(tc, exec_answer_commits_with_the_operation);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
