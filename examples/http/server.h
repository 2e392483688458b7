/*
 * server.h - the libuv HTTP/1.1 server of community-server.
 */
#ifndef CMH_SERVER_H
#define CMH_SERVER_H

#include "app.h"

/*
 * Listen on cfg->host:cfg->port and serve `app` until SIGTERM or SIGINT,
 * then drain: stop accepting, close idle keep-alive connections, finish
 * the requests in flight (their responses say "Connection: close"), and
 * after cfg->shutdown_timeout_ms close whatever is left. Library calls run
 * on libuv's thread pool (size: UV_THREADPOOL_SIZE, set by main before
 * the first call). Returns the process exit code: 0 after a drain, 1 if
 * it could not listen.
 */
int cmh_server_run(const cmh_config *cfg, cmh_app *app);

#endif /* CMH_SERVER_H */
