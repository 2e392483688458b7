/*
 * test_assistant_openai.c - Check suite "assistant-openai": the
 * OpenAI-compatible chat provider (lib/ai/chat_openai.c) against a local
 * stand-in service (tests/fixtures/openai_standin.py, started once per
 * run): text and tool calls put together from streamed deltas (SSE, LF
 * and CRLF lines), token counts from the usage chunk, retries after 429
 * and 503, clear errors that never quote the key, timeouts; and
 * assistant.ask end to end with the provider named by the environment.
 */
#include "fixtures.h"
#include "fx_standin.h"

#include "core/assistant_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY "sk-test-VerySecretKey42"

static fx_standin server;

static const char *base(const char *scenario)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d/%s/v1", server.port, scenario);
    return buf;
}

static cm__chat_provider *provider(const char *scenario, uint32_t retries, uint32_t timeout_ms)
{
    cm__chat_openai_config c = {.base_url = base(scenario),
                                .api_key = KEY,
                                .model = "standin-1",
                                .timeout_ms = timeout_ms,
                                .retries = retries,
                                .backoff_ms = 1};
    cm__chat_provider *p;
    ck_assert_ok(cm__chat_openai_new(&p, &c));
    return p;
}

typedef struct pieces {
    int n;
    char text[1024];
} pieces;

static int collect(void *payload, const char *text, size_t len)
{
    pieces *p = payload;
    p->n++;
    strncat(p->text, text, len);
    return 0;
}

static json_t *messages(const char *question)
{
    return json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "role", "system", "content",
                     "You are a test.", "role", "system", "content",
                     "<data>\n[event:7] Rust Meetup NYC | starts 2026-02-03T18:00\n</data>", "role",
                     "user", "content", question);
}

static json_t *tools(void)
{
    return json_pack("[{s:s,s:{s:s,s:s,s:{s:s}}}]", "type", "function", "function", "name",
                     "rsvps_add", "description", "RSVP", "parameters", "type", "object");
}

/* How many requests the stand-in got on paths starting with prefix. */
static int requests_to(const char *prefix, json_t **last)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import urllib.request,sys;"
             "sys.stdout.write(urllib.request.urlopen("
             "'http://127.0.0.1:%d/requests').read().decode())\"",
             server.port);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    json_t *all = json_loadf(f, 0, NULL);
    pclose(f);
    ck_assert_ptr_nonnull(all);
    int n = 0;
    size_t i;
    json_t *r;
    if (last)
        *last = NULL;
    json_array_foreach(all, i, r)
    {
        if (strncmp(fx_str(r, "path"), prefix, strlen(prefix)) == 0) {
            n++;
            if (last) {
                json_decref(*last);
                *last = json_incref(r);
            }
        }
    }
    json_decref(all);
    return n;
}

START_TEST(text_and_tool_calls_come_from_the_stream)
{
    cm__chat_provider *p = provider("ok", 0, 0);
    json_t *msgs = messages("What is on?"), *t = tools();
    pieces got = {0};
    cm__chat_request req = {
        .messages = msgs, .tools = t, .context = NULL, .on_text = collect, .payload = &got};
    cm__chat_reply r;
    ck_assert_ok(p->complete(p, &r, &req));
    ck_assert_str_eq(r.text, "You could try [event:7] Rust Meetup NYC.");
    ck_assert_str_eq(got.text, r.text);
    ck_assert_int_gt(got.n, 3); /* streamed in pieces */
    ck_assert_str_eq(r.model, "standin-1");
    ck_assert_int_gt(r.tokens_in, 5);
    ck_assert_int_gt(r.tokens_out, 3);
    ck_assert_ptr_null(r.tool_calls);
    cm__chat_reply_dispose(&r);
    /* what was sent: the model, the messages, the tools, streaming, the key */
    json_t *last;
    ck_assert_int_ge(requests_to("/ok/", &last), 1);
    ck_assert_str_eq(fx_str(last, "auth"), "Bearer " KEY);
    json_t *body = json_loads(fx_str(last, "body"), 0, NULL);
    ck_assert(json_is_true(json_object_get(body, "stream")));
    ck_assert_str_eq(fx_str(body, "model"), "standin-1");
    ck_assert_int_eq(json_array_size(json_object_get(body, "messages")), 3);
    ck_assert_int_eq(json_array_size(json_object_get(body, "tools")), 1);
    json_decref(body);
    json_decref(last);
    json_decref(msgs);
    /* a tool call whose arguments arrive in pieces */
    msgs = messages("please rsvp me");
    req.messages = msgs;
    memset(&got, 0, sizeof got);
    ck_assert_ok(p->complete(p, &r, &req));
    ck_assert_str_eq(r.text, "Let me do that.");
    ck_assert_int_eq(json_array_size(r.tool_calls), 1);
    json_t *c = json_array_get(r.tool_calls, 0);
    ck_assert_str_eq(fx_str(c, "id"), "call_a");
    ck_assert_str_eq(fx_str(c, "name"), "rsvps_add");
    ck_assert_int_eq(fx_int(json_object_get(c, "arguments"), "event_id"), 7);
    cm__chat_reply_dispose(&r);
    json_decref(msgs);
    json_decref(t);
    p->free(p);
}
END_TEST

START_TEST(retries_after_429_and_503)
{
    json_t *msgs = messages("What is on?");
    cm__chat_request req = {.messages = msgs};
    cm__chat_reply r;
    /* two failures (429, then 503), two retries: the third request answers */
    cm__chat_provider *p = provider("flaky-a-2", 2, 0);
    ck_assert_ok(p->complete(p, &r, &req));
    ck_assert_str_eq(r.text, "You could try [event:7] Rust Meetup NYC.");
    cm__chat_reply_dispose(&r);
    ck_assert_int_eq(requests_to("/flaky-a-2/", NULL), 3);
    p->free(p);
    /* one retry is not enough: the 503 is reported */
    p = provider("flaky-b-2", 1, 0);
    ck_assert_int_eq(p->complete(p, &r, &req), CM_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "HTTP 503"));
    ck_assert_int_eq(requests_to("/flaky-b-2/", NULL), 2);
    p->free(p);
    /* no retries: a 429 is CM_ETHROTTLED at once */
    p = provider("flaky-c-1", 0, 0);
    ck_assert_int_eq(p->complete(p, &r, &req), CM_ETHROTTLED);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "HTTP 429"));
    ck_assert_int_eq(requests_to("/flaky-c-1/", NULL), 1);
    p->free(p);
    /* a service that stays down */
    p = provider("down", 2, 0);
    ck_assert_int_eq(p->complete(p, &r, &req), CM_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "overloaded"));
    ck_assert_int_eq(requests_to("/down/", NULL), 3);
    p->free(p);
    json_decref(msgs);
}
END_TEST

START_TEST(errors_are_clear_and_keep_the_key_secret)
{
    json_t *msgs = messages("What is on?");
    cm__chat_request req = {.messages = msgs};
    cm__chat_reply r;
    cm__chat_provider *p = provider("error400", 2, 0);
    ck_assert_int_eq(p->complete(p, &r, &req), CM_EIO);
    const char *m = cm_error_message();
    ck_assert_msg(strstr(m, "HTTP 400") && strstr(m, "Incorrect API key") && strstr(m, "***") &&
                      strstr(m, "/error400/v1/chat/completions"),
                  "message: %s", m);
    ck_assert_msg(!strstr(m, "VerySecret"), "the key leaked: %s", m);
    ck_assert_int_eq(requests_to("/error400/", NULL), 1); /* a 400 is not retried */
    p->free(p);
    p = provider("garbage", 0, 0);
    ck_assert_int_eq(p->complete(p, &r, &req), CM_EIO);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "malformed"));
    p->free(p);
    p = provider("streamerror", 0, 0);
    ck_assert_int_eq(p->complete(p, &r, &req), CM_EIO);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "the model crashed"));
    p->free(p);
    p = provider("hang", 0, 300);
    ck_assert_int_eq(p->complete(p, &r, &req), CM_ETIMEOUT);
    ck_assert_msg(!strstr(cm_error_message(), "VerySecret"), "%s", cm_error_message());
    p->free(p);
    /* nothing listens there */
    cm__chat_openai_config c = {
        .base_url = "http://127.0.0.1:1/v1", .api_key = KEY, .model = "m", .backoff_ms = 1};
    ck_assert_ok(cm__chat_openai_new(&p, &c));
    ck_assert_int_eq(p->complete(p, &r, &req), CM_EUNAVAILABLE);
    p->free(p);
    c.base_url = "ftp://example.org";
    ck_assert_int_eq(cm__chat_openai_new(&p, &c), CM_EINVAL);
    json_decref(msgs);
}
END_TEST

START_TEST(ask_through_the_service_named_by_the_environment)
{
    setenv("COMMUNITY_ASSISTANT", "openai", 1);
    setenv("COMMUNITY_ASSISTANT_URL", base("ok"), 1);
    setenv("COMMUNITY_ASSISTANT_KEY", KEY, 1);
    setenv("COMMUNITY_ASSISTANT_MODEL", "standin-1", 1);
    setenv("COMMUNITY_ASSISTANT_RETRIES", "0", 1);
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *ann = fx_member("ann@example.org", "member");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "title",
                         "Rust Meetup NYC", "description", "rust talks", "format", "in_person",
                         "start_local", "2030-02-03T18:00", "end_local", "2030-02-03T21:00",
                         "timezone", "America/New_York", "publish", 1));
    json_int_t ev = fx_int(r, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, ann, "assistant.ask", "{s:s}", "message", "any rust meetup?"));
    json_t *m = json_object_get(r, "message");
    char want[128];
    snprintf(want, sizeof want, "You could try [event:%lld] Rust Meetup NYC.", (long long)ev);
    ck_assert_str_eq(fx_str(m, "text"), want);
    ck_assert_str_eq(fx_str(m, "model"), "standin-1");
    ck_assert_int_gt(fx_int(m, "tokens_in"), 10);
    json_t *cit = json_array_get(json_object_get(m, "citations"), 0);
    ck_assert_int_eq(fx_int(cit, "id"), ev);
    json_int_t conv = fx_int(r, "conversation_id");
    json_decref(r);
    /* the model calls rsvps_add: a pending action, confirmed by the member */
    ck_assert_ok(fx_exec(&r, ann, "assistant.ask", "{s:I,s:s}", "conversation_id", conv, "message",
                         "rsvp me to the rust meetup"));
    json_t *pa = json_object_get(r, "pending_action");
    ck_assert(json_is_object(pa));
    ck_assert_int_eq(fx_int(json_object_get(pa, "input"), "event_id"), ev);
    char token[128];
    snprintf(token, sizeof token, "%s", fx_str(pa, "token"));
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT COUNT(*) FROM rsvps"), 0);
    ck_assert_ok(fx_exec(&r, ann, "assistant.confirm", "{s:I,s:s}", "conversation_id", conv,
                         "token", token));
    json_decref(r);
    ck_assert_int_eq(fx_count("SELECT COUNT(*) FROM rsvps"), 1);
    /* the second question carried the history and the tools */
    json_t *last;
    ck_assert_int_ge(requests_to("/ok/", &last), 1);
    json_t *body = json_loads(fx_str(last, "body"), 0, NULL);
    ck_assert_int_ge(json_array_size(json_object_get(body, "messages")), 5);
    ck_assert_int_eq(json_array_size(json_object_get(body, "tools")), 7);
    json_decref(body);
    json_decref(last);
    cm_actor_free(org);
    cm_actor_free(ann);
    unsetenv("COMMUNITY_ASSISTANT");
}
END_TEST

static Suite *openai_suite(void)
{
    Suite *s = suite_create("assistant-openai");
    TCase *tc = tcase_create("provider");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, text_and_tool_calls_come_from_the_stream);
    tcase_add_test(tc, retries_after_429_and_503);
    tcase_add_test(tc, errors_are_clear_and_keep_the_key_secret);
    tcase_add_test(tc, ask_through_the_service_named_by_the_environment);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    fx_standin_start(&server, "CM_TEST_OPENAI_STANDIN");
    int rc = fx_run(openai_suite());
    fx_standin_stop(&server);
    return rc;
}
