/*
 * results.c - the shared result shapes: the objects several operations
 * return (a member, an event, a post, ...), declared once as field lists.
 * Operations reference them from their tables (.result, or inside an
 * operation's own shape such as a page); cm_ops_describe() emits them as
 * JSON Schema under "$defs". Keep each in step with the code that builds
 * the object (named beside it): the test fixtures check every result
 * the suites produce against these declarations.
 */
#include "group_int.h"
#include "ops_int.h"

static const char *const visibility_values[] = {"public", "members", "private", NULL};
static const char *const member_role_values[] = {"member", "organizer", "moderator", "admin", NULL};
static const char *const member_status_values[] = {"active", "suspended", NULL};
static const char *const event_status_values[] = {"draft", "published", "cancelled", NULL};
static const char *const format_values[] = {"in_person", "online", "hybrid", NULL};
static const char *const rsvp_status_values[] = {"going", "waitlisted", "not_going", "cancelled",
                                                 NULL};
static const char *const group_kind_values[] = {"chapter", "interest", NULL};
static const char *const join_policy_values[] = {"open", "approval", "invite", NULL};
static const char *const group_visibility_values[] = {"public", "private", NULL};
static const char *const group_role_values[] = {"owner", "admin", "moderator", "member", NULL};
static const char *const group_status_values[] = {"active", "pending", "invited", "banned", NULL};
static const char *const post_kind_values[] = {"discussion", "question", "announcement", NULL};
static const char *const job_state_values[] = {"delayed", "queued", "running",   "completed",
                                               "failed",  "dead",   "cancelled", NULL};
static const char *const backoff_values[] = {"fixed", "exponential", "custom", NULL};
static const char *const hit_type_values[] = {"event", "member", "post", NULL};

/* cm__member_json (member_json.c) */
static const cm__rfield member_fields[] = {
    {"id", CM__R_INT},
    {"email", CM__R_STRING, .flags = CM__R_OPT, .doc = "Only to the member themself and to staff"},
    {"name", CM__R_STRING},
    {"headline", CM__R_STRING},
    {"bio", CM__R_STRING},
    {"interests", CM__R_ARRAY, .items = CM__R_STRING},
    {"timezone", CM__R_STRING, .doc = "IANA time zone"},
    {"visibility", CM__R_ENUM, .values = visibility_values},
    {"discoverable", CM__R_BOOL},
    {"role", CM__R_ENUM, .values = member_role_values},
    {"status", CM__R_ENUM, .flags = CM__R_OPT, .values = member_status_values,
     .doc = "Only to the member themself and to staff"},
    {"created_at", CM__R_TIME},
    {NULL},
};
const cm__shape cm__shape_member = {.name = "Member",
                                    .doc = "A member's profile, as the caller may see it",
                                    .fields = member_fields};

static const cm__rfield member_ref_fields[] = {
    {"id", CM__R_INT},
    {"name", CM__R_STRING},
    {NULL},
};
const cm__shape cm__shape_member_ref = {
    .name = "MemberRef", .doc = "A member named in another object", .fields = member_ref_fields};

/* cm__session_create (ops_auth.c) */
static const cm__rfield session_fields[] = {
    {"token", CM__R_STRING, .doc = "Bearer token: resolve with cm_actor_from_session"},
    {"expires_at", CM__R_TIME},
    {NULL},
};
const cm__shape cm__shape_session = {
    .name = "Session", .doc = "A new sign-in session", .fields = session_fields};

/* cm__event_json (event_load.c) */
static const cm__rfield event_counts_fields[] = {
    {"capacity", CM__R_INT, .flags = CM__R_NULL, .doc = "null: unlimited"},
    {"going_seats", CM__R_INT},
    {"waitlisted", CM__R_INT},
    {"seats_left", CM__R_INT, .flags = CM__R_NULL, .doc = "null: unlimited"},
    {NULL},
};
static const cm__shape event_counts = {.fields = event_counts_fields};
static const cm__rfield event_fields[] = {
    {"id", CM__R_INT},
    {"title", CM__R_STRING},
    {"description", CM__R_STRING},
    {"status", CM__R_ENUM, .values = event_status_values},
    {"format", CM__R_ENUM, .values = format_values},
    {"venue", CM__R_STRING},
    {"online_url", CM__R_STRING, .flags = CM__R_OPT,
     .doc = "Only to attendees going and to organizers"},
    {"timezone", CM__R_STRING, .doc = "IANA time zone of the event"},
    {"start_local", CM__R_STRING, .doc = "Wall-clock start in the event's time zone"},
    {"end_local", CM__R_STRING, .doc = "Wall-clock end in the event's time zone"},
    {"start", CM__R_TIME},
    {"end", CM__R_TIME},
    {"capacity", CM__R_INT, .flags = CM__R_NULL, .doc = "null: unlimited"},
    {"counts", CM__R_OBJECT, .shape = &event_counts},
    {"group_id", CM__R_INT, .flags = CM__R_NULL},
    {"created_by", CM__R_INT},
    {"version", CM__R_INT, .doc = "Pass to events.update to detect concurrent edits"},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"published_at", CM__R_TIME, .flags = CM__R_NULL},
    {"cancelled_at", CM__R_TIME, .flags = CM__R_NULL},
    {"my_rsvp", CM__R_ENUM, .flags = CM__R_NULL, .values = rsvp_status_values,
     .doc = "The caller's RSVP status, if any"},
    {"is_organizer", CM__R_BOOL},
    {"organizers", CM__R_ARRAY, .flags = CM__R_OPT, .shape = &cm__shape_member_ref,
     .doc = "Not in listings"},
    {NULL},
};
const cm__shape cm__shape_event = {.name = "Event",
                                   .doc = "An event with its seat counts and the caller's RSVP",
                                   .fields = event_fields};

/* rsvp_json (ops_rsvp.c) */
static const cm__rfield rsvp_fields[] = {
    {"id", CM__R_INT},
    {"event_id", CM__R_INT},
    {"member_id", CM__R_INT},
    {"status", CM__R_ENUM, .values = rsvp_status_values},
    {"guests", CM__R_INT},
    {"seats", CM__R_INT, .doc = "1 + guests while going; 0 otherwise"},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"waitlist_position", CM__R_INT, .flags = CM__R_NULL,
     .doc = "1 = next; null unless waitlisted"},
    {NULL},
};
const cm__shape cm__shape_rsvp = {.name = "Rsvp", .doc = "An RSVP", .fields = rsvp_fields};

/* group_json (ops_group.c) */
static const cm__rfield my_membership_fields[] = {
    {"role", CM__R_ENUM, .values = group_role_values},
    {"status", CM__R_ENUM, .values = group_status_values},
    {NULL},
};
static const cm__shape my_membership = {.fields = my_membership_fields};
static const cm__rfield group_fields[] = {
    {"id", CM__R_INT},
    {"slug", CM__R_STRING},
    {"name", CM__R_STRING},
    {"description", CM__R_STRING},
    {"kind", CM__R_ENUM, .values = group_kind_values},
    {"join_policy", CM__R_ENUM, .values = join_policy_values},
    {"visibility", CM__R_ENUM, .values = group_visibility_values},
    {"invitation", CM__R_BOOL,
     .doc = "true: a private group seen only through the caller's invitation (fewer fields)"},
    {"created_by", CM__R_INT, .flags = CM__R_OPT},
    {"created_at", CM__R_TIME, .flags = CM__R_OPT},
    {"updated_at", CM__R_TIME, .flags = CM__R_OPT},
    {"member_count", CM__R_INT, .flags = CM__R_OPT},
    {"membership", CM__R_OBJECT, .flags = CM__R_NULL, .shape = &my_membership,
     .doc = "The caller's membership, if any"},
    {NULL},
};
const cm__shape cm__shape_group = {
    .name = "Group", .doc = "A group (chapter or interest circle)", .fields = group_fields};

static const cm__rfield group_ref_fields[] = {
    {"id", CM__R_INT},
    {"slug", CM__R_STRING},
    {"name", CM__R_STRING},
    {NULL},
};
const cm__shape cm__shape_group_ref = {
    .name = "GroupRef", .doc = "A group named in another object", .fields = group_ref_fields};

/* membership_json (ops_group.c) */
static const cm__rfield membership_fields[] = {
    {"group_id", CM__R_INT},
    {"member_id", CM__R_INT},
    {"role", CM__R_ENUM, .values = group_role_values},
    {"status", CM__R_ENUM, .values = group_status_values},
    {NULL},
};
const cm__shape cm__shape_membership = {
    .name = "Membership", .doc = "A member's place in a group", .fields = membership_fields};

/* cm__json_set_reactions (group_access.c) */
static const cm__rfield reactions_fields[] = {
    {"like", CM__R_INT},      {"love", CM__R_INT},    {"insightful", CM__R_INT},
    {"celebrate", CM__R_INT}, {"curious", CM__R_INT}, {NULL},
};
const cm__shape cm__shape_reactions = {
    .name = "ReactionCounts", .doc = "Reactions by kind", .fields = reactions_fields};

/* post_json (ops_post.c) */
static const cm__rfield post_fields[] = {
    {"id", CM__R_INT},
    {"group_id", CM__R_INT, .flags = CM__R_NULL, .doc = "null: a platform-wide post"},
    {"group", CM__R_OBJECT, .flags = CM__R_NULL, .shape = &cm__shape_group_ref},
    {"author", CM__R_OBJECT, .shape = &cm__shape_member_ref},
    {"kind", CM__R_ENUM, .values = post_kind_values},
    {"title", CM__R_STRING},
    {"body", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"comment_count", CM__R_INT},
    {"reactions", CM__R_OBJECT, .shape = &cm__shape_reactions},
    {"my_reactions", CM__R_ARRAY, .items = CM__R_ENUM, .values = cm__reaction_kinds},
    {NULL},
};
const cm__shape cm__shape_post = {.name = "Post", .doc = "A post", .fields = post_fields};

/* comment_json (ops_post.c) */
static const cm__rfield comment_fields[] = {
    {"id", CM__R_INT},
    {"post_id", CM__R_INT},
    {"parent_id", CM__R_INT, .flags = CM__R_NULL, .doc = "The comment replied to"},
    {"depth", CM__R_INT, .doc = "0 for a top-level comment"},
    {"deleted", CM__R_BOOL, .doc = "A deleted comment keeps its place: no author, empty body"},
    {"author", CM__R_OBJECT, .flags = CM__R_NULL, .shape = &cm__shape_member_ref},
    {"body", CM__R_STRING},
    {"created_at", CM__R_TIME},
    {"reactions", CM__R_OBJECT, .shape = &cm__shape_reactions},
    {"my_reactions", CM__R_ARRAY, .items = CM__R_ENUM, .values = cm__reaction_kinds},
    {NULL},
};
const cm__shape cm__shape_comment = {
    .name = "Comment", .doc = "A comment on a post", .fields = comment_fields};

/* job_json (lib/jobs/admin.c) */
static const cm__rfield backoff_fields[] = {
    {"policy", CM__R_ENUM, .values = backoff_values},
    {"delay_us", CM__R_INT},
    {"max_delay_us", CM__R_INT},
    {NULL},
};
static const cm__shape backoff_shape = {.fields = backoff_fields};
static const cm__rfield lease_fields[] = {
    {"token", CM__R_INT},
    {"owner", CM__R_STRING, .flags = CM__R_NULL},
    {"expires_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
static const cm__shape lease_shape = {.fields = lease_fields};
static const cm__rfield job_fields[] = {
    {"id", CM__R_INT},
    {"queue", CM__R_STRING},
    {"kind", CM__R_STRING},
    {"payload", CM__R_ANY, .flags = CM__R_OPT, .doc = "Not in listings"},
    {"priority", CM__R_INT},
    {"state", CM__R_ENUM, .values = job_state_values},
    {"run_at", CM__R_TIME},
    {"attempts", CM__R_INT},
    {"max_attempts", CM__R_INT},
    {"backoff", CM__R_OBJECT, .flags = CM__R_OPT, .shape = &backoff_shape,
     .doc = "Not in listings"},
    {"timeout_us", CM__R_INT, .flags = CM__R_OPT, .doc = "0: none. Not in listings"},
    {"lease", CM__R_OBJECT, .shape = &lease_shape},
    {"cancel_requested", CM__R_BOOL},
    {"dedupe_key", CM__R_STRING, .flags = CM__R_NULL},
    {"schedule_id", CM__R_INT, .flags = CM__R_NULL},
    {"progress", CM__R_ANY},
    {"result", CM__R_ANY, .flags = CM__R_OPT, .doc = "Not in listings"},
    {"last_error", CM__R_STRING, .flags = CM__R_NULL},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"started_at", CM__R_TIME, .flags = CM__R_NULL},
    {"finished_at", CM__R_TIME, .flags = CM__R_NULL},
    {NULL},
};
const cm__shape cm__shape_job = {
    .name = "JobRecord", .doc = "A background job as stored", .fields = job_fields};

/* item_json (ops_ai.c) */
static const cm__rfield search_hit_fields[] = {
    {"type", CM__R_ENUM, .values = hit_type_values},
    {"id", CM__R_INT},
    {"score", CM__R_NUMBER,
     .doc = "Relevance, 3 decimals: search.semantic hybrid/text: reciprocal-rank fusion scaled so "
            "that 1 = first in every list; vector mode and the similar/recommended operations: "
            "cosine similarity"},
    {"summary", CM__R_STRING, .doc = "Title or name"},
    {"start", CM__R_TIME, .flags = CM__R_OPT, .doc = "Events"},
    {"group_id", CM__R_INT, .flags = CM__R_OPT | CM__R_NULL, .doc = "Events and posts"},
    {"headline", CM__R_STRING, .flags = CM__R_OPT, .doc = "Members"},
    {NULL},
};
const cm__shape cm__shape_search_hit = {
    .name = "SearchHit", .doc = "One ranked event, member or post", .fields = search_hit_fields};

/* op_list (ops_rsvp.c) */
static const cm__rfield rsvp_entry_fields[] = {
    {"id", CM__R_INT},
    {"member", CM__R_OBJECT, .shape = &cm__shape_member_ref},
    {"status", CM__R_ENUM, .values = rsvp_status_values},
    {"guests", CM__R_INT},
    {"seats", CM__R_INT},
    {"waitlist_position", CM__R_INT, .flags = CM__R_NULL,
     .doc = "1 = next; null unless waitlisted"},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {NULL},
};
const cm__shape cm__shape_rsvp_entry = {.name = "RsvpEntry",
                                        .doc = "An RSVP in an event's list, with its member",
                                        .fields = rsvp_entry_fields};

/* op_mine (ops_rsvp.c) */
static const cm__rfield rsvp_event_fields[] = {
    {"id", CM__R_INT},
    {"title", CM__R_STRING},
    {"status", CM__R_ENUM, .values = event_status_values},
    {"format", CM__R_ENUM, .values = format_values},
    {"timezone", CM__R_STRING},
    {"start_local", CM__R_STRING},
    {"end_local", CM__R_STRING},
    {"start", CM__R_TIME},
    {"end", CM__R_TIME},
    {"online_url", CM__R_STRING, .flags = CM__R_OPT, .doc = "Only while going"},
    {NULL},
};
static const cm__shape rsvp_event = {.fields = rsvp_event_fields};
static const cm__rfield my_rsvp_fields[] = {
    {"id", CM__R_INT},
    {"event_id", CM__R_INT},
    {"status", CM__R_ENUM, .values = rsvp_status_values},
    {"guests", CM__R_INT},
    {"seats", CM__R_INT},
    {"created_at", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {"event", CM__R_OBJECT, .shape = &rsvp_event},
    {NULL},
};
const cm__shape cm__shape_my_rsvp = {
    .name = "MyRsvp", .doc = "One of the caller's RSVPs, with its event", .fields = my_rsvp_fields};

/* op_members (ops_group.c) */
static const cm__rfield group_member_fields[] = {
    {"member_id", CM__R_INT},
    {"name", CM__R_STRING},
    {"role", CM__R_ENUM, .values = group_role_values},
    {"status", CM__R_ENUM, .values = group_status_values},
    {"since", CM__R_TIME},
    {"updated_at", CM__R_TIME},
    {NULL},
};
const cm__shape cm__shape_group_member = {
    .name = "GroupMember", .doc = "A member of a group", .fields = group_member_fields};
