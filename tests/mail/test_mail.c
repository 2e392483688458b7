/*
 * test_mail.c - lib/mail: the MIME builder and the calendar writer, checked
 * by parsing their output with Python's email package, and the SMTP sender
 * against a real SMTP server (aiosmtpd) started by the test, with STARTTLS,
 * AUTH, rejections and connection reuse.
 */
#include "mail/mail.h"
#include "fx_sink.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cm_mail_XXXXXX");
    ck_assert(mkdtemp(tmpdir) != NULL);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Render m, write it to a file and return Python's view of it. */
static json_t *render_parse(cm__mail_msg *m, char **raw_out)
{
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(cm__mail_render(&raw, &len, m), CM_OK);
    ck_assert_uint_eq(strlen(raw), len);
    char path[128];
    snprintf(path, sizeof path, "%s/m.eml", tmpdir);
    FILE *f = fopen(path, "wb");
    ck_assert(f && fwrite(raw, 1, len, f) == len);
    fclose(f);
    json_t *j = fx_sink_parse_file(path);
    if (raw_out)
        *raw_out = raw;
    else
        cm__free(raw);
    return j;
}

static const char *hdr1(json_t *j, const char *name)
{
    return json_string_value(
        json_array_get(json_object_get(json_object_get(j, "headers"), name), 0));
}

static json_t *part(json_t *j, size_t i)
{
    return json_array_get(json_object_get(j, "parts"), i);
}

static const char *pstr(json_t *p, const char *k)
{
    return json_string_value(json_object_get(p, k));
}

static void assert_wire_clean(json_t *j)
{
    ck_assert_int_le(json_integer_value(json_object_get(j, "max_line")), 78);
    ck_assert(json_is_false(json_object_get(j, "bare_lf")));
    ck_assert(json_is_false(json_object_get(j, "eight_bit")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "defects")), 0);
}

START_TEST(text_only_round_trip)
{
    cm__mail_msg *m;
    ck_assert_int_eq(cm__mail_msg_new(&m), CM_OK);
    ck_assert_int_eq(cm__mail_set_from(m, "noreply@example.org", "Community"), CM_OK);
    ck_assert_int_eq(cm__mail_add_to(m, "ana@example.com", NULL), CM_OK);
    ck_assert_int_eq(cm__mail_set_subject(m, "Reset your password"), CM_OK);
    /* bodies that trip naive encoders: a lone dot, "=", trailing spaces,
     * a long line, UTF-8, bare LF and CRLF mixed */
    const char *text = "Hello Ana,\n.\n= sign and a=b\ntrailing spaces   \n"
                       "a very long line that goes on and on and on and on and on and on and "
                       "on and on and on past seventy-six characters\r\n"
                       "Grüße, 日本語, emoji 🎉\n.leading dot\n";
    ck_assert_int_eq(cm__mail_set_text(m, text), CM_OK);
    ck_assert_int_eq(cm__mail_set_date(m, INT64_C(1764851315) * 1000000), CM_OK);
    ck_assert_int_eq(cm__mail_add_header(m, "Auto-Submitted", "auto-generated"), CM_OK);
    json_t *j = render_parse(m, NULL);
    assert_wire_clean(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "text/plain");
    ck_assert_str_eq(hdr1(j, "subject"), "Reset your password");
    ck_assert_str_eq(hdr1(j, "date"), "Thu, 04 Dec 2025 12:28:35 +0000");
    ck_assert_str_eq(hdr1(j, "auto-submitted"), "auto-generated");
    ck_assert_str_eq(hdr1(j, "mime-version"), "1.0");
    char want_id[300];
    snprintf(want_id, sizeof want_id, "<%s>", cm__mail_message_id(m));
    ck_assert_str_eq(hdr1(j, "message-id"), want_id);
    ck_assert(strstr(want_id, "@example.org>") != NULL);
    json_t *from = json_array_get(json_object_get(j, "from"), 0);
    ck_assert_str_eq(json_string_value(json_array_get(from, 0)), "Community");
    ck_assert_str_eq(json_string_value(json_array_get(from, 1)), "noreply@example.org");
    json_t *p = part(j, 0);
    ck_assert_str_eq(pstr(p, "charset"), "utf-8");
    ck_assert_str_eq(pstr(p, "cte"), "quoted-printable");
    /* line breaks come back as LF from Python; everything else is intact */
    const char *want = "Hello Ana,\n.\n= sign and a=b\ntrailing spaces   \n"
                       "a very long line that goes on and on and on and on and on and on and "
                       "on and on and on past seventy-six characters\n"
                       "Grüße, 日本語, emoji 🎉\n.leading dot\n";
    ck_assert_str_eq(pstr(p, "body"), want);
    json_decref(j);
    cm__mail_msg_free(m);
}
END_TEST

START_TEST(full_message_round_trip)
{
    cm__mail_msg *m;
    ck_assert_int_eq(cm__mail_msg_new(&m), CM_OK);
    const char *subject = "Réunion de la communauté 🎉 — ce soir à 19 h, n'oubliez pas de "
                          "confirmer votre présence avant midi";
    ck_assert_int_eq(cm__mail_set_from(m, "events@example.org", "Équipe Communauté"), CM_OK);
    ck_assert_int_eq(cm__mail_set_reply_to(m, "organizer@example.org", "O'Brien, Pat"), CM_OK);
    ck_assert_int_eq(cm__mail_add_to(m, "zoe@example.com", "Zoë \"Z\" Müller"), CM_OK);
    ck_assert_int_eq(cm__mail_add_to(m, "bob@example.net", "Bob Smith"), CM_OK);
    ck_assert_int_eq(cm__mail_set_subject(m, subject), CM_OK);
    ck_assert_int_eq(cm__mail_set_text(m, "Plain version: à bientôt"), CM_OK);
    ck_assert_int_eq(cm__mail_set_html(m, "<p>HTML version: <b>à bientôt</b></p>"), CM_OK);
    ck_assert_int_eq(
        cm__mail_set_list_unsubscribe(m, "https://example.org/u/abc?sig=x_y", "unsub@example.org"),
        CM_OK);
    ck_assert_int_eq(cm__mail_set_message_id(m, "evt-7.1234@example.org"), CM_OK);
    cm__mail_ics_event ev = {
        .uid = "event-7@example.org",
        .start_us = INT64_C(1767290400) * 1000000, /* 2026-01-01T18:00:00Z */
        .end_us = INT64_C(1767297600) * 1000000,
        .stamp_us = INT64_C(1764851315) * 1000000,
        .summary = "Réunion; ordre du jour, apéro \\ fin",
        .description = "Line one\nLine two with a very long text that must be folded because "
                       "it is longer than seventy-five octets: ééééééééééééééééééé",
        .location = "Salle 2, Mairie",
        .url = "https://example.org/events/7",
        .method = "REQUEST",
        .sequence = 2,
    };
    char *ics = NULL;
    ck_assert_int_eq(cm__mail_ics_event_render(&ics, &ev), CM_OK);
    ck_assert_int_eq(cm__mail_set_ics(m, ics, "REQUEST"), CM_OK);
    json_t *j = render_parse(m, NULL);
    assert_wire_clean(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "multipart/mixed");
    ck_assert_str_eq(hdr1(j, "subject"), subject);
    ck_assert_str_eq(hdr1(j, "message-id"), "<evt-7.1234@example.org>");
    json_t *from = json_array_get(json_object_get(j, "from"), 0);
    ck_assert_str_eq(json_string_value(json_array_get(from, 0)), "Équipe Communauté");
    json_t *to = json_object_get(j, "to");
    ck_assert_uint_eq(json_array_size(to), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_array_get(to, 0), 0)),
                     "Zoë \"Z\" Müller");
    ck_assert_str_eq(json_string_value(json_array_get(json_array_get(to, 0), 1)),
                     "zoe@example.com");
    ck_assert_str_eq(json_string_value(json_array_get(json_array_get(to, 1), 0)), "Bob Smith");
    ck_assert(strstr(hdr1(j, "reply-to"), "O'Brien, Pat") != NULL);
    ck_assert_str_eq(hdr1(j, "list-unsubscribe"), "<https://example.org/u/abc?sig=x_y>, "
                                                  "<mailto:unsub@example.org?subject=unsubscribe>");
    ck_assert_str_eq(hdr1(j, "list-unsubscribe-post"), "List-Unsubscribe=One-Click");
    ck_assert_uint_eq(json_array_size(json_object_get(j, "parts")), 3);
    ck_assert_str_eq(pstr(part(j, 0), "type"), "text/plain");
    ck_assert_str_eq(pstr(part(j, 0), "body"), "Plain version: à bientôt");
    ck_assert_str_eq(pstr(part(j, 1), "type"), "text/html");
    ck_assert_str_eq(pstr(part(j, 1), "body"), "<p>HTML version: <b>à bientôt</b></p>");
    json_t *cal = part(j, 2);
    ck_assert_str_eq(pstr(cal, "type"), "text/calendar");
    ck_assert_str_eq(pstr(cal, "method"), "REQUEST");
    ck_assert_str_eq(pstr(cal, "filename"), "invite.ics");
    ck_assert_str_eq(pstr(cal, "disposition"), "attachment");
    char *ics_lf = strdup(ics), *lw = ics_lf;
    for (const char *r = ics; *r; r++)
        if (!(r[0] == '\r' && r[1] == '\n'))
            *lw++ = *r;
    *lw = 0;
    ck_assert_str_eq(pstr(cal, "body"), ics_lf);
    free(ics_lf);
    json_decref(j);

    /* RFC 5545: CRLF lines of at most 75 octets, folds never split UTF-8,
     * TEXT escaped, and unfolding gives back the value */
    ck_assert(strstr(ics, "\r\nDTSTART:20260101T180000Z\r\n") != NULL);
    ck_assert(strstr(ics, "\r\nDTEND:20260101T200000Z\r\n") != NULL);
    ck_assert(strstr(ics, "\r\nDTSTAMP:20251204T122835Z\r\n") != NULL);
    ck_assert(strstr(ics, "\r\nSEQUENCE:2\r\n") != NULL);
    ck_assert(strstr(ics, "\r\nSUMMARY:Réunion\\; ordre du jour\\, apéro \\\\ fin\r\n") != NULL);
    ck_assert(strstr(ics, "\r\nLOCATION:Salle 2\\, Mairie\r\n") != NULL);
    ck_assert(strstr(ics, "\r\nMETHOD:REQUEST\r\n") != NULL);
    for (const char *l = ics; *l;) {
        const char *e = strstr(l, "\r\n");
        ck_assert(e != NULL);
        ck_assert_int_le(e - l, 75);
        ck_assert((((unsigned char)*l) & 0xC0) != 0x80 || l == ics);
        l = e + 2;
    }
    char unfolded[2048];
    size_t w = 0;
    for (const char *p = ics; *p; p++) {
        if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
            p += 2;
            continue;
        }
        unfolded[w++] = *p;
    }
    unfolded[w] = 0;
    ck_assert(strstr(unfolded, "DESCRIPTION:Line one\\nLine two with a very long text that must "
                               "be folded because it is longer than seventy-five octets: "
                               "ééééééééééééééééééé\r\n") != NULL);
    cm__free(ics);
    cm__mail_msg_free(m);
}
END_TEST

START_TEST(http_unsubscribe_has_no_one_click)
{
    cm__mail_msg *m;
    ck_assert_int_eq(cm__mail_msg_new(&m), CM_OK);
    ck_assert_int_eq(cm__mail_set_from(m, "a@example.org", NULL), CM_OK);
    ck_assert_int_eq(cm__mail_add_to(m, "b@example.org", NULL), CM_OK);
    ck_assert_int_eq(cm__mail_set_text(m, "x\n"), CM_OK);
    ck_assert_int_eq(cm__mail_set_html(m, "<p>x</p>\n\n"), CM_OK);
    ck_assert_int_eq(cm__mail_set_list_unsubscribe(m, "http://localhost:3000/u/1", NULL), CM_OK);
    json_t *j = render_parse(m, NULL);
    /* final line breaks of multipart bodies survive the boundary */
    ck_assert_str_eq(pstr(part(j, 0), "body"), "x\n");
    ck_assert_str_eq(pstr(part(j, 1), "body"), "<p>x</p>\n\n");
    ck_assert_str_eq(hdr1(j, "list-unsubscribe"), "<http://localhost:3000/u/1>");
    ck_assert(hdr1(j, "list-unsubscribe-post") == NULL);
    ck_assert_str_eq(hdr1(j, "subject"), "");
    json_decref(j);
    cm__mail_msg_free(m);
}
END_TEST

static void expect_einval(int rc, const char *field)
{
    ck_assert_int_eq(rc, CM_EINVAL);
    ck_assert_str_eq(cm_error_field(), field);
}

START_TEST(bad_input_is_refused_with_the_field)
{
    cm__mail_msg *m;
    ck_assert_int_eq(cm__mail_msg_new(&m), CM_OK);
    /* header injection through every header-bound input */
    expect_einval(cm__mail_set_subject(m, "Hi\r\nBcc: victim@example.com"), "subject");
    expect_einval(cm__mail_set_subject(m, "Hi\nBcc: victim@example.com"), "subject");
    ck_assert(strstr(cm_error_message(), "line break") != NULL);
    expect_einval(cm__mail_set_from(m, "a@example.org", "Eve\r\nBcc: x@example.com"), "from");
    expect_einval(cm__mail_add_to(m, "a@example.org\r\nBcc: x@example.com", NULL), "to");
    expect_einval(cm__mail_set_reply_to(m, "a@example.org", "x\ry"), "reply_to");
    expect_einval(cm__mail_add_header(m, "X-Tag", "a\r\nBcc: x@example.com"), "header");
    expect_einval(cm__mail_add_header(m, "X-Bad:Name", "v"), "header");
    expect_einval(cm__mail_add_header(m, "Bcc", "x@example.com"), "header");
    expect_einval(cm__mail_add_header(m, "content-type", "text/html"), "header");
    expect_einval(cm__mail_set_list_unsubscribe(m, "https://x.org/a>\r\nBcc: y", NULL),
                  "list_unsubscribe");
    expect_einval(cm__mail_set_list_unsubscribe(m, "javascript:alert(1)", NULL),
                  "list_unsubscribe");
    expect_einval(cm__mail_set_list_unsubscribe(m, NULL, NULL), "list_unsubscribe");
    expect_einval(cm__mail_set_message_id(m, "a b@example.org"), "message_id");
    /* malformed addresses */
    static const char *const bad[] = {
        "",
        "plain",
        "@example.org",
        "a@",
        "a@@example.org",
        "a b@example.org",
        "a..b@example.org",
        ".a@example.org",
        "a.@example.org",
        "a@-x.org",
        "a@x-.org",
        "a@x..org",
        "a@exa_mple.org",
        "<a@example.org>",
        "a@example.org>",
        "\"a\"@example.org",
        "zoë@example.org",
        "a@exämple.org",
        "a,b@example.org",
        "a@example.org,b@example.org",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(!cm__mail_addr_valid(bad[i]), "accepted %s", bad[i]);
        expect_einval(cm__mail_add_to(m, bad[i], NULL), "to");
    }
    expect_einval(cm__mail_set_from(m, "nope", NULL), "from");
    ck_assert(cm__mail_addr_valid("first.last+tag@sub.example.co.uk"));
    ck_assert(cm__mail_addr_valid("o'brien@example.org"));
    ck_assert(cm__mail_addr_valid("x@localhost"));
    /* bodies: invalid UTF-8 and oversize */
    expect_einval(cm__mail_set_text(m, "bad \xff byte"), "text");
    expect_einval(cm__mail_set_html(m, "bad \xc3"), "html");
    size_t big = CM__MAIL_MAX_BODY + 1;
    char *huge = malloc(big + 1);
    memset(huge, 'a', big);
    huge[big] = 0;
    expect_einval(cm__mail_set_text(m, huge), "text");
    expect_einval(cm__mail_set_subject(m, huge), "subject");
    free(huge);
    expect_einval(cm__mail_set_ics(m, "not a calendar", NULL), "ics");
    expect_einval(cm__mail_set_ics(m, "BEGIN:VCALENDAR\r\n", "DELETE"), "ics");
    /* missing parts at render time */
    char *raw = NULL;
    expect_einval(cm__mail_render(&raw, NULL, m), "from");
    ck_assert_int_eq(cm__mail_set_from(m, "a@example.org", NULL), CM_OK);
    expect_einval(cm__mail_render(&raw, NULL, m), "to");
    ck_assert_int_eq(cm__mail_add_to(m, "b@example.org", NULL), CM_OK);
    expect_einval(cm__mail_render(&raw, NULL, m), "text");
    ck_assert(raw == NULL);
    cm__mail_msg_free(m);
    cm__mail_msg_free(NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* SMTP against the real server                                             */
/* ------------------------------------------------------------------------ */

static fx_sink S;

static void smtp_teardown(void)
{
    fx_sink_stop(&S);
    teardown();
}

static char *simple(const char *to, const char *subject)
{
    cm__mail_msg *m;
    ck_assert_int_eq(cm__mail_msg_new(&m), CM_OK);
    ck_assert_int_eq(cm__mail_set_from(m, "noreply@example.org", "Community"), CM_OK);
    ck_assert_int_eq(cm__mail_add_to(m, to, NULL), CM_OK);
    ck_assert_int_eq(cm__mail_set_subject(m, subject), CM_OK);
    ck_assert_int_eq(cm__mail_set_text(m, "line one\n.\nline three"), CM_OK);
    char *raw = NULL;
    ck_assert_int_eq(cm__mail_render(&raw, NULL, m), CM_OK);
    cm__mail_msg_free(m);
    return raw;
}

static int send1(cm__mail_sender *s, const char *to, const char *subject, cm__mail_result *res)
{
    char *raw = simple(to, subject);
    const char *rcpt[] = {to};
    int rc = cm__mail_send(s, "noreply@example.org", rcpt, 1, raw, strlen(raw), res);
    cm__free(raw);
    return rc;
}

START_TEST(smtp_plain_reuses_the_connection)
{
    fx_sink_start(&S, NULL);
    char uri[128];
    fx_sink_uri(uri, sizeof uri, &S, NULL);
    cm__mail_sender *s;
    ck_assert_int_eq(cm__mail_sender_open(&s, uri), CM_OK);
    cm__mail_result res;
    for (int i = 0; i < 5; i++) {
        char subj[32];
        snprintf(subj, sizeof subj, "message %d", i);
        ck_assert_msg(send1(s, "ana@example.com", subj, &res) == CM_OK, "%s", cm_error_message());
        ck_assert_int_eq(res.smtp_code, 250);
    }
    cm__mail_sender_close(s);
    json_t *all = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(all), 5);
    json_int_t port0 = 0;
    for (size_t i = 0; i < 5; i++) {
        json_t *j = json_array_get(all, i);
        json_t *env = json_object_get(j, "envelope");
        char subj[32];
        snprintf(subj, sizeof subj, "message %zu", i);
        ck_assert_str_eq(hdr1(j, "subject"), subj);
        ck_assert_str_eq(json_string_value(json_object_get(env, "mail_from")),
                         "noreply@example.org");
        ck_assert_str_eq(json_string_value(json_array_get(json_object_get(env, "rcpt_tos"), 0)),
                         "ana@example.com");
        /* the lone "." line survived SMTP dot-stuffing */
        ck_assert_str_eq(pstr(part(j, 0), "body"), "line one\n.\nline three\n");
        json_int_t port = json_integer_value(json_object_get(env, "peer_port"));
        if (i == 0)
            port0 = port;
        ck_assert_msg(port == port0, "message %zu came over a new connection", i);
        ck_assert(json_is_false(json_object_get(env, "tls")));
    }
    json_decref(all);
}
END_TEST

START_TEST(smtp_starttls_and_auth)
{
    const char *args[] = {"--tls", "--auth", "mailer:p@ss:w/rd", NULL};
    fx_sink_start(&S, args);
    char uri[512];
    snprintf(uri, sizeof uri,
             "smtp://mailer:p%%40ss%%3Aw%%2Frd@127.0.0.1:%d/?tls=require&cafile=%s/cert.pem",
             S.port, S.dir);
    cm__mail_sender *s;
    ck_assert_int_eq(cm__mail_sender_open(&s, uri), CM_OK);
    cm__mail_result res;
    ck_assert_msg(send1(s, "ana@example.com", "over tls", &res) == CM_OK, "%s", cm_error_message());
    ck_assert_msg(send1(s, "bob@example.com", "again", &res) == CM_OK, "%s", cm_error_message());
    cm__mail_sender_close(s);
    json_t *all = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(all), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *env = json_object_get(json_array_get(all, i), "envelope");
        ck_assert(json_is_true(json_object_get(env, "tls")));
        ck_assert_str_eq(json_string_value(json_object_get(env, "auth")), "mailer");
    }
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_array_get(all, 0), "envelope"), "peer_port")),
                     json_integer_value(json_object_get(
                         json_object_get(json_array_get(all, 1), "envelope"), "peer_port")));
    json_decref(all);

    /* a wrong password: CM_EAUTH, temporary, and the secret is in no message */
    snprintf(uri, sizeof uri, "smtp://mailer:Sekr1tWrong@127.0.0.1:%d/?cafile=%s/cert.pem", S.port,
             S.dir);
    ck_assert_int_eq(cm__mail_sender_open(&s, uri), CM_OK);
    ck_assert_int_eq(send1(s, "ana@example.com", "denied", &res), CM_EAUTH);
    ck_assert(!res.permanent);
    ck_assert_msg(strstr(cm_error_message(), "Sekr1tWrong") == NULL, "%s", cm_error_message());
    ck_assert(strstr(res.detail, "Sekr1tWrong") == NULL);
    ck_assert(strstr(cm_error_message(), "mailer:***@127.0.0.1") != NULL);
    cm__mail_sender_close(s);
    ck_assert_uint_eq(fx_sink_count(&S), 2);
}
END_TEST

START_TEST(smtp_require_tls_refuses_a_plain_server)
{
    fx_sink_start(&S, NULL);
    char uri[128];
    fx_sink_uri(uri, sizeof uri, &S, "/?tls=require");
    cm__mail_sender *s;
    ck_assert_int_eq(cm__mail_sender_open(&s, uri), CM_OK);
    cm__mail_result res;
    ck_assert_int_eq(send1(s, "ana@example.com", "must not go", &res), CM_EIO);
    ck_assert(!res.permanent);
    cm__mail_sender_close(s);
    ck_assert_uint_eq(fx_sink_count(&S), 0);
}
END_TEST

START_TEST(smtp_rejections_are_classified)
{
    fx_sink_start(&S, NULL);
    char uri[128];
    fx_sink_uri(uri, sizeof uri, &S, NULL);
    cm__mail_sender *s;
    ck_assert_int_eq(cm__mail_sender_open(&s, uri), CM_OK);
    cm__mail_result res;
    ck_assert_int_eq(send1(s, "reject5@example.com", "x", &res), CM_EIO);
    ck_assert_int_eq(res.smtp_code, 550);
    ck_assert(res.permanent);
    ck_assert(strstr(cm_error_message(), "permanent") != NULL);
    ck_assert_int_eq(send1(s, "reject4@example.com", "x", &res), CM_EIO);
    ck_assert_int_eq(res.smtp_code, 451);
    ck_assert(!res.permanent);
    /* the sender recovers for the next message */
    ck_assert_int_eq(send1(s, "ok@example.com", "after", &res), CM_OK);
    cm__mail_sender_close(s);
    json_t *all = fx_sink_messages(&S);
    ck_assert_uint_eq(json_array_size(all), 1);
    ck_assert_str_eq(hdr1(json_array_get(all, 0), "subject"), "after");
    json_decref(all);
}
END_TEST

START_TEST(smtp_unreachable_is_temporary)
{
    cm__mail_sender *s;
    ck_assert_int_eq(cm__mail_sender_open(&s, "smtp://127.0.0.1:1/?timeout_ms=5000"), CM_OK);
    cm__mail_result res;
    ck_assert_int_eq(send1(s, "ana@example.com", "x", &res), CM_EIO);
    ck_assert(!res.permanent);
    ck_assert_int_eq(res.smtp_code, 0);
    cm__mail_sender_close(s);
}
END_TEST

START_TEST(smtp_uri_parsing)
{
    cm__mail_sender *s = (cm__mail_sender *)1;
    static const char *const bad[] = {
        "http://x",
        "smtp://",
        "smtp://user:pw@",
        "smtp://h/path",
        "smtp://h/?tls=maybe",
        "smtp://h/?nope=1",
        "smtp://h/?tls",
        "smtp://u%zz:p@h",
        "smtp://h a",
        "smtp://h/?timeout_ms=5",
        "smtp://h/?helo=a%20b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(cm__mail_sender_open(&s, bad[i]) == CM_EINVAL, "accepted %s", bad[i]);
        ck_assert(s == NULL);
        ck_assert_str_eq(cm_error_field(), "smtp");
    }
    ck_assert_int_eq(cm__mail_sender_open(&s, "smtp://u:TopSecret@h/?nope=1"), CM_EINVAL);
    ck_assert(strstr(cm_error_message(), "TopSecret") == NULL);
    ck_assert_int_eq(
        cm__mail_sender_open(
            &s, "smtps://u:p@mail.example.org:465/?helo=me.example.org&timeout_ms=2000"),
        CM_OK);
    cm__mail_sender_close(s);
    cm__mail_sender_close(NULL);
    char *r = NULL;
    ck_assert_int_eq(cm__mail_uri_redact(&r, "smtp://user:secret@host:587/?tls=require"), CM_OK);
    ck_assert_str_eq(r, "smtp://user:***@host:587/?tls=require");
    cm__free(r);
    ck_assert_int_eq(cm__mail_uri_redact(&r, "smtp://host:25"), CM_OK);
    ck_assert_str_eq(r, "smtp://host:25");
    cm__free(r);
}
END_TEST

int main(void)
{
    fx_sink_require();
    Suite *su = suite_create("mail");
    TCase *tc = tcase_create("mime");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, text_only_round_trip);
    tcase_add_test(tc, full_message_round_trip);
    tcase_add_test(tc, http_unsubscribe_has_no_one_click);
    tcase_add_test(tc, bad_input_is_refused_with_the_field);
    suite_add_tcase(su, tc);
    TCase *ts = tcase_create("smtp");
    tcase_add_checked_fixture(ts, setup, smtp_teardown);
    tcase_set_timeout(ts, 120);
    tcase_add_test(ts, smtp_plain_reuses_the_connection);
    tcase_add_test(ts, smtp_starttls_and_auth);
    tcase_add_test(ts, smtp_require_tls_refuses_a_plain_server);
    tcase_add_test(ts, smtp_rejections_are_classified);
    tcase_add_test(ts, smtp_unreachable_is_temporary);
    tcase_add_test(ts, smtp_uri_parsing);
    suite_add_tcase(su, ts);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
