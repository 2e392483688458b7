/*
 * ops_group.c - group operations.
 */
#include "ops_int.h"

const cm__op cm__group_ops[] = {
    {NULL},
};
