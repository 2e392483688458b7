/*
 * progress.c - the progress line of results that carry a "progress" object
 * (newsletters get): a bar redrawn in place on a terminal, a plain line
 * otherwise.
 */
#include "cli.h"

#include <stdbool.h>
#include <string.h>

const json_t *cli_progress_of(const json_t *result)
{
    const json_t *p = json_is_object(result) ? json_object_get(result, "progress") : NULL;
    return json_is_object(p) && json_is_integer(json_object_get(p, "queued")) ? p : NULL;
}

static long long num(const json_t *p, const char *k)
{
    return (long long)json_integer_value(json_object_get(p, k));
}

int cli_progress_live(const json_t *result)
{
    const char *st = json_string_value(json_object_get(result, "status"));
    return st && (!strcmp(st, "sending") || !strcmp(st, "scheduled"));
}

void cli_progress_draw(FILE *f, const json_t *result, int tty, int width)
{
    const json_t *p = cli_progress_of(result);
    if (!p)
        return;
    long long queued = num(p, "queued"), sent = num(p, "sent"), failed = num(p, "failed");
    long long suppressed = num(p, "suppressed"), cancelled = num(p, "cancelled");
    long long done = sent + failed + suppressed;
    long long total = queued > 0 ? queued : 1;
    int pct = (int)(done * 100 / total);
    const char *status = json_string_value(json_object_get(result, "status"));
    bool writing = !json_is_true(json_object_get(p, "audience_done"));
    if (tty) {
        int fill = (int)(done * width / total);
        fputs("\r[", f);
        for (int i = 0; i < width; i++)
            fputc(i < fill ? '#' : '-', f);
        fputs("] ", f);
    }
    fprintf(f, "%3d%% %lld/%lld sent, %lld failed, %lld suppressed, %lld to go", pct, sent, queued,
            failed, suppressed, queued - done - cancelled);
    if (cancelled)
        fprintf(f, ", %lld cancelled", cancelled);
    fprintf(f, " (%s%s)", status ? status : "?", writing ? ", writing recipients" : "");
    if (tty)
        fputs("\033[K", f); /* clear what a longer line left */
    else
        fputc('\n', f);
}
