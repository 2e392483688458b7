/*
 * deliver_int.h - mail delivery inside lib/core: the mailer's settings as the
 * renderer needs them, and rendering one outbox row into a message.
 */
#ifndef CM_CORE_DELIVER_INT_H
#define CM_CORE_DELIVER_INT_H

#include "../mail/mail_int.h"
#include "ops_int.h" /* store, json, cm__ok */

/* What templates may show besides the row's own data. */
typedef struct cm__mail_site {
    const char *name;       /* "Community" */
    const char *public_url; /* no trailing slash */
    const char *from_addr;  /* envelope and From address */
    const char *from_name;  /* may be NULL */
} cm__mail_site;

/* Fill msg (From, To, Subject, text, HTML, calendar part, Message-ID) for
 * the outbox row (id, created_at, member_id (0 when none), to, template,
 * payload JSON), reading the event or member a template names through
 * conn. CM_EINVAL with the detail set for an unknown template, a payload
 * it cannot use or a value the message builder refuses (e.g. a malformed
 * address): such a row can never be sent. */
int cm__mail_render_row(cm__mail_msg *msg, cm__conn *conn, const cm__mail_site *site, int64_t id,
                        int64_t created_at, int64_t member_id, const char *to, const char *tmpl,
                        const char *payload);

#endif
