/*
 * mime.c - the message builder: validates every piece as it is set (so a
 * header injection or a malformed address is refused with the field's
 * name, before anything reaches a server) and renders RFC 5322 text that
 * is 7-bit clean: headers with non-ASCII text as RFC 2047 encoded words,
 * bodies quoted-printable, the calendar part base64, lines folded below
 * 78 characters.
 */
#include "mail.h"
#include "mail_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct mbox {
    char *addr, *name;
} mbox;

typedef struct xheader {
    char *name, *value;
} xheader;

struct cm__mail_msg {
    mbox from, reply_to;
    mbox *to;
    size_t nto;
    char *subject, *text, *html, *ics, *ics_method;
    char *unsub_url, *unsub_mailto;
    xheader *extra;
    size_t nextra;
    int64_t date_us;
    char *message_id;
    bool message_id_fixed;
};

/* ---- validation ---- */

static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool is_hostchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* dot-atom: atext runs separated by single dots, no dot at either end. */
static bool dot_atom(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!is_atext((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static bool host_name(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
                return false;
            label = 0;
        } else if (!is_hostchar((unsigned char)s[i])) {
            return false;
        } else {
            label++;
        }
    }
    return true;
}

bool cm__mail_addr_valid(const char *addr)
{
    if (!addr)
        return false;
    size_t n = strlen(addr);
    const char *at = strrchr(addr, '@');
    if (!at || n > 254)
        return false;
    size_t local = (size_t)(at - addr);
    return local <= 64 && dot_atom(addr, local) && host_name(at + 1, n - local - 1);
}

/* Header text: UTF-8, no control characters except TAB (so no CR, LF). */
static int check_text(const char *field, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return cm__error_set_field(CM_EINVAL, field, "%s is longer than %zu bytes", field, max);
    if (!cm__utf8_valid(s, n))
        return cm__error_set_field(CM_EINVAL, field, "%s is not valid UTF-8", field);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n')
            return cm__error_set_field(CM_EINVAL, field,
                                       "%s contains a line break (header injection)", field);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return cm__error_set_field(CM_EINVAL, field, "%s contains a control character", field);
    }
    return CM_OK;
}

/* A body: UTF-8 without NUL, bounded. Line breaks are fine here. */
static int check_body(const char *field, const char *s)
{
    size_t n = strlen(s);
    if (n > CM__MAIL_MAX_BODY)
        return cm__error_set_field(CM_EINVAL, field, "%s is longer than %d bytes", field,
                                   CM__MAIL_MAX_BODY);
    if (!cm__utf8_valid(s, n))
        return cm__error_set_field(CM_EINVAL, field, "%s is not valid UTF-8", field);
    return CM_OK;
}

/* A URL or mailto address for List-Unsubscribe: printable ASCII without
 * spaces, angle brackets or commas (they delimit the list). */
static bool uri_safe(const char *s)
{
    if (!*s || strlen(s) > 900)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '<' || *p == '>' || *p == ',' || *p == '"')
            return false;
    return true;
}

static int dup_into(char **dst, const char *s)
{
    char *c = s ? cm__strdup(s) : NULL;
    if (s && !c)
        return cm__oom();
    cm__free(*dst);
    *dst = c;
    return CM_OK;
}

static int set_mbox(mbox *b, const char *field, const char *addr, const char *name)
{
    if (!addr || !cm__mail_addr_valid(addr)) {
        char shown[80];
        cm__mail_shown(shown, sizeof shown, addr);
        return cm__error_set_field(CM_EINVAL, field, "%s is not a valid e-mail address: %s", field,
                                   shown);
    }
    int rc;
    if (name && *name && (rc = check_text(field, name, 256)))
        return rc;
    mbox nb = {cm__strdup(addr), name && *name ? cm__strdup(name) : NULL};
    if (!nb.addr || (name && *name && !nb.name)) {
        cm__free(nb.addr);
        cm__free(nb.name);
        return cm__oom();
    }
    cm__free(b->addr);
    cm__free(b->name);
    *b = nb;
    return CM_OK;
}

/* ---- lifecycle and setters ---- */

int cm__mail_msg_new(cm__mail_msg **out)
{
    *out = cm__calloc(1, sizeof **out);
    return *out ? CM_OK : cm__oom();
}

void cm__mail_msg_free(cm__mail_msg *m)
{
    if (!m)
        return;
    cm__free(m->from.addr);
    cm__free(m->from.name);
    cm__free(m->reply_to.addr);
    cm__free(m->reply_to.name);
    for (size_t i = 0; i < m->nto; i++) {
        cm__free(m->to[i].addr);
        cm__free(m->to[i].name);
    }
    cm__free(m->to);
    for (size_t i = 0; i < m->nextra; i++) {
        cm__free(m->extra[i].name);
        cm__free(m->extra[i].value);
    }
    cm__free(m->extra);
    cm__free(m->subject);
    cm__free(m->text);
    cm__free(m->html);
    cm__free(m->ics);
    cm__free(m->ics_method);
    cm__free(m->unsub_url);
    cm__free(m->unsub_mailto);
    cm__free(m->message_id);
    cm__free(m);
}

int cm__mail_set_from(cm__mail_msg *m, const char *addr, const char *name)
{
    return set_mbox(&m->from, "from", addr, name);
}

int cm__mail_set_reply_to(cm__mail_msg *m, const char *addr, const char *name)
{
    return set_mbox(&m->reply_to, "reply_to", addr, name);
}

int cm__mail_add_to(cm__mail_msg *m, const char *addr, const char *name)
{
    if (m->nto >= 100)
        return cm__error_set_field(CM_EINVAL, "to", "at most 100 recipients per message");
    mbox *g = cm__realloc(m->to, (m->nto + 1) * sizeof *g);
    if (!g)
        return cm__oom();
    m->to = g;
    g[m->nto] = (mbox){NULL, NULL};
    int rc = set_mbox(&g[m->nto], "to", addr, name);
    if (rc == CM_OK)
        m->nto++;
    return rc;
}

int cm__mail_set_subject(cm__mail_msg *m, const char *subject)
{
    int rc = check_text("subject", subject ? subject : "", CM__MAIL_MAX_HEADER);
    return rc ? rc : dup_into(&m->subject, subject ? subject : "");
}

int cm__mail_set_text(cm__mail_msg *m, const char *text)
{
    if (!text)
        return cm__error_set_field(CM_EINVAL, "text", "text is required");
    int rc = check_body("text", text);
    return rc ? rc : dup_into(&m->text, text);
}

int cm__mail_set_html(cm__mail_msg *m, const char *html)
{
    int rc = html ? check_body("html", html) : CM_OK;
    return rc ? rc : dup_into(&m->html, html);
}

int cm__mail_set_ics(cm__mail_msg *m, const char *ics, const char *method)
{
    if (!method)
        method = "PUBLISH";
    if (strcmp(method, "PUBLISH") && strcmp(method, "REQUEST") && strcmp(method, "CANCEL"))
        return cm__error_set_field(CM_EINVAL, "ics",
                                   "calendar method must be PUBLISH, "
                                   "REQUEST or CANCEL");
    int rc = ics ? check_body("ics", ics) : CM_OK;
    if (rc == CM_OK && ics && strncmp(ics, "BEGIN:VCALENDAR", 15) != 0)
        rc = cm__error_set_field(CM_EINVAL, "ics", "ics must be a VCALENDAR object");
    if (rc == CM_OK && (rc = dup_into(&m->ics, ics)) == CM_OK)
        rc = dup_into(&m->ics_method, method);
    return rc;
}

int cm__mail_set_list_unsubscribe(cm__mail_msg *m, const char *url, const char *mailto)
{
    if (!url && !mailto)
        return cm__error_set_field(CM_EINVAL, "list_unsubscribe",
                                   "a URL or a mailto address "
                                   "is required");
    if (url && (!uri_safe(url) || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7))))
        return cm__error_set_field(CM_EINVAL, "list_unsubscribe",
                                   "list_unsubscribe URL must be an http(s) URL without "
                                   "spaces, line breaks, commas or angle brackets");
    if (mailto && !cm__mail_addr_valid(mailto))
        return cm__error_set_field(CM_EINVAL, "list_unsubscribe",
                                   "list_unsubscribe mailto is not a valid e-mail address");
    int rc = dup_into(&m->unsub_url, url);
    return rc ? rc : dup_into(&m->unsub_mailto, mailto);
}

static const char *const reserved_headers[] = {
    "date",
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "list-unsubscribe",
    "list-unsubscribe-post",
    NULL,
};

int cm__mail_add_header(cm__mail_msg *m, const char *name, const char *value)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 76)
        return cm__error_set_field(CM_EINVAL, "header", "header name must be 1-76 characters");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == ':')
            return cm__error_set_field(CM_EINVAL, "header",
                                       "header name has a character "
                                       "outside printable ASCII or ':'");
    }
    for (size_t i = 0; reserved_headers[i]; i++)
        if (strcasecmp(name, reserved_headers[i]) == 0)
            return cm__error_set_field(CM_EINVAL, "header", "header %s is set by the builder",
                                       name);
    int rc = check_text("header", value ? value : "", CM__MAIL_MAX_HEADER);
    if (rc)
        return rc;
    xheader *g = cm__realloc(m->extra, (m->nextra + 1) * sizeof *g);
    if (!g)
        return cm__oom();
    m->extra = g;
    g[m->nextra] = (xheader){cm__strdup(name), cm__strdup(value ? value : "")};
    if (!g[m->nextra].name || !g[m->nextra].value) {
        cm__free(g[m->nextra].name);
        cm__free(g[m->nextra].value);
        return cm__oom();
    }
    m->nextra++;
    return CM_OK;
}

int cm__mail_set_date(cm__mail_msg *m, int64_t us)
{
    m->date_us = us;
    return CM_OK;
}

int cm__mail_set_message_id(cm__mail_msg *m, const char *id)
{
    const char *at = id ? strrchr(id, '@') : NULL;
    if (!at || !dot_atom(id, (size_t)(at - id)) || !host_name(at + 1, strlen(at + 1)) ||
        strlen(id) > 250)
        return cm__error_set_field(CM_EINVAL, "message_id",
                                   "message_id must look like local@domain");
    int rc = dup_into(&m->message_id, id);
    if (rc == CM_OK)
        m->message_id_fixed = true;
    return rc;
}

const char *cm__mail_from(const cm__mail_msg *m)
{
    return m->from.addr;
}

size_t cm__mail_rcpt_count(const cm__mail_msg *m)
{
    return m->nto;
}

const char *cm__mail_rcpt(const cm__mail_msg *m, size_t i)
{
    return i < m->nto ? m->to[i].addr : NULL;
}

const char *cm__mail_message_id(const cm__mail_msg *m)
{
    return m->message_id;
}

/* ---- rendering ---- */

/* A header being written: the column of the current line, for folding. */
typedef struct hdr {
    cm__buf *b;
    size_t col;
} hdr;

static void h_start(hdr *h, cm__buf *b, const char *name)
{
    h->b = b;
    cm__buf_puts(b, name);
    cm__buf_puts(b, ":");
    h->col = strlen(name) + 1;
}

/* Append " token" (sep = true) or "token", folding before it when the line
 * would pass 78 characters. Folding turns the separating space into
 * CRLF SP, which unfolding turns back into the same space. */
static void h_token(hdr *h, const char *tok, size_t n, bool sep)
{
    if (sep && n > 0 && h->col + 1 + n > 78 && h->col > 1) {
        cm__buf_puts(h->b, "\r\n");
        h->col = 0;
    }
    if (sep) {
        cm__buf_put(h->b, " ", 1);
        h->col++;
    }
    cm__buf_put(h->b, tok, n);
    h->col += n;
}

static void h_end(hdr *h)
{
    cm__buf_puts(h->b, "\r\n");
}

/* RFC 2047 "B" encoded words of at most 39 input bytes each (52 base64
 * characters, 64 with the delimiters), cut at UTF-8 boundaries. */
static void h_encoded(hdr *h, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = n - i < 39 ? n - i : 39;
        while (k > 0 && i + k < n && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k--;
        char word[96] = "=?UTF-8?B?";
        size_t w = 10;
        w += cm__mail_base64(word + w, (const unsigned char *)s + i, k);
        memcpy(word + w, "?=", 3);
        h_token(h, word, w + 2, true);
        i += k;
    }
}

static bool plain_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80 || *p < 0x20)
            return false;
    return !strstr(s, "=?");
}

/* Unstructured text (Subject, extra headers): ASCII words folded at their
 * spaces when every word fits on a line, encoded words otherwise. */
static void h_unstructured(hdr *h, const char *s)
{
    bool words_fit = plain_ascii(s);
    for (const char *p = s; words_fit && *p;) {
        size_t w = strcspn(p, " ");
        if (w > 70)
            words_fit = false;
        p += w;
        if (*p)
            p++;
    }
    if (!words_fit) {
        h_encoded(h, s, strlen(s));
        return;
    }
    const char *p = s;
    for (;;) {
        size_t w = strcspn(p, " ");
        h_token(h, p, w, true);
        p += w;
        if (!*p)
            break;
        p++; /* the space between words becomes the separator */
    }
}

static bool phrase_atoms(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p != ' ' && !is_atext(*p))
            return false;
    return s[0] != ' ' && s[strlen(s) - 1] != ' ' && !strstr(s, "  ");
}

static void h_mailbox(hdr *h, const mbox *b, bool comma)
{
    if (b->name) {
        if (!plain_ascii(b->name)) {
            h_encoded(h, b->name, strlen(b->name));
        } else if (phrase_atoms(b->name)) {
            h_unstructured(h, b->name);
        } else { /* quoted-string */
            cm__buf q = {0};
            cm__buf_puts(&q, "\"");
            for (const char *p = b->name; *p; p++) {
                if (*p == '"' || *p == '\\')
                    cm__buf_puts(&q, "\\");
                cm__buf_put(&q, p, 1);
            }
            cm__buf_puts(&q, "\"");
            if (q.err)
                h->b->err = q.err;
            else
                h_token(h, q.p, q.len, true);
            cm__free(q.p);
        }
    }
    char a[300];
    int n = snprintf(a, sizeof a, "<%s>%s", b->addr, comma ? "," : "");
    h_token(h, a, (size_t)n, true);
}

/* Quoted-printable (RFC 2045 6.7) with CRLF line breaks: any of LF, CRLF
 * or CR in the input ends a line. Lines are at most 76 characters. */
static void qp_encode(cm__buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '\r' || c == '\n') {
            if (c == '\r' && p[1] == '\n')
                p++;
            cm__buf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        bool eol = p[1] == 0 || p[1] == '\r' || p[1] == '\n';
        char enc[3];
        size_t n;
        if ((c >= 33 && c <= 126 && c != '=' && !(c == '.' && col == 0)) ||
            ((c == ' ' || c == '\t') && !eol)) {
            enc[0] = (char)c;
            n = 1;
        } else {
            enc[0] = '=';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            n = 3;
        }
        /* room for a soft break "=" after this character unless the line ends */
        if (col + n > (eol ? 76u : 75u)) {
            cm__buf_puts(b, "=\r\n");
            col = 0;
            if (c == '.') { /* never a lone "." at the start of a line */
                enc[0] = '=';
                enc[1] = '2';
                enc[2] = 'E';
                n = 3;
            }
        }
        cm__buf_put(b, enc, n);
        col += n;
    }
    if (col)
        cm__buf_puts(b, "\r\n");
}

static void b64_lines(cm__buf *b, const char *s)
{
    size_t n = strlen(s);
    char line[80];
    for (size_t i = 0; i < n; i += 57) {
        size_t k = n - i < 57 ? n - i : 57;
        size_t w = cm__mail_base64(line, (const unsigned char *)s + i, k);
        cm__buf_put(b, line, w);
        cm__buf_puts(b, "\r\n");
    }
}

/* A text part. In a multipart body (multi), a body that ends with a line
 * break gets one more CRLF: the CRLF before a boundary belongs to the
 * boundary, and the body's own last line break must survive. */
static void text_part(cm__buf *b, const char *subtype, const char *body, bool multi)
{
    cm__buf_printf(b,
                   "Content-Type: text/%s; charset=UTF-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                   subtype);
    qp_encode(b, body);
    size_t n = strlen(body);
    if (multi && n && (body[n - 1] == '\n' || body[n - 1] == '\r'))
        cm__buf_puts(b, "\r\n");
}

static void new_boundary(char *out, size_t n)
{
    unsigned char r[12];
    if (cm__random_bytes(r, sizeof r) != CM_OK)
        memset(r, 0x5a, sizeof r);
    /* "=_" never occurs in quoted-printable or base64 text */
    size_t w = (size_t)snprintf(out, n, "=_cm_");
    for (size_t i = 0; i < sizeof r && w + 2 < n; i++)
        w += (size_t)snprintf(out + w, n - w, "%02x", r[i]);
}

static void date_header(cm__buf *b, int64_t us)
{
    static const char *const days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t secs = us / 1000000;
    if (us < 0 && us % 1000000)
        secs--;
    int64_t day = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        day--;
    }
    int y, mo, d;
    cm__civil_from_days(day, &y, &mo, &d);
    int wd = (int)(((day % 7) + 7) % 7);
    cm__buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[wd], d,
                   months[mo - 1], y, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

int cm__mail_render(char **out, size_t *len_out, cm__mail_msg *m)
{
    *out = NULL;
    if (len_out)
        *len_out = 0;
    if (!m->from.addr)
        return cm__error_set_field(CM_EINVAL, "from", "from is required");
    if (m->nto == 0)
        return cm__error_set_field(CM_EINVAL, "to", "at least one recipient is required");
    if (!m->text)
        return cm__error_set_field(CM_EINVAL, "text", "text is required");
    if (!m->message_id_fixed) {
        unsigned char r[16];
        int rc = cm__random_bytes(r, sizeof r);
        if (rc)
            return rc;
        char id[300];
        size_t w = 0;
        for (size_t i = 0; i < sizeof r; i++)
            w += (size_t)snprintf(id + w, sizeof id - w, "%02x", r[i]);
        (void)snprintf(id + w, sizeof id - w, "@%s", strrchr(m->from.addr, '@') + 1);
        if ((rc = dup_into(&m->message_id, id)))
            return rc;
    }
    cm__buf b = {0};
    hdr h;
    date_header(&b, m->date_us ? m->date_us : cm_now_us());
    h_start(&h, &b, "From");
    h_mailbox(&h, &m->from, false);
    h_end(&h);
    if (m->reply_to.addr) {
        h_start(&h, &b, "Reply-To");
        h_mailbox(&h, &m->reply_to, false);
        h_end(&h);
    }
    h_start(&h, &b, "To");
    for (size_t i = 0; i < m->nto; i++)
        h_mailbox(&h, &m->to[i], i + 1 < m->nto);
    h_end(&h);
    h_start(&h, &b, "Subject");
    if (m->subject && *m->subject)
        h_unstructured(&h, m->subject);
    h_end(&h);
    cm__buf_printf(&b, "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n", m->message_id);
    if (m->unsub_url || m->unsub_mailto) {
        h_start(&h, &b, "List-Unsubscribe");
        char tok[920];
        int n;
        if (m->unsub_url) {
            n = snprintf(tok, sizeof tok, "<%s>%s", m->unsub_url, m->unsub_mailto ? "," : "");
            h_token(&h, tok, (size_t)n, true);
        }
        if (m->unsub_mailto) {
            n = snprintf(tok, sizeof tok, "<mailto:%s?subject=unsubscribe>", m->unsub_mailto);
            h_token(&h, tok, (size_t)n, true);
        }
        h_end(&h);
        if (m->unsub_url && strncmp(m->unsub_url, "https://", 8) == 0)
            cm__buf_puts(&b, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    }
    for (size_t i = 0; i < m->nextra; i++) {
        h_start(&h, &b, m->extra[i].name);
        if (*m->extra[i].value)
            h_unstructured(&h, m->extra[i].value);
        h_end(&h);
    }
    char outer[48], inner[48];
    new_boundary(outer, sizeof outer);
    new_boundary(inner, sizeof inner);
    if (m->ics)
        cm__buf_printf(&b,
                       "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
                       "This is a multi-part message in MIME format.\r\n--%s\r\n",
                       outer, outer);
    if (m->html) {
        cm__buf_printf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", inner);
        if (!m->ics)
            cm__buf_puts(&b, "This is a multi-part message in MIME format.\r\n");
        cm__buf_printf(&b, "--%s\r\n", inner);
        text_part(&b, "plain", m->text, true);
        cm__buf_printf(&b, "--%s\r\n", inner);
        text_part(&b, "html", m->html, true);
        cm__buf_printf(&b, "--%s--\r\n", inner);
    } else {
        text_part(&b, "plain", m->text, m->ics != NULL);
    }
    if (m->ics) {
        cm__buf_printf(&b,
                       "--%s\r\n"
                       "Content-Type: text/calendar; charset=UTF-8; method=%s; "
                       "name=\"invite.ics\"\r\n"
                       "Content-Disposition: attachment; filename=\"invite.ics\"\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\n",
                       outer, m->ics_method);
        b64_lines(&b, m->ics);
        cm__buf_printf(&b, "--%s--\r\n", outer);
    }
    if (b.err) {
        cm__free(b.p);
        return cm__oom();
    }
    *out = b.p;
    if (len_out)
        *len_out = b.len;
    return CM_OK;
}
