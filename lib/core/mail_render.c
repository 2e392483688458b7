/*
 * mail_render.c - the platform's mails, from outbox row to message: one
 * built-in template per outbox template name (subject, text, HTML), with
 * {{name}} placeholders filled from the row's payload, the member and the
 * event it names; values are HTML-escaped in the HTML part. Event mails
 * carry the event as an .ics part. Newsletters (template "newsletter") are
 * their Markdown text and the HTML cmark makes of it, with a footer
 * linking to the member's preferences. Mail of a category the member can
 * turn off carries List-Unsubscribe (+ List-Unsubscribe-Post over https)
 * with a signed one-click link.
 */
#include "deliver_int.h"
#include "newsletter_int.h"

#include "../util/json.h"

#include <stdio.h>
#include <string.h>

typedef struct tmpl {
    const char *name, *subject, *text, *html;
    int event;        /* 1: the payload names an event (event_id) */
    const char *ics;  /* NULL, or the calendar method */
    const char *path; /* link: public_url + path (+ token or event id) */
} tmpl;

static const tmpl templates[] = {
    {"password_reset", "Reset your {{site}} password",
     "Hello {{name}},\n\nSomeone, hopefully you, asked to reset the password of your {{site}} "
     "account. Open this link to choose a new one (it works once and expires soon):\n\n"
     "{{link}}\n\nIf you did not ask for this, ignore this message: your password stays as "
     "it is.\n",
     "<p>Hello {{name}},</p>\n<p>Someone, hopefully you, asked to reset the password of your "
     "{{site}} account. Open this link to choose a new one (it works once and expires "
     "soon):</p>\n<p><a href=\"{{link}}\">Choose a new password</a></p>\n<p>If you did not ask "
     "for this, ignore this message: your password stays as it is.</p>\n",
     0, NULL, "/reset-password?token="},
    {"magic_link", "Your {{site}} sign-in link",
     "Hello {{name}},\n\nOpen this link to sign in to {{site}} (it works once and expires "
     "soon):\n\n{{link}}\n\nIf you did not ask for this, ignore this message.\n",
     "<p>Hello {{name}},</p>\n<p>Open this link to sign in to {{site}} (it works once and "
     "expires soon):</p>\n<p><a href=\"{{link}}\">Sign in</a></p>\n<p>If you did not ask for "
     "this, ignore this message.</p>\n",
     0, NULL, "/login/magic?token="},
    {"event_reminder_24h", "Tomorrow: {{title}}",
     "Hello {{name}},\n\n{{title}} starts {{when}}.\n{{venue}}\nDetails: {{link}}\n",
     "<p>Hello {{name}},</p>\n<p><b>{{title}}</b> starts {{when}}.<br>{{venue}}</p>\n"
     "<p><a href=\"{{link}}\">Event details</a></p>\n",
     1, "PUBLISH", "/events/"},
    {"event_reminder_1h", "Starting soon: {{title}}",
     "Hello {{name}},\n\n{{title}} starts {{when}}.\n{{venue}}\nDetails: {{link}}\n",
     "<p>Hello {{name}},</p>\n<p><b>{{title}}</b> starts {{when}}.<br>{{venue}}</p>\n"
     "<p><a href=\"{{link}}\">Event details</a></p>\n",
     1, "PUBLISH", "/events/"},
    {"waitlist_promoted", "You have a seat: {{title}}",
     "Hello {{name}},\n\nA seat opened up: you are now going to {{title}}, {{when}}.\n"
     "{{venue}}\nDetails: {{link}}\n",
     "<p>Hello {{name}},</p>\n<p>A seat opened up: you are now going to <b>{{title}}</b>, "
     "{{when}}.<br>{{venue}}</p>\n<p><a href=\"{{link}}\">Event details</a></p>\n",
     1, "PUBLISH", "/events/"},
    {"event_cancelled", "Cancelled: {{title}}",
     "Hello {{name}},\n\n{{title}}, planned {{when}}, has been cancelled.\nDetails: {{link}}\n",
     "<p>Hello {{name}},</p>\n<p><b>{{title}}</b>, planned {{when}}, has been cancelled.</p>\n"
     "<p><a href=\"{{link}}\">Event details</a></p>\n",
     1, "CANCEL", "/events/"},
};

typedef struct var {
    const char *name;
    const char *value;
} var;

/* Append s to b, HTML-escaped when html. */
static void append(cm__buf *b, const char *s, bool html)
{
    if (!html) {
        cm__buf_puts(b, s);
        return;
    }
    for (; *s; s++) {
        switch (*s) {
            case '&':
                cm__buf_puts(b, "&amp;");
                break;
            case '<':
                cm__buf_puts(b, "&lt;");
                break;
            case '>':
                cm__buf_puts(b, "&gt;");
                break;
            case '"':
                cm__buf_puts(b, "&quot;");
                break;
            case '\'':
                cm__buf_puts(b, "&#39;");
                break;
            default:
                cm__buf_put(b, s, 1);
        }
    }
}

/* Fill the {{name}} placeholders of t from vars. *out freed with cm__free.
 * CM_EINVAL for a placeholder no variable answers. */
static int expand(char **out, const char *tname, const char *t, const var *vars, size_t nvars,
                  bool html)
{
    cm__buf b = {0};
    *out = NULL;
    while (*t) {
        const char *open = strstr(t, "{{");
        if (!open) {
            cm__buf_puts(&b, t);
            break;
        }
        cm__buf_put(&b, t, (size_t)(open - t));
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            cm__free(b.p);
            return cm__error_set_field(CM_EINVAL, "template", "template %s: '{{' without '}}'",
                                       tname);
        }
        size_t n = (size_t)(close - open - 2);
        size_t i = 0;
        while (i < nvars && !(strlen(vars[i].name) == n && !strncmp(vars[i].name, open + 2, n)))
            i++;
        if (i == nvars) {
            cm__free(b.p);
            return cm__error_set_field(CM_EINVAL, "template", "template %s: unknown variable %.*s",
                                       tname, (int)n, open + 2);
        }
        append(&b, vars[i].value, html);
        t = close + 2;
    }
    if (b.err || !b.p) {
        cm__free(b.p);
        return b.err ? cm__oom() : (*out = cm__strdup("")) ? CM_OK : cm__oom();
    }
    *out = b.p;
    return CM_OK;
}

/* public_url + path + value, the value percent-encoded outside the
 * unreserved set. */
static void make_link(char *out, size_t n, const char *base, const char *path, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = (size_t)snprintf(out, n, "%s%s", base, path);
    for (const unsigned char *p = (const unsigned char *)value; *p && w + 4 < n; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            out[w++] = (char)*p;
        } else {
            out[w++] = '%';
            out[w++] = hex[*p >> 4];
            out[w++] = hex[*p & 15];
        }
    }
    out[w < n ? w : n - 1] = 0;
}

typedef struct event_info {
    char title[512], when[128], venue[600], status[16];
    int64_t start_at, end_at;
    bool found;
} event_info;

static int load_event(event_info *e, cm__conn *conn, int64_t event_id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.event_info");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, event_id);
    rc = cm__q_step(&q);
    if (rc == 1) {
        e->found = true;
        (void)snprintf(e->title, sizeof e->title, "%s", cm__q_col_text(&q, 0));
        const char *local = cm__q_col_text(&q, 1); /* YYYY-MM-DDTHH:MM[:SS] */
        (void)snprintf(e->when, sizeof e->when, "on %.10s at %.5s (%s)", local,
                       strlen(local) > 11 ? local + 11 : "", cm__q_col_text(&q, 2));
        e->start_at = cm__q_col_int64(&q, 3);
        e->end_at = cm__q_col_int64(&q, 4);
        const char *venue = cm__q_col_text(&q, 5), *online = cm__q_col_text(&q, 6);
        (void)snprintf(e->venue, sizeof e->venue, "%s%s%s", *venue ? venue : "",
                       *venue && *online ? " / " : "", online);
        (void)snprintf(e->status, sizeof e->status, "%s", cm__q_col_text(&q, 7));
    }
    cm__q_close(&q);
    return rc < 0 ? rc : CM_OK;
}

static int load_member_name(char *out, size_t n, cm__conn *conn, int64_t member_id)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "mail.member_info");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, member_id);
    rc = cm__q_step(&q);
    if (rc == 1)
        (void)snprintf(out, n, "%s", cm__q_col_text(&q, 0));
    cm__q_close(&q);
    return rc < 0 ? rc : CM_OK;
}

size_t cm__mail_template_count(void)
{
    return sizeof templates / sizeof *templates;
}

const char *cm__mail_template_name(size_t i)
{
    return i < cm__mail_template_count() ? templates[i].name : NULL;
}

int cm__mail_template_check(const char *what, const char *text)
{
    static const var probe[] = {{"site", ""}, {"name", ""},  {"link", ""}, {"title", ""},
                                {"when", ""}, {"venue", ""}, {"url", ""}};
    char *out = NULL;
    int rc = expand(&out, what, text, probe, sizeof probe / sizeof *probe, false);
    cm__free(out);
    if (rc) {
        char why[200];
        (void)snprintf(why, sizeof why, "%s", cm_error_message());
        return cm__error_set_field(CM_EINVAL, "templates_dir",
                                   "%s (known: site, name, link, title, when, venue, url)", why);
    }
    return CM_OK;
}

/* List-Unsubscribe for member_id's mail of category cat; *token (room for
 * CM__UNSUB_TOKEN_MAX) gets the signed token for other links. */
static int set_unsubscribe(char *token, cm__mail_msg *msg, cm__conn *conn,
                           const cm__mail_site *site, int64_t member_id, int cat)
{
    int rc = cm__unsub_token(token, conn, member_id, cat);
    if (rc)
        return rc;
    char url[1400];
    make_link(url, sizeof url, site->api_url, "/v1/mail/unsubscribe/", token);
    return cm__mail_set_list_unsubscribe(msg, url, NULL);
}

/* A newsletter: subject and Markdown from the newsletters row, a footer
 * with the preferences link. */
static int render_newsletter(cm__mail_msg *msg, cm__conn *conn, const cm__mail_site *site,
                             int64_t member_id, const char *payload)
{
    json_t *p = json_loads(payload, 0, NULL);
    int64_t nid = cm__json_int(p, "newsletter_id", 0);
    json_decref(p);
    if (nid <= 0 || member_id <= 0)
        return cm__error_set_field(CM_EINVAL, "payload",
                                   "a newsletter row needs newsletter_id "
                                   "and a member");
    cm__q q;
    int rc = cm__q_open(&q, conn, "newsletter.render_info");
    if (rc)
        return rc;
    cm__q_int64(&q, 1, nid);
    rc = cm__q_step(&q);
    char *subject = NULL, *md = NULL;
    if (rc == 1) {
        subject = cm__strdup(cm__q_col_text(&q, 0));
        md = cm__strdup(cm__q_col_text(&q, 1));
        rc = subject && md ? CM_OK : cm__oom();
    } else if (rc == 0) {
        rc = cm__error_set_field(CM_EINVAL, "payload", "newsletter %lld not found", (long long)nid);
    }
    cm__q_close(&q);
    char token[CM__UNSUB_TOKEN_MAX], prefs[1400];
    char *html = NULL, *text = NULL, *full_html = NULL;
    if (rc == CM_OK)
        rc = set_unsubscribe(token, msg, conn, site, member_id, CM__CAT_NEWSLETTERS);
    if (rc == CM_OK) {
        make_link(prefs, sizeof prefs, site->public_url, "/preferences?token=", token);
        rc = cm__mail_markdown_html(&html, md, strlen(md));
    }
    if (rc == CM_OK) {
        cm__buf b = {0};
        cm__buf_puts(&b, md);
        cm__buf_puts(&b, "\n\n-- \nYou get this newsletter from ");
        cm__buf_puts(&b, site->name);
        cm__buf_puts(&b, ". Unsubscribe or choose which mail you get: ");
        cm__buf_puts(&b, prefs);
        cm__buf_puts(&b, "\n");
        text = b.p;
        cm__buf h = {0};
        cm__buf_puts(&h, html);
        cm__buf_puts(&h, "<hr>\n<p>You get this newsletter from ");
        append(&h, site->name, true);
        cm__buf_puts(&h, ". <a href=\"");
        append(&h, prefs, true);
        cm__buf_puts(&h, "\">Unsubscribe or choose which mail you get</a>.</p>\n");
        full_html = h.p;
        if (b.err || h.err)
            rc = cm__oom();
    }
    if (rc == CM_OK)
        rc = cm__mail_set_subject(msg, subject);
    if (rc == CM_OK)
        rc = cm__mail_set_text(msg, text);
    if (rc == CM_OK)
        rc = cm__mail_set_html(msg, full_html);
    cm__free(subject);
    cm__free(md);
    cm__free(html);
    cm__free(text);
    cm__free(full_html);
    return rc;
}

int cm__mail_render_row(cm__mail_msg *msg, cm__conn *conn, const cm__mail_site *site, int64_t id,
                        int64_t created_at, int64_t member_id, const char *to,
                        const char *tmpl_name, const char *payload)
{
    if (strcmp(tmpl_name, "newsletter") == 0) {
        char mid[300], name[256] = "";
        (void)snprintf(mid, sizeof mid, "%lld.%lld.outbox@%s", (long long)id, (long long)created_at,
                       strrchr(site->from_addr, '@') + 1);
        int rc = member_id > 0 ? load_member_name(name, sizeof name, conn, member_id) : CM_OK;
        if (rc == CM_OK)
            rc = render_newsletter(msg, conn, site, member_id, payload);
        if (rc == CM_OK)
            rc = cm__mail_set_from(msg, site->from_addr, site->from_name);
        if (rc == CM_OK)
            rc = cm__mail_add_to(msg, to, name[0] ? name : NULL);
        if (rc == CM_OK)
            rc = cm__mail_set_message_id(msg, mid);
        if (rc == CM_OK)
            rc = cm__mail_set_date(msg, cm_now_us());
        if (rc == CM_OK)
            rc = cm__mail_add_header(msg, "Precedence", "bulk");
        return rc;
    }
    const tmpl *t = NULL;
    const cm__mail_tmpl_text *custom = NULL;
    for (size_t i = 0; i < sizeof templates / sizeof *templates; i++)
        if (strcmp(templates[i].name, tmpl_name) == 0) {
            t = &templates[i];
            custom = site->custom ? &site->custom[i] : NULL;
        }
    if (!t)
        return cm__error_set_field(CM_EINVAL, "template", "no template named %s", tmpl_name);
    json_t *p = json_loads(payload, 0, NULL);
    if (!json_is_object(p)) {
        json_decref(p);
        return cm__error_set_field(CM_EINVAL, "payload", "payload is not a JSON object");
    }
    char name[256] = "", link[1200] = "", idbuf[32];
    event_info ev = {0};
    int rc = CM_OK;
    if (member_id > 0)
        rc = load_member_name(name, sizeof name, conn, member_id);
    if (rc == CM_OK && !name[0])
        (void)snprintf(name, sizeof name, "%s",
                       cm__json_str(p, "name") ? cm__json_str(p, "name") : "there");
    if (rc == CM_OK && t->event) {
        int64_t event_id = cm__json_int(p, "event_id", 0);
        if (event_id > 0)
            rc = load_event(&ev, conn, event_id);
        if (rc == CM_OK && !ev.found)
            rc = cm__error_set_field(CM_EINVAL, "payload", "template %s: event %lld not found",
                                     tmpl_name, (long long)event_id);
        (void)snprintf(idbuf, sizeof idbuf, "%lld", (long long)event_id);
        make_link(link, sizeof link, site->public_url, t->path, idbuf);
    } else if (rc == CM_OK) {
        const char *token = cm__json_str(p, "token");
        if (!token || !*token)
            rc = cm__error_set_field(CM_EINVAL, "payload", "template %s needs a token", tmpl_name);
        else
            make_link(link, sizeof link, site->public_url, t->path, token);
    }
    json_decref(p);
    if (rc)
        return rc;
    const var vars[] = {
        {"site", site->name},      {"name", name},    {"link", link},
        {"title", ev.title},       {"when", ev.when}, {"venue", ev.venue},
        {"url", site->public_url},
    };
    size_t nv = sizeof vars / sizeof *vars;
    char *subject = NULL, *text = NULL, *html = NULL, *ics = NULL;
    const char *ts = custom && custom->subject ? custom->subject : t->subject;
    const char *tt = custom && custom->text ? custom->text : t->text;
    const char *th = custom && custom->html ? custom->html : t->html;
    if ((rc = expand(&subject, t->name, ts, vars, nv, false)) == CM_OK &&
        (rc = expand(&text, t->name, tt, vars, nv, false)) == CM_OK)
        rc = expand(&html, t->name, th, vars, nv, true);
    if (rc == CM_OK && t->ics && ev.found) {
        char uid[300];
        (void)snprintf(uid, sizeof uid, "event-%s@%s", idbuf, strrchr(site->from_addr, '@') + 1);
        cm__mail_ics_event ie = {
            .uid = uid,
            .start_us = ev.start_at,
            .end_us = ev.end_at,
            .stamp_us = created_at,
            .summary = ev.title,
            .location = ev.venue,
            .url = link,
            .method = t->ics,
            .sequence = strcmp(t->ics, "CANCEL") == 0 ? 1 : 0,
        };
        rc = cm__mail_ics_event_render(&ics, &ie);
    }
    char mid[300];
    (void)snprintf(mid, sizeof mid, "%lld.%lld.outbox@%s", (long long)id, (long long)created_at,
                   strrchr(site->from_addr, '@') + 1);
    if (rc == CM_OK)
        rc = cm__mail_set_from(msg, site->from_addr, site->from_name);
    if (rc == CM_OK)
        rc = cm__mail_add_to(msg, to, member_id > 0 && strcmp(name, "there") ? name : NULL);
    if (rc == CM_OK)
        rc = cm__mail_set_subject(msg, subject);
    if (rc == CM_OK)
        rc = cm__mail_set_text(msg, text);
    if (rc == CM_OK)
        rc = cm__mail_set_html(msg, html);
    if (rc == CM_OK && ics)
        rc = cm__mail_set_ics(msg, ics, t->ics);
    if (rc == CM_OK)
        rc = cm__mail_set_message_id(msg, mid);
    if (rc == CM_OK)
        rc = cm__mail_set_date(msg, cm_now_us());
    if (rc == CM_OK)
        rc = cm__mail_add_header(msg, "Auto-Submitted", "auto-generated");
    int cat = cm__mail_cat_of_template(t->name);
    if (rc == CM_OK && cat >= 0 && member_id > 0) {
        char token[CM__UNSUB_TOKEN_MAX];
        rc = set_unsubscribe(token, msg, conn, site, member_id, cat);
    }
    cm__free(subject);
    cm__free(text);
    cm__free(html);
    cm__free(ics);
    return rc;
}
