/*
 * time.c - the library clock (settable by tests) and RFC 3339 formatting
 * and parsing of UTC instants. Time zone rules live in tz.c.
 */
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_rwlock_t clock_lock = PTHREAD_RWLOCK_INITIALIZER;
static cm_clock_fn clock_fn;
static void *clock_payload;

void cm_set_clock(cm_clock_fn fn, void *payload)
{
    pthread_rwlock_wrlock(&clock_lock);
    clock_fn = fn;
    clock_payload = payload;
    pthread_rwlock_unlock(&clock_lock);
}

int64_t cm_now_us(void)
{
    pthread_rwlock_rdlock(&clock_lock);
    cm_clock_fn fn = clock_fn;
    void *payload = clock_payload;
    pthread_rwlock_unlock(&clock_lock);
    if (fn)
        return fn(payload);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
int64_t cm__days_from_civil(int64_t y, int m, int d);
int64_t cm__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void cm__civil_from_days(int64_t z, int *y, int *m, int *d);
void cm__civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

void cm__time_format(char *buf, int64_t us)
{
    int64_t secs = floordiv(us, 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = floordiv(secs, 86400);
    int64_t sod = secs - days * 86400;
    int y, m, d;
    cm__civil_from_days(days, &y, &m, &d);
    int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60), s = (int)(sod % 60);
    if (frac)
        (void)snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, h, mi, s,
                       (int)frac);
    else
        (void)snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, h, mi, s);
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Parses "YYYY-MM-DDTHH:MM[:SS[.frac]]" and returns the number of bytes
 * consumed, or -1. */
static int parse_datetime(const char *s, int *y, int *mo, int *d, int *h, int *mi, int *sec,
                          int *usec)
{
    size_t len = strlen(s);
    if (len < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':')
        return -1;
    if (digits(s, 4, y) || digits(s + 5, 2, mo) || digits(s + 8, 2, d) || digits(s + 11, 2, h) ||
        digits(s + 14, 2, mi))
        return -1;
    int pos = 16;
    *sec = 0;
    *usec = 0;
    if (s[pos] == ':') {
        if (digits(s + pos + 1, 2, sec))
            return -1;
        pos += 3;
        if (s[pos] == '.') {
            pos++;
            int nd = 0, frac = 0;
            while (s[pos] >= '0' && s[pos] <= '9') {
                if (nd < 6) {
                    frac = frac * 10 + (s[pos] - '0');
                    nd++;
                }
                pos++;
            }
            if (nd == 0)
                return -1;
            while (nd++ < 6)
                frac *= 10;
            *usec = frac;
        }
    }
    if (*y < 1 || *mo < 1 || *mo > 12 || *d < 1 || *d > days_in_month(*y, *mo) || *h > 23 ||
        *mi > 59 || *sec > 60)
        return -1;
    if (*sec == 60)
        *sec = 59; /* leap second: clamp */
    return pos;
}

int cm__time_parse(int64_t *out, const char *s)
{
    int y, mo, d, h, mi, sec, usec;
    int pos = parse_datetime(s, &y, &mo, &d, &h, &mi, &sec, &usec);
    if (pos < 0)
        return CM_EINVAL;
    int64_t offset = 0;
    const char *z = s + pos;
    if ((z[0] == 'Z' || z[0] == 'z') && z[1] == '\0') {
        offset = 0;
    } else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && z[3] == ':') {
        int oh, om;
        if (digits(z + 1, 2, &oh) || digits(z + 4, 2, &om) || oh > 23 || om > 59)
            return CM_EINVAL;
        offset = (oh * 3600 + om * 60) * (z[0] == '-' ? -1 : 1);
    } else {
        return CM_EINVAL;
    }
    int64_t secs = cm__days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    *out = secs * 1000000 + usec;
    return CM_OK;
}

int cm__time_parse_local(int *y, int *mo, int *d, int *h, int *mi, int *s, const char *str)
{
    int usec;
    int pos = parse_datetime(str, y, mo, d, h, mi, s, &usec);
    if (pos < 0 || str[pos] != '\0')
        return CM_EINVAL;
    return CM_OK;
}
