/*
 * sql_group.c - SQLite statements for groups, memberships, posts, comments
 * and reactions.
 */
#include "../backend.h"

const cm__sql_entry cm__sqlite_sql_group[] = {
    {NULL, NULL},
};
