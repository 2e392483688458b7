/*
 * mail.h - delivery of the mails the platform writes to its outbox
 * (password resets, sign-in links, RSVP and waitlist notices, reminders,
 * cancellations) to an SMTP server.
 *
 * Every mail is one outbox row per recipient, written in the transaction of
 * the change that causes it. A cm_mailer drains those rows: it claims a
 * batch with a lease (pending -> sending), renders each message from its
 * template, sends it over SMTP and marks it sent under the lease (sending
 * -> sent); a refusal with a 4xx reply or a network failure puts the row
 * back with exponential backoff, a 5xx reply (or running out of attempts)
 * marks it failed. A worker that dies while sending leaves its rows
 * "sending"; when their lease lapses another worker claims them again. The
 * only mails that can reach a recipient twice are the ones a worker had
 * handed to the server but not yet marked sent when it died (at most one
 * per sending thread). See docs/email.md.
 */
#ifndef COMMUNITY_MAIL_H
#define COMMUNITY_MAIL_H

#include <community/common.h>
#include <community/jobs.h>

CM_BEGIN_DECLS

/** A mail deliverer bound to a store (opaque). @since 0.1 */
typedef struct cm_mailer cm_mailer;

/**
 * Configuration of a cm_mailer. Fill with CM_MAILER_OPTIONS_INIT or
 * cm_mailer_options_init(); grows only by appending fields. Strings are
 * copied by cm_mailer_open(). @since 0.1
 */
typedef struct cm_mailer_options {
    uint32_t size;             /**< sizeof(cm_mailer_options) */
    const char *smtp_uri;      /**< required: smtp://user:pass@host:port/?options or smtps://
                                    (options: tls=try|require, cafile, helo, timeout_ms), or
                                    ses://region/?options for the Amazon SES v2 API (options:
                                    configuration_set, timeout_ms, cafile, endpoint; credentials
                                    from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                                    AWS_SESSION_TOKEN) */
    const char *from;          /**< required: "noreply@example.org" or
                                    "Community <noreply@example.org>" */
    const char *public_url;    /**< base of the links in mails; NULL = "http://localhost:3000" */
    const char *site_name;     /**< shown in subjects and greetings; NULL = "Community" */
    uint32_t rate_per_s;       /**< messages per second shared by every mailer on the
                                    database; 0 = no limit */
    uint32_t batch;            /**< rows claimed at a time, 1..500; 0 = 20 */
    uint32_t max_attempts;     /**< tries before a row fails, 1..100; 0 = 8 */
    uint32_t lease_ms;         /**< how long a claim holds its rows; must exceed the SMTP
                                    timeout by 5 s; 0 = 120000 */
    uint32_t retry_ms;         /**< first retry delay, doubled each time up to 1 h;
                                    0 = 30000 */
    uint32_t slots;            /**< delivery jobs that may run at once across all workers
                                    (cm_mailer_attach), 1..64; 0 = 8 */
    uint32_t flags;            /**< CM_MAILER_* */
    const char *templates_dir; /**< NULL, or a directory whose files NAME.subject,
                                    NAME.txt, NAME.html replace those parts of the
                                    built-in template NAME (read by cm_mailer_open) */
    const char *api_url;       /**< base URL of the HTTP API (community-server) for the
                                    one-click unsubscribe links of List-Unsubscribe;
                                    NULL = public_url. Use https:// in production
                                    (RFC 8058 one-click needs it) */
} cm_mailer_options;

/**
 * Delivery jobs end as soon as nothing is due instead of watching the
 * outbox for new mail, and start no successor: for runs that must end
 * (cron, `community worker --once`). @since 0.1
 */
#define CM_MAILER_NO_WATCH 0x1u

#define CM_MAILER_OPTIONS_INIT                                                                     \
    {                                                                                              \
        (uint32_t)sizeof(cm_mailer_options), NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, NULL,    \
            NULL                                                                                   \
    }

/** Fill `opts` with the defaults. @return CM_OK or CM_EINVAL. @since 0.1 */
CM_API int cm_mailer_options_init(cm_mailer_options *opts, uint32_t size);

/**
 * Open a mailer on `store` (borrowed: the store must outlive the mailer).
 * Nothing connects to the SMTP server until the first message.
 *
 * @param out  [out] the mailer, freed with cm_mailer_close(); NULL on failure.
 * @return CM_OK; CM_EINVAL (field "smtp" for a malformed URI, "from",
 *         "public_url", "site_name", "batch", "max_attempts", "lease_ms",
 *         "slots", "templates_dir" for a template file that cannot be read
 *         or uses an unknown {{placeholder}}, named in the message);
 *         CM_ENOMEM. The SMTP password never appears in a message.
 * Thread-safe. @since 0.1
 */
CM_API int cm_mailer_open(cm_mailer **out, cm_store *store, const cm_mailer_options *opts);

/**
 * Free a mailer and close its SMTP connections. Call it after every
 * scheduler it was attached to is closed. NULL is accepted. @since 0.1
 */
CM_API void cm_mailer_close(cm_mailer *m);

/**
 * Deliver due mail now, in the calling thread: claim, send and mark batches
 * until nothing is due or `max` rows have been handled (0 = no limit).
 *
 * @param sent_out  [out] number of messages the server accepted; may be NULL.
 * @return CM_OK (also when messages were refused or put back for a retry:
 *         that is recorded on their rows); CM_EBUSY, CM_EBACKEND when the
 *         database fails.
 * Thread-safe: several threads or processes may run it on one database;
 * each row is sent by one of them. @since 0.1
 */
CM_API int cm_mailer_run(uint32_t *sent_out, cm_mailer *m, uint32_t max);

/**
 * Make a scheduler deliver mail: registers the job kinds
 * "platform.mail_deliver" and "platform.mail_tick" on queue "platform" and
 * enqueues a first delivery job. A delivery job runs cm_mailer_run, then
 * watches the outbox (every 200 ms) for 10 s, then enqueues its successor,
 * so that a mail is picked up within a fraction of a second. The tick, a
 * repeatable schedule fired at the scheduler's heartbeats, starts more
 * delivery jobs (up to `slots`) when many mails are due, and restarts the
 * chain when a worker died with it. Call before cm_scheduler_start(). The
 * handlers run on the scheduler's worker threads.
 *
 * @return CM_OK; CM_EEXISTS when the kinds are already registered on `s`;
 *         errors of cm_jobs_define() and cm_jobs_schedule().
 * @since 0.1
 */
CM_API int cm_mailer_attach(cm_mailer *m, cm_scheduler *s);

/**
 * Counts of outbox rows by delivery status, as JSON:
 * {"pending":N,"sending":N,"sent":N,"failed":N,"suppressed":N}.
 *
 * @param out  [out] JSON text, freed with cm_free().
 * @return CM_OK; CM_EBUSY, CM_EBACKEND. Thread-safe. @since 0.1
 */
CM_API int cm_mail_stats(char **out, cm_store *store);

CM_END_DECLS

#endif /* COMMUNITY_MAIL_H */
