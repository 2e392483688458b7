/*
 * ops_post.c - post operations.
 */
#include "ops_int.h"

const cm__op cm__post_ops[] = {
    {NULL},
};
