/*
 * newsletter_int.h - newsletters and members' mail preferences inside
 * lib/core: the categories a mail belongs to, the signed unsubscribe links,
 * and the job that writes a newsletter's delivery rows.
 */
#ifndef CM_CORE_NEWSLETTER_INT_H
#define CM_CORE_NEWSLETTER_INT_H

#include "ops_int.h"

#include <community/jobs.h>

/* The categories a member can turn off (mail_prefs.category). */
typedef enum cm__mail_cat {
    CM__CAT_NEWSLETTERS = 0,
    CM__CAT_EVENT_REMINDERS,
    CM__CAT_WAITLIST_NEWS,
    CM__CAT_COUNT
} cm__mail_cat;

/* "newsletters", ...; NULL for an unknown category. */
const char *cm__mail_cat_name(int cat);
/* The category named s, or -1. */
int cm__mail_cat_parse(const char *s);
/* The category of an outbox template ("newsletter", "event_reminder_1h",
 * ...), or -1 for transactional mail (password reset, sign-in link,
 * cancellation), which has none and is always sent. */
int cm__mail_cat_of_template(const char *tmpl);

/* *off = true when member_id has turned category cat off (an explicit
 * choice: a member who never chose is not "off"). */
int cm__mail_pref_off(bool *off, cm__conn *conn, int64_t member_id, int cat);

/* An unsubscribe token for (member_id, cat), signed with the site's
 * 'unsubscribe' key, made (at random) on first use inside conn's write
 * transaction: "<member id>.<category>.<base64url HMAC-SHA256>". URL-safe;
 * out has room for CM__UNSUB_TOKEN_MAX bytes. */
#define CM__UNSUB_TOKEN_MAX 160
int cm__unsub_token(char out[CM__UNSUB_TOKEN_MAX], cm__conn *conn, int64_t member_id, int cat);
/* Check a token (read-only): CM_OK with *member_id and *cat, or CM_EINVAL
 * (field "token") when it is malformed, or not signed by the site's key. */
int cm__unsub_verify(int64_t *member_id, int *cat, cm__conn *conn, const char *token);

/* The 32-byte key `name` of site_keys ("unsubscribe", "suppression"), made
 * at random and written the first time when make (conn must then be in a
 * write transaction). CM_ENOTFOUND when it does not exist and !make. */
int cm__site_key(unsigned char key[32], cm__conn *conn, const char *name, bool make);

/* The "platform.newsletter_fill" job: writes the next batch of a
 * newsletter's delivery rows (registered by the platform scheduler). */
int cm__newsletter_fill_handler(cm_job *job, void *payload);

#endif
