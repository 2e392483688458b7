/*
 * trace.h - distributed tracing: spans with W3C Trace Context propagation,
 * exported to an OpenTelemetry collector as OTLP/HTTP JSON.
 *
 * The library traces what it does on its own once tracing is started: each
 * operation (cm_exec), each SQL statement it runs (both backends; the
 * statement's catalogue text with its placeholders, never a parameter
 * value), each outbound HTTP call (which carries a `traceparent` header)
 * and each job a scheduler runs. A host adds its own spans (an HTTP
 * server's request span) with the functions below and makes one the
 * calling thread's current span, so that the library's spans become its
 * children.
 *
 * Finished spans wait in a bounded queue and a background thread sends
 * them in batches; when the queue is full a span is dropped and counted,
 * so ending a span never blocks on the network.
 */
#ifndef COMMUNITY_TRACE_H
#define COMMUNITY_TRACE_H

#include <community/common.h>

CM_BEGIN_DECLS

/** A span: one timed piece of work in a trace. Opaque. @since 0.1 */
typedef struct cm_span cm_span;

/** Span kinds (the OpenTelemetry values). @since 0.1 */
typedef enum cm_span_kind {
    CM_SPAN_INTERNAL = 1,
    CM_SPAN_SERVER = 2,
    CM_SPAN_CLIENT = 3,
    CM_SPAN_PRODUCER = 4,
    CM_SPAN_CONSUMER = 5
} cm_span_kind;

/** Counters of cm_trace_stat(). @since 0.1 */
typedef enum cm_trace_counter {
    CM_TRACE_EXPORTED = 0, /**< spans the collector accepted */
    CM_TRACE_DROPPED = 1,  /**< spans dropped because the queue was full */
    CM_TRACE_FAILED = 2    /**< spans lost because an export failed */
} cm_trace_counter;

/**
 * Start tracing for this process, configured by the OpenTelemetry
 * environment variables:
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL), else
 *   `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. Neither set: tracing stays
 *   off and this returns CM_OK.
 * - `OTEL_EXPORTER_OTLP_HEADERS` (`name=value,...`, percent-decoded),
 *   `OTEL_EXPORTER_OTLP_TIMEOUT` (ms, default 10000); only the `http/json`
 *   protocol is spoken.
 * - `OTEL_SERVICE_NAME`, else `service.name` of `OTEL_RESOURCE_ATTRIBUTES`,
 *   else `service_name`; the other resource attributes are sent as given.
 * - `OTEL_TRACES_SAMPLER`: `always_on`, `always_off`, `traceidratio`,
 *   `parentbased_always_on` (default), `parentbased_always_off`,
 *   `parentbased_traceidratio`; `OTEL_TRACES_SAMPLER_ARG` the ratio (0..1,
 *   default 1).
 * - `OTEL_BSP_MAX_QUEUE_SIZE` (2048), `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
 *   (512), `OTEL_BSP_SCHEDULE_DELAY` (ms, 5000).
 *
 * Starts the exporter thread. Call once, before the threads that trace
 * start; a second call returns CM_EBUSY.
 * @param service_name the default service name (copied).
 * @return CM_OK; CM_EINVAL for an invalid variable (the detail names it);
 *         CM_EBUSY; CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_trace_start(const char *service_name);

/**
 * Stop tracing: export the queued spans (waiting at most timeout_ms),
 * stop the exporter thread and release everything. Spans begun later are
 * not recorded; tracing may be started again. Call after the threads
 * that trace have stopped. Does nothing when tracing is off. @since 0.1
 */
CM_API void cm_trace_stop(uint32_t timeout_ms);

/** 1 when cm_trace_start() turned tracing on, else 0. Thread-safe. @since 0.1 */
CM_API int32_t cm_trace_enabled(void);

/** A counter (cm_trace_counter) since tracing started. Thread-safe. @since 0.1 */
CM_API uint64_t cm_trace_stat(int32_t counter);

/**
 * Begin a span. Its parent is the remote span named by `traceparent` (the
 * value of a W3C `traceparent` request header) when that is valid, else
 * the calling thread's current span; without either it starts a new
 * trace. The sampler decides whether it is recorded. The span is not
 * made current (see cm_trace_set_current()).
 * @param out receives the span, or NULL when tracing is off; end it with
 *        cm_span_end(). Every other function accepts a NULL span.
 * @param name the span's name (copied), e.g. "GET /v1/events/{event_id}".
 * @param kind a cm_span_kind.
 * @param traceparent NULL, or the header value (an invalid one is ignored).
 * @return CM_OK, CM_EINVAL (no out or name), CM_ENOMEM.
 * @since 0.1
 */
CM_API int cm_span_begin(cm_span **out, const char *name, int32_t kind, const char *traceparent);

/**
 * Make span the calling thread's current span (NULL: none) and return
 * the previous one, to be restored the same way when the work is done.
 * The library's spans on this thread become children of span. A span
 * may be current on one thread at a time and must stay current no longer
 * than until it ends. @since 0.1
 */
CM_API cm_span *cm_trace_set_current(cm_span *span);

/** Set a string attribute (key and value copied). @since 0.1 */
CM_API void cm_span_set_str(cm_span *span, const char *key, const char *value);

/** Set an integer attribute (key copied). @since 0.1 */
CM_API void cm_span_set_int(cm_span *span, const char *key, int64_t value);

/** Mark the span failed, with a short message (copied; never a secret). @since 0.1 */
CM_API void cm_span_set_error(cm_span *span, const char *message);

/**
 * End the span and hand it to the exporter (when sampled); it is freed
 * and must not be used again. Never blocks on the network. @since 0.1
 */
CM_API void cm_span_end(cm_span *span);

/**
 * Write the W3C `traceparent` value naming span ("00-<trace>-<span>-<flags>",
 * 55 characters) into out, to send on an outbound request. out must hold
 * 56 bytes.
 * @return 55, or 0 when span is NULL or size is too small.
 * @since 0.1
 */
CM_API size_t cm_span_traceparent(char *out, size_t size, const cm_span *span);

CM_END_DECLS

#endif /* COMMUNITY_TRACE_H */
