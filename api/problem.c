/*
 * problem: RFC 9457 documents. See problem.h.
 */
#include "api/problem.h"
#include "api/json.h"

#include <stdio.h>
#include <event2/buffer.h>

static const struct {
    int status;
    const char *title;
} titles[] = {
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

const char *problem_title(int status)
{
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (titles[i].status == status)
            return titles[i].title;
    return "Error";
}

void problem_write(struct evbuffer *out, int status, const char *code, const char *detail,
                   const char *instance)
{
    char type[128];
    snprintf(type, sizeof type, "urn:aqpd:problem:%s", code);
    yajl_gen g = json_gen_new(out);
    yajl_gen_map_open(g);
    json_kv_str(g, "type", type);
    json_kv_str(g, "title", problem_title(status));
    json_kv_int(g, "status", status);
    json_kv_str(g, "detail", detail ? detail : problem_title(status));
    json_kv_str(g, "code", code);
    if (instance)
        json_kv_str(g, "instance", instance);
    yajl_gen_map_close(g);
    yajl_gen_free(g);
}
