/*
 * test_error.c - the status table, the thread-local error detail, the
 * allocator hook's rules and the settable clock.
 */
#include "fixtures.h"
#include "util/util.h"

#include <pthread.h>
#include <string.h>

START_TEST(status_names_and_messages_come_from_one_table)
{
    ck_assert_str_eq(cm_status_name(CM_OK), "CM_OK");
    ck_assert_str_eq(cm_status_name(CM_EINVAL), "CM_EINVAL");
    ck_assert_str_eq(cm_status_name(CM_EUNKNOWNOP), "CM_EUNKNOWNOP");
    ck_assert_str_eq(cm_status_name(12345), "CM_UNKNOWN");
    ck_assert_str_eq(cm_strerror(CM_ENOMEM), "out of memory");
    /* every code from 0 down to the minimum has a distinct name */
    for (int a = 0; a >= CM_STATUS_MIN_; a--)
        for (int b = a - 1; b >= CM_STATUS_MIN_; b--)
            ck_assert_str_ne(cm_status_name(a), cm_status_name(b));
}
END_TEST

START_TEST(detail_is_set_by_failing_calls_and_cleared_on_request)
{
    cm_error_clear();
    ck_assert_int_eq(cm_error_code(), CM_OK);
    ck_assert_str_eq(cm_error_message(), "");
    cm_store *s = NULL;
    ck_assert_int_eq(cm_store_open(&s, "mysql://x", NULL), CM_ENOTSUP);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(cm_error_code(), CM_ENOTSUP);
    ck_assert_str_eq(cm_error_field(), "uri");
    ck_assert(strstr(cm_error_message(), "scheme") != NULL);
    cm_error_clear();
    ck_assert_int_eq(cm_error_code(), CM_OK);
}
END_TEST

static void *other_thread(void *p)
{
    (void)p;
    cm__error_set(CM_EBUSY, "from another thread");
    return NULL;
}

START_TEST(detail_is_per_thread)
{
    cm__error_set_field(CM_EINVAL, "title", "title: required");
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    ck_assert_int_eq(cm_error_code(), CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), "title");
}
END_TEST

START_TEST(long_messages_are_truncated_not_overflowed)
{
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cm__error_set(CM_ERROR, "%s", big);
    ck_assert_uint_eq(strlen(cm_error_message()), 255);
}
END_TEST

/* A new detail may quote the current one (cron.c, enqueue.c, migrate.c do:
 * "timezone: %s" with cm_error_message()): formatting must not read the
 * buffer it is writing. */
START_TEST(a_message_may_quote_the_previous_one)
{
    cm__error_set_field(CM_EINVAL, "tz", "unknown time zone Mars/Olympus");
    ck_assert_int_eq(cm__error_set_field(CM_EINVAL, "timezone", "timezone: %s (field %s)",
                                         cm_error_message(), cm_error_field()),
                     CM_EINVAL);
    ck_assert_str_eq(cm_error_message(), "timezone: unknown time zone Mars/Olympus (field tz)");
    ck_assert_str_eq(cm_error_field(), "timezone");
}
END_TEST

START_TEST(allocator_cannot_be_replaced_after_first_use)
{
    void *p = cm__malloc(10);
    cm__free(p);
    cm_allocator a = CM_ALLOCATOR_INIT;
    ck_assert_int_eq(cm_set_allocator(&a), CM_EBUSY);
}
END_TEST

static int64_t fixed(void *p)
{
    return *(int64_t *)p;
}

START_TEST(clock_can_be_set_and_restored)
{
    int64_t t = 1700000000000000;
    cm_set_clock(fixed, &t);
    ck_assert_int_eq(cm_now_us(), t);
    cm_set_clock(NULL, NULL);
    ck_assert_int_gt(cm_now_us(), 1700000000000000);
}
END_TEST

START_TEST(version_matches_header)
{
    ck_assert_uint_eq(cm_version_hex(), CM_VERSION_HEX);
    ck_assert_str_eq(cm_version_string(), CM_VERSION_STRING);
    ck_assert(CM_VERSION_CHECK(0, 1, 0));
}
END_TEST

static int log_count;
static void count_log(int level, const char *c, const char *m, void *p)
{
    (void)level, (void)c, (void)m, (void)p;
    log_count++;
}

START_TEST(log_callback_receives_library_messages)
{
    cm_set_log_callback(count_log, CM_LOG_DEBUG, NULL);
    cm__log(CM_LOG_INFO, "test", "hello %d", 1);
    cm__log(CM_LOG_DEBUG, "test", "hello %d", 2);
    ck_assert_int_eq(log_count, 2);
    cm_set_log_callback(count_log, CM_LOG_WARN, NULL);
    cm__log(CM_LOG_INFO, "test", "filtered");
    ck_assert_int_eq(log_count, 2);
    cm_set_log_callback(NULL, 0, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, status_names_and_messages_come_from_one_table);
    tcase_add_test(tc, detail_is_set_by_failing_calls_and_cleared_on_request);
    tcase_add_test(tc, detail_is_per_thread);
    tcase_add_test(tc, long_messages_are_truncated_not_overflowed);
    tcase_add_test(tc, a_message_may_quote_the_previous_one);
    tcase_add_test(tc, allocator_cannot_be_replaced_after_first_use);
    tcase_add_test(tc, clock_can_be_set_and_restored);
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, log_callback_receives_library_messages);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
