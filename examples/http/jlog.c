/*
 * jlog.c - JSON-lines logging for the HTTP host (see jlog.h).
 */
#include "jlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int log_max = CMH_LOG_INFO;
static int log_fd = 1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void cmh_log_setup(int max_level, int fd)
{
    log_max = max_level;
    log_fd = fd;
}

bool cmh_log_enabled(int level)
{
    return level <= log_max;
}

int cmh_log_level_parse(const char *s)
{
    if (strcmp(s, "off") == 0)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -2;
}

void cmh_log_begin(cmh_buf *b, int level, const char *msg)
{
    char t[64];
    cmh_rfc3339_now(t);
    b->len = 0;
    cmh_buf_puts(b, "{\"time\":\"");
    cmh_buf_puts(b, t);
    cmh_buf_puts(b, "\",\"level\":\"");
    cmh_buf_puts(b, level_names[level < 0 ? 0 : level > 3 ? 3 : level]);
    cmh_buf_puts(b, "\",\"msg\":");
    cmh_buf_json_str(b, msg);
}

void cmh_log_str(cmh_buf *b, const char *key, const char *val)
{
    cmh_buf_putc(b, ',');
    cmh_buf_json_str(b, key);
    cmh_buf_putc(b, ':');
    if (val)
        cmh_buf_json_str(b, val);
    else
        cmh_buf_puts(b, "null");
}

void cmh_log_int(cmh_buf *b, const char *key, int64_t v)
{
    cmh_buf_putc(b, ',');
    cmh_buf_json_str(b, key);
    cmh_buf_printf(b, ":%lld", (long long)v);
}

void cmh_log_ms(cmh_buf *b, const char *key, double ms)
{
    cmh_buf_putc(b, ',');
    cmh_buf_json_str(b, key);
    cmh_buf_printf(b, ":%.3f", ms);
}

void cmh_log_end(cmh_buf *b)
{
    cmh_buf_puts(b, "}\n");
    pthread_mutex_lock(&log_lock);
    const char *p = b->p;
    size_t n = b->len;
    while (n) {
        ssize_t w = write(log_fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* a log line is not worth a crash */
        }
        p += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&log_lock);
    cmh_buf_free(b);
}

void cmh_log(int level, const char *msg, const char *fmt, ...)
{
    if (!cmh_log_enabled(level))
        return;
    cmh_buf b = {0};
    cmh_log_begin(&b, level, msg);
    if (fmt) {
        char detail[512];
        va_list ap;
        va_start(ap, fmt);
        /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above; clang 14 loses it */
        (void)vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        cmh_log_str(&b, "detail", detail);
    }
    cmh_log_end(&b);
}

void cmh_log_library(int level, const char *component, const char *message, void *payload)
{
    (void)payload;
    if (!cmh_log_enabled(level))
        return;
    cmh_buf b = {0};
    cmh_log_begin(&b, level, message);
    cmh_log_str(&b, "component", component);
    cmh_log_str(&b, "source", "libcommunity");
    cmh_log_end(&b);
}
