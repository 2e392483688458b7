/*
 * bench_mail.c - messages per second from libcommunity's SMTP sender
 * (lib/mail/smtp.c over libcurl, one kept connection per thread) to an SMTP
 * server, for bench/mail/run.sh.
 *
 * usage: bench_mail SMTP_URI N THREADS [DUMP_FILE]
 * Renders one message (multipart/alternative, ~1 KiB text + ~2 KiB HTML)
 * with the MIME builder, writes it to DUMP_FILE when given (so that a peer
 * sends exactly the same bytes), then THREADS threads each open a sender
 * and send their share of N copies to bench@example.com, one after another
 * (THREADS messages in flight). Prints one JSON line: sent, failed,
 * seconds, msgs_per_s.
 */
#include "mail/mail.h"

#include <community/community.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *uri;
static char *raw;
static size_t raw_len;

typedef struct share {
    long n, sent, failed;
} share;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    share *s = arg;
    cm__mail_sender *snd = NULL;
    if (cm__mail_sender_open(&snd, uri) != CM_OK) {
        fprintf(stderr, "bench_mail: %s\n", cm_error_message());
        s->failed = s->n;
        return NULL;
    }
    const char *rcpt[] = {"bench@example.com"};
    for (long i = 0; i < s->n; i++) {
        cm__mail_result res;
        if (cm__mail_send(snd, "noreply@example.org", rcpt, 1, raw, raw_len, &res) == CM_OK)
            s->sent++;
        else
            s->failed++;
    }
    cm__mail_sender_close(snd);
    return NULL;
}

static int render(void)
{
    char text[2048], html[4096];
    size_t t = 0, h = 0;
    h += (size_t)snprintf(html, sizeof html, "<p>Hello Ana,</p>\n");
    for (int i = 0; i < 16; i++) {
        t += (size_t)snprintf(text + t, sizeof text - t,
                              "Line %02d of the monthly newsletter, plain text part.\n", i);
        h += (size_t)snprintf(html + h, sizeof html - h,
                              "<p>Line <b>%02d</b> of the <i>monthly</i> newsletter.</p>\n", i);
    }
    cm__mail_msg *m;
    int rc = cm__mail_msg_new(&m);
    if (rc == CM_OK && (rc = cm__mail_set_from(m, "noreply@example.org", "Night Owls")) == CM_OK &&
        (rc = cm__mail_add_to(m, "bench@example.com", "Ana Bench")) == CM_OK &&
        (rc = cm__mail_set_subject(m, "Night Owls: the monthly newsletter")) == CM_OK &&
        (rc = cm__mail_set_text(m, text)) == CM_OK && (rc = cm__mail_set_html(m, html)) == CM_OK)
        rc = cm__mail_render(&raw, &raw_len, m);
    cm__mail_msg_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_mail SMTP_URI N THREADS [DUMP_FILE]\n");
        return 2;
    }
    uri = argv[1];
    long n = atol(argv[2]), threads = atol(argv[3]);
    if (n < 1 || threads < 1 || threads > 64) {
        fprintf(stderr, "bench_mail: N >= 1, 1 <= THREADS <= 64\n");
        return 2;
    }
    if (render() != CM_OK) {
        fprintf(stderr, "bench_mail: %s\n", cm_error_message());
        return 1;
    }
    if (argc > 4) {
        FILE *f = fopen(argv[4], "wb");
        if (!f || fwrite(raw, 1, raw_len, f) != raw_len || fclose(f) != 0) {
            perror(argv[4]);
            return 1;
        }
    }
    share sh[64];
    pthread_t tid[64];
    double t0 = now_s();
    for (long i = 0; i < threads; i++) {
        sh[i] = (share){n / threads + (i < n % threads), 0, 0};
        pthread_create(&tid[i], NULL, run, &sh[i]);
    }
    long sent = 0, failed = 0;
    for (long i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        sent += sh[i].sent;
        failed += sh[i].failed;
    }
    double dt = now_s() - t0;
    printf("{\"system\":\"libcommunity\",\"messages\":%ld,\"concurrency\":%ld,\"bytes\":%zu,"
           "\"sent\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.1f}\n",
           n, threads, raw_len, sent, failed, dt, (double)sent / dt);
    cm__free(raw);
    return failed ? 1 : 0;
}
