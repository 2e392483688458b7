/*
 * cron.c - five-field cron expressions ("min hour dom month dow") and the
 * next run time in an IANA time zone.
 *
 * Syntax as in Vixie cron: lists "1,5", ranges "1-5", steps "*" "/15" and
 * "10-40/5" and "10/5" (from 10 to the end), month and weekday names
 * (jan..dec, sun..sat), weekday 7 = Sunday, "?" = "*", and the macros
 * @yearly @annually @monthly @weekly @daily @midnight @hourly. When both
 * day-of-month and day-of-week are restricted (neither starts with "*"),
 * a day matches either; otherwise both must match.
 *
 * Times are wall-clock times in the zone: the search walks local days and
 * converts each candidate with cm__time_local_to_utc(), so a time skipped
 * by a spring-forward maps to the same offset after the change and a time
 * repeated by a fall-back runs once (its first occurrence).
 */
#include "jobs_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

typedef struct field_spec {
    const char *name;
    int lo, hi;
    const char *const *names; /* index 0 = value lo */
    int n_names;
} field_spec;

static const field_spec fields[5] = {
    {"minute", 0, 59, NULL, 0},          {"hour", 0, 23, NULL, 0},
    {"day of month", 1, 31, NULL, 0},    {"month", 1, 12, month_names, 12},
    {"day of week", 0, 7, dow_names, 7},
};

/* Parse a number or a name at *p; advance *p. */
static int parse_value(int *out, const char **p, const field_spec *f)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        int v = 0, n = 0;
        while (isdigit((unsigned char)*s) && n < 3)
            v = v * 10 + (*s++ - '0'), n++;
        if (isdigit((unsigned char)*s))
            return -1;
        *out = v;
        *p = s;
        return 0;
    }
    for (int i = 0; i < f->n_names; i++)
        if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *out = f->lo + i;
            *p = s + 3;
            return 0;
        }
    return -1;
}

static int bad(const field_spec *f, const char *why, const char *item)
{
    return cm__error_set_field(CM_EINVAL, "cron", "cron: %s field: %s in '%.32s'", f->name, why,
                               item);
}

/* Parse one field (text without spaces) into a bitmask. */
static int parse_field(uint64_t *bits, bool *star, const char *text, const field_spec *f)
{
    *bits = 0;
    *star = text[0] == '*' || text[0] == '?';
    const char *p = text;
    for (;;) {
        int a, b, step = 1;
        const char *item = p;
        if (*p == '*' || *p == '?') {
            a = f->lo;
            b = f->hi;
            p++;
        } else {
            if (parse_value(&a, &p, f))
                return bad(f, "expected a number or name", item);
            b = a;
            if (*p == '-') {
                p++;
                if (parse_value(&b, &p, f))
                    return bad(f, "expected the end of a range", item);
            } else if (*p == '/') {
                b = f->hi; /* "a/n": from a to the end */
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p))
                return bad(f, "expected a step", item);
            step = 0;
            while (isdigit((unsigned char)*p) && step < 1000)
                step = step * 10 + (*p++ - '0');
            if (step < 1 || step > f->hi)
                return bad(f, "step out of range", item);
        }
        if (*p != ',' && *p != '\0')
            return bad(f, "unexpected character", item);
        if (a < f->lo || a > f->hi || b < f->lo || b > f->hi)
            return cm__error_set_field(CM_EINVAL, "cron",
                                       "cron: %s field: value out of range "
                                       "%d-%d in '%.32s'",
                                       f->name, f->lo, f->hi, item);
        if (a > b)
            return bad(f, "range runs backwards", item);
        for (int v = a; v <= b; v += step)
            *bits |= 1ull << v;
        if (*p == '\0')
            break;
        p++;
    }
    return CM_OK;
}

int cm__cron_parse(cm__cron *out, const char *expr)
{
    memset(out, 0, sizeof *out);
    if (!expr || !*expr)
        return cm__error_set_field(CM_EINVAL, "cron", "cron: empty expression");
    static const struct {
        const char *name, *expr;
    } macros[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    if (expr[0] == '@') {
        const char *m = NULL;
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strcasecmp(expr, macros[i].name) == 0)
                m = macros[i].expr;
        if (!m)
            return cm__error_set_field(CM_EINVAL, "cron", "cron: unknown macro '%.32s'", expr);
        expr = m;
    }
    char buf[256];
    if (strlen(expr) >= sizeof buf)
        return cm__error_set_field(CM_EINVAL, "cron", "cron: expression too long");
    snprintf(buf, sizeof buf, "%s", expr);
    char *parts[6];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        if (n == 5)
            return cm__error_set_field(CM_EINVAL, "cron",
                                       "cron: more than 5 fields "
                                       "(seconds are not supported)");
        parts[n++] = tok;
    }
    if (n != 5)
        return cm__error_set_field(CM_EINVAL, "cron",
                                   "cron: expected 5 fields \"min hour dom month dow\", got %d", n);
    uint64_t bits[5];
    bool star[5];
    for (int i = 0; i < 5; i++) {
        int rc = parse_field(&bits[i], &star[i], parts[i], &fields[i]);
        if (rc)
            return rc;
    }
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 = Sunday */
    out->dom_any = star[2];
    out->dow_any = star[4];
    return CM_OK;
}

/* Days of search: nine years covers every Feb 29 that also is a given weekday. */
#define SEARCH_DAYS (366 * 9 + 2)

int cm__cron_next(int64_t *out, const cm__cron *c, const char *tz, int64_t after)
{
    char buf[32];
    int rc = cm__time_utc_to_local(buf, tz, after);
    if (rc)
        return cm__error_set_field(rc, "timezone", "timezone: %s", cm_error_message());
    int y, mo, d;
    if (sscanf(buf, "%d-%d-%d", &y, &mo, &d) != 3)
        return cm__error_set(CM_ERROR, "cron: cannot read local time '%s'", buf);
    int last_minute = 63 - __builtin_clzll(c->minute);
    /* Start a day early: after a fall-back across midnight, local times of
     * the previous date can still lie ahead. */
    int64_t day0 = cm__days_from_civil(y, mo, d) - 1;
    for (int64_t k = 0; k < SEARCH_DAYS; k++) {
        int64_t day = day0 + k;
        int Y, M, D;
        cm__civil_from_days(day, &Y, &M, &D);
        if (!(c->month >> M & 1))
            continue;
        int dow = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        bool dom_ok = c->dom >> D & 1, dow_ok = c->dow >> dow & 1;
        if (c->dom_any || c->dow_any ? !(dom_ok && dow_ok) : !(dom_ok || dow_ok))
            continue;
        for (int h = 0; h < 24; h++) {
            if (!(c->hour >> h & 1))
                continue;
            int64_t t;
            if ((rc = cm__time_local_to_utc(&t, tz, Y, M, D, h, last_minute, 0)))
                return cm__error_set_field(rc, "timezone", "timezone: %s", cm_error_message());
            if (t <= after)
                continue;
            for (int m = 0; m < 60; m++) {
                if (!(c->minute >> m & 1))
                    continue;
                if ((rc = cm__time_local_to_utc(&t, tz, Y, M, D, h, m, 0)))
                    return rc;
                if (t > after) {
                    *out = t;
                    return CM_OK;
                }
            }
        }
    }
    return cm__error_set_field(CM_ERANGE, "cron", "cron: the expression never runs");
}
