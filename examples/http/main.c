/*
 * main.c - community-server: the libcommunity REST API over HTTP.
 * Reads the configuration, opens the store, builds the routes from the
 * operation table and runs the libuv server until SIGTERM/SIGINT.
 */
#include <community/community.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "config.h"
#include "jlog.h"
#include "server.h"

int main(int argc, char **argv)
{
    cmh_config cfg;
    int rc = cmh_config_load(&cfg, argc, argv);
    if (rc) {
        cmh_config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    cmh_log_setup(cfg.log_level, 1);
    if (cfg.log_level >= 0)
        cm_set_log_callback(cmh_log_library, cfg.log_level, NULL);

    /* libuv sizes its thread pool from this variable on first use. */
    char workers[16];
    (void)snprintf(workers, sizeof workers, "%d", cfg.workers);
    (void)setenv("UV_THREADPOOL_SIZE", workers, 1);

    /* OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
    rc = cm_trace_start("community-server");
    if (rc) {
        cmh_log(CMH_LOG_ERROR, "cannot start tracing", "%s: %s", cm_status_name(rc),
                cm_error_message());
        cmh_config_free(&cfg);
        return 2;
    }

    cm_store_options opts = CM_STORE_OPTIONS_INIT;
    opts.pool_size = (uint32_t)cfg.pool_size;
    if (cfg.no_result_cache)
        opts.flags |= CM_STORE_NO_RESULT_CACHE;
    cm_store *store = NULL;
    rc = cm_store_open(&store, cfg.db, &opts);
    if (rc) {
        cmh_log(CMH_LOG_ERROR, "cannot open the store", "%s: %s", cm_status_name(rc),
                cm_error_message());
        cm_trace_stop(0);
        cmh_config_free(&cfg);
        return 1;
    }
    /* Cached reads stay coherent with the writes of every other host. */
    if (cfg.redis &&
        (rc = cm_store_share_cache(store, cfg.redis, (uint32_t)cfg.redis_timeout_ms)) != CM_OK) {
        cmh_log(CMH_LOG_ERROR, "cannot share the result cache through Redis", "%s: %s",
                cm_status_name(rc), cm_error_message());
        cm_store_close(store);
        cmh_config_free(&cfg);
        return 1;
    }
    if (cfg.uploads_dir || cfg.s3_endpoint) {
        cm_upload_options uo = CM_UPLOAD_OPTIONS_INIT;
        uo.dir = cfg.s3_endpoint ? NULL : cfg.uploads_dir;
        uo.s3_endpoint = cfg.s3_endpoint;
        uo.s3_bucket = cfg.s3_bucket;
        uo.s3_region = cfg.s3_region;
        uo.s3_access_key = cfg.s3_access_key;
        uo.s3_secret_key = cfg.s3_secret_key;
        uo.s3_session_token = cfg.s3_session_token;
        uo.s3_virtual_host = cfg.s3_virtual_host;
        rc = cm_store_set_uploads(store, &uo);
        if (rc) {
            cmh_log(CMH_LOG_ERROR, "cannot set up upload storage", "%s: %s", cm_status_name(rc),
                    cm_error_message());
            cm_store_close(store);
            cm_trace_stop(0);
            cmh_config_free(&cfg);
            return 1;
        }
    }
    char err[256];
    cmh_app *app = cmh_app_new(&cfg, store, err, sizeof err);
    if (!app) {
        cmh_log(CMH_LOG_ERROR, "cannot build the routes", "%s", err);
        cm_store_close(store);
        cm_trace_stop(0);
        cmh_config_free(&cfg);
        return 1;
    }
    rc = cmh_server_run(&cfg, app);
    cmh_app_free(app);
    cm_store_close(store);
    /* Send the spans still queued, for at most 2 s (within the margin
     * between the drain timeout and the orchestrator's stop timeout). */
    cm_trace_stop(2000);
    cm_set_log_callback(NULL, 0, NULL);
    cmh_config_free(&cfg);
    return rc;
}
