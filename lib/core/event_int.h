/*
 * event_int.h - event helpers shared by the event and RSVP operations:
 * loading an event as the caller may see it, its JSON shape, who may
 * manage it, and waitlist promotion.
 */
#ifndef CM_EVENT_INT_H
#define CM_EVENT_INT_H

#include "ops_int.h"

/* What handlers need to know about one event, as seen by the caller. */
typedef struct cm__event {
    int64_t id;
    char status[16]; /* draft, published, cancelled */
    char format[16]; /* in_person, online, hybrid */
    bool has_capacity;
    int64_t capacity;
    int64_t seats_taken;
    int64_t waitlist_count;
    int64_t start_at, end_at;
    int64_t group_id; /* 0: not a group event */
    int64_t version;
    bool has_online_url;
    char timezone[256];
    char start_local[32];
    char end_local[32];
    char my_rsvp[16];  /* the caller's RSVP status, "" when none */
    bool is_organizer; /* the caller is one of the event's organizers */
    bool manage;       /* organizer or staff (moderator, admin, system) */
} cm__event;

/* Load event `id` into ev (and, when json_out is not NULL, its JSON as the
 * caller may see it). CM_ENOTFOUND (field event_id) when it does not exist
 * or the caller may not see it: drafts are visible to their organizers and
 * staff only, events of a private group to its active members (and to the
 * members a membership tier lets into it, unless banned: group_int.h), the
 * event's organizers and staff only. */
int cm__event_load(cm__event *ev, json_t **json_out, cm__ctx *ctx, int64_t id);

/* Lock event `id` against concurrent RSVP changes until the transaction
 * ends ("event.lock"); call it before reading seats or RSVPs that the
 * handler then changes. A missing event is not an error here. */
int cm__event_lock(cm__ctx *ctx, int64_t id);

/* Build the JSON of an event from a row shaped like "event.get" (the
 * viewer's columns included). online_url is left out unless the caller
 * manages the event or has an RSVP with status going. */
json_t *cm__event_json(cm__q *q, cm__ctx *ctx);

/* CM_EPERM unless the caller may manage ev (organizer or staff). */
int cm__event_require_manage(const cm__event *ev, const char *what);

/* true for moderators, admins and the system actor. */
bool cm__event_staff(cm__ctx *ctx);

/* Move waitlisted RSVPs of a published, not yet ended event to going, in
 * FIFO order (waitlist_seq) while the head's seats fit; stops at the first
 * that does not fit. Each promotion enqueues a "platform.waitlist_promoted"
 * job in the same transaction; the worker writes the notice to
 * email_outbox. *promoted (may be NULL) receives the number promoted. */
int cm__rsvp_promote(cm__ctx *ctx, const cm__event *ev, int64_t *promoted);

/* Cancel member_id's RSVP to event_id when it holds a seat or a waitlist
 * place (as the system actor: no visibility or right is checked), give the
 * seats back and promote from the waitlist. No RSVP, or one already
 * cancelled or not going, is CM_OK. For the member erasure. */
int cm__rsvp_release(cm__ctx *ctx, int64_t event_id, int64_t member_id);

/* ---- the platform's own jobs (platform_jobs.c) ---- */
/* Enqueue the "platform.waitlist_promoted" job of the promotion of RSVP
 * rsvp_id (member_id, event_id, waitlist place seq) inside conn's open
 * write transaction: it commits or rolls back with the promotion. Its
 * dedupe key "waitlist:<rsvp_id>:<seq>" names the promotion. The worker
 * writes the notice (payload: event_id, name, title, start_local,
 * timezone) to email_outbox in the transaction that completes the job, so
 * each promotion gets one notice, and none when the RSVP is no longer
 * going by then. */
int cm__platform_notify_waitlist_promoted(cm__conn *conn, int64_t event_id, int64_t member_id,
                                          int64_t rsvp_id, int64_t seq);
/* One reminder sweep at `now` (the reminder job's body; tests call it). */
int cm__platform_reminder_sweep(cm__conn *conn, int64_t now, int64_t *sent_out);

/* Seat bounds and limits. */
#define CM__EVENT_MAX_CAPACITY 1000000
#define CM__RSVP_MAX_GUESTS 10

#endif /* CM_EVENT_INT_H */
