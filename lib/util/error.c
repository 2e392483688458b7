/*
 * error.c - the status table (names, messages) and the thread-local error
 * detail. Reporting an error never allocates, so it works under OOM.
 */
#include "util.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    int code;
    char message[256];
    char field[64];
    char backend[16];
    int64_t retry_after; /* seconds, CM_ETHROTTLED only */
} error_detail;

static _Thread_local error_detail last;

const char *cm_status_name(int code)
{
    switch (code) {
#define XX(name, value, msg)                                                                       \
    case value:                                                                                    \
        return "CM_" #name;
        CM_STATUS_MAP(XX)
#undef XX
    }
    return "CM_UNKNOWN";
}

const char *cm_strerror(int code)
{
    switch (code) {
#define XX(name, value, msg)                                                                       \
    case value:                                                                                    \
        return msg;
        CM_STATUS_MAP(XX)
#undef XX
    }
    return "unknown status code";
}

int cm_error_code(void)
{
    return last.code;
}
const char *cm_error_message(void)
{
    return last.message;
}
const char *cm_error_field(void)
{
    return last.field;
}
const char *cm_error_backend_code(void)
{
    return last.backend;
}

int64_t cm_error_retry_after(void)
{
    return last.code == CM_ETHROTTLED ? last.retry_after : 0;
}

void cm_error_clear(void)
{
    last.code = CM_OK;
    last.retry_after = 0;
    last.message[0] = last.field[0] = last.backend[0] = '\0';
}

/* The arguments may be the current detail itself ("x: %s" with
 * cm_error_message()): format into locals first, then copy. */
CM__PRINTF(3, 0) static int set_v(int code, const char *field, const char *fmt, va_list ap)
{
    char message[sizeof last.message], name[sizeof last.field];
    (void)vsnprintf(message, sizeof message, fmt, ap);
    (void)snprintf(name, sizeof name, "%s", field ? field : "");
    memcpy(last.message, message, sizeof message);
    memcpy(last.field, name, sizeof name);
    last.code = code;
    last.backend[0] = '\0';
    last.retry_after = 0;
    return code;
}

int(cm__error_set)(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_v(code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int(cm__error_set_field)(int code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_v(code, field, fmt, ap);
    va_end(ap);
    return code;
}

void cm__error_set_backend_code(const char *code)
{
    (void)snprintf(last.backend, sizeof last.backend, "%s", code ? code : "");
}

void cm__error_set_retry_after(int64_t seconds)
{
    last.retry_after = seconds < 1 ? 1 : seconds;
}

void cm__error_save(cm__error_saved *s)
{
    s->retry_after = last.retry_after;
    s->code = last.code;
    memcpy(s->message, last.message, sizeof s->message);
    memcpy(s->field, last.field, sizeof s->field);
    memcpy(s->backend, last.backend, sizeof s->backend);
}

void cm__error_restore(const cm__error_saved *s)
{
    last.retry_after = s->retry_after;
    last.code = s->code;
    memcpy(last.message, s->message, sizeof last.message);
    memcpy(last.field, s->field, sizeof last.field);
    memcpy(last.backend, s->backend, sizeof last.backend);
}
