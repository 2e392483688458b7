/*
 * test_time.c - Check suite "time": RFC 3339 formatting and parsing
 * (lib/util/time.c) and IANA time zone conversions (lib/util/tz.c).
 *
 * Every expected value was obtained on a Debian 12 machine (tzdata 2025b)
 * with GNU date, e.g. `TZ=Europe/Berlin date -d 2026-03-29T01:30:00Z +%FT%T`
 * or `TZ=Europe/Berlin date -d '2026-03-29 03:00' +%s`, never with the code
 * under test. Zone tests need /usr/share/zoneinfo (Debian's tzdata).
 */
#include "fixtures.h"
#include "util/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

/* Wall clock in tz -> UTC, compared as an RFC 3339 string. */
static void l2u(const char *tz, int y, int mo, int d, int h, int mi, int s, const char *want)
{
    int64_t us = 0;
    char buf[32];
    int rc = cm__time_local_to_utc(&us, tz, y, mo, d, h, mi, s);
    ck_assert_msg(rc == CM_OK, "%s %04d-%02d-%02d %02d:%02d:%02d: rc %d (%s)", tz, y, mo, d, h, mi,
                  s, rc, cm_error_message());
    cm__time_format(buf, us);
    ck_assert_msg(strcmp(buf, want) == 0, "%s %04d-%02d-%02dT%02d:%02d:%02d -> %s, want %s", tz, y,
                  mo, d, h, mi, s, buf, want);
}

/* UTC instant (RFC 3339) -> wall clock in tz. */
static void u2l(const char *tz, const char *instant, const char *want)
{
    int64_t us = 0;
    char buf[32];
    ck_assert_int_eq(cm__time_parse(&us, instant), CM_OK);
    int rc = cm__time_utc_to_local(buf, tz, us);
    ck_assert_msg(rc == CM_OK, "%s %s: rc %d (%s)", tz, instant, rc, cm_error_message());
    ck_assert_msg(strcmp(buf, want) == 0, "%s %s -> %s, want %s", tz, instant, buf, want);
}

static char tzdir[64];

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];
    (void)snprintf(path, sizeof path, "%s/%s", tzdir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A minimal TZif v2 file: no transitions, one type (utoff), the footer. */
static size_t make_tzif(uint8_t *b, int32_t utoff, const char *footer)
{
    size_t n = 0;
    for (int part = 0; part < 2; part++) {
        memset(b + n, 0, 44);
        memcpy(b + n, "TZif2", 5);
        put32(b + n + 36, 1); /* typecnt */
        put32(b + n + 40, 4); /* charcnt */
        n += 44;
        put32(b + n, (uint32_t)utoff);
        b[n + 4] = 0;
        b[n + 5] = 0;
        memcpy(b + n + 6, "XXX", 4);
        n += 10;
    }
    n += (size_t)sprintf((char *)b + n, "\n%s\n", footer);
    return n;
}

static void tzdir_setup(void)
{
    (void)snprintf(tzdir, sizeof tzdir, "/tmp/cm-test-tz-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tzdir));
    ck_assert_int_eq(setenv("TZDIR", tzdir, 1), 0);
}

static void tzdir_teardown(void)
{
    static const char *names[] = {"Posix", "Bad", "Trunc"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", tzdir, names[i]);
        (void)unlink(path);
    }
    (void)rmdir(tzdir);
    (void)unsetenv("TZDIR");
}

/* ---- RFC 3339 ---- */

START_TEST(rfc3339_format_parse)
{
    int64_t us = 0;
    char buf[32];
    ck_assert_int_eq(cm__time_parse(&us, "2026-01-02T03:04:05Z"), CM_OK);
    ck_assert_int_eq(us, INT64_C(1767323045) * 1000000);
    cm__time_format(buf, us);
    ck_assert_str_eq(buf, "2026-01-02T03:04:05Z");

    ck_assert_int_eq(cm__time_parse(&us, "2026-03-29T03:30:00+02:00"), CM_OK);
    ck_assert_int_eq(us, INT64_C(1774747800) * 1000000);
    cm__time_format(buf, us);
    ck_assert_str_eq(buf, "2026-03-29T01:30:00Z");

    ck_assert_int_eq(cm__time_parse(&us, "2026-05-05T05:05:05.123456789-05:30"), CM_OK);
    ck_assert_int_eq(us, INT64_C(1777977305) * 1000000 + 123456);
    cm__time_format(buf, us);
    ck_assert_str_eq(buf, "2026-05-05T10:35:05.123456Z");

    ck_assert_int_eq(cm__time_parse(&us, "2026-05-05t05:05:05.5z"), CM_OK);
    ck_assert_int_eq(us, INT64_C(1777957505) * 1000000 + 500000);

    ck_assert_int_eq(cm__time_parse(&us, "1969-12-31T23:59:59.5Z"), CM_OK);
    ck_assert_int_eq(us, -500000);
    cm__time_format(buf, us);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.500000Z");

    ck_assert_int_eq(cm__time_parse(&us, "2000-02-29T00:00:00Z"), CM_OK);
    ck_assert_int_eq(us, INT64_C(951782400) * 1000000);

    /* format -> parse round trip over a spread of instants */
    for (int64_t v = -INT64_C(2208988800000000); v < INT64_C(4102444800000000);
         v += INT64_C(86399123457) * 37) {
        int64_t back = 0;
        cm__time_format(buf, v);
        ck_assert_int_eq(cm__time_parse(&back, buf), CM_OK);
        ck_assert_int_eq(back, v);
    }
}
END_TEST

START_TEST(rfc3339_invalid)
{
    static const char *bad[] = {
        "x",
        "",
        "2026-02-30T00:00Z",
        "2026-02-30T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00+2:00",
        "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00Zjunk",
        "2026/01/01T00:00:00Z",
        "2026-01-01X00:00:00Z",
        "26-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        ck_assert_msg(cm__time_parse(&us, bad[i]) == CM_EINVAL, "accepted '%s'", bad[i]);
    }
}
END_TEST

/* ---- zone names ---- */

START_TEST(tz_validity)
{
    ck_assert(cm__tz_valid("Europe/Berlin"));
    ck_assert(cm__tz_valid("America/New_York"));
    ck_assert(cm__tz_valid("UTC"));
    ck_assert(cm__tz_valid("Etc/GMT+5"));
    ck_assert(cm__tz_valid("America/Argentina/Buenos_Aires"));
    static const char *bad[] = {
        "Mars/Olympus",
        "../etc/passwd",
        "",
        "/usr/share/zoneinfo/UTC",
        "Europe/../UTC",
        "Europe/Berlin ",
        "Europe\\Berlin",
        "Europe",
        "Europe/",
        "zone.tab",
        "Europe/Berlin\n",
        "europe/berlin_",
        "UTC;rm",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!cm__tz_valid(bad[i]), "accepted '%s'", bad[i]);
    ck_assert(!cm__tz_valid(NULL));

    int64_t us = 7;
    char buf[32];
    cm_error_clear();
    ck_assert_int_eq(cm__time_local_to_utc(&us, "Mars/Olympus", 2026, 1, 1, 0, 0, 0), CM_EINVAL);
    ck_assert_int_eq(cm_error_code(), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "Mars/Olympus"));
    ck_assert_int_eq(us, 7);
    ck_assert_int_eq(cm__time_utc_to_local(buf, "../etc/passwd", 0), CM_EINVAL);
    ck_assert_int_eq(cm__time_local_to_utc(&us, "UTC", 2026, 13, 1, 0, 0, 0), CM_EINVAL);
}
END_TEST

/* ---- conversions ---- */

START_TEST(tz_berlin)
{
    l2u("Europe/Berlin", 2026, 1, 15, 12, 0, 0, "2026-01-15T11:00:00Z");
    l2u("Europe/Berlin", 2026, 7, 1, 12, 0, 0, "2026-07-01T10:00:00Z");
    /* spring forward 2026-03-29 02:00 -> 03:00 */
    l2u("Europe/Berlin", 2026, 3, 29, 1, 59, 59, "2026-03-29T00:59:59Z");
    l2u("Europe/Berlin", 2026, 3, 29, 3, 0, 0, "2026-03-29T01:00:00Z");
    l2u("Europe/Berlin", 2026, 3, 29, 2, 30, 0, "2026-03-29T01:30:00Z"); /* gap: = 03:30 CEST */
    l2u("Europe/Berlin", 2026, 3, 29, 2, 0, 0, "2026-03-29T01:00:00Z");
    u2l("Europe/Berlin", "2026-03-29T00:59:59Z", "2026-03-29T01:59:59");
    u2l("Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T03:00:00");
    u2l("Europe/Berlin", "2026-03-29T01:30:00Z", "2026-03-29T03:30:00");
    /* fall back 2026-10-25 03:00 -> 02:00: 02:30 happens twice, first wins */
    l2u("Europe/Berlin", 2026, 10, 25, 1, 59, 59, "2026-10-24T23:59:59Z");
    l2u("Europe/Berlin", 2026, 10, 25, 2, 30, 0, "2026-10-25T00:30:00Z");
    l2u("Europe/Berlin", 2026, 10, 25, 3, 0, 0, "2026-10-25T02:00:00Z");
    u2l("Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00");
    u2l("Europe/Berlin", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00");
}
END_TEST

START_TEST(tz_new_york)
{
    l2u("America/New_York", 2026, 3, 8, 1, 59, 59, "2026-03-08T06:59:59Z");
    l2u("America/New_York", 2026, 3, 8, 3, 0, 0, "2026-03-08T07:00:00Z");
    l2u("America/New_York", 2026, 3, 8, 2, 30, 0, "2026-03-08T07:30:00Z"); /* gap: 03:30 EDT */
    u2l("America/New_York", "2026-03-08T07:30:00Z", "2026-03-08T03:30:00");
    /* fall back 2026-11-01 02:00 EDT -> 01:00 EST */
    l2u("America/New_York", 2026, 11, 1, 0, 59, 59, "2026-11-01T04:59:59Z");
    l2u("America/New_York", 2026, 11, 1, 1, 30, 0, "2026-11-01T05:30:00Z"); /* first (EDT) */
    l2u("America/New_York", 2026, 11, 1, 2, 0, 0, "2026-11-01T07:00:00Z");
    u2l("America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T01:30:00");
    u2l("America/New_York", "2026-11-01T06:30:00Z", "2026-11-01T01:30:00");
}
END_TEST

/* 2090 lies beyond the transition table: the TZif footer rule decides. */
START_TEST(tz_far_future_footer)
{
    l2u("Europe/Berlin", 2090, 7, 1, 12, 0, 0, "2090-07-01T10:00:00Z");
    l2u("Europe/Berlin", 2090, 1, 15, 12, 0, 0, "2090-01-15T11:00:00Z");
    l2u("Europe/Berlin", 2090, 3, 26, 2, 30, 0, "2090-03-26T01:30:00Z"); /* gap */
    u2l("Europe/Berlin", "2090-03-26T00:59:59Z", "2090-03-26T01:59:59");
    u2l("Europe/Berlin", "2090-03-26T01:00:00Z", "2090-03-26T03:00:00");
    u2l("Europe/Berlin", "2090-10-29T00:59:59Z", "2090-10-29T02:59:59");
    u2l("Europe/Berlin", "2090-10-29T01:00:00Z", "2090-10-29T02:00:00");
    l2u("America/New_York", 2090, 7, 4, 9, 0, 0, "2090-07-04T13:00:00Z");
    l2u("America/New_York", 2090, 11, 5, 1, 30, 0, "2090-11-05T05:30:00Z"); /* first */
    u2l("America/New_York", "2090-11-05T06:30:00Z", "2090-11-05T01:30:00");
    u2l("America/New_York", "2090-03-12T06:59:59Z", "2090-03-12T01:59:59");
    u2l("America/New_York", "2090-03-12T07:00:00Z", "2090-03-12T03:00:00");
    /* explicit rule times: -1 (Nuuk), 26 (Jerusalem), 24 (Santiago); <+03> names */
    u2l("America/Nuuk", "2090-03-26T00:59:59Z", "2090-03-25T22:59:59");
    u2l("America/Nuuk", "2090-03-26T01:00:00Z", "2090-03-26T00:00:00");
    u2l("America/Nuuk", "2090-10-29T00:59:59Z", "2090-10-28T23:59:59");
    u2l("America/Nuuk", "2090-10-29T01:00:00Z", "2090-10-28T23:00:00");
    u2l("Asia/Jerusalem", "2090-03-23T23:59:59Z", "2090-03-24T01:59:59");
    u2l("Asia/Jerusalem", "2090-03-24T00:00:00Z", "2090-03-24T03:00:00");
    u2l("Asia/Jerusalem", "2090-10-29T22:59:59Z", "2090-10-30T00:59:59");
    u2l("Asia/Jerusalem", "2090-10-29T23:00:00Z", "2090-10-30T01:00:00");
    u2l("America/Santiago", "2090-09-03T03:59:59Z", "2090-09-02T23:59:59");
    u2l("America/Santiago", "2090-09-03T04:00:00Z", "2090-09-03T01:00:00");
    u2l("America/Santiago", "2090-04-02T02:59:59Z", "2090-04-01T23:59:59");
    u2l("America/Santiago", "2090-04-02T03:00:00Z", "2090-04-01T23:00:00");
    /* negative DST (Irish "winter time") */
    u2l("Europe/Dublin", "2090-10-29T00:59:59Z", "2090-10-29T01:59:59");
    u2l("Europe/Dublin", "2090-10-29T01:00:00Z", "2090-10-29T01:00:00");
    u2l("Europe/Dublin", "2090-03-26T00:59:59Z", "2090-03-26T00:59:59");
    u2l("Europe/Dublin", "2090-03-26T01:00:00Z", "2090-03-26T02:00:00");
}
END_TEST

START_TEST(tz_half_hours_and_south)
{
    l2u("Asia/Kolkata", 2026, 1, 15, 12, 0, 0, "2026-01-15T06:30:00Z");
    u2l("Asia/Kolkata", "2026-06-30T18:29:59Z", "2026-06-30T23:59:59");
    u2l("Asia/Kolkata", "1941-10-01T00:00:00Z", "1941-10-01T06:30:00"); /* war time +06:30 */
    l2u("UTC", 2026, 5, 5, 5, 5, 5, "2026-05-05T05:05:05Z");

    /* Lord Howe: +10:30 standard, +11 summer (a 30-minute shift) */
    l2u("Australia/Lord_Howe", 2026, 1, 15, 12, 0, 0, "2026-01-15T01:00:00Z");
    l2u("Australia/Lord_Howe", 2026, 7, 15, 12, 0, 0, "2026-07-15T01:30:00Z");
    u2l("Australia/Lord_Howe", "2026-04-04T14:59:59Z", "2026-04-05T01:59:59");
    u2l("Australia/Lord_Howe", "2026-04-04T15:00:00Z", "2026-04-05T01:30:00");
    l2u("Australia/Lord_Howe", 2026, 4, 5, 1, 45, 0, "2026-04-04T14:45:00Z"); /* first */
    u2l("Australia/Lord_Howe", "2026-10-03T15:29:59Z", "2026-10-04T01:59:59");
    u2l("Australia/Lord_Howe", "2026-10-03T15:30:00Z", "2026-10-04T02:30:00");
    l2u("Australia/Lord_Howe", 2026, 10, 4, 2, 15, 0, "2026-10-03T15:45:00Z"); /* gap */
    u2l("Australia/Lord_Howe", "2090-09-30T15:29:59Z", "2090-10-01T01:59:59");
    u2l("Australia/Lord_Howe", "2090-09-30T15:30:00Z", "2090-10-01T02:30:00");
    u2l("Australia/Lord_Howe", "2090-04-01T14:59:59Z", "2090-04-02T01:59:59");
    u2l("Australia/Lord_Howe", "2090-04-01T15:00:00Z", "2090-04-02T01:30:00");

    /* Sydney: summer time spans the new year */
    l2u("Australia/Sydney", 2026, 1, 15, 12, 0, 0, "2026-01-15T01:00:00Z");
    l2u("Australia/Sydney", 2026, 7, 15, 12, 0, 0, "2026-07-15T02:00:00Z");
    l2u("Australia/Sydney", 2026, 4, 5, 2, 30, 0, "2026-04-04T15:30:00Z"); /* first (AEDT) */
    u2l("Australia/Sydney", "2026-04-04T16:30:00Z", "2026-04-05T02:30:00");
    u2l("Australia/Sydney", "2026-04-04T15:59:59Z", "2026-04-05T02:59:59");
    u2l("Australia/Sydney", "2026-04-04T16:00:00Z", "2026-04-05T02:00:00");
    l2u("Australia/Sydney", 2026, 10, 4, 2, 30, 0, "2026-10-03T16:30:00Z"); /* gap */
    u2l("Australia/Sydney", "2026-10-03T16:30:00Z", "2026-10-04T03:30:00");
    u2l("Australia/Sydney", "2026-10-03T15:59:59Z", "2026-10-04T01:59:59");
    u2l("Australia/Sydney", "2026-10-03T16:00:00Z", "2026-10-04T03:00:00");
    l2u("Australia/Sydney", 2090, 1, 1, 0, 30, 0, "2089-12-31T13:30:00Z");
    l2u("Australia/Sydney", 2090, 12, 31, 23, 30, 0, "2090-12-31T12:30:00Z");
    u2l("Australia/Sydney", "2090-09-30T15:59:59Z", "2090-10-01T01:59:59");
    u2l("Australia/Sydney", "2090-09-30T16:00:00Z", "2090-10-01T03:00:00");
    u2l("Australia/Sydney", "2090-04-01T15:59:59Z", "2090-04-02T02:59:59");
    u2l("Australia/Sydney", "2090-04-01T16:00:00Z", "2090-04-02T02:00:00");
}
END_TEST

/* ---- TZDIR, POSIX J/n rules, corrupt data ---- */

START_TEST(tz_tzdir_posix_rules)
{
    uint8_t b[256];
    /* expected values: TZ='XXX3YYY,J60/2,300/3' date -d ... */
    write_file("Posix", b, make_tzif(b, -3 * 3600, "XXX3YYY,J60/2,300/3"));
    ck_assert(cm__tz_valid("Posix"));
    ck_assert(!cm__tz_valid("Europe/Berlin")); /* not in this TZDIR */
    ck_assert(cm__tz_valid("UTC"));            /* built in when absent */
    u2l("UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00");
    u2l("Posix", "2030-03-01T04:59:59Z", "2030-03-01T01:59:59");
    u2l("Posix", "2030-03-01T05:00:00Z", "2030-03-01T03:00:00");
    u2l("Posix", "2032-03-01T04:59:59Z", "2032-03-01T01:59:59"); /* J60 skips Feb 29 */
    u2l("Posix", "2032-03-01T05:00:00Z", "2032-03-01T03:00:00");
    u2l("Posix", "2032-02-29T12:00:00Z", "2032-02-29T09:00:00");
    u2l("Posix", "2030-10-28T04:59:59Z", "2030-10-28T02:59:59"); /* n counts Feb 29 */
    u2l("Posix", "2030-10-28T05:00:00Z", "2030-10-28T02:00:00");
    u2l("Posix", "2032-10-27T04:59:59Z", "2032-10-27T02:59:59");
    u2l("Posix", "2032-10-27T05:00:00Z", "2032-10-27T02:00:00");
}
END_TEST

START_TEST(tz_corrupt_data)
{
    uint8_t b[256];
    size_t n;
    static const char *bad_footers[] = {
        "XX3",
        "XXX",
        "XXX3YYY,M13.1.0,M1.1.0",
        "XXX3YYY,M3.6.0,M10.1.0",
        "XXX3YYY,J0,J10",
        "XXX3YYY,366,1",
        "XXX3YYY,M3.1.0",
        "XXX3YYY,M3.1.0,M10.1.0junk",
        "<XX>3",
        "<X!X>3",
        "XXX3YYY,M3.1.0/168,M10.1.0",
    };
    for (size_t i = 0; i < sizeof bad_footers / sizeof bad_footers[0]; i++) {
        write_file("Bad", b, make_tzif(b, 0, bad_footers[i]));
        ck_assert_msg(!cm__tz_valid("Bad"), "accepted footer '%s'", bad_footers[i]);
    }
    n = make_tzif(b, 0, "UTC0");
    write_file("Bad", b, n - 1); /* footer without its final newline */
    ck_assert(!cm__tz_valid("Bad"));
    b[0] = 'X';
    write_file("Bad", b, n); /* bad magic */
    ck_assert(!cm__tz_valid("Bad"));
    n = make_tzif(b, 0, "UTC0");
    put32(b + 36, 0);
    put32(b + 54 + 36, 0); /* typecnt 0 in both headers */
    write_file("Bad", b, n);
    ck_assert(!cm__tz_valid("Bad"));
    n = make_tzif(b, 0, "UTC0");
    put32(b + 54 + 28, 1000); /* leapcnt beyond the data */
    write_file("Bad", b, n);
    ck_assert(!cm__tz_valid("Bad"));
    n = make_tzif(b, 100 * 3600, "UTC0"); /* absurd UT offset */
    write_file("Bad", b, n);
    ck_assert(!cm__tz_valid("Bad"));

    int64_t us;
    char out[32];
    ck_assert_int_eq(cm__time_local_to_utc(&us, "Bad", 2026, 1, 1, 0, 0, 0), CM_EINVAL);
    ck_assert_int_eq(cm__time_utc_to_local(out, "Bad", 0), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "Bad"));

    /* every truncation of a real file is rejected; the whole file is accepted */
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t real[8192];
    size_t len = fread(real, 1, sizeof real, f);
    fclose(f);
    ck_assert_uint_gt(len, 100);
    ck_assert_uint_lt(len, sizeof real);
    for (size_t cut = 0; cut < len; cut++) {
        write_file("Trunc", real, cut);
        ck_assert_msg(!cm__tz_valid("Trunc"), "accepted %zu of %zu bytes", cut, len);
    }
    write_file("Trunc", real, len);
    ck_assert(cm__tz_valid("Trunc"));
    u2l("Trunc", "2026-03-29T01:00:00Z", "2026-03-29T03:00:00");
}
END_TEST

/* ---- threads and cache eviction ---- */

static const char *thread_zones[] = {
    "Europe/Berlin",    "America/New_York",
    "Asia/Kolkata",     "Australia/Lord_Howe",
    "Australia/Sydney", "Europe/Dublin",
    "America/Santiago", "Asia/Jerusalem",
    "America/Nuuk",     "Pacific/Auckland",
    "Asia/Tokyo",       "Africa/Cairo",
    "Europe/London",    "America/Chicago",
    "America/Denver",   "America/Los_Angeles",
    "Asia/Tehran",      "Pacific/Chatham",
    "Europe/Paris",     "America/Sao_Paulo",
    "Asia/Kathmandu",   "UTC",
};
#define NZONES (sizeof thread_zones / sizeof thread_zones[0])
static char thread_want[NZONES][32];

static void *thread_main(void *arg)
{
    size_t start = (size_t)(uintptr_t)arg;
    for (int round = 0; round < 50; round++) {
        for (size_t k = 0; k < NZONES; k++) {
            size_t i = (start + k) % NZONES;
            char buf[32];
            if (cm__time_utc_to_local(buf, thread_zones[i], INT64_C(3802586400) * 1000000) !=
                    CM_OK ||
                strcmp(buf, thread_want[i]) != 0)
                return (void *)1;
        }
    }
    return NULL;
}

START_TEST(tz_threads)
{
    /* more zones than the cache holds, so threads evict each other's zones */
    for (size_t i = 0; i < NZONES; i++)
        ck_assert_int_eq(
            cm__time_utc_to_local(thread_want[i], thread_zones[i], INT64_C(3802586400) * 1000000),
            CM_OK);
    ck_assert_str_eq(thread_want[0], "2090-07-01T12:00:00"); /* spot checks (GNU date) */
    ck_assert_str_eq(thread_want[2], "2090-07-01T15:30:00");
    pthread_t th[4];
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, (void *)(uintptr_t)(i * 5)), 0);
    for (size_t i = 0; i < 4; i++) {
        void *ret = (void *)1;
        ck_assert_int_eq(pthread_join(th[i], &ret), 0);
        ck_assert_ptr_null(ret);
    }
}
END_TEST

static Suite *time_suite(void)
{
    Suite *s = suite_create("time");
    TCase *tc = tcase_create("rfc3339");
    tcase_add_test(tc, rfc3339_format_parse);
    tcase_add_test(tc, rfc3339_invalid);
    suite_add_tcase(s, tc);
    tc = tcase_create("tz");
    tcase_add_test(tc, tz_validity);
    tcase_add_test(tc, tz_berlin);
    tcase_add_test(tc, tz_new_york);
    tcase_add_test(tc, tz_far_future_footer);
    tcase_add_test(tc, tz_half_hours_and_south);
    tcase_add_test(tc, tz_threads);
    suite_add_tcase(s, tc);
    tc = tcase_create("tzdir");
    tcase_add_checked_fixture(tc, tzdir_setup, tzdir_teardown);
    tcase_add_test(tc, tz_tzdir_posix_rules);
    tcase_add_test(tc, tz_corrupt_data);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(time_suite());
}
