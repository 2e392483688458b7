/*
 * exec_job.c - cm_job_complete_exec(): run a domain operation and complete the
 * job in one transaction, so that the job's effect and its completion
 * commit together (exactly-once effects under at-least-once delivery).
 *
 * It shares cm_exec()'s steps (cm__call_*: parse, find, validate,
 * authorize, prepare outside the transaction, run the handler, audit
 * mutations) and adds the fenced completion before the commit.
 */
#include "ops_int.h"

#include "../jobs/jobs_int.h"

#include <string.h>

int cm_job_complete_exec(char **out, cm_job *job, const cm_actor *actor, const char *opname,
                         const char *json_in, size_t len)
{
    if (out)
        *out = NULL;
    if (!job || !opname)
        return cm__error_set(CM_EINVAL, "cm_job_complete_exec: NULL argument");
    cm__call call;
    int rc = cm__call_init(&call, job->store, actor, opname, json_in, len);
    if (rc)
        goto out;
    if ((rc = cm__call_prepare(&call)))
        goto out;
    cm__jobs_local_wake_reset();
    rc = cm__job_complete_tx(job, cm__call_run, &call);
    if (rc == CM_OK)
        cm__jobs_local_wake_flush(); /* jobs the operation enqueued */
    else
        cm__jobs_local_wake_reset();
    if (rc == CM_OK && out)
        *out = cm__call_take_out(&call);
out:
    cm__call_dispose(&call);
    return rc;
}
