/*
 * body: JSON request bodies and field validation. See body.h.
 */
#include "api/body.h"
#include "api/api.h"
#include "daemon/server.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <event2/buffer.h>
#include <event2/http.h>

bool api_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

bool api_is_date(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1)
        return false;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

bool api_is_timestamp(const char *s)
{
    if (!s || strlen(s) < 10)
        return false;
    char date[11];
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!api_is_date(date))
        return false;
    const char *p = s + 10;
    if (*p == '\0')
        return true;
    if (*p != 'T' && *p != 't')
        return false;
    p++;
    for (int i = 0; i < 8; i++, p++) {
        if ((i == 2 || i == 5) ? *p != ':' : (*p < '0' || *p > '9'))
            return false;
    }
    if (atoi(s + 11) > 23 || atoi(s + 14) > 59 || atoi(s + 17) > 60)
        return false;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 9)
            p++, digits++;
        if (digits == 0)
            return false;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return true;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':')
        return p[1] >= '0' && p[1] <= '2' && p[2] >= '0' && p[2] <= '9' && p[4] >= '0' &&
               p[4] <= '5' && p[5] >= '0' && p[5] <= '9';
    return false;
}

jv *api_body_object(struct api_ctx *ctx)
{
    struct evhttp_request *req = ctx->req;
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        api_problem(ctx, 415, "unsupported_media_type", "send the body as application/json");
        return NULL;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
        api_problem(ctx, 400, "invalid_json", "the request needs a JSON object body");
        return NULL;
    }
    const char *buf = (const char *)evbuffer_pullup(in, -1);
    struct jv_limits lim = {.max_bytes = ctx->srv->cfg.max_body_bytes};
    struct jv_error err;
    jv *v = NULL;
    if (!jv_parse(buf, len, &lim, &v, &err)) {
        api_problem(ctx, 400, "invalid_json", "the body is not acceptable JSON: %s (at byte %zu)",
                    err.msg, err.offset);
        return NULL;
    }
    if (!jv_is_object(v)) {
        jv_free(v);
        api_problem(ctx, 400, "invalid_json", "the body must be a JSON object");
        return NULL;
    }
    return v;
}

static const char *kind_name(enum api_fkind k)
{
    switch (k) {
    case F_STRING: return "a non-empty string";
    case F_TEXT: return "a string";
    case F_INT: return "an integer";
    case F_NUMBER: return "a number";
    case F_BOOL: return "true or false";
    case F_OBJECT: return "an object";
    case F_ARRAY: return "an array";
    case F_UUID: return "a UUID";
    case F_DATE: return "a date (YYYY-MM-DD)";
    case F_ENUM: return "one of the allowed values";
    }
    return "?";
}

static bool field_ok(const struct api_field *f, const jv *v, char *why, size_t wlen)
{
    size_t len = 0;
    const char *s = jv_str(v, &len);
    long long max = f->max;
    switch (f->kind) {
    case F_STRING:
    case F_TEXT:
        if (!s)
            return false;
        if (max == 0)
            max = 1000;
        if ((f->kind == F_STRING && len == 0) || (long long)len > max) {
            snprintf(why, wlen, "must be %s of at most %lld bytes", kind_name(f->kind), max);
            return false;
        }
        return true;
    case F_INT:
        if (!jv_is_int(v))
            return false;
        if (jv_int(v) < f->min || jv_int(v) > f->max) {
            snprintf(why, wlen, "must be an integer from %lld to %lld", f->min, f->max);
            return false;
        }
        return true;
    case F_NUMBER:
        return jv_is_number(v);
    case F_BOOL:
        return jv_is_bool(v);
    case F_OBJECT:
        return jv_is_object(v);
    case F_ARRAY:
        if (!jv_is_array(v))
            return false;
        if (max && (long long)jv_len(v) > max) {
            snprintf(why, wlen, "may have at most %lld elements", max);
            return false;
        }
        return true;
    case F_UUID:
        return s && api_is_uuid(s);
    case F_DATE:
        return s && api_is_date(s);
    case F_ENUM:
        if (!s)
            return false;
        for (const char *const *o = f->oneof; *o; o++)
            if (strcmp(*o, s) == 0)
                return true;
        {
            size_t used = (size_t)snprintf(why, wlen, "must be one of");
            for (const char *const *o = f->oneof; *o && used < wlen; o++)
                used += (size_t)snprintf(why + used, wlen - used, "%s \"%s\"",
                                         o == f->oneof ? "" : ",", *o);
        }
        return false;
    }
    return false;
}

bool api_check_fields(struct api_ctx *ctx, const jv *obj, const char *where,
                      const struct api_field *fields, size_t n)
{
    for (size_t i = 0; i < jv_len(obj); i++) {
        const char *key;
        jv_member(obj, i, &key, NULL);
        bool known = false;
        for (size_t k = 0; k < n && !known; k++)
            known = strcmp(fields[k].name, key) == 0;
        if (!known) {
            api_problem(ctx, 400, "unknown_field", "%s%s is not a field here", where, key);
            return false;
        }
    }
    for (size_t k = 0; k < n; k++) {
        const struct api_field *f = &fields[k];
        const jv *v = jv_get(obj, f->name);
        if (!v) {
            if (f->required) {
                api_problem(ctx, 400, "missing_field", "%s%s is required", where, f->name);
                return false;
            }
            continue;
        }
        char why[256] = "";
        if (!field_ok(f, v, why, sizeof why)) {
            if (!*why)
                snprintf(why, sizeof why, "must be %s", kind_name(f->kind));
            api_problem(ctx, 400, "invalid_field", "%s%s %s", where, f->name, why);
            return false;
        }
    }
    return true;
}
