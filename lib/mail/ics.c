/*
 * ics.c - a calendar object (RFC 5545) with one event, for the .ics part of
 * event mails: UTC times, TEXT values escaped (backslash, semicolon, comma,
 * line breaks), content lines folded at 75 octets without splitting a UTF-8
 * sequence, CRLF line endings.
 */
#include "mail_int.h"

#include <stdio.h>
#include <string.h>

/* Append one content line "NAME:value", folding it: every physical line
 * holds at most 75 octets, continuation lines start with a space. */
static void line(cm__buf *b, const char *name, const char *value, bool text)
{
    cm__buf v = {0};
    cm__buf_puts(&v, name);
    cm__buf_puts(&v, ":");
    for (const char *p = value; *p; p++) {
        if (text && (*p == '\\' || *p == ';' || *p == ',')) {
            char e[2] = {'\\', *p};
            cm__buf_put(&v, e, 2);
        } else if (text && (*p == '\r' || *p == '\n')) {
            if (*p == '\r' && p[1] == '\n')
                p++;
            cm__buf_puts(&v, "\\n");
        } else if ((unsigned char)*p < 0x20 && *p != '\t') {
            continue; /* other control characters are not allowed in TEXT */
        } else {
            cm__buf_put(&v, p, 1);
        }
    }
    if (v.err) {
        b->err = v.err;
        cm__free(v.p);
        return;
    }
    size_t i = 0, limit = 75;
    while (i < v.len) {
        size_t k = v.len - i < limit ? v.len - i : limit;
        while (k > 0 && i + k < v.len && ((unsigned char)v.p[i + k] & 0xC0) == 0x80)
            k--;
        if (i > 0)
            cm__buf_puts(b, " ");
        cm__buf_put(b, v.p + i, k);
        cm__buf_puts(b, "\r\n");
        i += k;
        limit = 74; /* the leading space counts */
    }
    cm__free(v.p);
}

static void utc(char *buf, size_t n, int64_t us)
{
    int64_t secs = us / 1000000, day = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        day--;
    }
    int y, mo, d;
    cm__civil_from_days(day, &y, &mo, &d);
    (void)snprintf(buf, n, "%04d%02d%02dT%02d%02d%02dZ", y, mo, d, (int)(sod / 3600),
                   (int)(sod / 60 % 60), (int)(sod % 60));
}

static bool uri_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return false;
    return *s != 0;
}

int cm__mail_ics_event_render(char **out, const cm__mail_ics_event *ev)
{
    *out = NULL;
    const char *method = ev->method ? ev->method : "PUBLISH";
    if (strcmp(method, "PUBLISH") && strcmp(method, "REQUEST") && strcmp(method, "CANCEL"))
        return cm__error_set_field(CM_EINVAL, "ics", "method must be PUBLISH, REQUEST or CANCEL");
    if (!ev->uid || !uri_ok(ev->uid) || strlen(ev->uid) > 255)
        return cm__error_set_field(CM_EINVAL, "ics", "uid must be printable ASCII");
    if (!ev->summary || ev->end_us < ev->start_us)
        return cm__error_set_field(CM_EINVAL, "ics",
                                   "summary, start and end (>= start) are "
                                   "required");
    if (ev->url && !uri_ok(ev->url))
        return cm__error_set_field(CM_EINVAL, "ics", "url must be printable ASCII");
    const char *texts[] = {ev->summary, ev->description, ev->location};
    for (size_t i = 0; i < 3; i++)
        if (texts[i] && (!cm__utf8_valid(texts[i], strlen(texts[i])) ||
                         strlen(texts[i]) > CM__MAIL_MAX_BODY / 4))
            return cm__error_set_field(CM_EINVAL, "ics",
                                       "calendar text is not valid UTF-8 or "
                                       "too long");
    char t[32], seq[24];
    cm__buf b = {0};
    cm__buf_puts(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//libcommunity//mail//EN\r\n"
                     "CALSCALE:GREGORIAN\r\n");
    line(&b, "METHOD", method, false);
    cm__buf_puts(&b, "BEGIN:VEVENT\r\n");
    line(&b, "UID", ev->uid, false);
    utc(t, sizeof t, ev->stamp_us ? ev->stamp_us : cm_now_us());
    line(&b, "DTSTAMP", t, false);
    utc(t, sizeof t, ev->start_us);
    line(&b, "DTSTART", t, false);
    utc(t, sizeof t, ev->end_us);
    line(&b, "DTEND", t, false);
    (void)snprintf(seq, sizeof seq, "%d", (int)ev->sequence);
    line(&b, "SEQUENCE", seq, false);
    line(&b, "SUMMARY", ev->summary, true);
    if (ev->description && *ev->description)
        line(&b, "DESCRIPTION", ev->description, true);
    if (ev->location && *ev->location)
        line(&b, "LOCATION", ev->location, true);
    if (ev->url && *ev->url)
        line(&b, "URL", ev->url, false);
    line(&b, "STATUS", strcmp(method, "CANCEL") == 0 ? "CANCELLED" : "CONFIRMED", false);
    cm__buf_puts(&b, "END:VEVENT\r\nEND:VCALENDAR\r\n");
    if (b.err) {
        cm__free(b.p);
        return cm__oom();
    }
    *out = b.p;
    return CM_OK;
}
