/*
 * routes: the route table, the one list of what the API serves and who may call it. The
 * OpenAPI document (api/openapi.json) is checked against this table by tests/unit/test_openapi.c,
 * and the role of every route by the access tests.
 */
#include "api/api.h"

const struct api_route api_routes[] = {
    {"GET", "/healthz", ACCESS_PUBLIC, ops_healthz},
    {"GET", "/readyz", ACCESS_PUBLIC, ops_readyz},
    {"GET", "/metrics", ACCESS_PUBLIC, ops_metrics},
    {"GET", "/openapi.json", ACCESS_PUBLIC, ops_openapi},
};
const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];

const struct db_stmt api_stmts[] = {
    {"ready", "SELECT 1"},
};
const size_t api_nstmts = sizeof api_stmts / sizeof api_stmts[0];
