/*
 * openapi: the OpenAPI document (api/openapi.json) embedded in the binary at build time, so the
 * daemon serves exactly the document it was built with and needs no file at run time.
 */
#include "api/api.h"

#ifndef AQPD_OPENAPI_PATH
#error "AQPD_OPENAPI_PATH must name api/openapi.json"
#endif

__asm__(".section .rodata\n"
        ".global api_openapi_json\n"
        ".type api_openapi_json, @object\n"
        "api_openapi_json:\n"
        ".incbin \"" AQPD_OPENAPI_PATH "\"\n"
        "api_openapi_json_end:\n"
        ".byte 0\n"
        ".balign 8\n"
        ".global api_openapi_json_len\n"
        ".type api_openapi_json_len, @object\n"
        "api_openapi_json_len:\n"
        ".quad api_openapi_json_end - api_openapi_json\n"
        ".previous\n");
