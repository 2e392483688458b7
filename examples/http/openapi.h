/*
 * openapi.h - the OpenAPI 3.1 document of the REST API, generated from
 * the routes (themselves from cm_ops_describe()): paths, parameters,
 * request bodies (the operations' JSON Schemas), security schemes and
 * problem-details responses. Built once at start-up.
 */
#ifndef CMH_OPENAPI_H
#define CMH_OPENAPI_H

#include "routes.h"

/* A new JSON document (caller frees); *len receives its length. */
char *openapi_build(const cmh_router *r, const char *version, size_t *len);

#endif /* CMH_OPENAPI_H */
