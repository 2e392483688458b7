/*
 * ticket_access.c - who may see and buy a ticket type restricted to a
 * membership tier: the hook the membership module fills in.
 */
#include "commerce_int.h"

/* Until membership tiers exist a tier-restricted type is for the event's
 * organizers and staff only (they see every type anyway): nobody else can
 * buy it, which is the safe side. */
bool cm__ticket_tier_allows(cm__ctx *ctx, const cm__event *ev, const char *tier)
{
    (void)ctx;
    (void)tier;
    return ev->manage;
}
