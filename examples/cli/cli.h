/*
 * cli.h - shared declarations of the `community` command-line host.
 *
 * The CLI holds no business logic: every module/verb subcommand, its flags
 * and its help are derived at run time from cm_ops_describe(), and every
 * command runs through cm_exec(). Files: main.c (global options, dispatch,
 * built-in commands), args.c (flags <-> input schema, per-operation help),
 * output.c (tables, key/value lines, errors, exit codes), seed.c (seed
 * files), doc.c (the Markdown operations reference), worker.c (the job
 * worker).
 */
#ifndef CM_CLI_H
#define CM_CLI_H

#include <community/community.h>
#include <jansson.h>
#include <stdio.h>

/* Exit codes: what failed. Documented in `community --help` and docs/cli.md. */
enum {
    CLI_EXIT_OK = 0,       /* success */
    CLI_EXIT_ERROR = 1,    /* any other error */
    CLI_EXIT_USAGE = 2,    /* bad command line: unknown command or flag, missing value */
    CLI_EXIT_INVALID = 3,  /* invalid input (CM_EINVAL, CM_ERANGE) */
    CLI_EXIT_AUTH = 4,     /* not signed in or not allowed (CM_EAUTH, CM_EPERM) */
    CLI_EXIT_NOTFOUND = 5, /* CM_ENOTFOUND */
    CLI_EXIT_CONFLICT = 6, /* CM_EEXISTS, CM_ECONFLICT, CM_ECONSTRAINT */
    CLI_EXIT_BACKEND = 7,  /* database: CM_EBACKEND, CM_ESCHEMA, CM_EIO, CM_EBUSY, ... */
};

/* Returned by cli_build_input() when --help was among the flags. */
#define CLI_WANTS_HELP (-1)

/* The state of one CLI run. */
typedef struct cli {
    const char *db;       /* --db, $COMMUNITY_DB or the default URI */
    const char *as_email; /* --as */
    const char *token;    /* --token */
    int anonymous;        /* --anonymous */
    int json;             /* --json: raw JSON output */
    const char *columns;  /* --columns: table columns to show */
    int watch;            /* --watch: repeat a result with progress until it is done */
    json_t *describe;     /* the parsed cm_ops_describe() document */
    cm_store *store;      /* opened on first need */
    cm_actor *actor;      /* resolved on first need; NULL = anonymous */
} cli;

/* main.c */
/* Try to consume argv[*i] as a global option (--db, --as, --token,
 * --columns, --anonymous, --json, --watch). Returns 1 when consumed (advancing *i past a value),
 * 0 when it is not a global option, or CLI_EXIT_USAGE after printing why. */
int cli_global_option(cli *c, int argc, char **argv, int *i);
/* Open the store (once). Returns an exit code; prints the error. */
int cli_open_store(cli *c);
/* Resolve the actor from --as/--token/--anonymous (once). Exit code. */
int cli_resolve_actor(cli *c);

/* progress.c */
/* The "progress" object of a result ({queued, sent, failed, suppressed,
 * pending, sending, audience_done}), or NULL. Borrowed. */
const json_t *cli_progress_of(const json_t *result);
/* Draw a progress line for result on f: "[#####-----] 52% 2600/5000 sent,
 * 3 failed, 1 suppressed, 2396 to go". tty: redraw in place (\r, a bar
 * `width` columns wide); otherwise one line. */
void cli_progress_draw(FILE *f, const json_t *result, int tty, int width);
/* true while the status of result says more will happen (scheduled, sending). */
int cli_progress_live(const json_t *result);

/* args.c */
/* The operation object named `name` in the describe document, or NULL. */
const json_t *cli_find_op(const cli *c, const char *name);
/* Build the input object of `op` from its flags argv[0..argc). Returns
 * CLI_EXIT_OK with *out set, CLI_WANTS_HELP, or an exit code after printing
 * the error. Global options that are not input fields are handed to
 * cli_global_option(). */
int cli_build_input(json_t **out, cli *c, const json_t *op, int argc, char **argv);
/* Print the help of one operation (flags with types, bounds, role, route). */
void cli_op_help(FILE *f, const json_t *op);
/* "--event-id" spelling of a field name ("event_id"), into buf. */
const char *cli_flag_name(char *buf, size_t cap, const char *field);
/* Human descriptions of a property schema, shared with the Markdown doc. */
const char *cli_schema_type(char *buf, size_t cap, const json_t *prop);
const char *cli_schema_bounds(char *buf, size_t cap, const json_t *prop);
/* A one-line rendering of a result schema ("{items: [Event], next_cursor: string | null}"). */
const char *cli_schema_brief(char *buf, size_t cap, const json_t *schema);

/* output.c */
/* Map a CM_* status to a CLI exit code. */
int cli_exit_code(int status);
/* Print the library's last error as "error: CM_X: message (field: f)" on
 * stderr, with an optional context prefix; returns the exit code. */
int cli_report(int status, const char *context);
/* Print an error that the CLI itself detected; returns `exit_code`. */
int cli_fail(int exit_code, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Table settings: the --columns list (NULL = all non-empty columns) and the
 * width to fit (0 = unlimited; the terminal's width when stdout is one). */
void cli_table_config(const char *columns, int width);
/* Print a result: raw JSON with --json, else a table or key/value lines. */
void cli_print_result(FILE *f, const char *json, int raw);
/* The largest file --input and seed read (documented in docs/cli.md). */
#define CLI_FILE_MAX ((size_t)16 << 20)
#define CLI_FILE_MAX_TEXT "16 MiB"
/* Read a whole file ("-" = stdin) of at most CLI_FILE_MAX bytes into a
 * NUL-terminated malloc'd *out. Returns an exit code after printing why it
 * failed ("what: ..."): CLI_EXIT_INVALID when the file is larger. */
int cli_read_input(char **out, const char *path, const char *what);

/* seed.c */
/* Run a seed file: a JSON array of {"op", "as", "input"} steps. Exit code. */
int cli_seed(cli *c, const char *path);

/* worker.c */
/* `community worker [flags]`: run the platform's jobs until SIGTERM/SIGINT
 * (or, with --once, until nothing is due). Exit code. */
int cli_worker(cli *c, int argc, char **argv);

/* doc.c */
/* Write the Markdown operations reference. */
void cli_ops_markdown(FILE *f, const json_t *describe);

#endif /* CM_CLI_H */
