/*
 * test_backup.c - cm_store_backup() and cm_store_restore() on SQLite and,
 * as pg-backup (CM_TEST_BACKEND=pg), on PostgreSQL: data made through
 * operations survives backup, destruction of the database and restore row
 * for row (count and checksum of key columns per table); a damaged or
 * missing source fails cleanly and leaves no file; a file that is not a
 * backup is refused with CM_ECORRUPT and the target stays as it was; a
 * target that holds tables (or, on SQLite, is open) is refused unless
 * forced; a backup whose bytes differ from its checksum file (a flipped
 * byte, a truncation), or that has none, is refused with CM_ECORRUPT before
 * the target is touched; a SQLite backup finishes while another connection
 * keeps writing; what a killed backup left is removed by the next one.
 */
#include "fixtures.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per table: a checksum expression over key columns (portable SQL). */
static const struct {
    const char *table, *expr;
} sums[] = {
    {"members", "id * 31 + length(email) * 7 + length(name) + length(role) + created_at % 1000003"},
    {"sessions", "id * 31 + member_id * 7 + expires_at % 1000003"},
    {"groups", "id * 31 + length(slug) * 7 + created_by"},
    {"group_members", "group_id * 31 + member_id * 7 + length(status)"},
    {"events", "id * 31 + length(title) * 7 + seats_taken * 101 + waitlist_count * 11 + "
               "start_at % 1000003"},
    {"event_organizers", "event_id * 31 + member_id"},
    {"rsvps", "id * 31 + event_id * 7 + member_id * 13 + length(status) + guests + seats * 3 + "
              "coalesce(waitlist_seq, 0) * 5"},
    {"posts", "id * 31 + author_id * 7 + length(title) + length(body) * 3"},
    {"comments", "id * 31 + post_id * 7 + author_id * 3 + length(body) + depth"},
    {"reactions", "target_id * 31 + member_id * 7 + length(kind) + length(target_type)"},
    {"audit_log", "id * 31 + length(op) * 7 + coalesce(target_id, 0)"},
    {"metric_counters", "length(name) * 31 + value"},
    {"email_outbox", "id * 31 + length(to_addr) + length(template)"},
    {"cm_migrations", "version * 31 + length(checksum)"},
};

/* "table=count:sum;" for every table, through a separate connection. */
static void snapshot(char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++) {
        char sql[600];
        snprintf(sql, sizeof sql,
                 "SELECT CAST(count(*) AS TEXT) || ':' || CAST(coalesce(sum(%s), 0) AS TEXT) "
                 "FROM %s",
                 sums[i].expr, sums[i].table);
        int n = snprintf(buf + w, cap - w, "%s=%s;", sums[i].table, fx_text(sql));
        ck_assert_msg(n > 0 && (size_t)n < cap - w, "snapshot buffer too small");
        w += (size_t)n;
    }
}

static json_int_t id_in(json_t *r, const char *obj, const char *key)
{
    json_t *o = obj ? json_object_get(r, obj) : r;
    return json_integer_value(json_object_get(o, key));
}

/* Members, a group, an event with RSVPs and a waitlist, posts, comments
 * and reactions, all through operations (with their audit rows). */
static void make_data(void)
{
    cm_actor *org = fx_member("org@example.org", "organizer");
    cm_actor *m[3];
    static const char *const emails[] = {"ann@example.org", "bo@example.org", "cy@example.org"};
    for (int i = 0; i < 3; i++)
        m[i] = fx_member(emails[i], "member");
    json_t *r;
    ck_assert_ok(fx_exec(&r, org, "groups.create", "{s:s,s:s,s:s,s:s}", "slug", "c-hackers", "name",
                         "C hackers", "kind", "interest", "join_policy", "open"));
    json_int_t group = id_in(r, NULL, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, m[0], "groups.join", "{s:I}", "group_id", group));
    ck_assert_ok(fx_exec(&r, org, "events.create", "{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:b}", "title",
                         "Systems Night", "format", "online", "online_url",
                         "https://meet.example/x", "start_local", "2027-05-01T18:00", "end_local",
                         "2027-05-01T20:00", "timezone", "Europe/Berlin", "capacity", 2, "publish",
                         1));
    json_int_t event = id_in(r, NULL, "id");
    json_decref(r);
    for (int i = 0; i < 3; i++)
        ck_assert_ok(fx_exec(NULL, m[i], "rsvps.add", "{s:I}", "event_id", event));
    ck_assert_ok(
        fx_exec(&r, m[1], "posts.create", "{s:s,s:s}", "title", "Hello", "body", "First post"));
    json_int_t post = id_in(r, NULL, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(&r, m[2], "comments.add", "{s:I,s:s}", "post_id", post, "body", "Hi"));
    json_int_t comment = id_in(r, NULL, "id");
    json_decref(r);
    ck_assert_ok(fx_exec(NULL, m[0], "comments.add", "{s:I,s:I,s:s}", "post_id", post, "parent_id",
                         comment, "body", "Welcome"));
    ck_assert_ok(fx_exec(NULL, m[0], "reactions.add", "{s:s,s:I,s:s}", "target_type", "post",
                         "target_id", post, "kind", "like"));
    ck_assert_ok(fx_exec(NULL, org, "reactions.add", "{s:s,s:I,s:s}", "target_type", "comment",
                         "target_id", comment, "kind", "like"));
    cm_actor_free(org);
    for (int i = 0; i < 3; i++)
        cm_actor_free(m[i]);
}

static void backup_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", FX.dir, name);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* No temporary file of a failed backup is left in the test directory. */
static void assert_no_leftovers(void)
{
    DIR *d = opendir(FX.dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(!strstr(e->d_name, "-tmp-"), "leftover %s", e->d_name);
    closedir(d);
}

/* Close the store and remove its database (file, or schema). */
static void destroy_db(void)
{
    cm_store_close(FX.store);
    FX.store = NULL;
    if (fx_is_pg()) {
        char sql[200];
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", FX.schema);
        fx_sql(sql);
        return;
    }
    static const char *const side[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s%s", FX.path, side[i]);
        unlink(p);
    }
    ck_assert(!exists(FX.path));
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void read_file(const char *path, char **data, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_gt(len, 0);
    rewind(f);
    *data = malloc((size_t)len);
    ck_assert_ptr_nonnull(*data);
    ck_assert_uint_eq(fread(*data, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
}

static void copy_file(const char *from, const char *to)
{
    char *data;
    size_t n;
    read_file(from, &data, &n);
    write_file(to, data, n);
    free(data);
}

/* ---------------------------------------------------------------------- */

START_TEST(roundtrip_restores_every_row)
{
    make_data();
    char before[4096], after[4096], file[400];
    snapshot(before, sizeof before);
    ck_assert_msg(strstr(before, "rsvps=3:") && strstr(before, "members=4:") &&
                      strstr(before, "comments=2:") && strstr(before, "reactions=2:"),
                  "data made: %s", before);
    backup_path(file, sizeof file, "b.backup");
    ck_assert_ok(cm_store_backup(FX.store, file));
    ck_assert(exists(file));
    struct stat sb;
    ck_assert_int_eq(stat(file, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0077, 0); /* personal data: owner only */
    if (!fx_is_pg()) {                      /* one self-contained file */
        char side[420];
        snprintf(side, sizeof side, "%s-wal", file);
        ck_assert(!exists(side));
    }
    assert_no_leftovers();

    destroy_db();
    ck_assert_ok(cm_store_restore(FX.uri, file, 0));
    ck_assert_ok(cm_store_open(&FX.store, FX.uri, NULL));
    snapshot(after, sizeof after);
    ck_assert_str_eq(after, before);

    /* The restored database works: reads, and writes that need new ids
     * (PostgreSQL sequences come back with the data). */
    json_t *r;
    ck_assert_ok(fx_exec(&r, FX.sys, "events.list", "{}"));
    ck_assert_uint_eq(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
    cm_actor *d = fx_member("dee@example.org", "member");
    ck_assert_int_gt(cm_actor_member_id(d), 4);
    cm_actor_free(d);
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members"), 5);
}
END_TEST

START_TEST(backup_refuses_existing_destination)
{
    char file[400];
    backup_path(file, sizeof file, "exists.backup");
    write_file(file, "keep me", 7);
    ck_assert_int_eq(cm_store_backup(FX.store, file), CM_EEXISTS);
    ck_assert_str_eq(cm_error_field(), "dest_path");
    FILE *f = fopen(file, "rb");
    char buf[16] = {0};
    ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), 7);
    fclose(f);
    ck_assert_str_eq(buf, "keep me");
    unlink(file);
    assert_no_leftovers();
}
END_TEST

START_TEST(backup_argument_errors)
{
    char file[400];
    ck_assert_int_eq(cm_store_backup(NULL, "/tmp/x"), CM_EINVAL);
    ck_assert_int_eq(cm_store_backup(FX.store, NULL), CM_EINVAL);
    ck_assert_int_eq(cm_store_backup(FX.store, ""), CM_EINVAL);
    backup_path(file, sizeof file, "no/such/dir/b.backup");
    ck_assert_int_eq(cm_store_backup(FX.store, file), CM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "no/such/dir"));
}
END_TEST

START_TEST(backup_of_missing_source_fails_cleanly)
{
    make_data();
    if (fx_is_pg()) {
        char sql[200];
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", FX.schema);
        fx_sql(sql);
    } else {
        static const char *const side[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char p[400];
            snprintf(p, sizeof p, "%s%s", FX.path, side[i]);
            unlink(p);
        }
    }
    char file[400];
    backup_path(file, sizeof file, "gone.backup");
    ck_assert_int_eq(cm_store_backup(FX.store, file), CM_ENOTFOUND);
    ck_assert_msg(strlen(cm_error_message()) > 10, "a message: %s", cm_error_message());
    ck_assert(!exists(file));
    assert_no_leftovers();
}
END_TEST

/* SQLite only: a table page overwritten with garbage under a closed store
 * (PostgreSQL guards its own pages: nothing to do there). */
START_TEST(backup_of_corrupt_source_fails_cleanly)
{
    if (fx_is_pg())
        return;
    make_data();
    cm_store_close(FX.store); /* checkpoints the WAL into the file */
    FX.store = NULL;
    long long page =
        strtoll(fx_text("SELECT rootpage FROM sqlite_master WHERE name = 'posts'"), NULL, 10);
    long long size = strtoll(fx_text("PRAGMA page_size"), NULL, 10);
    ck_assert_int_gt(page, 1);
    FILE *f = fopen(FX.path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, (long)((page - 1) * size), SEEK_SET), 0);
    for (long long i = 0; i < size; i++)
        fputc((int)((i * 7 + 13) & 0xff), f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_ok(cm_store_open(&FX.store, FX.uri, NULL));

    char file[400];
    backup_path(file, sizeof file, "corrupt.backup");
    ck_assert_int_eq(cm_store_backup(FX.store, file), CM_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "damaged"));
    ck_assert(!exists(file));
    assert_no_leftovers();
}
END_TEST

START_TEST(restore_of_garbage_leaves_target_untouched)
{
    make_data();
    char before[4096], after[4096], garbage[400], truncated[400], good[400];
    snapshot(before, sizeof before);
    backup_path(garbage, sizeof garbage, "garbage.backup");
    const char text[] = "this is not a backup, only some text\n";
    write_file(garbage, text, sizeof text - 1);

    /* Into the live database, even when forced. */
    ck_assert_int_eq(cm_store_restore(FX.uri, garbage, CM_RESTORE_FORCE), CM_ECORRUPT);
    ck_assert_msg(strstr(cm_error_message(), "not"), "clear message: %s", cm_error_message());
    snapshot(after, sizeof after);
    ck_assert_str_eq(after, before);

    /* A real backup cut in half. */
    backup_path(good, sizeof good, "good.backup");
    ck_assert_ok(cm_store_backup(FX.store, good));
    FILE *f = fopen(good, "rb");
    ck_assert_ptr_nonnull(f);
    static char data[1 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    ck_assert_uint_gt(n, 100);
    backup_path(truncated, sizeof truncated, "truncated.backup");
    write_file(truncated, data, n / 2);
    int rc = cm_store_restore(FX.uri, truncated, CM_RESTORE_FORCE);
    ck_assert_msg(rc == CM_ECORRUPT, "truncated backup: %s %s", cm_status_name(rc),
                  cm_error_message());
    snapshot(after, sizeof after);
    ck_assert_str_eq(after, before);
    /* ... also with the checksum file of the whole one beside it */
    char good_sum[420], truncated_sum[420];
    snprintf(good_sum, sizeof good_sum, "%s.sha256", good);
    snprintf(truncated_sum, sizeof truncated_sum, "%s.sha256", truncated);
    copy_file(good_sum, truncated_sum);
    rc = cm_store_restore(FX.uri, truncated, CM_RESTORE_FORCE);
    ck_assert_msg(rc == CM_ECORRUPT, "truncated backup: %s %s", cm_status_name(rc),
                  cm_error_message());
    snapshot(after, sizeof after);
    ck_assert_str_eq(after, before);

    /* Into a database that does not exist yet: it still does not. */
    char other[400];
    fx_new_uri(other, sizeof other, "fresh");
    ck_assert_int_eq(cm_store_restore(other, garbage, 0), CM_ECORRUPT);
    if (fx_is_pg()) {
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_tables WHERE schemaname = '%s_fresh'",
                 FX.schema);
        ck_assert_int_eq(fx_count(sql), 0);
    } else {
        char p[400];
        snprintf(p, sizeof p, "%s/fresh.db", FX.dir);
        ck_assert(!exists(p));
    }

    /* The store is still usable. */
    ck_assert_ok(fx_exec(NULL, FX.sys, "members.signup", "{s:s,s:s}", "email", "late@example.org",
                         "name", "Late"));
    unlink(garbage);
    unlink(truncated);
    unlink(truncated_sum);
    unlink(good);
    unlink(good_sum);
}
END_TEST

START_TEST(restore_refuses_busy_or_full_target_unless_forced)
{
    make_data();
    char file[400], before[4096], after[4096];
    snapshot(before, sizeof before);
    backup_path(file, sizeof file, "b.backup");
    ck_assert_ok(cm_store_backup(FX.store, file));
    /* A change after the backup, which a forced restore takes back. */
    ck_assert_ok(fx_exec(NULL, FX.sys, "members.signup", "{s:s,s:s}", "email", "after@example.org",
                         "name", "After"));

    if (!fx_is_pg()) {
        /* SQLite: the store has the file open: refused, unless forced; the
         * open store then sees the restored data. */
        ck_assert_int_eq(cm_store_restore(FX.uri, file, 0), CM_EBUSY);
        ck_assert_ptr_nonnull(strstr(cm_error_message(), "open"));
        ck_assert_int_eq(fx_count("SELECT count(*) FROM members"), 5);
        ck_assert_ok(cm_store_restore(FX.uri, file, CM_RESTORE_FORCE));
        snapshot(after, sizeof after);
        ck_assert_str_eq(after, before);
        json_t *r;
        ck_assert_ok(fx_exec(&r, FX.sys, "members.list", "{}"));
        ck_assert_uint_eq(json_array_size(json_object_get(r, "items")), 4);
        json_decref(r);
        ck_assert_ok(fx_exec(NULL, FX.sys, "members.signup", "{s:s,s:s}", "email",
                             "after@example.org", "name", "After"));
        cm_store_close(FX.store);
        FX.store = NULL;
    }
    ck_assert_int_eq(cm_store_restore(FX.uri, file, 0), CM_EEXISTS);
    ck_assert_str_eq(cm_error_field(), "uri");
    ck_assert_int_eq(fx_count("SELECT count(*) FROM members"), 5);

    ck_assert_ok(cm_store_restore(FX.uri, file, CM_RESTORE_FORCE));
    if (!FX.store)
        ck_assert_ok(cm_store_open(&FX.store, FX.uri, NULL));
    snapshot(after, sizeof after);
    ck_assert_str_eq(after, before);
    ck_assert_ok(fx_exec(NULL, FX.sys, "members.signup", "{s:s,s:s}", "email", "again@example.org",
                         "name", "Again"));
    unlink(file);
}
END_TEST

/* A backup restored into another, empty database: a new SQLite file; on
 * PostgreSQL only into a URI whose search_path has the backup's schema. */
START_TEST(restore_into_new_database)
{
    make_data();
    char file[400], before[4096], other[400];
    snapshot(before, sizeof before);
    backup_path(file, sizeof file, "b.backup");
    ck_assert_ok(cm_store_backup(FX.store, file));
    fx_new_uri(other, sizeof other, "copy");
    if (fx_is_pg()) {
        ck_assert_int_eq(cm_store_restore(other, file, 0), CM_EINVAL);
        ck_assert_ptr_nonnull(strstr(cm_error_message(), "search_path"));
        return;
    }
    ck_assert_ok(cm_store_restore(other, file, 0));
    cm_store *copy;
    ck_assert_ok(cm_store_open(&copy, other, NULL));
    char *out = NULL;
    cm_actor *sys;
    ck_assert_ok(cm_actor_system(&sys));
    const char *in = "{\"event_id\": 1}";
    ck_assert_ok(cm_exec(&out, copy, sys, "events.get", in, strlen(in)));
    ck_assert_ptr_nonnull(strstr(out, "Systems Night"));
    cm_free(out);
    cm_actor_free(sys);
    cm_store_close(copy);
    unlink(file);
}
END_TEST

START_TEST(restore_argument_errors)
{
    char file[400], fake[400];
    backup_path(file, sizeof file, "missing.backup");
    ck_assert_int_eq(cm_store_restore(FX.uri, file, 0), CM_ENOTFOUND);
    ck_assert_str_eq(cm_error_field(), "src_path");
    ck_assert_int_eq(cm_store_restore(NULL, file, 0), CM_EINVAL);
    ck_assert_int_eq(cm_store_restore(FX.uri, NULL, 0), CM_EINVAL);
    ck_assert_int_eq(cm_store_restore(FX.uri, file, 0x80), CM_EINVAL);
    ck_assert_int_eq(cm_store_restore("mysql://x", file, 0), CM_ENOTSUP);
    ck_assert_int_eq(cm_store_restore(FX.uri, FX.dir, 0), CM_EINVAL); /* a directory */

    /* A backup of the other backend is named as such. */
    backup_path(fake, sizeof fake, "other.backup");
    if (fx_is_pg())
        write_file(fake, "SQLite format 3\0 and then nothing", 33);
    else
        write_file(fake, "PGDMP\1\16\0 and then nothing", 24);
    ck_assert_int_eq(cm_store_restore(FX.uri, fake, 0), CM_EINVAL);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), fx_is_pg() ? "SQLite" : "PostgreSQL"));
    unlink(fake);
    if (!fx_is_pg()) {
        backup_path(file, sizeof file, "b.backup");
        ck_assert_ok(cm_store_backup(FX.store, file));
        ck_assert_int_eq(cm_store_restore("sqlite::memory:", file, 0), CM_EINVAL);
        unlink(file);
    }
}
END_TEST

/* Write an executable shell script. */
static void write_script(const char *path, const char *body)
{
    write_file(path, body, strlen(body));
    ck_assert_int_eq(chmod(path, 0700), 0);
}

/* PostgreSQL: pg_dump gets the password through the environment, never
 * its command line, and one older than the server is refused. A fake
 * pg_dump in $CM_PG_BINDIR records what it was given. */
START_TEST(pg_dump_gets_secrets_by_environment)
{
    if (!fx_is_pg())
        return;
    char bin[300], script[400], args[400], env[400], file[400], uri[600];
    snprintf(bin, sizeof bin, "%s/bin", FX.dir);
    ck_assert_int_eq(mkdir(bin, 0700), 0);
    snprintf(script, sizeof script, "%s/pg_dump", bin);
    snprintf(args, sizeof args, "%s/args", FX.dir);
    snprintf(env, sizeof env, "%s/env", FX.dir);
    char body[1200];
    snprintf(body, sizeof body,
             "#!/bin/sh\n"
             "if [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 99.1'; exit 0; fi\n"
             "echo \"$@\" > '%s'\n"
             "env | grep '^PG' > '%s'\n"
             "echo 'pg_dump: error: fake pg_dump stops here' >&2\n"
             "exit 3\n",
             args, env);
    write_script(script, body);
    ck_assert_int_eq(setenv("CM_PG_BINDIR", bin, 1), 0);

    /* The server trusts the socket, so any password is accepted. */
    snprintf(uri, sizeof uri, "%s&password=s3cret-pw", FX.uri);
    cm_store *s;
    ck_assert_ok(cm_store_open(&s, uri, NULL));
    backup_path(file, sizeof file, "fake.backup");
    ck_assert_int_eq(cm_store_backup(s, file), CM_EBACKEND);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "fake pg_dump stops here"));
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "exit 3"));
    ck_assert(!exists(file));
    assert_no_leftovers();

    FILE *f = fopen(args, "r");
    ck_assert_ptr_nonnull(f);
    char line[2000] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_msg(!strstr(line, "s3cret"), "password on the command line: %s", line);
    ck_assert_ptr_nonnull(strstr(line, "--format=custom"));
    char want[200];
    snprintf(want, sizeof want, "--schema=\"%s\"", FX.schema);
    ck_assert_msg(strstr(line, want) != NULL, "schema argument: %s", line);
    f = fopen(env, "r");
    ck_assert_ptr_nonnull(f);
    bool pw = false, opts = false;
    while (fgets(line, sizeof line, f)) {
        pw |= strcmp(line, "PGPASSWORD=s3cret-pw\n") == 0;
        opts |= strncmp(line, "PGOPTIONS=", 10) == 0 && strstr(line, FX.schema) != NULL;
    }
    fclose(f);
    ck_assert_msg(pw, "PGPASSWORD handed over");
    ck_assert_msg(opts, "PGOPTIONS (search_path) handed over");

    /* Older than the server: refused before it runs. */
    write_script(script, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 11.22'\n");
    ck_assert_int_eq(cm_store_backup(s, file), CM_ENOTSUP);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "older than the server"));
    ck_assert(!exists(file));
    assert_no_leftovers();

    ck_assert_int_eq(unsetenv("CM_PG_BINDIR"), 0);
    cm_store_close(s);
    unlink(script);
    unlink(args);
    unlink(env);
    rmdir(bin);
}
END_TEST

/* ---- bounded backups, stale temporaries, checksums ---- */

static atomic_bool writer_stop;
static atomic_long writer_commits;

/* Another connection committing one small change after another until told
 * to stop (as another process would). */
static void *writer(void *arg)
{
    (void)arg;
    sqlite3 *db;
    if (sqlite3_open(FX.path, &db) != SQLITE_OK)
        return (void *)1L;
    sqlite3_busy_timeout(db, 10000);
    sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL); /* commit often */
    long rc = 0;
    while (!atomic_load(&writer_stop)) {
        if (sqlite3_exec(db,
                         "INSERT INTO metric_counters (name, value) VALUES ('writer', 1) "
                         "ON CONFLICT (name) DO UPDATE SET value = value + 1",
                         NULL, NULL, NULL) != SQLITE_OK) {
            rc = 2;
            break;
        }
        atomic_fetch_add(&writer_commits, 1);
    }
    sqlite3_close(db);
    return (void *)rc;
}

/* SQLite: a backup finishes while another connection keeps committing
 * (copied as one snapshot; in slices it started over after every commit). */
START_TEST(backup_finishes_while_another_connection_writes)
{
    if (fx_is_pg())
        return;
    make_data();
    /* 4 MB, so that a copy takes many slices of pages. */
    fx_sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
           "INSERT INTO metric_counters (name, value) SELECT printf('pad-%05d-%0900d', i, i), i "
           "FROM n");
    atomic_store(&writer_stop, false);
    atomic_store(&writer_commits, 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, writer, NULL), 0);
    while (atomic_load(&writer_commits) < 3)
        sched_yield();
    char file[400], other[400];
    backup_path(file, sizeof file, "busy.backup");
    int rc = cm_store_backup(FX.store, file);
    long during = atomic_load(&writer_commits);
    atomic_store(&writer_stop, true);
    void *wr;
    pthread_join(th, &wr);
    ck_assert_int_eq((int)(long)wr, 0);
    ck_assert_msg(rc == CM_OK, "backup: %s %s", cm_status_name(rc), cm_error_message());
    ck_assert_int_ge(during, 3);
    assert_no_leftovers();

    fx_new_uri(other, sizeof other, "copy");
    ck_assert_ok(cm_store_restore(other, file, 0));
    cm_store *copy;
    ck_assert_ok(cm_store_open(&copy, other, NULL));
    cm_store_close(copy);
    char path[400];
    snprintf(path, sizeof path, "%s/copy.db", FX.dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM metric_counters WHERE name LIKE "
                                        "'pad-%'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 4000);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

/* What a killed backup leaves (its temporary file, with SQLite's journal
 * beside it) is removed by the next backup into that directory; the
 * temporary file of a backup still running (locked) and other files stay. */
START_TEST(next_backup_removes_what_a_killed_one_left)
{
    char stale[400], journal[400], live[400], other[400], file[400];
    backup_path(stale, sizeof stale, "old.backup.cm-backup-tmp-Ab3dE9");
    backup_path(journal, sizeof journal, "old.backup.cm-backup-tmp-Ab3dE9-journal");
    backup_path(live, sizeof live, "run.backup.cm-backup-tmp-Zz9yX8");
    backup_path(other, sizeof other, "notes.tmp-123456");
    static char page[8192];
    memset(page, 'x', sizeof page);
    write_file(stale, page, sizeof page);
    write_file(journal, page, 512);
    write_file(live, page, sizeof page);
    write_file(other, page, 10);
    int fd = open(live, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);

    backup_path(file, sizeof file, "next.backup");
    ck_assert_ok(cm_store_backup(FX.store, file));
    ck_assert_msg(!exists(stale), "stale temporary file removed");
    ck_assert_msg(!exists(journal), "its journal removed");
    ck_assert_msg(exists(live), "a running backup's file stays");
    ck_assert_msg(exists(other), "other files stay");
    close(fd);
    unlink(live);
    unlink(other);
    assert_no_leftovers();
}
END_TEST

/* Every backup has a checksum file beside it; a backup whose bytes differ
 * from it (a flipped byte inside a row, which the file's own structure
 * does not reveal), or that has none, is refused with CM_ECORRUPT before
 * the target is touched. */
START_TEST(damaged_backup_is_refused_before_the_target_is_touched)
{
    make_data();
    char before[4096], after[4096], file[400], sum[420], bad[400], bad_sum[420], other[400];
    snapshot(before, sizeof before);
    backup_path(file, sizeof file, "good.backup");
    ck_assert_ok(cm_store_backup(FX.store, file));
    snprintf(sum, sizeof sum, "%s.sha256", file);
    ck_assert_msg(exists(sum), "checksum file written");
    char *data;
    size_t n;
    read_file(sum, &data, &n);
    ck_assert_uint_eq(n, 64 + 2 + strlen("good.backup") + 1);
    ck_assert(memcmp(data + 64, "  good.backup\n", 14) == 0);
    free(data);

    /* One byte flipped: inside a row's text where the file shows it
     * (SQLite), else in the middle of the file (compressed archive). */
    read_file(file, &data, &n);
    size_t at = n / 2;
    for (size_t i = 0; i + 10 <= n; i++)
        if (memcmp(data + i, "First post", 10) == 0) {
            at = i + 6;
            break;
        }
    data[at] ^= 0x01;
    backup_path(bad, sizeof bad, "flipped.backup");
    snprintf(bad_sum, sizeof bad_sum, "%s.sha256", bad);
    write_file(bad, data, n);
    copy_file(sum, bad_sum);
    free(data);

    ck_assert_int_eq(cm_store_restore(FX.uri, bad, CM_RESTORE_FORCE), CM_ECORRUPT);
    ck_assert_msg(strstr(cm_error_message(), "checksum"), "says why: %s", cm_error_message());
    snapshot(after, sizeof after);
    ck_assert_str_eq(after, before);
    fx_new_uri(other, sizeof other, "fresh");
    ck_assert_int_eq(cm_store_restore(other, bad, 0), CM_ECORRUPT);
    if (!fx_is_pg()) {
        char p[400];
        snprintf(p, sizeof p, "%s/fresh.db", FX.dir);
        ck_assert(!exists(p));
    }

    /* Without its checksum file: refused as well. */
    unlink(bad_sum);
    copy_file(file, bad);
    ck_assert_int_eq(cm_store_restore(FX.uri, bad, CM_RESTORE_FORCE), CM_ECORRUPT);
    ck_assert_msg(strstr(cm_error_message(), ".sha256"), "names it: %s", cm_error_message());
    snapshot(after, sizeof after);
    ck_assert_str_eq(after, before);

    /* The intact backup with its checksum restores. */
    ck_assert_ok(cm_store_restore(FX.uri, file, CM_RESTORE_FORCE));
    /* A backup does not overwrite an existing checksum file either. */
    unlink(file);
    ck_assert_int_eq(cm_store_backup(FX.store, file), CM_EEXISTS);
    unlink(sum);
    unlink(bad);
}
END_TEST

/* PostgreSQL: an archive cut short keeps a readable table of contents
 * (pg_restore --list accepts it); the whole archive is read before the
 * target is touched, so it fails with CM_ECORRUPT even when its checksum
 * file was rewritten to match, not half way through pg_restore. */
START_TEST(pg_truncated_archive_is_refused_before_the_target_is_touched)
{
    if (!fx_is_pg())
        return;
    make_data();
    char before[4096], after[4096], file[400], cut[400], sum[420];
    snapshot(before, sizeof before);
    backup_path(file, sizeof file, "whole.backup");
    ck_assert_ok(cm_store_backup(FX.store, file));
    char *data;
    size_t n;
    read_file(file, &data, &n);
    backup_path(cut, sizeof cut, "cut.backup");
    write_file(cut, data, n - n / 100 - 1);
    free(data);
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "cd '%s' && sha256sum cut.backup > cut.backup.sha256", FX.dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "pg_restore --list '%s' > /dev/null 2>&1", cut);
    ck_assert_msg(system(cmd) == 0, "the listing of the cut archive still reads");

    ck_assert_int_eq(cm_store_restore(FX.uri, cut, CM_RESTORE_FORCE), CM_ECORRUPT);
    ck_assert_msg(strstr(cm_error_message(), "damaged or incomplete"), "says why: %s",
                  cm_error_message());
    snapshot(after, sizeof after);
    ck_assert_str_eq(after, before);
    unlink(cut);
    snprintf(sum, sizeof sum, "%s.sha256", cut);
    unlink(sum);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backup");
    TCase *tc = tcase_create("backup");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, roundtrip_restores_every_row);
    tcase_add_test(tc, backup_refuses_existing_destination);
    tcase_add_test(tc, backup_argument_errors);
    tcase_add_test(tc, backup_of_missing_source_fails_cleanly);
    tcase_add_test(tc, backup_of_corrupt_source_fails_cleanly);
    tcase_add_test(tc, restore_of_garbage_leaves_target_untouched);
    tcase_add_test(tc, restore_refuses_busy_or_full_target_unless_forced);
    tcase_add_test(tc, restore_into_new_database);
    tcase_add_test(tc, restore_argument_errors);
    tcase_add_test(tc, pg_dump_gets_secrets_by_environment);
    tcase_add_test(tc, backup_finishes_while_another_connection_writes);
    tcase_add_test(tc, next_backup_removes_what_a_killed_one_left);
    tcase_add_test(tc, damaged_backup_is_refused_before_the_target_is_touched);
    tcase_add_test(tc, pg_truncated_archive_is_refused_before_the_target_is_touched);
    suite_add_tcase(s, tc);
    return fx_run(s);
}
