/*
 * ops_rsvp.c - rsvp operations.
 */
#include "ops_int.h"

const cm__op cm__rsvp_ops[] = {
    {NULL},
};
