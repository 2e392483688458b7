/*
 * jlog.h - structured logs: one JSON object per line on stdout, written
 * whole under a lock so that lines from the loop thread, worker threads
 * and the library's log callback never interleave.
 *
 * Never log secrets: tokens, cookies, passwords and request bodies stay out
 * of every line by construction (callers only pass the fields below).
 */
#ifndef CMH_JLOG_H
#define CMH_JLOG_H

#include "util.h"

/* Levels, the same values as cm_log_level. */
enum { CMH_LOG_ERROR = 0, CMH_LOG_WARN = 1, CMH_LOG_INFO = 2, CMH_LOG_DEBUG = 3 };

/* Set the most verbose level written (-1: nothing) and the file
 * descriptor (1 = stdout). Call before threads start. */
void cmh_log_setup(int max_level, int fd);
bool cmh_log_enabled(int level);
/* Parse "error|warn|info|debug|off"; -2 when unknown. */
int cmh_log_level_parse(const char *s);

/* Build a line: begin, add fields, end (which writes and frees). */
void cmh_log_begin(cmh_buf *b, int level, const char *msg);
void cmh_log_str(cmh_buf *b, const char *key, const char *val);
void cmh_log_int(cmh_buf *b, const char *key, int64_t v);
void cmh_log_ms(cmh_buf *b, const char *key, double ms);
void cmh_log_end(cmh_buf *b);

/* A one-field convenience: {"msg": msg, "detail": printf(...)}. */
void cmh_log(int level, const char *msg, const char *fmt, ...) CMH_PRINTF(3, 4);

/* The library's log callback (cm_set_log_callback): any thread. */
void cmh_log_library(int level, const char *component, const char *message, void *payload);

#endif /* CMH_JLOG_H */
