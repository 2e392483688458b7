/*
 * log.c - delivery of log lines to the host's callback. The library never
 * writes to stdout/stderr itself.
 */
#include "util.h"

#include <pthread.h>
#include <stdio.h>

static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static cm_log_fn log_fn;
static void *log_payload;
static int log_max = -1;

void cm_set_log_callback(cm_log_fn fn, int max_level, void *payload)
{
    pthread_rwlock_wrlock(&log_lock);
    log_fn = fn;
    log_payload = payload;
    log_max = fn ? max_level : -1;
    pthread_rwlock_unlock(&log_lock);
}

bool cm__log_enabled(int level)
{
    pthread_rwlock_rdlock(&log_lock);
    bool on = log_fn != NULL && level <= log_max;
    pthread_rwlock_unlock(&log_lock);
    return on;
}

void cm__log(int level, const char *component, const char *fmt, ...)
{
    pthread_rwlock_rdlock(&log_lock);
    if (log_fn && level <= log_max) {
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        log_fn(level, component, line, log_payload);
    }
    pthread_rwlock_unlock(&log_lock);
}
