/*
 * chat_offline.c - the deterministic offline chat provider (see chat.h):
 * answers from what retrieval found, with citation markers, and turns a
 * request to RSVP into a tool call. Used by tests and the demo, and as the
 * default when no model is configured.
 */
#include "chat.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_LISTED 5

void cm__chat_reply_dispose(cm__chat_reply *r)
{
    if (!r)
        return;
    cm__free(r->text);
    cm__free(r->model);
    json_decref(r->tool_calls);
    memset(r, 0, sizeof *r);
}

int64_t cm__chat_count_words(const char *s)
{
    int64_t n = 0;
    bool in = false;
    for (; s && *s; s++) {
        bool blank = isspace((unsigned char)*s) != 0;
        if (!blank && !in)
            n++;
        in = !blank;
    }
    return n;
}

/* ASCII lower-case copy of s into buf (cut to n - 1 bytes). */
static void lower(char *buf, size_t n, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < n; i++)
        buf[i] = (char)tolower((unsigned char)s[i]);
    buf[i] = '\0';
}

static bool has_tool(const json_t *tools, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *nm = cm__json_str(json_object_get(t, "function"), "name");
        if (nm && strcmp(nm, name) == 0)
            return true;
    }
    return false;
}

/* The message of `role` last in the list, or NULL. */
static const json_t *last_of(const json_t *messages, const char *role)
{
    for (size_t i = json_array_size(messages); i > 0; i--) {
        json_t *m = json_array_get(messages, i - 1);
        const char *r = cm__json_str(m, "role");
        if (r && strcmp(r, role) == 0)
            return m;
    }
    return NULL;
}

static bool word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* Words that say what to do rather than which event. */
static bool filler(const char *w, size_t n)
{
    static const char *const words[] = {
        "rsvp",   "me",       "to",    "the",  "a",     "an",   "for",    "next", "please",
        "sign",   "up",       "i",     "want", "would", "like", "attend", "book", "my",
        "cancel", "count",    "in",    "at",   "of",    "on",   "can",    "you",  "go",
        "going",  "register", "event", "and",  "is",    "it",   "this",   "that", "upcoming",
        "rsvps",  "could",    "we",    "us",   "our",   "s",    NULL,
    };
    for (const char *const *k = words; *k; k++)
        if (strlen(*k) == n && memcmp(*k, w, n) == 0)
            return true;
    return false;
}

/* Whether the word w[0..n) occurs as a whole word in t. */
static bool has_word(const char *t, const char *w, size_t n)
{
    for (const char *p = t; *p; p++) {
        if (strncmp(p, w, n) != 0)
            continue;
        if ((p == t || !word_byte((unsigned char)p[-1])) && !word_byte((unsigned char)p[n]))
            return true;
    }
    return false;
}

/* How many words of the (lower-cased) question, fillers left out, occur in
 * text. */
static int overlap(const char *question, const char *text)
{
    char t[2048];
    lower(t, sizeof t, text);
    int n = 0;
    for (const char *q = question; *q;) {
        while (*q && !word_byte((unsigned char)*q))
            q++;
        const char *w = q;
        while (*q && word_byte((unsigned char)*q))
            q++;
        size_t len = (size_t)(q - w);
        if (len && !filler(w, len) && has_word(t, w, len))
            n++;
    }
    return n;
}

static bool contains_any(const char *s, const char *const *needles)
{
    for (; *needles; needles++)
        if (strstr(s, *needles))
            return true;
    return false;
}

/* The event the question names: the most words in common with its title
 * (twice) and text, then the soonest, then the smaller id; NULL when no
 * event shares a word with the question. */
static const json_t *pick_event(const json_t *context, const char *question)
{
    const json_t *best = NULL;
    int best_score = 0;
    size_t i;
    json_t *it;
    json_array_foreach(context, i, it)
    {
        const char *type = cm__json_str(it, "type");
        if (!type || strcmp(type, "event") != 0)
            continue;
        const char *title = cm__json_str(it, "title"), *text = cm__json_str(it, "text");
        int s = 2 * overlap(question, title ? title : "") + overlap(question, text ? text : "");
        if (s == 0)
            continue;
        const char *start = cm__json_str(it, "start"), *bstart = NULL;
        if (best)
            bstart = cm__json_str(best, "start");
        /* RFC 3339 UTC strings of one format sort as times */
        int when = best ? strcmp(start ? start : "", bstart ? bstart : "") : 0;
        if (!best || s > best_score ||
            (s == best_score && (when < 0 || (when == 0 && cm__json_int(it, "id", 0) <
                                                               cm__json_int(best, "id", 0))))) {
            best = it;
            best_score = s;
        }
    }
    return best;
}

/* "2026-02-03T17:00:00Z" -> "2026-02-03 17:00 UTC" */
static void when_text(char *buf, size_t n, const char *start)
{
    if (start && strlen(start) >= 16)
        (void)snprintf(buf, n, "%.10s %.5s UTC", start, start + 11);
    else
        (void)snprintf(buf, n, "%s", start ? start : "");
}

static int offline_complete(const cm__chat_provider *p, cm__chat_reply *out,
                            const cm__chat_request *req)
{
    (void)p;
    memset(out, 0, sizeof *out);
    const json_t *user = last_of(req->messages, "user");
    const char *question_raw = user ? cm__json_str(user, "content") : NULL;
    char question[2048];
    lower(question, sizeof question, question_raw ? question_raw : "");
    cm__buf b = {0};
    json_t *calls = NULL;
    const json_t *last = json_array_get(req->messages, json_array_size(req->messages) - 1);
    const char *last_role = last ? cm__json_str(last, "role") : NULL;

    static const char *const cancel_words[] = {"cancel", "withdraw", "not going", NULL};
    static const char *const rsvp_words[] = {
        "rsvp",        "sign me up",       "register me",        "book me",
        "count me in", "i want to attend", "i'd like to attend", NULL};
    bool cancel = contains_any(question, cancel_words) &&
                  (strstr(question, "rsvp") || strstr(question, "attend") ||
                   strstr(question, "registration") || strstr(question, "going"));
    bool rsvp = !cancel && contains_any(question, rsvp_words);
    const char *tool = cancel ? "rsvps_cancel" : rsvp ? "rsvps_add" : NULL;

    if (last_role && strcmp(last_role, "tool") == 0) {
        /* after tool results: say what they were, briefly */
        cm__buf_puts(&b, "Here is what I found out.");
    } else if (tool && has_tool(req->tools, tool)) {
        const json_t *ev = pick_event(req->context, question);
        if (!ev) {
            cm__buf_puts(&b, "I could not tell which event you mean. Which one should it be?");
        } else {
            char when[64];
            when_text(when, sizeof when, cm__json_str(ev, "start"));
            json_int_t id = (json_int_t)cm__json_int(ev, "id", 0);
            cm__buf_printf(&b, "%s \"%s\" (%s) [event:%lld]. Please confirm.",
                           cancel ? "I can cancel your RSVP to" : "I can RSVP you to",
                           cm__json_str(ev, "title"), when, (long long)id);
            calls = json_pack("[{s:s,s:s,s:{s:I}}]", "id", "call_1", "name", tool, "arguments",
                              "event_id", id);
            if (!calls) {
                cm__free(b.p);
                return cm__oom();
            }
        }
    } else if (json_array_size(req->context) == 0) {
        cm__buf_puts(&b, "I found nothing in this community about that.");
    } else {
        cm__buf_puts(&b, "Here is what I found in the community:");
        size_t i;
        json_t *it;
        json_array_foreach(req->context, i, it)
        {
            if (i >= MAX_LISTED)
                break;
            const char *type = cm__json_str(it, "type");
            const char *title = cm__json_str(it, "title");
            long long id = (long long)cm__json_int(it, "id", 0);
            cm__buf_printf(&b, "\n- %s \"%s\"", type ? type : "item", title ? title : "");
            const char *start = cm__json_str(it, "start");
            if (start) {
                char when[64];
                when_text(when, sizeof when, start);
                cm__buf_printf(&b, ", %s", when);
            }
            cm__buf_printf(&b, " [%s:%lld]", type ? type : "item", id);
        }
    }
    if (b.err || !b.p) {
        cm__free(b.p);
        json_decref(calls);
        return cm__oom();
    }
    /* stream it word by word, as a model would */
    if (req->on_text) {
        const char *s = b.p;
        while (*s) {
            const char *e = s;
            while (*e && !isspace((unsigned char)*e))
                e++;
            while (*e && isspace((unsigned char)*e))
                e++;
            if (req->on_text(req->payload, s, (size_t)(e - s))) {
                cm__free(b.p);
                json_decref(calls);
                return cm__error_set(CM_ECANCELED, "the answer's reader stopped it");
            }
            s = e;
        }
    }
    int64_t in_words = 0;
    size_t i;
    json_t *m;
    json_array_foreach(req->messages, i, m)
    {
        in_words += cm__chat_count_words(cm__json_str(m, "content"));
    }
    out->model = cm__strdup(CM__CHAT_OFFLINE_MODEL);
    if (!out->model) {
        cm__free(b.p);
        json_decref(calls);
        return cm__oom();
    }
    out->text = b.p;
    out->tool_calls = calls;
    out->tokens_in = in_words;
    out->tokens_out = cm__chat_count_words(b.p) + (calls ? 8 : 0);
    return CM_OK;
}

static const cm__chat_provider offline = {
    .name = "offline",
    .complete = offline_complete,
};

const cm__chat_provider *cm__chat_offline(void)
{
    return &offline;
}
