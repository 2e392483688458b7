/*
 * ops_event.c - event operations.
 */
#include "ops_int.h"

const cm__op cm__event_ops[] = {
    {NULL},
};
