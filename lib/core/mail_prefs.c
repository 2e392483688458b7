/*
 * mail_prefs.c - members' mail categories and signed unsubscribe links.
 *
 * A member may turn off a category of mail (newsletters, event reminders,
 * waitlist news); mail_prefs holds their explicit choices. The mailer
 * suppresses a message of a category its member turned off when it
 * claims it, so a choice made after the mail was queued is honoured too.
 *
 * Unsubscribe links carry a token "<member id>.<category>.<mac>", where mac
 * is HMAC-SHA256 (libsodium) of "unsubscribe:<member id>:<category>" under
 * a 32-byte key the library makes at random on first use and keeps in
 * site_keys. Anyone holding the token may change that member's mail
 * preferences, and nothing else; tokens do not expire (a mail read a year
 * later must still unsubscribe), and deleting the key row revokes them all.
 */
#include "newsletter_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define KEY_NAME "unsubscribe"

static const char *const cat_names[CM__CAT_COUNT] = {"newsletters", "event_reminders",
                                                     "waitlist_news"};

const char *cm__mail_cat_name(int cat)
{
    return cat >= 0 && cat < CM__CAT_COUNT ? cat_names[cat] : NULL;
}

int cm__mail_cat_parse(const char *s)
{
    for (int i = 0; s && i < CM__CAT_COUNT; i++)
        if (strcmp(s, cat_names[i]) == 0)
            return i;
    return -1;
}

int cm__mail_cat_of_template(const char *tmpl)
{
    if (!tmpl)
        return -1;
    if (strcmp(tmpl, "newsletter") == 0)
        return CM__CAT_NEWSLETTERS;
    if (strncmp(tmpl, "event_reminder_", 15) == 0)
        return CM__CAT_EVENT_REMINDERS;
    if (strcmp(tmpl, "waitlist_promoted") == 0)
        return CM__CAT_WAITLIST_NEWS;
    return -1;
}

int cm__mail_pref_off(bool *off, cm__conn *conn, int64_t member_id, int cat)
{
    *off = false;
    cm__q q;
    int rc = cm__q_open(&q, conn, "pref.get");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    cm__q_text(&q, 2, cm__mail_cat_name(cat));
    rc = cm__q_step(&q);
    if (rc == 1)
        *off = cm__q_col_int64(&q, 0) == 0;
    cm__q_close(&q);
    return rc < 0 ? rc : CM_OK;
}

/* A site key (32 bytes) of site_keys; when make, written at random first
 * if missing (a write, once). CM_ENOTFOUND when it does not exist and make
 * is false. */
int cm__site_key(unsigned char key[32], cm__conn *conn, const char *name, bool make)
{
    for (int pass = 0;; pass++) {
        cm__q q;
        int rc = cm__q_open(&q, conn, "sitekey.get");
        if (rc)
            return rc;
        cm__q_text(&q, 1, name);
        rc = cm__q_step(&q);
        size_t n = 0;
        if (rc == 1) {
            const char *hex = cm__q_col_text(&q, 0);
            if (sodium_hex2bin(key, 32, hex, strlen(hex), NULL, &n, NULL) != 0 || n != 32)
                rc = cm__error_set(CM_ERROR, "site_keys: the %s key is malformed", name);
            else
                rc = CM_OK;
        } else if (rc == 0) {
            rc = cm__error_set(CM_ENOTFOUND, "no %s key yet", name);
        }
        cm__q_close(&q);
        if (rc != CM_ENOTFOUND || !make || pass > 0)
            return rc;
        cm_error_clear(); /* made now */
        unsigned char k[32];
        char hex[65];
        randombytes_buf(k, sizeof k);
        sodium_bin2hex(hex, sizeof hex, k, sizeof k);
        sodium_memzero(k, sizeof k);
        if ((rc = cm__q_open(&q, conn, "sitekey.init")))
            return rc;
        cm__q_text(&q, 1, name);
        cm__q_text(&q, 2, hex);
        cm__q_int64(&q, 3, cm_now_us());
        rc = cm__ok(cm__q_step(&q));
        cm__q_close(&q);
        sodium_memzero(hex, sizeof hex);
        if (rc)
            return rc;
    }
}

static int load_key(unsigned char key[32], cm__conn *conn, bool make)
{
    int rc = cm__site_key(key, conn, KEY_NAME, make);
    if (rc == CM_ENOTFOUND)
        return cm__error_set_field(CM_ENOTFOUND, "token", "no unsubscribe key yet");
    return rc;
}

static void mac_of(unsigned char mac[crypto_auth_hmacsha256_BYTES], const unsigned char key[32],
                   int64_t member_id, const char *cat)
{
    char msg[96];
    int n = snprintf(msg, sizeof msg, "unsubscribe:%lld:%s", (long long)member_id, cat);
    crypto_auth_hmacsha256(mac, (const unsigned char *)msg, (unsigned long long)n, key);
}

int cm__unsub_token(char out[CM__UNSUB_TOKEN_MAX], cm__conn *conn, int64_t member_id, int cat)
{
    out[0] = 0;
    const char *name = cm__mail_cat_name(cat);
    if (!name || member_id <= 0)
        return cm__error_set(CM_EINVAL, "cm__unsub_token: bad member or category");
    unsigned char key[32], mac[crypto_auth_hmacsha256_BYTES];
    int rc = load_key(key, conn, true);
    if (rc)
        return rc;
    mac_of(mac, key, member_id, name);
    sodium_memzero(key, sizeof key);
    char b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    (void)snprintf(out, CM__UNSUB_TOKEN_MAX, "%lld.%s.%s", (long long)member_id, name, b64);
    return CM_OK;
}

int cm__unsub_verify(int64_t *member_id, int *cat, cm__conn *conn, const char *token)
{
    *member_id = 0;
    *cat = -1;
    const char *d1 = token ? strchr(token, '.') : NULL;
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    char name[32];
    long long id = 0;
    if (!d1 || !d2 || d1 == token || d1 - token > 18 || d2 - d1 - 1 >= (long)sizeof name)
        return cm__error_set_field(CM_EINVAL, "token", "this link is not valid");
    for (const char *p = token; p < d1; p++) {
        if (*p < '0' || *p > '9')
            return cm__error_set_field(CM_EINVAL, "token", "this link is not valid");
        id = id * 10 + (*p - '0');
    }
    memcpy(name, d1 + 1, (size_t)(d2 - d1 - 1));
    name[d2 - d1 - 1] = 0;
    int c = cm__mail_cat_parse(name);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    size_t n = 0;
    if (c < 0 || id <= 0 ||
        sodium_base642bin(mac, sizeof mac, d2 + 1, strlen(d2 + 1), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != sizeof mac)
        return cm__error_set_field(CM_EINVAL, "token", "this link is not valid");
    unsigned char key[32], want[crypto_auth_hmacsha256_BYTES];
    int rc = load_key(key, conn, false);
    if (rc == CM_ENOTFOUND)
        return cm__error_set_field(CM_EINVAL, "token", "this link is not valid");
    if (rc)
        return rc;
    mac_of(want, key, (int64_t)id, name);
    sodium_memzero(key, sizeof key);
    if (sodium_memcmp(want, mac, sizeof mac) != 0)
        return cm__error_set_field(CM_EINVAL, "token", "this link is not valid");
    *member_id = (int64_t)id;
    *cat = c;
    return CM_OK;
}
