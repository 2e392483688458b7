/*
 * tz.c - IANA time zone rules read straight from TZif files (RFC 8536):
 * wall clock <-> UTC conversion without touching process-global state
 * (no TZ, tzset or localtime). Parsed zones live in a small bounded cache
 * guarded by one mutex; every lookup runs under that mutex.
 */
#define _GNU_SOURCE /* secure_getenv */
#include "util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_CACHE_SIZE 16
#define TZ_MAX_FILE (1 << 20)
#define TZ_PATH_MAX 512
#define ALPHA "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define ALNUM ALPHA "0123456789"

/* One POSIX TZ date rule: kind 'J' (1..365, no Feb 29), 'n' (0..365) or 'M'. */
typedef struct tz_date {
    char kind;
    int m, w, d;  /* kind 'M': month, week 1..5, weekday 0..6; else d = day */
    int32_t time; /* seconds after local midnight, may be negative or > 24h */
} tz_date;

typedef struct tz_zone {
    int32_t ntrans;
    int64_t *trans;           /* ascending transition instants (UTC seconds) */
    uint8_t *idx;             /* type index of each transition */
    int32_t *utoff;           /* UT offset of each type, seconds east */
    bool has_footer, has_dst; /* POSIX rule for instants after the last transition */
    int32_t std_off, dst_off; /* seconds east */
    tz_date start, end;
} tz_zone;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *path;
    tz_zone *zone;
} cache[TZ_CACHE_SIZE];
static unsigned cache_next;
static tz_zone utc_zone = {.has_footer = true}; /* when no database is installed */

static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static bool name_ok(const char *tz)
{
    size_t n = strlen(tz);
    return n > 0 && n < 256 && tz[0] != '/' && !strstr(tz, "..") && strspn(tz, ALNUM "_+-/") == n;
}

/* ---- POSIX TZ string (the TZif footer) ---- */

static const char *parse_name(const char *p)
{
    if (*p == '<') { /* quoted: <+0530> */
        size_t n = strspn(p + 1, ALNUM "+-");
        return n >= 3 && p[n + 1] == '>' ? p + n + 2 : NULL;
    }
    size_t n = strspn(p, ALPHA);
    return n >= 3 ? p + n : NULL;
}

static const char *parse_num(const char *p, int *out, int max)
{
    int v = 0, n = 0;
    for (; *p >= '0' && *p <= '9' && n < 3; p++, n++)
        v = v * 10 + (*p - '0');
    if (n == 0 || v > max)
        return NULL;
    *out = v;
    return p;
}

/* [+-]hh[:mm[:ss]], hh <= maxh (167 for rule times, RFC 8536); seconds. */
static const char *parse_hms(const char *p, int32_t *out, int maxh)
{
    int sign = 1, h = 0, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!(p = parse_num(p, &h, maxh)) || (*p == ':' && !(p = parse_num(p + 1, &m, 59))) ||
        (*p == ':' && !(p = parse_num(p + 1, &s, 59))))
        return NULL;
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *parse_date(const char *p, tz_date *r)
{
    r->time = 7200;
    r->kind = (*p == 'M' || *p == 'J') ? *p++ : 'n';
    if (r->kind == 'M') {
        if (!(p = parse_num(p, &r->m, 12)) || r->m < 1 || *p != '.' ||
            !(p = parse_num(p + 1, &r->w, 5)) || r->w < 1 || *p != '.' ||
            !(p = parse_num(p + 1, &r->d, 6)))
            return NULL;
    } else if (!(p = parse_num(p, &r->d, 365)) || (r->kind == 'J' && r->d < 1)) {
        return NULL;
    }
    return *p == '/' ? parse_hms(p + 1, &r->time, 167) : p;
}

/* Parses a POSIX TZ string into z; false when malformed. */
static bool parse_posix(tz_zone *z, const char *p)
{
    int32_t off;
    if (!(p = parse_name(p)) || !(p = parse_hms(p, &off, 24)))
        return false;
    z->std_off = z->dst_off = -off; /* POSIX offsets count west */
    if (!(z->has_dst = *p != '\0'))
        return true;
    if (!(p = parse_name(p)))
        return false;
    z->dst_off = z->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, &off, 24)))
            return false;
        z->dst_off = -off;
    }
    if (*p == '\0')
        p = ",M3.2.0,M11.1.0"; /* POSIX default (US rules) */
    if (*p != ',' || !(p = parse_date(p + 1, &z->start)) || *p != ',' ||
        !(p = parse_date(p + 1, &z->end)))
        return false;
    return *p == '\0';
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local midnight of the rule's day in year y, as days since the epoch. */
static int64_t rule_day(const tz_date *r, int64_t y)
{
    int64_t jan1 = cm__days_from_civil(y, 1, 1);
    if (r->kind != 'M') /* J: 1..365 never counting Feb 29; n: 0..365 */
        return jan1 + r->d - (r->kind == 'J') + (r->kind == 'J' && r->d >= 60 && is_leap(y));
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int len = dim[r->m - 1] + (r->m == 2 && is_leap(y));
    int64_t first = cm__days_from_civil(y, r->m, 1);
    int64_t dow1 = first + 4 - floordiv(first + 4, 7) * 7; /* 1970-01-01 was a Thursday */
    int64_t day = (r->d - dow1 + 7) % 7 + 7 * (r->w - 1);
    while (day >= len)
        day -= 7;
    return first + day;
}

/* Offset at t from the footer rule; *next = first rule transition after t. */
static int32_t footer_lookup(const tz_zone *z, int64_t t, int64_t *next)
{
    *next = INT64_MAX;
    if (!z->has_dst)
        return z->std_off;
    int y, m, d;
    cm__civil_from_days(floordiv(t + z->std_off, 86400), &y, &m, &d);
    int64_t best = INT64_MIN;
    int32_t off = z->std_off;
    for (int64_t yy = (int64_t)y - 1; yy <= (int64_t)y + 1; yy++) {
        for (int k = 0; k < 2; k++) { /* k=0 end of DST, k=1 start: a tie goes to DST */
            const tz_date *r = k ? &z->start : &z->end;
            int64_t at = rule_day(r, yy) * 86400 + r->time - (k ? z->std_off : z->dst_off);
            if (at <= t && at >= best) {
                best = at;
                off = k ? z->dst_off : z->std_off;
            } else if (at > t && at < *next) {
                *next = at;
            }
        }
    }
    return off;
}

/* UT offset in effect at t; *next = the next transition instant after t. */
static int32_t zone_lookup(const tz_zone *z, int64_t t, int64_t *next)
{
    if (z->ntrans == 0 || t >= z->trans[z->ntrans - 1]) {
        if (z->has_footer)
            return footer_lookup(z, t, next);
        *next = INT64_MAX;
        return z->utoff[z->ntrans ? z->idx[z->ntrans - 1] : 0];
    }
    int32_t lo = -1, hi = z->ntrans - 1; /* trans[lo] <= t < trans[hi]; type 0 before all */
    while (hi - lo > 1) {
        int32_t mid = lo + (hi - lo) / 2;
        *(z->trans[mid] <= t ? &lo : &hi) = mid;
    }
    *next = z->trans[hi];
    return z->utoff[lo < 0 ? 0 : z->idx[lo]];
}

/* ---- TZif ---- */

static int64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return n == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
}

/* Parses TZif data; CM_OK with *out, CM_EINVAL when corrupt, CM_ENOMEM. */
static int parse_tzif(tz_zone **out, const uint8_t *b, size_t len)
{
    size_t pos = 0, cnt[6], body;
    int tsize = 4;
    for (int pass = 0;; pass++) {
        if (len - pos < 44 || memcmp(b + pos, "TZif", 4) != 0)
            return CM_EINVAL;
        for (int i = 0; i < 6; i++)
            cnt[i] = (size_t)(uint32_t)be(b + pos + 20 + 4 * i, 4);
        /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
        if (cnt[3] > 100000 || cnt[4] > 256 || cnt[5] > 100000 || cnt[2] > 100000 ||
            cnt[0] > cnt[4] || cnt[1] > cnt[4])
            return CM_EINVAL;
        body = cnt[3] * (size_t)(tsize + 1) + cnt[4] * 6 + cnt[5] + cnt[2] * (size_t)(tsize + 4) +
               cnt[1] + cnt[0];
        if (len - pos - 44 < body)
            return CM_EINVAL;
        if (pass == 1 || b[pos + 4] < '2')
            break;
        pos += 44 + body;
        tsize = 8;
    }
    if (cnt[4] == 0 || cnt[2] != 0)
        return CM_EINVAL; /* no types; leap-second ("right/") zones are unsupported */
    size_t nt = cnt[3], ny = cnt[4];
    tz_zone *z = cm__calloc(1, sizeof *z + nt * 8 + ny * 4 + nt);
    if (!z)
        return CM_ENOMEM;
    z->ntrans = (int32_t)nt;
    z->trans = (int64_t *)(void *)(z + 1);
    z->utoff = (int32_t *)(void *)(z->trans + nt);
    z->idx = (uint8_t *)(z->utoff + ny);
    const uint8_t *p = b + pos + 44;
    for (size_t i = 0; i < nt; i++) {
        z->trans[i] = be(p + i * (size_t)tsize, tsize);
        z->idx[i] = p[nt * (size_t)tsize + i];
        if (z->idx[i] >= ny || (i > 0 && z->trans[i] <= z->trans[i - 1]))
            goto corrupt;
    }
    p += nt * (size_t)(tsize + 1);
    for (size_t i = 0; i < ny; i++) {
        z->utoff[i] = (int32_t)be(p + 6 * i, 4);
        if (z->utoff[i] < -93600 || z->utoff[i] > 93600) /* within +-26h */
            goto corrupt;
    }
    if (tsize == 8) { /* footer: "\n" POSIX-TZ "\n" */
        const uint8_t *f = b + pos + 44 + body, *e = b + len, *nl;
        char tzs[128];
        if (f >= e || *f++ != '\n' || !(nl = memchr(f, '\n', (size_t)(e - f))) ||
            (size_t)(nl - f) >= sizeof tzs)
            goto corrupt;
        size_t n = (size_t)(nl - f);
        memcpy(tzs, f, n);
        tzs[n] = '\0';
        if ((z->has_footer = n > 0) && !parse_posix(z, tzs))
            goto corrupt;
    }
    *out = z;
    return CM_OK;
corrupt:
    cm__free(z);
    return CM_EINVAL;
}

/* Reads and parses path; CM_ENOTFOUND when absent or not a regular file. */
static int load_file(tz_zone **out, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = CM_ENOTFOUND;
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0, got = 0;
    ssize_t r = 1;
    if (fd < 0)
        return rc;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        rc = st.st_size < 44 || st.st_size > TZ_MAX_FILE ? CM_EINVAL : CM_ENOMEM;
        len = (size_t)st.st_size;
        if (rc == CM_ENOMEM && (buf = cm__malloc(len))) {
            while (got < len && (r = read(fd, buf + got, len - got)) > 0)
                got += (size_t)r;
            rc = got == len ? parse_tzif(out, buf, len) : CM_EINVAL;
        }
    }
    cm__free(buf);
    close(fd);
    return rc;
}

/* Finds or loads tz; call with cache_lock held. Sets no error detail. */
static int get_zone(const tz_zone **out, const char *tz)
{
    if (!tz || !name_ok(tz))
        return CM_ENOTFOUND;
    const char *dir = NULL;
#if defined(__GLIBC__)
    dir = secure_getenv("TZDIR");
#endif
    char path[TZ_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    if (n < 0 || (size_t)n >= sizeof path)
        return CM_ENOTFOUND;
    for (int i = 0; i < TZ_CACHE_SIZE; i++)
        if (cache[i].path && strcmp(cache[i].path, path) == 0)
            return (*out = cache[i].zone), CM_OK;
    tz_zone *z = NULL;
    int rc = load_file(&z, path);
    if (rc == CM_ENOTFOUND && strcmp(tz, "UTC") == 0)
        return (*out = &utc_zone), CM_OK;
    char *copy = rc == CM_OK ? cm__strdup(path) : NULL;
    if (!copy) {
        cm__free(z);
        return rc == CM_OK ? CM_ENOMEM : rc;
    }
    unsigned slot = cache_next++ % TZ_CACHE_SIZE; /* round-robin eviction */
    cm__free(cache[slot].path);
    cm__free(cache[slot].zone);
    cache[slot].path = copy;
    cache[slot].zone = z;
    *out = z;
    return CM_OK;
}

static int zone_error(int rc, const char *tz)
{
    if (rc == CM_ENOMEM)
        return cm__error_set(CM_ENOMEM, "out of memory loading time zone");
    if (rc == CM_EINVAL)
        return cm__error_set(CM_EINVAL, "corrupt or unsupported time zone data for '%s'", tz);
    return cm__error_set(CM_EINVAL, "unknown time zone '%s'", tz ? tz : "(null)");
}

bool cm__tz_valid(const char *tz)
{
    const tz_zone *z;
    pthread_mutex_lock(&cache_lock);
    int rc = get_zone(&z, tz);
    pthread_mutex_unlock(&cache_lock);
    return rc == CM_OK;
}

/* Wall clock -> UTC. Walks the UT-offset segments around the wall time:
 * the earliest segment containing (wall - its offset) wins (the first of two
 * repeated times); in a gap the offset from before the gap is used. */
int cm__time_local_to_utc(int64_t *out, const char *tz, int y, int mo, int d, int h, int mi, int s)
{
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || s < 0 || s > 60)
        return cm__error_set(CM_EINVAL, "wall-clock time out of range");
    int64_t wall = cm__days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    const tz_zone *z;
    pthread_mutex_lock(&cache_lock);
    int rc = get_zone(&z, tz);
    if (rc != CM_OK) {
        pthread_mutex_unlock(&cache_lock);
        return zone_error(rc, tz);
    }
    /* Offsets stay within +-26h, so the first segment's candidate is never
     * before its start; every segment passed had its candidate after its end. */
    int64_t seg = wall - 2 * 86400, next, t = wall;
    int32_t off = zone_lookup(z, seg, &next), prev = off;
    for (int i = 0; i < 64; i++) {
        t = wall - off;
        if (t < seg) { /* skipped by a gap: keep the offset from before it */
            t = wall - prev;
            break;
        }
        if (t < next)
            break;
        prev = off;
        seg = next;
        off = zone_lookup(z, seg, &next);
    }
    pthread_mutex_unlock(&cache_lock);
    *out = t * 1000000;
    return CM_OK;
}

bool cm__time_local_exists(const char *tz, int y, int mo, int d, int h, int mi, int s)
{
    int64_t us = 0;
    char back[32], want[32];
    if (cm__time_local_to_utc(&us, tz, y, mo, d, h, mi, s) || cm__time_utc_to_local(back, tz, us))
        return false;
    (void)snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, s);
    return strcmp(back, want) == 0;
}

int cm__time_utc_to_local(char *buf, const char *tz, int64_t us)
{
    const tz_zone *z;
    int64_t t = floordiv(us, 1000000), next;
    pthread_mutex_lock(&cache_lock);
    int rc = get_zone(&z, tz);
    int32_t off = rc == CM_OK ? zone_lookup(z, t, &next) : 0;
    pthread_mutex_unlock(&cache_lock);
    if (rc != CM_OK)
        return zone_error(rc, tz);
    int64_t local = t + off, days = floordiv(local, 86400), sod = local - days * 86400;
    int yy, mm, dd;
    cm__civil_from_days(days, &yy, &mm, &dd);
    (void)snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d", yy, mm, dd, (int)(sod / 3600),
                   (int)(sod / 60 % 60), (int)(sod % 60));
    return CM_OK;
}
