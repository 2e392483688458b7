/*
 * backup_pg.c - PostgreSQL backup files through the PostgreSQL client
 * tools: pg_dump --format=custom of the store's schema, pg_restore --list
 * and a full read (pg_restore --file=/dev/null) to check an archive,
 * pg_restore --single-transaction to restore one.
 *
 * The tools run through posix_spawn (no shell). They connect with the
 * store's own settings, read back from libpq (PQconninfo) and handed over
 * as PG* environment variables: the password never appears on a command
 * line, where `ps` would show it. The binaries come from $CM_PG_BINDIR when
 * set, else from PATH; pg_dump must be at least the server's major version
 * (an older one refuses or writes an incomplete dump).
 */
#include "../store_int.h"
#include "pg_int.h"

#include <libpq-fe.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
extern const cm__store_ops cm__pg_ops;

/* Keep at most this much of a tool's standard output (pg_restore --list). */
#define MAX_STDOUT (64u << 20)

/* ------------------------------------------------------------------ */
/* running a tool                                                      */

typedef struct tool_run {
    char *out; /* standard output when asked for (NUL-terminated), cm__free */
    size_t out_len;
    char err[400]; /* the first line of standard error that says something */
    int status;    /* exit status, or 128 + signal */
} tool_run;

/* "pg_dump" from $CM_PG_BINDIR, else the bare name for a PATH search. */
static void tool_path(char *buf, size_t cap, const char *tool)
{
    const char *dir = getenv("CM_PG_BINDIR");
    if (dir && *dir)
        (void)snprintf(buf, cap, "%s/%s", dir, tool);
    else
        (void)snprintf(buf, cap, "%s", tool);
}

/* Keep the most telling line of the tool's stderr: the first with "error"
 * in it, else the first non-empty one; newlines become spaces. */
static void keep_err(tool_run *r, const char *all)
{
    const char *pick = strstr(all, "error:");
    const char *line = all;
    if (pick) {
        while (pick > all && pick[-1] != '\n')
            pick--;
        line = pick;
    }
    while (*line == '\n')
        line++;
    size_t n = strcspn(line, "\n");
    if (n >= sizeof r->err)
        n = sizeof r->err - 1;
    memcpy(r->err, line, n);
    r->err[n] = '\0';
}

static int set_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/* Append n bytes to a growing buffer; false when out of memory or over cap. */
static bool append(char **buf, size_t *len, size_t *cap, const char *p, size_t n, size_t max)
{
    if (*len + n + 1 > max)
        return false;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        char *b = cm__realloc(*buf, c);
        if (!b)
            return false;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

/*
 * Run argv (argv[0] a path or a name searched in PATH) with environment
 * envp, stdin from /dev/null; collect stderr, and stdout when want_out
 * (else it goes to /dev/null). CM_OK when the tool ran (see r->status),
 * CM_ENOTFOUND when it cannot be started, CM_EIO / CM_ENOMEM otherwise.
 */
static int run_tool(tool_run *r, char *const argv[], char *const envp[], bool want_out)
{
    memset(r, 0, sizeof *r);
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    int rc = CM_OK;
    char *errbuf = NULL;
    size_t err_len = 0, err_cap = 0, out_cap = 0;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return cm__oom();
    if ((want_out && pipe(outp) != 0) || pipe(errp) != 0) {
        rc = cm__error_set(CM_EIO, "cannot create a pipe: %s", strerror(errno));
        goto out;
    }
    if ((want_out && (set_cloexec(outp[0]) || set_cloexec(outp[1]))) || set_cloexec(errp[0]) ||
        set_cloexec(errp[1])) {
        rc = cm__error_set(CM_EIO, "fcntl: %s", strerror(errno));
        goto out;
    }
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) ||
        (want_out ? posix_spawn_file_actions_adddup2(&fa, outp[1], 1)
                  : posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) ||
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2)) {
        rc = cm__oom();
        goto out;
    }
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
    if (e != 0) {
        rc = cm__error_set(e == ENOENT || e == EACCES ? CM_ENOTFOUND : CM_EIO,
                           "cannot run %s: %s (install the PostgreSQL client tools of the "
                           "server's version, or set CM_PG_BINDIR to their directory)",
                           argv[0], strerror(e));
        goto out;
    }
    close(errp[1]);
    errp[1] = -1;
    if (want_out) {
        close(outp[1]);
        outp[1] = -1;
    }
    /* Read both pipes to their end (the tool may fill either first). */
    bool out_open = want_out, err_open = true, over = false;
    while (out_open || err_open) {
        struct pollfd p[2] = {{out_open ? outp[0] : -1, POLLIN, 0},
                              {err_open ? errp[0] : -1, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        char chunk[8192];
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            ssize_t n = read(p[i].fd, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (i == 0)
                    out_open = false;
                else
                    err_open = false;
                continue;
            }
            if (i == 0 && !over)
                over = !append(&r->out, &r->out_len, &out_cap, chunk, (size_t)n, MAX_STDOUT);
            else if (i == 1 && err_len < 8192)
                (void)append(&errbuf, &err_len, &err_cap, chunk, (size_t)n, 8192);
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            rc = cm__error_set(CM_EIO, "waiting for %s: %s", argv[0], strerror(errno));
            goto out;
        }
    }
    r->status = WIFEXITED(status)     ? WEXITSTATUS(status)
                : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                      : 255;
    keep_err(r, errbuf ? errbuf : "");
    if (over && r->status == 0)
        rc = cm__error_set(CM_ENOMEM, "%s: output too large or out of memory", argv[0]);
out:
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    cm__free(errbuf);
    if (rc) {
        cm__free(r->out);
        r->out = NULL;
    }
    return rc;
}

/* The major version printed by `tool --version` ("pg_dump (PostgreSQL)
 * 15.4 (Debian ...)"), or a negative code. */
static int tool_major(const char *path, int *major)
{
    char *argv[] = {(char *)path, (char *)"--version", NULL};
    tool_run r;
    int rc = run_tool(&r, argv, environ, true);
    if (rc)
        return rc;
    const char *p = r.out ? strchr(r.out, ')') : NULL;
    while (p && *p && !isdigit((unsigned char)*p))
        p++;
    *major = p && *p ? (int)strtol(p, NULL, 10) : 0;
    cm__free(r.out);
    if (r.status != 0 || *major <= 0)
        return cm__error_set(CM_ENOTFOUND, "%s --version did not report a version", path);
    return CM_OK;
}

/* ------------------------------------------------------------------ */
/* environment                                                         */

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        cm__free(env[i]);
    cm__free(env);
}

/* This process's environment with the connection settings of pg replaced:
 * every PG* variable libpq knows is dropped, then set from the settings
 * the connection really uses (host, port, user, password, dbname,
 * options, SSL settings, ...). */
static int connection_env(char ***out, PGconn *pg)
{
    PQconninfoOption *ci = PQconninfo(pg);
    if (!ci)
        return cm__oom();
    size_t n_env = 0, n_opt = 0;
    while (environ[n_env])
        n_env++;
    for (PQconninfoOption *o = ci; o->keyword; o++)
        n_opt++;
    char **env = cm__calloc(n_env + n_opt + 1, sizeof *env);
    int rc = CM_OK;
    size_t k = 0;
    if (!env) {
        rc = cm__oom();
        goto out;
    }
    for (size_t i = 0; i < n_env && rc == CM_OK; i++) {
        size_t name_len = strcspn(environ[i], "=");
        bool replaced = false;
        for (PQconninfoOption *o = ci; o->keyword && !replaced; o++)
            replaced = o->envvar && strlen(o->envvar) == name_len &&
                       strncmp(o->envvar, environ[i], name_len) == 0;
        if (replaced)
            continue;
        if (!(env[k++] = cm__strdup(environ[i])))
            rc = cm__oom();
    }
    for (PQconninfoOption *o = ci; o->keyword && rc == CM_OK; o++) {
        if (!o->envvar || !o->val || !*o->val)
            continue;
        size_t len = strlen(o->envvar) + strlen(o->val) + 2;
        if (!(env[k] = cm__malloc(len))) {
            rc = cm__oom();
            break;
        }
        (void)snprintf(env[k++], len, "%s=%s", o->envvar, o->val);
    }
out:
    PQconninfoFree(ci);
    if (rc) {
        free_env(env);
        return rc;
    }
    *out = env;
    return CM_OK;
}

/* ------------------------------------------------------------------ */
/* archive listings                                                    */

/* What `pg_restore --list` says about an archive of a libcommunity schema. */
typedef struct archive_info {
    char schema[128];  /* the schema holding cm_migrations */
    bool schema_entry; /* the archive creates the schema itself */
} archive_info;

/* Find "TABLE <schema> cm_migrations" and "SCHEMA - <schema>" entries in a
 * listing (lines "id; oid oid TYPE schema name owner"). */
static bool parse_listing(archive_info *a, const char *list)
{
    memset(a, 0, sizeof *a);
    for (const char *line = list; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char buf[512];
        if (line[0] != ';' && n < sizeof buf) {
            memcpy(buf, line, n);
            buf[n] = '\0';
            char schema[128], name[128];
            const char *t = strstr(buf, " TABLE ");
            if (t && sscanf(t, " TABLE %127s %127s", schema, name) == 2 &&
                strcmp(name, "cm_migrations") == 0)
                (void)snprintf(a->schema, sizeof a->schema, "%s", schema);
        }
        line = end ? end + 1 : NULL;
    }
    if (!a->schema[0])
        return false;
    char want[160];
    (void)snprintf(want, sizeof want, " SCHEMA - %s ", a->schema);
    for (const char *line = list; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (line[0] != ';' && n < 512) {
            char buf[512];
            memcpy(buf, line, n);
            buf[n] = '\0';
            if (strstr(buf, want))
                a->schema_entry = true;
        }
        line = end ? end + 1 : NULL;
    }
    return true;
}

/* Run pg_restore --list on path: *out gets the listing (cm__free). */
static int list_archive(char **out, const char *path)
{
    char bin[4096];
    tool_path(bin, sizeof bin, "pg_restore");
    char *argv[] = {bin, (char *)"--list", (char *)path, NULL};
    tool_run r;
    int rc = run_tool(&r, argv, environ, true);
    if (rc)
        return rc;
    if (r.status != 0) {
        cm__free(r.out);
        return cm__error_set(CM_ECORRUPT, "%s is not a pg_dump archive (%s)", path,
                             r.err[0] ? r.err : "pg_restore --list failed");
    }
    *out = r.out;
    return CM_OK;
}

/* Read the whole archive as pg_restore would when restoring it (every data
 * block decompressed, the script written to /dev/null): a truncated or
 * damaged one fails here, before any target is touched, rather than half
 * way through a restore. */
static int read_archive(const char *path)
{
    char bin[4096];
    tool_path(bin, sizeof bin, "pg_restore");
    char *argv[] = {bin, (char *)"--file=/dev/null", (char *)path, NULL};
    tool_run r;
    int rc = run_tool(&r, argv, environ, false);
    if (rc)
        return rc;
    if (r.status != 0)
        return cm__error_set(CM_ECORRUPT, "%s is damaged or incomplete (%s)", path,
                             r.err[0] ? r.err : "pg_restore could not read it all");
    return CM_OK;
}

int cm__pg_check_backup(const char *path, bool fresh)
{
    (void)fresh; /* custom archives are single files already */
    char *list = NULL;
    int rc = list_archive(&list, path);
    if (rc)
        return rc;
    archive_info a;
    if (!parse_listing(&a, list ? list : ""))
        rc = cm__error_set(CM_ECORRUPT,
                           "%s is a pg_dump archive but not of a libcommunity schema (no "
                           "cm_migrations table)",
                           path);
    cm__free(list);
    return rc ? rc : read_archive(path);
}

/* ------------------------------------------------------------------ */
/* backup                                                              */

/* Run one query with text parameters; *res is the result (PQclear it). */
static int query(PGresult **res, cm__conn *conn, PGconn *pg, const char *sql, int n,
                 const char *const *params, const char *what)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[200];
        (void)snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        PQclear(r);
        if (conn && PQstatus(pg) != CONNECTION_OK)
            conn->broken = true;
        cm__error_set(CM_EBACKEND, "pg: %s: %s", what, msg);
        cm__error_set_backend_code(state ? state : "08006");
        return CM_EBACKEND;
    }
    *res = r;
    return CM_OK;
}

/* `"name"` with inner quotes doubled: a pg_dump pattern matching only name. */
static void quote_pattern(char *buf, size_t cap, const char *name)
{
    size_t w = 0;
    buf[w++] = '"';
    for (const char *p = name; *p && w + 3 < cap; p++) {
        if (*p == '"')
            buf[w++] = '"';
        buf[w++] = *p;
    }
    buf[w++] = '"';
    buf[w] = '\0';
}

int cm__pg_backup(cm__conn *conn, const char *dest)
{
    PGconn *pg = cm__pg_native(conn);
    PGresult *r = NULL;
    int rc = query(&r, conn, pg,
                   "SELECT current_schema(), to_regclass(quote_ident(current_schema()) || "
                   "'.cm_migrations') IS NOT NULL",
                   0, NULL, "backup");
    if (rc)
        return rc;
    char schema[128] = "";
    bool has_db = !PQgetisnull(r, 0, 0) && PQgetvalue(r, 0, 1)[0] == 't';
    if (!PQgetisnull(r, 0, 0))
        (void)snprintf(schema, sizeof schema, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!schema[0])
        return cm__error_set(CM_ENOTFOUND, "pg: backup: no schema of the search_path exists "
                                           "(was the store's schema dropped?)");
    if (!has_db)
        return cm__error_set(CM_ENOTFOUND, "pg: backup: schema %s holds no libcommunity database",
                             schema);

    char bin[4096];
    tool_path(bin, sizeof bin, "pg_dump");
    int major = 0, server = PQserverVersion(pg) / 10000;
    if ((rc = tool_major(bin, &major)))
        return rc;
    if (major < server)
        return cm__error_set(CM_ENOTSUP,
                             "pg: backup: %s is version %d, older than the server (%d): "
                             "install postgresql-client-%d or set CM_PG_BINDIR",
                             bin, major, server, server);

    char **env = NULL;
    if ((rc = connection_env(&env, pg)))
        return rc;
    char pattern[300], schema_arg[320], file_arg[4200];
    quote_pattern(pattern, sizeof pattern, schema);
    (void)snprintf(schema_arg, sizeof schema_arg, "--schema=%s", pattern);
    int n = snprintf(file_arg, sizeof file_arg, "--file=%s", dest);
    if (n < 0 || (size_t)n >= sizeof file_arg) {
        free_env(env);
        return cm__error_set(CM_EINVAL, "pg: backup: destination path too long");
    }
    char *argv[] = {bin, (char *)"--format=custom", (char *)"--no-password", schema_arg, file_arg,
                    NULL};
    tool_run t;
    rc = run_tool(&t, argv, env, false);
    free_env(env);
    if (rc)
        return rc;
    if (t.status != 0)
        return cm__error_set(CM_EBACKEND, "pg: pg_dump failed (exit %d): %s", t.status,
                             t.err[0] ? t.err : "no message");
    return CM_OK;
}

/* ------------------------------------------------------------------ */
/* restore                                                             */

/* Is `schema` on the search_path of pg ("$user" standing for the user)? */
static int on_search_path(bool *yes, PGconn *pg, const char *schema)
{
    PGresult *r = NULL;
    const char *params[] = {schema};
    int rc = query(&r, NULL, pg,
                   "SELECT $1 = ANY (SELECT CASE WHEN btrim(p) = '\"$user\"' OR btrim(p) = "
                   "'$user' THEN current_user::text ELSE btrim(btrim(p), '\"') END "
                   "FROM unnest(string_to_array(current_setting('search_path'), ',')) p)",
                   1, params, "restore");
    if (rc)
        return rc;
    *yes = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return CM_OK;
}

/* Write the listing to a temporary file with the entries that create the
 * schema turned into comments (the target has it already: dropping it
 * would fail when other objects, such as extensions, live in it). */
static int write_list(char *path_out, size_t cap, const char *list, const archive_info *a,
                      bool keep_schema)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(path_out, cap, "%s/cm-restore-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= cap)
        return cm__error_set(CM_EINVAL, "TMPDIR is too long");
    int fd = mkstemp(path_out);
    if (fd < 0)
        return cm__error_set(CM_EIO, "cannot create a temporary file: %s", strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        (void)unlink(path_out);
        return cm__error_set(CM_EIO, "fdopen: %s", strerror(errno));
    }
    char schema_entry[160], comment_entry[180];
    (void)snprintf(schema_entry, sizeof schema_entry, " SCHEMA - %s ", a->schema);
    (void)snprintf(comment_entry, sizeof comment_entry, " COMMENT - SCHEMA %s ", a->schema);
    for (const char *line = list; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        char buf[512];
        bool drop = false;
        if (!keep_schema && line[0] != ';' && len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            drop = strstr(buf, schema_entry) || strstr(buf, comment_entry);
        }
        if (drop)
            (void)fputc(';', f);
        (void)fwrite(line, 1, len, f);
        line = end ? end + 1 : NULL;
    }
    if (fclose(f) != 0) {
        (void)unlink(path_out);
        return cm__error_set(CM_EIO, "cannot write %s: %s", path_out, strerror(errno));
    }
    return CM_OK;
}

/* --clean drops only what the archive holds: refuse a forced restore over
 * tables the backup does not have (say, of a newer migration), which would
 * stay behind and break the next migration. */
static int no_strangers(PGconn *pg, const char *list, const char *schema)
{
    PGresult *r = NULL;
    const char *params[] = {schema};
    int rc = query(&r, NULL, pg,
                   "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                   "c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') "
                   "ORDER BY 1",
                   1, params, "restore");
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(r) && rc == CM_OK; i++) {
        char entry[300];
        (void)snprintf(entry, sizeof entry, " TABLE %s %s ", schema, PQgetvalue(r, i, 0));
        if (!strstr(list, entry))
            rc = cm__error_set_field(CM_EEXISTS, "uri",
                                     "restore: table %s.%s of the target is not in the "
                                     "backup (drop the schema's tables first)",
                                     schema, PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return rc;
}

/* Check the target and run pg_restore into it (connection already open). */
static int restore_into(cm__conn *conn, const char *src, uint32_t flags)
{
    PGconn *pg = cm__pg_native(conn);
    char *list = NULL, **env = NULL, list_path[4096] = "";
    archive_info a;
    int rc = list_archive(&list, src);
    if (rc)
        return rc;
    if (!parse_listing(&a, list ? list : "")) {
        rc = cm__error_set(CM_ECORRUPT, "%s is not a libcommunity archive", src);
        goto out;
    }
    bool ok = false;
    if ((rc = on_search_path(&ok, pg, a.schema)))
        goto out;
    if (!ok) {
        rc = cm__error_set_field(CM_EINVAL, "uri",
                                 "restore: the backup holds schema %s, which is not on the "
                                 "target's search_path (add options=-csearch_path%%3D%s to "
                                 "the URI)",
                                 a.schema, a.schema);
        goto out;
    }
    PGresult *r = NULL;
    const char *params[] = {a.schema};
    if ((rc = query(&r, NULL, pg,
                    "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1), "
                    "(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                    "c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', "
                    "'m', 'f'))",
                    1, params, "restore")))
        goto out;
    bool schema_exists = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    long long tables = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    if (tables > 0 && !(flags & CM_RESTORE_FORCE)) {
        rc = cm__error_set_field(CM_EEXISTS, "uri",
                                 "restore: schema %s of the target already holds %lld tables "
                                 "(restore into an empty schema, or force it)",
                                 a.schema, tables);
        goto out;
    }
    if (tables > 0 && (rc = no_strangers(pg, list, a.schema)))
        goto out;
    if ((rc = write_list(list_path, sizeof list_path, list, &a, !schema_exists && a.schema_entry)))
        goto out;
    if ((rc = connection_env(&env, pg)))
        goto out;

    /* The database by name, as a conninfo string (the rest comes from the
     * environment): a bare name containing '=' would be read as one. */
    char bin[4096], db_arg[600], list_arg[4200];
    tool_path(bin, sizeof bin, "pg_restore");
    size_t w = (size_t)snprintf(db_arg, sizeof db_arg, "--dbname=dbname='");
    for (const char *p = PQdb(pg); p && *p && w + 4 < sizeof db_arg; p++) {
        if (*p == '\'' || *p == '\\')
            db_arg[w++] = '\\';
        db_arg[w++] = *p;
    }
    db_arg[w++] = '\'';
    db_arg[w] = '\0';
    (void)snprintf(list_arg, sizeof list_arg, "--use-list=%s", list_path);
    char *argv[] = {bin,
                    (char *)"--clean",
                    (char *)"--if-exists",
                    (char *)"--no-owner",
                    (char *)"--single-transaction",
                    (char *)"--exit-on-error",
                    (char *)"--no-password",
                    db_arg,
                    list_arg,
                    (char *)src,
                    NULL};
    tool_run t;
    if ((rc = run_tool(&t, argv, env, false)))
        goto out;
    if (t.status != 0)
        rc = cm__error_set(CM_EBACKEND, "pg: pg_restore failed (exit %d), nothing was restored: %s",
                           t.status, t.err[0] ? t.err : "no message");
out:
    if (list_path[0])
        (void)unlink(list_path);
    free_env(env);
    cm__free(list);
    return rc;
}

int cm__pg_restore(const char *uri, const char *src, uint32_t flags)
{
    cm_store_options opts = CM_STORE_OPTIONS_INIT;
    void *state = NULL;
    int rc = cm__pg_ops.init(&state, uri, &opts);
    if (rc)
        return rc;
    cm__conn *conn = cm__calloc(1, cm__pg_ops.conn_size);
    if (!conn) {
        cm__pg_ops.release(state);
        return cm__oom();
    }
    rc = cm__pg_ops.connect(conn, state);
    if (rc == CM_OK) {
        rc = restore_into(conn, src, flags);
        cm__pg_ops.disconnect(conn);
    }
    cm__free(conn);
    cm__pg_ops.release(state);
    return rc;
}
