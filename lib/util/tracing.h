/*
 * tracing.h - the library's own spans (see community/trace.h): what the
 * store, the operations, the job workers and the HTTP client call.
 * Every function accepts a NULL span and costs one atomic load while
 * tracing is off.
 */
#ifndef CM_UTIL_TRACING_H
#define CM_UTIL_TRACING_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cm__span_begin flags */
#define CM__SPAN_CURRENT 1u    /* the calling thread's current span until it ends */
#define CM__SPAN_CHILD_ONLY 2u /* only under a sampled current span (else NULL) */

/* Begin a child of the calling thread's current span (a new trace when
 * there is none); NULL when tracing is off, on the exporter's thread, or
 * for CM__SPAN_CHILD_ONLY without a sampled parent. Set attributes with
 * cm_span_set_str/int; end on the same thread with cm__span_end. */
cm_span *cm__span_begin(const char *name, int32_t kind, uint32_t flags);
/* End s; rc < 0 marks it failed with the code's name (never a message
 * that could quote input). */
void cm__span_end(cm_span *s, int rc);
/* The traceparent of the calling thread's current span into out (56
 * bytes); 0 when there is none. */
size_t cm__trace_current_traceparent(char *out, size_t size);
/* Spans begun on this thread are not recorded while on (the exporter's
 * own HTTP calls). */
void cm__trace_suppress(bool on);

#endif /* CM_UTIL_TRACING_H */
