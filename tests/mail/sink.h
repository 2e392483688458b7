/*
 * sink.h - the test SMTP server (smtp_sink.py, aiosmtpd) run as a child
 * process, and what it received parsed by Python's email package
 * (parse_mail.py) as JSON.
 */
#ifndef CM_TEST_SINK_H
#define CM_TEST_SINK_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct sink {
    pid_t pid;
    int port;
    char dir[256];
} sink;

/* true when the sink can run here (python3 with aiosmtpd); otherwise the
 * suite prints a TAP SKIP line and exits. */
bool sink_available(void);
/* Start a sink in a fresh temporary directory. args: extra options
 * ("--tls", "--auth", "u:p", "--delay-ms", "5"), NULL-terminated. */
void sink_start(sink *s, const char *const *args);
void sink_stop(sink *s);
/* Everything received so far (array, oldest first); json_decref it. */
json_t *sink_messages(const sink *s);
/* Parse one message file (same item layout). */
json_t *sink_parse_file(const char *path);
/* The envelopes only (the sink's .json records, oldest first), without
 * parsing the messages: fast for thousands. json_decref it. */
json_t *sink_envelopes(const sink *s);
/* Number of messages received so far. */
size_t sink_count(const sink *s);

#endif
