/*
 * random.c - cryptographically secure random bytes (libsodium).
 */
#include "util.h"

#include <pthread.h>
#include <sodium.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status;

static void sodium_boot(void)
{
    sodium_status = sodium_init();
}

/* libsodium's init is idempotent and thread-safe after the first call;
 * calling it lazily keeps "no global init" for hosts. */
int cm__sodium_ready(void);
int cm__sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_boot);
    if (sodium_status < 0)
        return cm__error_set(CM_ERROR, "libsodium failed to initialise");
    return CM_OK;
}

int cm__random_bytes(void *buf, size_t n)
{
    int rc = cm__sodium_ready();
    if (rc)
        return rc;
    randombytes_buf(buf, n);
    return CM_OK;
}
