/*
 * sql_event.c - SQLite statements for events, organizers and RSVPs.
 */
#include "../backend.h"

const cm__sql_entry cm__sqlite_sql_event[] = {
    {NULL, NULL},
};
