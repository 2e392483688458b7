/*
 * mail.h - internal e-mail component: a MIME message builder (RFC 5322,
 * RFC 2045-2047, RFC 5545 calendar parts, RFC 2369/8058 unsubscribe
 * headers) and a sender interface with an SMTP implementation over
 * libcurl. Depends only on lib/util: no SQL, no domain knowledge.
 * Never included from public headers.
 *
 * Threads: a message or a sender is used by one thread at a time.
 */
#ifndef CM_MAIL_H
#define CM_MAIL_H

#include "../util/util.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest accepted text or HTML body, and calendar part (bytes). */
#define CM__MAIL_MAX_BODY (1024 * 1024)
/* Largest accepted subject or header value (bytes of UTF-8). */
#define CM__MAIL_MAX_HEADER 998

/* ---- addresses ---- */

/* true when addr is a plain ASCII addr-spec "local@domain" that is safe to
 * put in a header and an SMTP envelope: dot-atom local part (<= 64 bytes),
 * a host name of letters, digits and hyphens (<= 253 bytes), no spaces,
 * quotes, angle brackets, CR or LF. */
bool cm__mail_addr_valid(const char *addr);

/* ---- message builder ---- */

typedef struct cm__mail_msg cm__mail_msg;

/* New empty message. Date defaults to the time of rendering and Message-ID
 * to a random id on the sender's domain. */
int cm__mail_msg_new(cm__mail_msg **out);
void cm__mail_msg_free(cm__mail_msg *m);

/* Each setter copies its input and validates it: CM_EINVAL naming the
 * field ("from", "to", "reply_to", "subject", "text", "html", "ics",
 * "list_unsubscribe", "header", "message_id") for malformed addresses, CR or
 * LF in a header, invalid UTF-8 or an oversize value. name may be NULL. */
int cm__mail_set_from(cm__mail_msg *m, const char *addr, const char *name);
int cm__mail_add_to(cm__mail_msg *m, const char *addr, const char *name);
int cm__mail_set_reply_to(cm__mail_msg *m, const char *addr, const char *name);
int cm__mail_set_subject(cm__mail_msg *m, const char *subject);
/* The plain-text body (required) and the HTML alternative (optional). */
int cm__mail_set_text(cm__mail_msg *m, const char *text);
int cm__mail_set_html(cm__mail_msg *m, const char *html);
/* A calendar part (a whole VCALENDAR object, e.g. from cm__mail_ics_event),
 * attached as text/calendar with the given METHOD ("PUBLISH", "REQUEST",
 * "CANCEL") and file name "invite.ics". */
int cm__mail_set_ics(cm__mail_msg *m, const char *ics, const char *method);
/* Bulk mail: List-Unsubscribe with an http(s) URL and/or a mailto address
 * (either may be NULL, not both). When url is https, List-Unsubscribe-Post:
 * List-Unsubscribe=One-Click is added too (RFC 8058). */
int cm__mail_set_list_unsubscribe(cm__mail_msg *m, const char *url, const char *mailto);
/* Any other header (e.g. "Auto-Submitted"). The name must be printable
 * ASCII without ':' or spaces and not one the builder writes itself. */
int cm__mail_add_header(cm__mail_msg *m, const char *name, const char *value);
/* Fixed Date (microseconds since the epoch) and Message-ID ("id@domain",
 * without angle brackets), for reproducible output. */
int cm__mail_set_date(cm__mail_msg *m, int64_t us);
int cm__mail_set_message_id(cm__mail_msg *m, const char *id);

/* Borrowed: the envelope sender and recipients of a message. */
const char *cm__mail_from(const cm__mail_msg *m);
size_t cm__mail_rcpt_count(const cm__mail_msg *m);
const char *cm__mail_rcpt(const cm__mail_msg *m, size_t i);
/* The Message-ID used by the last render (or set), without brackets; NULL
 * before either. Borrowed until the message is freed or rendered again. */
const char *cm__mail_message_id(const cm__mail_msg *m);

/* Render the message as RFC 5322 text with CRLF line endings, every line
 * at most 78 characters plus CRLF, 7-bit clean (bodies quoted-printable,
 * non-ASCII headers RFC 2047 encoded). *out is freed with cm__free.
 * CM_EINVAL (field "from", "to" or "text") when a required part is missing. */
int cm__mail_render(char **out, size_t *len_out, cm__mail_msg *m);

/* ---- Markdown ---- */

/* HTML for the CommonMark text md (len bytes), in cmark's safe mode: raw
 * HTML and script URLs are dropped, text is escaped. *out freed with
 * cm__free. CM_EINVAL (field "body") when md is not UTF-8, or md or the
 * HTML is over CM__MAIL_MAX_BODY. */
int cm__mail_markdown_html(char **out, const char *md, size_t len);

/* ---- calendar (RFC 5545) ---- */

typedef struct cm__mail_ics_event {
    const char *uid;         /* required, globally unique ("event-7@host") */
    int64_t start_us;        /* required */
    int64_t end_us;          /* required, >= start_us */
    int64_t stamp_us;        /* DTSTAMP; 0 = now */
    const char *summary;     /* required */
    const char *description; /* optional */
    const char *location;    /* optional */
    const char *url;         /* optional */
    const char *method;      /* "PUBLISH" (default), "REQUEST", "CANCEL" */
    int32_t sequence;        /* SEQUENCE, bumped on each change */
} cm__mail_ics_event;

/* A VCALENDAR with one VEVENT, times in UTC, text escaped and lines folded
 * at 75 octets (never inside a UTF-8 sequence). *out freed with cm__free. */
int cm__mail_ics_event_render(char **out, const cm__mail_ics_event *ev);

/* ---- senders ---- */

/* The outcome of one delivery attempt, filled on success and failure. */
typedef struct cm__mail_result {
    int32_t smtp_code; /* last SMTP reply code (250, 451, 550...) or 0 */
    bool permanent;    /* true: the server refused for good (5xx) */
    char detail[200];  /* server or transport message, never a secret */
    /* The service's own id of an accepted message (SES's MessageId, which
     * its bounce and complaint reports name), or "". */
    char provider_id[128];
} cm__mail_result;

typedef struct cm__mail_sender cm__mail_sender;

/* Open a sender from a URI:
 *   smtp://[user[:password]@]host[:port][/?options]   (STARTTLS when offered)
 *   smtps://[user[:password]@]host[:port][/?options]  (TLS from the start)
 * user and password are percent-decoded. Options (query string):
 *   tls=try|require      smtp:// only: STARTTLS if offered (default) or
 *                        refuse to send without it
 *   cafile=PATH          CA bundle to verify the server against
 *   helo=NAME            name sent in EHLO (default: "localhost")
 *   timeout_ms=N         per-message timeout (default 60000)
 *   ses://REGION[/?options]  the Amazon SES v2 API (ses.c): configuration_set,
 *                        timeout_ms, cafile, endpoint; credentials from the
 *                        environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *                        AWS_SESSION_TOKEN), else the container's role
 *                        (util/aws_creds.h)
 * Nothing connects until the first send. CM_EINVAL (field "smtp") for a
 * malformed URI; the password never appears in an error or log message. */
int cm__mail_sender_open(cm__mail_sender **out, const char *uri);
void cm__mail_sender_close(cm__mail_sender *s);
/* The per-message timeout of a sender (timeout_ms in its URI). */
int64_t cm__mail_sender_timeout_ms(const cm__mail_sender *s);

/* Send one rendered message to the envelope recipients. The connection is
 * kept for the next call when the server allows it. CM_OK when the server
 * accepted the message for every recipient; otherwise CM_EIO (or
 * CM_ETIMEOUT, CM_EAUTH) with res saying whether the refusal is permanent. */
int cm__mail_send(cm__mail_sender *s, const char *from, const char *const *rcpt, size_t nrcpt,
                  const char *data, size_t len, cm__mail_result *res);

/* A URI safe to print: the password replaced by "***". *out freed with
 * cm__free. */
int cm__mail_uri_redact(char **out, const char *uri);

/* ---- Amazon SNS messages (sns.c) ---- */

/* What an SNS message must satisfy. */
typedef struct cm__sns_trust {
    /* URL prefixes a SigningCertURL (and a SubscribeURL) must start with,
     * separated by spaces or commas; each must end with "/". https:// or
     * file:/// only. */
    const char *cert_prefixes;
    const char *ca_file; /* PEM CAs the certificate must chain to; NULL: the system's */
    int64_t now_us;      /* the current time */
    int64_t max_age_us;  /* refuse a Timestamp further than this from now; 0: no limit */
} cm__sns_trust;

/* true when url (https:// or file:///) starts with one of the prefixes. */
bool cm__sns_url_allowed(const char *url, const char *prefixes);
/* Download url (at most 64 KiB) when it is under one of the prefixes:
 * CM_EPERM when it is not, CM_EIO / CM_ETIMEOUT when the download fails.
 * *out (NUL-terminated) freed with cm__free. */
int cm__sns_fetch(char **out, size_t *len_out, const char *url, const char *prefixes);
/* The canonical string SNS signs for message m (by its Type): CM_EINVAL
 * (field Type) for an unknown type, (field name) for a missing member. */
int cm__sns_string_to_sign(char **out, const json_t *m);
/* Verify m's signature (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA)
 * with the certificate at SigningCertURL, which must be under a trusted
 * prefix and chain to a trusted CA, and m's Timestamp against the window.
 * CM_OK; CM_EINVAL (with the field) for a malformed message; CM_EPERM for
 * an untrusted URL; CM_EAUTH for an untrusted certificate, a signature that
 * does not match, or a Timestamp outside the window; CM_EIO when the
 * certificate cannot be fetched. Thread-safe; certificates are cached per
 * URL for the life of the process. */
int cm__sns_verify(const json_t *m, const cm__sns_trust *t);
/* Forget the cached certificates (tests, and a CA change). */
void cm__sns_cache_clear(void);

#endif /* CM_MAIL_H */
