/*
 * ops.h - the operation table: the domain's one JSON entry point.
 *
 * Every domain operation (members.signup, events.create, rsvps.add, ...) is
 * declared once inside the library with its input schema, the role it needs
 * and its handler. cm_exec() validates the input against that schema,
 * authorizes the actor, runs the handler in one transaction and returns a
 * JSON result. cm_ops_describe() returns the whole table as JSON Schema, so
 * that HTTP routes, CLI subcommands, bindings and docs are derived from it.
 */
#ifndef COMMUNITY_OPS_H
#define COMMUNITY_OPS_H

#include <community/common.h>

CM_BEGIN_DECLS

/** Roles, in increasing order of privilege. @since 0.1 */
typedef enum cm_role {
    CM_ROLE_ANONYMOUS = 0,
    CM_ROLE_MEMBER = 1,
    CM_ROLE_ORGANIZER = 2,
    CM_ROLE_MODERATOR = 3,
    CM_ROLE_ADMIN = 4,
    CM_ROLE_SYSTEM = 5
} cm_role;

/**
 * Run one operation.
 *
 * @param out      on success receives the result JSON (UTF-8, NUL-terminated),
 *                 freed with cm_free(); NULL on failure.
 * @param store    the store.
 * @param actor    who calls; NULL for an anonymous caller.
 * @param op       operation name, e.g. "events.create".
 * @param json_in  input object as UTF-8 JSON (copied); NULL means "{}".
 * @param len      length of json_in in bytes.
 * @return CM_OK or a negative code; on failure cm_error_message() and
 *         cm_error_field() say what and where. Typical codes: CM_EUNKNOWNOP,
 *         CM_EINVAL (schema), CM_EAUTH, CM_EPERM, CM_ENOTFOUND, CM_EEXISTS,
 *         CM_ECONSTRAINT, CM_ECONFLICT, CM_EBUSY, CM_ETHROTTLED (auth.login:
 *         too many failed sign-ins for the address; cm_error_retry_after()
 *         says how long to wait). A failed call changes nothing.
 * Thread-safe (the actor is only read). @since 0.1
 */
CM_API int cm_exec(char **out, cm_store *store, const cm_actor *actor, const char *op,
                   const char *json_in, size_t len);

/**
 * Receives the events of a streamed operation (cm_exec_stream()), on the
 * thread that called cm_exec_stream().
 *
 * @param event    the event's name: "done" for every operation; an
 *                 operation whose description says "stream": true also
 *                 sends its own events before it (assistant.ask: "delta",
 *                 "citations", "action"; see docs/assistant.md).
 * @param data     its data, a JSON object (UTF-8, NUL-terminated), borrowed
 *                 for the call.
 * @param len      length of data in bytes.
 * @param payload  as given to cm_exec_stream().
 * @return 0 to go on. Non-zero before the operation committed stops it:
 *         cm_exec_stream() fails with CM_ECANCELED and nothing is stored.
 *         Once it committed (the events that report the stored result and
 *         "done"), the return value is ignored.
 * @since 0.1
 */
typedef int (*cm_stream_cb)(const char *event, const char *data, size_t len, void *payload);

/**
 * Run one operation as cm_exec() does, handing its events to cb as they
 * are produced: for assistant.ask, the answer's text while the model
 * writes it ("delta" {"text"}), then, once the answer is stored, its
 * "citations" {"citations": [...]}, its "action" {the pending action}
 * when it proposes one, and "done" (the whole result, as *out holds it).
 * Every other operation sends "done" only. What is stored is exactly what
 * cm_exec() stores.
 *
 * @return as cm_exec(), plus CM_ECANCELED when cb stopped the operation
 *         (then nothing was stored). On failure no "done" is sent.
 * Thread-safe as cm_exec(). @since 0.1
 */
CM_API int cm_exec_stream(char **out, cm_store *store, const cm_actor *actor, const char *op,
                          const char *json_in, size_t len, cm_stream_cb cb, void *payload);

/**
 * Describe every operation as JSON: {"operations":[{"name","summary","role",
 * "mutates","password_hashing","stream","http":{"method","path"},
 * "input": <JSON Schema>, "result": <JSON Schema>}, ...], "$defs": {"Member": <JSON Schema>, ...}}.
 * Result schemas refer to the shared result types with "$ref":
 * "#/$defs/<Name>". "password_hashing" is true for the operations that
 * compute argon2id (sign-in, sign-up, password change and reset): a host may
 * run fewer of them at once than other calls. However many threads call
 * them, at most COMMUNITY_PASSWORD_CONCURRENCY (environment, read once;
 * default half the CPUs, at least 1) argon2id computations run at a time in
 * a process; the others wait their turn.
 * "stream" is true for the operations that send events of their own to
 * cm_exec_stream() while they run (a host may pass them on as they come,
 * e.g. as server-sent events).
 * Free with cm_free(). Thread-safe. @since 0.1
 */
CM_API int cm_ops_describe(char **out);

/**
 * Resolve a session token (from members.login) into an actor.
 * @return CM_OK, CM_EAUTH (unknown, expired or revoked), CM_EINVAL.
 * Free the actor with cm_actor_free(). Thread-safe. @since 0.1
 */
CM_API int cm_actor_from_session(cm_actor **out, cm_store *store, const char *token);

/**
 * An actor for a member, trusted by the host (CLI, workers, tests): no
 * credential is checked. @return CM_OK, CM_ENOTFOUND. @since 0.1
 */
CM_API int cm_actor_for_member(cm_actor **out, cm_store *store, int64_t member_id);

/**
 * Like cm_actor_for_member(), by e-mail address (case-insensitive).
 * @return CM_OK, CM_ENOTFOUND, CM_EINVAL. @since 0.1
 */
CM_API int cm_actor_for_email(cm_actor **out, cm_store *store, const char *email);

/** The system actor: every role check passes (maintenance, jobs). @since 0.1 */
CM_API int cm_actor_system(cm_actor **out);

/** The member id of an actor; 0 for system/anonymous. @since 0.1 */
CM_API int64_t cm_actor_member_id(const cm_actor *actor);

/** The role of an actor (a cm_role). @since 0.1 */
CM_API int cm_actor_role(const cm_actor *actor);

/** Free an actor. Accepts NULL. @since 0.1 */
CM_API void cm_actor_free(cm_actor *actor);

CM_END_DECLS

#endif /* COMMUNITY_OPS_H */
