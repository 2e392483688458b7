/*
 * sink.c - starts and stops smtp_sink.py and reads what it received
 * through parse_mail.py (see sink.h).
 */
#include "sink.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *python(void)
{
    const char *p = getenv("CM_MAIL_PYTHON");
    return p && *p ? p : "python3";
}

static const char *script(const char *name, char *buf, size_t n)
{
    const char *d = getenv("CM_MAIL_TESTDIR");
    snprintf(buf, n, "%s/%s", d && *d ? d : ".", name);
    return buf;
}

bool sink_available(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -c 'import aiosmtpd' >/dev/null 2>&1", python());
    return system(cmd) == 0;
}

void sink_start(sink *s, const char *const *args)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/cm_sink_XXXXXX");
    ck_assert(mkdtemp(s->dir) != NULL);
    char path[512];
    script("smtp_sink.py", path, sizeof path);
    const char *argv[16] = {python(), path, "--dir", s->dir};
    size_t n = 4;
    for (size_t i = 0; args && args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    char pf[300];
    snprintf(pf, sizeof pf, "%s/port", s->dir);
    for (int i = 0; i < 3000; i++) { /* wait for it to listen (up to 30 s) */
        FILE *f = fopen(pf, "r");
        if (f) {
            ck_assert(fscanf(f, "%d", &s->port) == 1);
            fclose(f);
            return;
        }
        int st;
        ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "smtp_sink.py exited early");
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("smtp_sink.py did not start");
}

void sink_stop(sink *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        waitpid(s->pid, &st, 0);
        s->pid = 0;
    }
    if (s->dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", s->dir);
        s->dir[0] = 0;
    }
}

static json_t *run_parser(const char *target)
{
    char path[512], cmd[1200];
    script("parse_mail.py", path, sizeof path);
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", python(), path, target);
    FILE *p = popen(cmd, "r");
    ck_assert(p != NULL);
    json_error_t err;
    json_t *j = json_loadf(p, 0, &err);
    int st = pclose(p);
    ck_assert_msg(j && st == 0, "parse_mail.py failed: %s", j ? "" : err.text);
    return j;
}

json_t *sink_messages(const sink *s)
{
    return run_parser(s->dir);
}

json_t *sink_parse_file(const char *path)
{
    json_t *a = run_parser(path);
    json_t *one = json_incref(json_array_get(a, 0));
    json_decref(a);
    return one;
}

size_t sink_count(const sink *s)
{
    char d[300];
    snprintf(d, sizeof d, "%s/msgs", s->dir);
    DIR *dir = opendir(d);
    if (!dir)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t l = strlen(e->d_name);
        n += l > 4 && strcmp(e->d_name + l - 4, ".eml") == 0;
    }
    closedir(dir);
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *sink_envelopes(const sink *s)
{
    char d[300];
    snprintf(d, sizeof d, "%s/msgs", s->dir);
    json_t *out = json_array();
    DIR *dir = opendir(d);
    if (!dir)
        return out;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t l = strlen(e->d_name);
        if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            names = realloc(names, cap * sizeof *names);
            ck_assert(names != NULL);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", d, names[i]);
        json_error_t err;
        json_t *j = json_load_file(path, 0, &err);
        ck_assert_msg(j != NULL, "%s: %s", path, err.text);
        json_array_append_new(out, j);
        free(names[i]);
    }
    free(names);
    return out;
}
