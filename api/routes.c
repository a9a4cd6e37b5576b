/*
 * routes: the route table, the one list of what the API serves and who may call it. The
 * OpenAPI document (api/openapi.json) is checked against this table by tests/unit/test_router.c,
 * and the role of every route by the access tests.
 */
#include "api/api.h"
#include "api/search.h"

const struct api_route api_routes[] = {
    {"GET", "/healthz", 0, ops_healthz},
    {"GET", "/readyz", 0, ops_readyz},
    {"GET", "/metrics", 0, ops_metrics},
    {"GET", "/openapi.json", 0, ops_openapi},

    {"GET", "/", 0, web_page},
    {"GET", "/config.json", 0, web_config},
    {"GET", "/assets/{file}", 0, web_asset},
    {"GET", "/assets/leaflet/{file}", 0, web_asset},
    {"GET", "/assets/leaflet/images/{file}", 0, web_asset},

    {"GET", "/v1/service-types", 0, cat_service_types},
    {"GET", "/v1/criteria", 0, cat_criteria},
    {"POST", "/v1/criteria", ROLE_BOARD, cat_criteria_publish},
    {"GET", "/v1/audit-events", ROLE_BOARD, cat_audit_events},

    {"POST", "/v1/organisations", 0, org_create},
    {"GET", "/v1/organisations/{id}", ROLES_ANY, org_get},
    {"PATCH", "/v1/organisations/{id}", ROLE_PROVIDER, org_patch},
    {"POST", "/v1/organisations/{id}/sites", ROLE_PROVIDER, site_create},
    {"GET", "/v1/organisations/{id}/sites", ROLE_PROVIDER | ROLES_NATIONAL, site_list},

    {"POST", "/v1/applications", ROLE_PROVIDER, app_create},
    {"GET", "/v1/applications", ROLE_PROVIDER | ROLES_NATIONAL, app_list},
    {"GET", "/v1/applications/{id}", ROLE_PROVIDER | ROLES_NATIONAL, app_get},
    {"PATCH", "/v1/applications/{id}", ROLE_PROVIDER, app_patch},
    {"POST", "/v1/applications/{id}/submit", ROLE_PROVIDER, app_submit},
    {"POST", "/v1/applications/{id}/withdraw", ROLE_PROVIDER, app_withdraw},
    {"POST", "/v1/applications/{id}/decision", ROLES_NATIONAL, app_decision},
    {"GET", "/v1/assessments", ROLES_NATIONAL, app_assessments},

    {"GET", "/v1/commissioners", 0, comm_list},
    {"GET", "/v1/commissioners/{code}", 0, comm_get},
    {"PUT", "/v1/commissioners/{code}/offers/{service_type}", ROLE_COMMISSIONER | ROLE_BOARD, offer_put},
    {"POST", "/v1/local-applications", ROLE_PROVIDER, local_create},
    {"GET", "/v1/local-applications", ROLE_PROVIDER | ROLE_COMMISSIONER | ROLES_NATIONAL, local_list},
    {"POST", "/v1/local-applications/{id}/decision", ROLE_COMMISSIONER, local_decision},
    {"GET", "/v1/agreements", ROLE_PROVIDER | ROLE_COMMISSIONER | ROLES_NATIONAL, agreement_list},
    {"POST", "/v1/agreements/{id}/reviews", ROLE_COMMISSIONER, agreement_review},
    {"POST", "/v1/agreements/{id}/terminate", ROLE_COMMISSIONER, agreement_terminate},
    {"GET", "/v1/changes", ROLE_COMMISSIONER | ROLE_BOARD, changes_list},
    {"GET", "/v1/providers/{id}", 0, provider_get},

    {"GET", "/v1/directory", 0, search_directory},
    {"GET", "/v1/search", ROLE_COMMISSIONER | ROLE_BOARD, search_framework},
    {"PUT", "/v1/sites/{id}/vacancies", ROLE_PROVIDER, site_vacancies_put},

    {"GET", "/v1/qualifications", ROLES_ANY, qual_list},
    {"POST", "/v1/qualifications/{id}/suspend", ROLE_BOARD, qual_suspend},
    {"POST", "/v1/qualifications/{id}/reinstate", ROLE_BOARD, qual_reinstate},
    {"POST", "/v1/qualifications/{id}/revoke", ROLE_BOARD, qual_revoke},
    {"POST", "/v1/qualifications/{id}/reviews", ROLES_NATIONAL, qual_review},

    /* "latest" and "public-key" before {n}: the first matching route wins. */
    {"GET", "/v1/publications", 0, pub_list},
    {"POST", "/v1/publications", ROLE_BOARD, pub_create},
    {"GET", "/v1/publications/latest", 0, pub_latest},
    {"GET", "/v1/publications/public-key", 0, pub_public_key},
    {"GET", "/v1/publications/{n}", 0, pub_get},
    {"GET", "/v1/publications/{n}/directory.json", 0, pub_export},
    {"GET", "/v1/publications/{n}/directory.csv", 0, pub_export},

    {"GET", "/hsds/", 0, hsds_root},
    {"GET", "/hsds/services", 0, hsds_list},
    {"GET", "/hsds/services/{id}", 0, hsds_get},
    {"GET", "/hsds/organizations", 0, hsds_list},
    {"GET", "/hsds/organizations/{id}", 0, hsds_get},
    {"GET", "/hsds/service_at_locations", 0, hsds_list},
    {"GET", "/hsds/service_at_locations/{id}", 0, hsds_get},
    {"GET", "/hsds/taxonomies", 0, hsds_list},
    {"GET", "/hsds/taxonomies/{id}", 0, hsds_get},
    {"GET", "/hsds/taxonomy_terms", 0, hsds_list},
    {"GET", "/hsds/taxonomy_terms/{id}", 0, hsds_get},
};
const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];
