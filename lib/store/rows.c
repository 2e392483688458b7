/*
 * rows.c - small statement helpers shared by every layer above the store:
 * copying a column into a JSON object, and bumping a metric counter.
 */
#include "store_int.h"

int cm__metric_add(cm__conn *conn, const char *name, int64_t delta)
{
    cm__q q;
    int rc = cm__q_open(&q, conn, "metric.add");
    if (rc)
        return rc;
    cm__q_text(&q, 1, name);
    cm__q_int64(&q, 2, delta);
    rc = cm__q_step(&q);
    cm__q_close(&q);
    return cm__ok(rc);
}

void cm__json_set_col_text(json_t *obj, const char *key, cm__q *q, int col)
{
    if (cm__q_is_null(q, col))
        json_object_set_new(obj, key, json_null());
    else
        json_object_set_new(obj, key, json_string(cm__q_col_text(q, col)));
}

void cm__json_set_col_int(json_t *obj, const char *key, cm__q *q, int col)
{
    if (cm__q_is_null(q, col))
        json_object_set_new(obj, key, json_null());
    else
        json_object_set_new(obj, key, json_integer(cm__q_col_int64(q, col)));
}

void cm__json_set_col_time(json_t *obj, const char *key, cm__q *q, int col)
{
    if (cm__q_is_null(q, col))
        json_object_set_new(obj, key, json_null());
    else
        cm__json_set_time(obj, key, cm__q_col_int64(q, col));
}
