/*
 * main.c - the `community` command: global options, dispatch of
 * `community <module> <verb> [flags]` to cm_exec(), help derived from
 * cm_ops_describe(), and the built-in commands (migrate, ops, seed,
 * backup, restore, worker, version, help). No business logic lives here.
 */
#include "cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DEFAULT_DB "sqlite://community.db"

static const char exit_codes_text[] =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  other error\n"
    "  2  usage: unknown command or flag, missing value\n"
    "  3  invalid input (CM_EINVAL, CM_ERANGE; the field is named)\n"
    "  4  not signed in or not allowed (CM_EAUTH, CM_EPERM)\n"
    "  5  not found (CM_ENOTFOUND)\n"
    "  6  conflict (CM_EEXISTS, CM_ECONFLICT, CM_ECONSTRAINT)\n"
    "  7  database (CM_EBACKEND, CM_ESCHEMA, CM_EIO, CM_EBUSY, CM_ECORRUPT, CM_ETIMEOUT)\n";

static const char global_options_text[] =
    "Global options (before the command; after it too, unless an input field has the name):\n"
    "  --db URI        database: sqlite://file.db, sqlite:///abs/path.db, postgresql://...,\n"
    "                  or a file path (an SQLite file)\n"
    "                  (default: $COMMUNITY_DB, else " DEFAULT_DB ")\n"
    "  --as EMAIL      act as that member (trusted: the CLI is an operator tool)\n"
    "  --token TOKEN   act as the member of a session token (from auth login)\n"
    "  --anonymous     act as a visitor who is not signed in\n"
    "                  (default actor: the system, which passes every role check)\n"
    "  --json          print results as raw JSON, for scripts\n"
    "  --watch         for a result with progress (newsletters get): run the\n"
    "                  operation again every second until it is done\n"
    "  --columns LIST  table columns to show, in order (a,b,counts.seats_left); on a\n"
    "                  terminal, tables are otherwise cut to its width\n"
    "  -h, --help      help (also after a module or an operation)\n";

int cli_global_option(cli *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    static const char *const with_value[] = {"--db", "--as", "--token", "--columns"};
    for (size_t k = 0; k < 4; k++) {
        size_t n = strlen(with_value[k]);
        if (strncmp(a, with_value[k], n) != 0 || (a[n] != '\0' && a[n] != '='))
            continue;
        const char *v = a[n] == '=' ? a + n + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!v || !*v)
            return cli_fail(CLI_EXIT_USAGE, "%s needs a value", with_value[k]);
        if (k == 0)
            c->db = v;
        else if (k == 1)
            c->as_email = v;
        else if (k == 2)
            c->token = v;
        else
            c->columns = v;
        return 1;
    }
    if (!strcmp(a, "--anonymous"))
        c->anonymous = 1;
    else if (!strcmp(a, "--json"))
        c->json = 1;
    else if (!strcmp(a, "--watch"))
        c->watch = 1;
    else
        return 0;
    return 1;
}

/* Before printing a table: --columns, and the width of the terminal (tables
 * sent to a pipe or file are never cut). */
static void table_setup(const cli *c)
{
    int width = 0;
    if (isatty(STDOUT_FILENO)) {
        struct winsize ws;
        const char *env = getenv("COLUMNS");
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
            width = ws.ws_col;
        else
            width = env && atoi(env) > 0 ? atoi(env) : 80;
    }
    cli_table_config(c->columns, width);
}

int cli_open_store(cli *c)
{
    if (c->store)
        return CLI_EXIT_OK;
    int rc = cm_store_open(&c->store, c->db, NULL);
    if (rc) {
        char ctx[300];
        snprintf(ctx, sizeof ctx, "cannot open %s", c->db);
        return cli_report(rc, ctx);
    }
    /* With COMMUNITY_REDIS, this process's writes reach the other hosts'
     * cached reads (cm_store_share_cache) like the servers' own. */
    const char *redis = getenv("COMMUNITY_REDIS");
    if (redis && *redis) {
        const char *t = getenv("COMMUNITY_REDIS_TIMEOUT_MS");
        int ms = t ? atoi(t) : 0;
        rc = cm_store_share_cache(c->store, redis, ms > 0 ? (uint32_t)ms : 0);
        if (rc) {
            cm_store_close(c->store);
            c->store = NULL;
            return cli_report(rc, "COMMUNITY_REDIS");
        }
    }
    return CLI_EXIT_OK;
}

int cli_resolve_actor(cli *c)
{
    if ((c->as_email != NULL) + (c->token != NULL) + c->anonymous > 1)
        return cli_fail(CLI_EXIT_USAGE, "use only one of --as, --token and --anonymous");
    if (c->anonymous)
        return CLI_EXIT_OK;
    int rc = cli_open_store(c);
    if (rc)
        return rc;
    if (c->as_email)
        rc = cm_actor_for_email(&c->actor, c->store, c->as_email);
    else if (c->token)
        rc = cm_actor_from_session(&c->actor, c->store, c->token);
    else
        rc = cm_actor_system(&c->actor);
    return rc ? cli_report(rc, c->as_email ? "--as" : c->token ? "--token" : NULL) : CLI_EXIT_OK;
}

/* The module part of an operation name, into buf. */
static const char *module_of(char *buf, size_t cap, const char *opname)
{
    const char *dot = strchr(opname, '.');
    size_t n = dot ? (size_t)(dot - opname) : strlen(opname);
    snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), opname);
    return buf;
}

static void top_help(FILE *f, const cli *c)
{
    fputs("usage: community [global options] <module> <verb> [--field value ...]\n"
          "       community [global options] <command> [arguments]\n\n"
          "The command-line host of libcommunity. Every <module> <verb> is an operation of\n"
          "the library (cm_ops_describe); its flags are the operation's input fields.\n\n"
          "Modules (community <module> --help lists the verbs):\n",
          f);
    size_t i, col = 0;
    json_t *op;
    char prev[64] = "", mod[64], verb[64];
    json_array_foreach(json_object_get(c->describe, "operations"), i, op)
    {
        const char *name = json_string_value(json_object_get(op, "name"));
        const char *dot = strchr(name, '.');
        snprintf(verb, sizeof verb, "%s", dot ? dot + 1 : name);
        for (char *p = verb; *p; p++)
            *p = *p == '_' ? '-' : *p;
        module_of(mod, sizeof mod, name);
        if (strcmp(mod, prev) != 0) {
            fprintf(f, "%s  %-12s", *prev ? "\n" : "", mod);
            col = 14;
        } else if (col + 1 + strlen(verb) > 78) { /* wrap under the first verb */
            fprintf(f, "\n%14s", "");
            col = 14;
        } else {
            fputc(' ', f);
            col++;
        }
        fputs(verb, f);
        col += strlen(verb);
        snprintf(prev, sizeof prev, "%s", mod);
    }
    fputs("\n\nBuilt-in commands:\n"
          "  migrate         apply pending schema migrations and show the schema status\n"
          "  ops             list operations (--json: the raw description, --markdown: the\n"
          "                  reference in docs/operations.md)\n"
          "  seed FILE|-     run a JSON array of steps {\"op\", \"as\", \"input\"}; strings may\n"
          "                  refer to earlier results as \"${N.path.to.field}\"\n"
          "  backup FILE     write a backup of the database to the new file FILE\n"
          "  restore FILE    restore a backup into the --db database (--force: replace\n"
          "                  one that holds tables or is open)\n"
          "  worker          run the platform's jobs (reminders, waitlist notices) until\n"
          "                  SIGTERM; --once: what is due, then exit (worker --help)\n"
          "  version         print the library version\n"
          "  help [MODULE [VERB]]  this text, or the help of a module or an operation\n\n",
          f);
    fputs(global_options_text, f);
    fputc('\n', f);
    fputs(exit_codes_text, f);
    fputs("\nSee docs/cli.md and docs/operations.md.\n", f);
}

/* Print the verbs of a module with their summaries (f == NULL: only count).
 * Returns how many there are. */
static size_t module_help(FILE *f, const cli *c, const char *module)
{
    size_t i, n = 0, mlen = strlen(module);
    json_t *op;
    json_array_foreach(json_object_get(c->describe, "operations"), i, op)
    {
        const char *name = json_string_value(json_object_get(op, "name"));
        if (strncmp(name, module, mlen) != 0 || name[mlen] != '.')
            continue;
        if (!f) {
            n++;
            continue;
        }
        if (n++ == 0)
            fprintf(f, "usage: community [global options] %s <verb> [flags]\n\nVerbs:\n", module);
        char verb[64];
        snprintf(verb, sizeof verb, "%s", name + mlen + 1);
        for (char *p = verb; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(f, "  %-18s %s\n", verb, json_string_value(json_object_get(op, "summary")));
    }
    if (n && f)
        fprintf(f, "\ncommunity %s <verb> --help lists the flags of a verb.\n", module);
    return n;
}

/* Verbs that are other names of operations. */
static const struct {
    const char *module, *alias, *verb;
} verb_aliases[] = {
    {"jobs", "show", "get"},
};

/* The operation "module.verb" (verb spelled with dashes or underscores). */
static const json_t *find_verb(const cli *c, const char *module, const char *verb)
{
    for (size_t i = 0; i < sizeof verb_aliases / sizeof verb_aliases[0]; i++)
        if (!strcmp(module, verb_aliases[i].module) && !strcmp(verb, verb_aliases[i].alias))
            verb = verb_aliases[i].verb;
    char name[160];
    snprintf(name, sizeof name, "%s.%s", module, verb);
    for (char *p = name + strlen(module) + 1; *p; p++)
        if (*p == '-')
            *p = '_';
    return cli_find_op(c, name);
}

static int run_op(cli *c, const json_t *op, int argc, char **argv)
{
    json_t *input = NULL;
    int rc = cli_build_input(&input, c, op, argc, argv);
    if (rc == CLI_WANTS_HELP) {
        cli_op_help(stdout, op);
        return CLI_EXIT_OK;
    }
    if (rc)
        return rc;
    char *in = json_dumps(input, JSON_COMPACT);
    json_decref(input);
    if (!in)
        return cli_fail(CLI_EXIT_ERROR, "out of memory");
    char *out = NULL;
    if ((rc = cli_resolve_actor(c)) == CLI_EXIT_OK && (rc = cli_open_store(c)) == CLI_EXIT_OK) {
        const char *name = json_string_value(json_object_get(op, "name"));
        int st = cm_exec(&out, c->store, c->actor, name, in, strlen(in));
        int tty = isatty(STDOUT_FILENO);
        /* progress: a bar on a terminal; --watch repeats the call until done */
        json_t *res = st == CM_OK && !c->json ? json_loads(out, 0, NULL) : NULL;
        bool mutates = json_is_true(json_object_get(op, "mutates"));
        while (res && cli_progress_of(res) && (tty || c->watch)) {
            cli_progress_draw(stdout, res, tty, 40);
            if (!c->watch || mutates || !cli_progress_live(res))
                break;
            fflush(stdout);
            sleep(1);
            cm_free(out);
            out = NULL;
            json_decref(res);
            res = NULL;
            if ((st = cm_exec(&out, c->store, c->actor, name, in, strlen(in))) == CM_OK)
                res = json_loads(out, 0, NULL);
        }
        if (res && cli_progress_of(res) && tty)
            fputc('\n', stdout);
        json_decref(res);
        if (st) {
            rc = cli_report(st, NULL);
        } else {
            table_setup(c);
            cli_print_result(stdout, out, c->json);
        }
    }
    cm_free(out);
    free(in);
    return rc;
}

/* Parse the arguments of a built-in command: global options, the flags in
 * `allowed` (NULL-terminated; their presence is recorded in `seen`), and at
 * most one positional argument. */
static int builtin_args(cli *c, int argc, char **argv, const char *const *allowed, int *seen,
                        const char **positional, int *help)
{
    for (int i = 0; i < argc; i++) {
        int g;
        size_t k = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            *help = 1;
            continue;
        }
        while (allowed && allowed[k] && strcmp(allowed[k], argv[i]) != 0)
            k++;
        if (allowed && allowed[k]) {
            seen[k] = 1;
        } else if ((g = cli_global_option(c, argc, argv, &i)) != 0) {
            if (g != 1)
                return g;
        } else if (argv[i][0] != '-' || !strcmp(argv[i], "-")) {
            if (!positional || *positional)
                return cli_fail(CLI_EXIT_USAGE, "unexpected argument '%s'", argv[i]);
            *positional = argv[i];
        } else {
            return cli_fail(CLI_EXIT_USAGE, "unknown option '%s' (see community --help)", argv[i]);
        }
    }
    return CLI_EXIT_OK;
}

static int cmd_migrate(cli *c, int argc, char **argv)
{
    int help = 0, rc = builtin_args(c, argc, argv, NULL, NULL, NULL, &help);
    if (rc || help) {
        if (help)
            puts("usage: community [--db URI] migrate\n\nApply pending schema migrations "
                 "(opening a store also does) and show the schema status.");
        return rc;
    }
    if ((rc = cli_open_store(c)))
        return rc;
    int32_t applied = 0;
    char *status = NULL;
    int st = cm_store_migrate(c->store, &applied);
    if (st == CM_OK)
        st = cm_store_schema_status(&status, c->store);
    if (st)
        return cli_report(st, "migrate");
    table_setup(c);
    if (c->json) {
        cli_print_result(stdout, status, 1);
    } else {
        json_t *doc = json_loads(status, 0, NULL);
        printf("backend: %s\nschema: version %lld of %lld (%s)\n",
               json_string_value(json_object_get(doc, "backend")),
               (long long)json_integer_value(json_object_get(doc, "current")),
               (long long)json_integer_value(json_object_get(doc, "latest")),
               json_integer_value(json_object_get(doc, "current")) ==
                       json_integer_value(json_object_get(doc, "latest"))
                   ? "up to date"
                   : "pending");
        json_t *list = json_object_get(doc, "migrations");
        if (json_array_size(list)) {
            json_t *wrap = json_pack("{sO}", "items", list);
            char *s = json_dumps(wrap, 0);
            cli_print_result(stdout, s, 0);
            free(s);
            json_decref(wrap);
        }
        json_decref(doc);
    }
    cm_free(status);
    return CLI_EXIT_OK;
}

static int cmd_ops(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--markdown", NULL};
    int seen[1] = {0}, help = 0;
    int rc = builtin_args(c, argc, argv, flags, seen, NULL, &help);
    if (rc || help) {
        if (help)
            puts("usage: community ops [--json | --markdown]\n\nList every operation; "
                 "--json prints cm_ops_describe() as is, --markdown the operations "
                 "reference (docs/operations.md).");
        return rc;
    }
    if (seen[0]) {
        cli_ops_markdown(stdout, c->describe);
        return CLI_EXIT_OK;
    }
    if (c->json) {
        char *s = json_dumps(c->describe, JSON_INDENT(2));
        puts(s ? s : "{}");
        free(s);
        return CLI_EXIT_OK;
    }
    size_t i, wname = 4;
    json_t *op, *ops = json_object_get(c->describe, "operations");
    json_array_foreach(ops, i, op)
    {
        size_t n = strlen(json_string_value(json_object_get(op, "name")));
        wname = n > wname ? n : wname;
    }
    printf("%-*s  %-9s  %s\n", (int)wname, "name", "role", "summary");
    json_array_foreach(ops, i, op)
    {
        printf("%-*s  %-9s  %s\n", (int)wname, json_string_value(json_object_get(op, "name")),
               json_string_value(json_object_get(op, "role")),
               json_string_value(json_object_get(op, "summary")));
    }
    return CLI_EXIT_OK;
}

static int cmd_seed(cli *c, int argc, char **argv)
{
    const char *path = NULL;
    int help = 0, rc = builtin_args(c, argc, argv, NULL, NULL, &path, &help);
    if (rc || help || !path) {
        if (help || !path)
            fputs("usage: community [--db URI] seed FILE|-\n\nRun a JSON array of steps "
                  "{\"op\": \"events.create\", \"as\": \"email\" | null | \"anonymous\", "
                  "\"input\": {...}}\nin order (null = the system actor). String values may "
                  "refer to earlier results:\n\"${0.member.id}\" is field member.id of step "
                  "0's result (whole-string references keep\nthe JSON type). See "
                  "docs/cli.md.\n",
                  help ? stdout : stderr);
        return rc ? rc : help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    return cli_seed(c, path);
}

/* Print "key: path" (or {"key": path} with --json). */
static void print_path(const cli *c, const char *key, const char *path)
{
    json_t *o = json_pack("{ss}", key, path);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (c->json && s)
        puts(s);
    else
        printf("%s: %s\n", key, path);
    free(s);
    json_decref(o);
}

static int cmd_backup(cli *c, int argc, char **argv)
{
    const char *path = NULL;
    int help = 0, rc = builtin_args(c, argc, argv, NULL, NULL, &path, &help);
    if (rc || help || !path) {
        if (help || !path)
            fputs("usage: community [--db URI] backup FILE\n\nWrite a consistent backup of "
                  "the database to FILE, which must not exist (cm_store_backup: SQLite: a\n"
                  "copy of the database file; PostgreSQL: a pg_dump archive of the store's "
                  "schema),\nand its SHA-256 to FILE.sha256: keep the two together, restore "
                  "needs both.\n",
                  help ? stdout : stderr);
        return rc ? rc : help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    /* Opening a missing SQLite file would create an empty database. The file
     * of a sqlite: URI, or the whole string when it has no scheme (the
     * library's rule: see cm_store_open). */
    size_t scheme =
        strspn(c->db, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    const char *file = !strncmp(c->db, "sqlite://", 9)    ? c->db + 9
                       : !strncmp(c->db, "sqlite:", 7)    ? c->db + 7
                       : (scheme && c->db[scheme] == ':') ? NULL
                                                          : c->db;
    if (file && strcmp(file, ":memory:") != 0 && access(file, F_OK) != 0)
        return cli_fail(CLI_EXIT_NOTFOUND, "backup: no database at %s", file);
    if ((rc = cli_open_store(c)))
        return rc;
    int st = cm_store_backup(c->store, path);
    if (st)
        return cli_report(st, "backup");
    print_path(c, "backup", path);
    return CLI_EXIT_OK;
}

static int cmd_restore(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--force", NULL};
    const char *path = NULL;
    int seen[1] = {0}, help = 0;
    int rc = builtin_args(c, argc, argv, flags, seen, &path, &help);
    if (rc || help || !path) {
        if (help || !path)
            fputs("usage: community [--db URI] restore [--force] FILE\n\nRestore a backup "
                  "made by `community backup` into the --db database (cm_store_restore).\n"
                  "The file is checked first; a database that holds tables, or (SQLite) is "
                  "open\nelsewhere, is refused unless --force. The next open applies "
                  "pending migrations.\n",
                  help ? stdout : stderr);
        return rc ? rc : help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    int st = cm_store_restore(c->db, path, seen[0] ? CM_RESTORE_FORCE : 0);
    if (st)
        return cli_report(st, "restore");
    print_path(c, "restored", path);
    return CLI_EXIT_OK;
}

static int cmd_help(cli *c, int argc, char **argv)
{
    if (argc == 0) {
        top_help(stdout, c);
        return CLI_EXIT_OK;
    }
    const json_t *op = argc > 1 ? find_verb(c, argv[0], argv[1]) : NULL;
    if (op) {
        cli_op_help(stdout, op);
        return CLI_EXIT_OK;
    }
    if (module_help(stdout, c, argv[0]))
        return CLI_EXIT_OK;
    return cli_fail(CLI_EXIT_USAGE, "no module '%s' (see community --help)", argv[0]);
}

static int dispatch(cli *c, int argc, char **argv)
{
    int i = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return cmd_help(c, 0, NULL);
        if (!strcmp(argv[i], "--version"))
            return puts(cm_version_string()) < 0;
        int g = cli_global_option(c, argc, argv, &i);
        if (g == 0)
            return cli_fail(CLI_EXIT_USAGE, "unknown option '%s' (see community --help)", argv[i]);
        if (g != 1)
            return g;
    }
    if (i == argc) {
        top_help(stderr, c);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[i++];
    argc -= i;
    argv += i;
    if (!strcmp(cmd, "help"))
        return cmd_help(c, argc, argv);
    if (!strcmp(cmd, "version")) {
        int help = 0, rc = builtin_args(c, argc, argv, NULL, NULL, NULL, &help);
        if (rc == CLI_EXIT_OK)
            printf(c->json ? "{\"library\":\"%s\"}\n" : "libcommunity %s\n", cm_version_string());
        return rc;
    }
    if (!strcmp(cmd, "migrate"))
        return cmd_migrate(c, argc, argv);
    if (!strcmp(cmd, "ops"))
        return cmd_ops(c, argc, argv);
    if (!strcmp(cmd, "seed"))
        return cmd_seed(c, argc, argv);
    if (!strcmp(cmd, "backup"))
        return cmd_backup(c, argc, argv);
    if (!strcmp(cmd, "restore"))
        return cmd_restore(c, argc, argv);
    if (!strcmp(cmd, "worker"))
        return cli_worker(c, argc, argv);
    if (argc == 0 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        size_t n = module_help(argc ? stdout : stderr, c, cmd);
        if (!n)
            return cli_fail(CLI_EXIT_USAGE, "unknown command '%s' (see community --help)", cmd);
        return argc ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    const json_t *op = find_verb(c, cmd, argv[0]);
    if (!op) {
        if (!module_help(NULL, c, cmd))
            return cli_fail(CLI_EXIT_USAGE, "unknown command '%s' (see community --help)", cmd);
        int rc = cli_fail(CLI_EXIT_USAGE, "unknown verb '%s' of module %s", argv[0], cmd);
        module_help(stderr, c, cmd);
        return rc;
    }
    return run_op(c, op, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    cli c = {0};
    const char *env = getenv("COMMUNITY_DB");
    c.db = env && *env ? env : DEFAULT_DB;
    char *doc = NULL;
    int st = cm_ops_describe(&doc);
    if (st)
        return cli_report(st, "cm_ops_describe");
    c.describe = json_loads(doc, 0, NULL);
    cm_free(doc);
    if (!c.describe)
        return cli_fail(CLI_EXIT_ERROR, "cm_ops_describe returned invalid JSON");
    int rc = dispatch(&c, argc - 1, argv + 1);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
        rc = cli_fail(CLI_EXIT_ERROR, "cannot write the output");
    cm_actor_free(c.actor);
    cm_store_close(c.store);
    json_decref(c.describe);
    return rc;
}
