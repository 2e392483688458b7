/*
 * deliver_int.h - mail delivery inside lib/core: the mailer's settings as the
 * renderer needs them, and rendering one outbox row into a message.
 */
#ifndef CM_CORE_DELIVER_INT_H
#define CM_CORE_DELIVER_INT_H

#include "../mail/mail_int.h"
#include "ops_int.h" /* store, json, cm__ok */

/* An operator's replacement for parts of a built-in template (NULL: the
 * built-in part). */
typedef struct cm__mail_tmpl_text {
    char *subject, *text, *html;
} cm__mail_tmpl_text;

/* What templates may show besides the row's own data. */
typedef struct cm__mail_site {
    const char *name;                 /* "Community" */
    const char *public_url;           /* no trailing slash */
    const char *api_url;              /* base of one-click unsubscribe URLs, no trailing slash */
    const char *from_addr;            /* envelope and From address */
    const char *from_name;            /* may be NULL */
    const cm__mail_tmpl_text *custom; /* cm__mail_template_count() entries, or NULL */
} cm__mail_site;

/* The built-in templates: how many, and the name of each. */
size_t cm__mail_template_count(void);
const char *cm__mail_template_name(size_t i);
/* CM_OK when every {{placeholder}} of text is one templates know;
 * CM_EINVAL (field "templates_dir") naming `what` otherwise. */
int cm__mail_template_check(const char *what, const char *text);

/* Fill msg (From, To, Subject, text, HTML, calendar part, Message-ID and,
 * for mail of a category a member can turn off, List-Unsubscribe) for
 * the outbox row (id, created_at, member_id (0 when none), to, template,
 * payload JSON), reading the event, member or newsletter a template names
 * through conn (a write transaction: the unsubscribe key is made on first
 * use). CM_EINVAL with the detail set for an unknown template, a payload
 * it cannot use or a value the message builder refuses (e.g. a malformed
 * address): such a row can never be sent. */
int cm__mail_render_row(cm__mail_msg *msg, cm__conn *conn, const cm__mail_site *site, int64_t id,
                        int64_t created_at, int64_t member_id, const char *to, const char *tmpl,
                        const char *payload);

/* The suppression list's keys of an address ("addr", "<addr>" or "Name
 * <addr>") once normalised as members' addresses are (ops_mail.c): keyed,
 * the hex HMAC-SHA256 under the site key "suppression" (made on first use:
 * conn in a write transaction), which the list stores; legacy, the bare
 * SHA-256 hex that rows written before the list was keyed still hold. Both
 * "" when there is no address. */
int cm__mail_addr_keys(char keyed[65], char legacy[65], cm__conn *conn, const char *addr);

/* Move the legacy row of an address to its keyed hash (dropping it when
 * the keyed row exists). */
int cm__mail_suppression_rekey(cm__conn *conn, const char *keyed, const char *legacy);

#endif
