/*
 * parser.h - HTTP/1.1 request parsing on top of llhttp, with the host's
 * limits (header bytes, header count, body size). One parser per
 * connection; it yields one complete request at a time and pauses after
 * each, so that pipelined requests are answered strictly in order.
 *
 * No sockets here: the server and the fuzz target feed it bytes.
 */
#ifndef CMH_PARSER_H
#define CMH_PARSER_H

#include "util.h"

typedef struct cmh_header {
    char *name;  /* lower-cased */
    char *value; /* as sent, surrounding whitespace trimmed by llhttp */
} cmh_header;

typedef struct cmh_request {
    char method[24];
    char *target; /* request-target, e.g. "/v1/members?limit=2" */
    cmh_header *headers;
    int n_headers;
    char *body;
    size_t body_len;
    int http_major, http_minor;
    bool keep_alive;   /* the client allows another request on this connection */
    bool upgrade;      /* Upgrade/CONNECT: answered, then the connection closes */
    char peer[64];     /* client address, set by the server */
    uint64_t start_ns; /* first byte seen (monotonic) */
} cmh_request;

/* The first header named `name` (lower-case), or NULL. */
const char *cmh_req_header(const cmh_request *r, const char *name);
/* How many headers are named `name`. */
int cmh_req_header_count(const cmh_request *r, const char *name);
void cmh_request_free(cmh_request *r);

typedef struct cmh_limits {
    size_t max_header_bytes; /* request line + all header fields and values */
    int max_headers;
    size_t max_body;
    size_t max_upload;         /* instead of max_body for targets under upload_prefix */
    const char *upload_prefix; /* "/v1/uploads/", or NULL */
} cmh_limits;

typedef struct cmh_parser cmh_parser;

enum {
    CMH_P_MORE = 0,  /* everything consumed; no complete request yet */
    CMH_P_DONE = 1,  /* a complete request: cmh_parser_take() it */
    CMH_P_ERROR = 2, /* unusable input: answer cmh_parser_status() and close */
};

cmh_parser *cmh_parser_new(const cmh_limits *lim);
void cmh_parser_free(cmh_parser *p);

/*
 * Feed bytes. *used receives how many were consumed: all of them for
 * CMH_P_MORE, up to the end of the request for CMH_P_DONE (the rest is
 * the next, pipelined request and must be fed again after the response).
 */
int cmh_parser_feed(cmh_parser *p, const char *data, size_t len, size_t *used);
/* The completed request (caller owns it) after CMH_P_DONE. */
cmh_request *cmh_parser_take(cmh_parser *p);
/* After CMH_P_ERROR: the HTTP status to answer (400, 413, 431, 501, 505)
 * and a short reason. */
int cmh_parser_status(const cmh_parser *p);
const char *cmh_parser_reason(const cmh_parser *p);
/* True between the first byte of a request and its end. */
bool cmh_parser_in_message(const cmh_parser *p);
/* True once per request whose headers asked "Expect: 100-continue" and
 * passed the limits: the server should send "100 Continue" now. */
bool cmh_parser_take_continue(cmh_parser *p);
/* Start time of the request being read (monotonic ns), 0 if none. */
uint64_t cmh_parser_started(const cmh_parser *p);

#endif /* CMH_PARSER_H */
