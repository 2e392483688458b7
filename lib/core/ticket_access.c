/*
 * ticket_access.c - who may see and buy a ticket type restricted to a
 * membership tier: the event's organizers and staff, and members in good
 * standing of that tier or of a tier whose access table lists the type.
 */
#include "commerce_int.h"
#include "pay_int.h"

int cm__ticket_tier_allows(bool *ok, cm__ctx *ctx, const cm__event *ev, const char *tier,
                           int64_t type_id)
{
    *ok = ev->manage;
    if (*ok)
        return CM_OK;
    int64_t me = ctx->actor->member_id;
    int rc = cm__tier_holds(ok, ctx, me, tier);
    if (rc == CM_OK && !*ok)
        rc = cm__tier_grants(ok, ctx, me, "ticket_type", type_id);
    return rc;
}
