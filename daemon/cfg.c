/*
 * cfg: configuration defaults, file and environment parsing, validation. See cfg.h.
 */
#include "daemon/cfg.h"
#include "daemon/limits.h"
#include "daemon/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef AQPD_DEFAULT_SCHEMA_DIR
#define AQPD_DEFAULT_SCHEMA_DIR "schema"
#endif
#ifndef AQPD_DEFAULT_CRITERIA_DIR
#define AQPD_DEFAULT_CRITERIA_DIR "criteria"
#endif

enum key_kind {
    K_STR,      /* non-empty text */
    K_U64,      /* integer in [min, max] */
    K_LISTEN,   /* host:port */
    K_LOGLEVEL, /* debug | info | warn | error */
    K_TILE,     /* "" or an https tile URL template (cfg_tile_origin) */
    K_TEXT,     /* printable text, may be empty, at most 300 bytes */
    K_BOOL,     /* true | false */
};

struct key_def {
    const char *name;
    enum key_kind kind;
    size_t offset;
    uint64_t min, max; /* for K_U64 */
};

#define STR(f) K_STR, offsetof(struct cfg, f), 0, 0
#define U64(f, lo, hi) K_U64, offsetof(struct cfg, f), lo, hi

static const struct key_def keys[] = {
    {"database_url", STR(database_url)},
    {"listen", K_LISTEN, offsetof(struct cfg, listen), 0, 0},
    {"tls_cert", STR(tls_cert)},
    {"tls_key", STR(tls_key)},
    {"signing_key", STR(signing_key)},
    {"port_file", STR(port_file)},
    {"schema_dir", STR(schema_dir)},
    {"criteria_dir", STR(criteria_dir)},
    {"log_level", K_LOGLEVEL, offsetof(struct cfg, log_level), 0, 0},
    {"pool_size", U64(pool_size, 1, 64)},
    {"max_connections", U64(max_connections, 1, 100000)},
    {"max_header_bytes", U64(max_header_bytes, 1024, 1024 * 1024)},
    {"max_body_bytes", U64(max_body_bytes, 1024, 256u * 1024 * 1024)},
    {"idle_timeout_s", U64(idle_timeout_s, 1, 3600)},
    {"request_timeout_ms", U64(request_timeout_ms, 10, 600000)},
    {"publish_timeout_ms", U64(publish_timeout_ms, 10, 3600000)},
    {"shutdown_grace_s", U64(shutdown_grace_s, 0, 600)},
    {"db_queue_max", U64(db_queue_max, 1, 1000000)},
    {"signup_per_hour", U64(signup_per_hour, 1, 1000000)},
    {"sweep_interval_s", U64(sweep_interval_s, 1, 86400)},
    {"tile_url", K_TILE, offsetof(struct cfg, tile_url), 0, 0},
    {"tile_attribution", K_TEXT, offsetof(struct cfg, tile_attribution), 0, 0},
    {"vacancy_max_age_s", U64(vacancy_max_age_s, 60, 31536000)},
    {"search_cache_ms", U64(search_cache_ms, 0, 60000)},
    {"search_index", K_BOOL, offsetof(struct cfg, search_index), 0, 0},
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* Whether the key's field is an allocated string (the others are numbers and booleans). */
static bool is_text(const struct key_def *k)
{
    return k->kind != K_U64 && k->kind != K_BOOL;
}

static char **str_field(struct cfg *c, const struct key_def *k)
{
    return (char **)((char *)c + k->offset);
}

void cfg_defaults(struct cfg *c)
{
    memset(c, 0, sizeof *c);
    c->listen = xstrdup("127.0.0.1:8443");
    c->listen_host = xstrdup("127.0.0.1");
    c->listen_port = 8443;
    c->schema_dir = xstrdup(AQPD_DEFAULT_SCHEMA_DIR);
    c->criteria_dir = xstrdup(AQPD_DEFAULT_CRITERIA_DIR);
    c->log_level = xstrdup("info");
    c->pool_size = LIMIT_POOL_SIZE;
    c->max_connections = LIMIT_MAX_CONNECTIONS;
    c->max_header_bytes = LIMIT_MAX_HEADER_BYTES;
    c->max_body_bytes = LIMIT_MAX_BODY_BYTES;
    c->idle_timeout_s = LIMIT_IDLE_TIMEOUT_S;
    c->request_timeout_ms = LIMIT_REQUEST_TIMEOUT_MS;
    c->publish_timeout_ms = LIMIT_PUBLISH_TIMEOUT_MS;
    c->shutdown_grace_s = LIMIT_SHUTDOWN_GRACE_S;
    c->db_queue_max = LIMIT_DB_QUEUE;
    c->signup_per_hour = LIMIT_SIGNUP_PER_HOUR;
    c->sweep_interval_s = LIMIT_SWEEP_INTERVAL_S;
    c->tile_url = xstrdup("");
    c->tile_attribution = xstrdup("");
    c->vacancy_max_age_s = LIMIT_VACANCY_MAX_AGE_S;
    c->search_cache_ms = LIMIT_SEARCH_CACHE_MS;
    c->search_index = true;
}

void cfg_free(struct cfg *c)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (is_text(&keys[i]))
            free(*str_field(c, &keys[i]));
    free(c->listen_host);
    memset(c, 0, sizeof *c);
}

bool cfg_parse_listen(const char *s, char **host, uint16_t *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - s);
        if (memchr(s, ':', hl))
            return false; /* bare IPv6 needs brackets */
    }
    if (hl == 0)
        return false;
    for (size_t i = 0; i < hl; i++)
        if (!isalnum((unsigned char)h[i]) && !strchr(".-:_", h[i]))
            return false;
    uint64_t p;
    if (!util_parse_u64(colon + 1, 0, 65535, &p))
        return false;
    *host = xstrndup(h, hl);
    *port = (uint16_t)p;
    return true;
}

bool cfg_tile_origin(const char *url, char *origin, size_t len)
{
    static const char scheme[] = "https://";
    if (len == 0)
        return false;
    origin[0] = '\0';
    if (*url == '\0')
        return true;
    size_t ul = strlen(url);
    if (ul > CFG_TILE_URL_MAX || strncmp(url, scheme, sizeof scheme - 1) != 0)
        return false;
    for (const char *p = url; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("\"'<>\\;,`^|", *p))
            return false;
    const char *host = url + sizeof scheme - 1;
    const char *slash = strchr(host, '/');
    if (!slash)
        return false;
    bool sub = strncmp(host, "{s}.", 4) == 0;
    const char *h = sub ? host + 4 : host;
    if (h == slash)
        return false;
    for (const char *p = h; p < slash; p++) {
        if (*p == ':') { /* a port: digits to the slash */
            if (p + 1 == slash || strspn(p + 1, "0123456789") != (size_t)(slash - p - 1))
                return false;
            break;
        }
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            return false;
    }
    if (!strstr(slash, "{z}") || !strstr(slash, "{x}") || !strstr(slash, "{y}"))
        return false;
    int w = snprintf(origin, len, "%s%s%.*s", scheme, sub ? "*." : "", (int)(slash - h), h);
    if (w < 0 || (size_t)w >= len) {
        origin[0] = '\0';
        return false;
    }
    return true;
}

bool cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen)
{
    const struct key_def *k = NULL;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, key) == 0)
            k = &keys[i];
    if (!k) {
        snprintf(err, errlen, "%s: unknown key", key);
        return false;
    }
    switch (k->kind) {
    case K_U64: {
        uint64_t v;
        if (!util_parse_u64(value, k->min, k->max, &v)) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer in [%llu, %llu]", key, value,
                     (unsigned long long)k->min, (unsigned long long)k->max);
            return false;
        }
        *(uint64_t *)((char *)c + k->offset) = v;
        return true;
    }
    case K_BOOL: {
        bool v = strcmp(value, "true") == 0;
        if (!v && strcmp(value, "false") != 0) {
            snprintf(err, errlen, "%s: \"%.200s\" is not true or false", key, value);
            return false;
        }
        *(bool *)((char *)c + k->offset) = v;
        return true;
    }
    case K_LISTEN: {
        char *host;
        uint16_t port;
        if (!cfg_parse_listen(value, &host, &port)) {
            snprintf(err, errlen, "%s: \"%s\" is not host:port (port 0-65535, [v6]:port for IPv6)",
                     key, value);
            return false;
        }
        free(c->listen_host);
        c->listen_host = host;
        c->listen_port = port;
        break;
    }
    case K_LOGLEVEL: {
        enum log_level l;
        if (!log_parse_level(value, &l)) {
            snprintf(err, errlen, "%s: \"%s\" is not one of debug, info, warn, error", key, value);
            return false;
        }
        break;
    }
    case K_TILE: {
        char origin[CFG_TILE_URL_MAX + 1];
        if (!cfg_tile_origin(value, origin, sizeof origin)) {
            snprintf(err, errlen,
                     "%s: \"%.200s\" is not empty or an https URL template with {z}, {x} and {y} "
                     "(host: letters, digits, dots, hyphens, optional {s}. prefix and :port)",
                     key, value);
            return false;
        }
        break;
    }
    case K_TEXT: {
        size_t l = strlen(value);
        bool ok = l <= 300;
        for (size_t i = 0; ok && i < l; i++)
            ok = (unsigned char)value[i] >= ' ' && value[i] != 0x7f;
        if (!ok) {
            snprintf(err, errlen, "%s: must be at most 300 bytes of text without control characters",
                     key);
            return false;
        }
        break;
    }
    case K_STR:
        if (*value == '\0') {
            snprintf(err, errlen, "%s: empty value", key);
            return false;
        }
        break;
    }
    char **f = str_field(c, k);
    free(*f);
    *f = xstrdup(value);
    return true;
}

bool cfg_parse_text(struct cfg *c, const char *text, const char *origin, char *err, size_t errlen)
{
    int lineno = 0;
    const char *p = text;
    while (*p) {
        lineno++;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char *line = xstrndup(p, len);
        p += len + (eol ? 1 : 0);

        char *s = line;
        char *hash = strchr(s, '#');
        if (hash)
            *hash = '\0';
        while (isspace((unsigned char)*s))
            s++;
        char *end = s + strlen(s);
        while (end > s && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (*s == '\0') {
            free(line);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected \"key = value\"", origin, lineno);
            free(line);
            return false;
        }
        char *kend = eq;
        while (kend > s && isspace((unsigned char)kend[-1]))
            kend--;
        *kend = '\0';
        char *v = eq + 1;
        while (isspace((unsigned char)*v))
            v++;
        char sub[512];
        bool ok = cfg_set(c, s, v, sub, sizeof sub);
        if (!ok)
            snprintf(err, errlen, "%s:%d: %s", origin, lineno, sub);
        free(line);
        if (!ok)
            return false;
    }
    return true;
}

bool cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            if (cap >= 1024 * 1024) {
                snprintf(err, errlen, "config file %s: larger than 1 MiB", path);
                free(buf);
                fclose(f);
                return false;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    buf[len] = '\0';
    fclose(f);
    bool ok = true;
    if (memchr(buf, '\0', len)) {
        snprintf(err, errlen, "config file %s: contains a NUL byte", path);
        ok = false;
    } else {
        ok = cfg_parse_text(c, buf, path, err, errlen);
    }
    free(buf);
    return ok;
}

bool cfg_apply_env(struct cfg *c, cfg_getenv_fn getenv_fn, char *err, size_t errlen)
{
    if (!getenv_fn)
        getenv_fn = (cfg_getenv_fn)getenv;
    for (size_t i = 0; i < NKEYS; i++) {
        char name[64] = "AQPD_";
        size_t j = 5;
        for (const char *k = keys[i].name; *k && j + 1 < sizeof name; k++)
            name[j++] = (char)toupper((unsigned char)*k);
        name[j] = '\0';
        const char *v = getenv_fn(name);
        if (!v)
            continue;
        char sub[512];
        if (!cfg_set(c, keys[i].name, v, sub, sizeof sub)) {
            snprintf(err, errlen, "environment %s: %s", name, sub);
            return false;
        }
    }
    return true;
}

static bool readable(const char *key, const char *path, char *err, size_t errlen)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
        return false;
    }
    return true;
}

bool cfg_validate(const struct cfg *c, bool need_tls, char *err, size_t errlen)
{
    if (!c->database_url) {
        snprintf(err, errlen, "database_url: required (set AQPD_DATABASE_URL or database_url =)");
        return false;
    }
    if (!need_tls)
        return true;
    if (!c->tls_cert) {
        snprintf(err, errlen, "tls_cert: required (PEM certificate chain; set AQPD_TLS_CERT)");
        return false;
    }
    if (!c->tls_key) {
        snprintf(err, errlen, "tls_key: required (PEM private key; set AQPD_TLS_KEY)");
        return false;
    }
    return readable("tls_cert", c->tls_cert, err, errlen) &&
           readable("tls_key", c->tls_key, err, errlen) &&
           (!c->signing_key || readable("signing_key", c->signing_key, err, errlen));
}

bool cfg_build(struct cfg *c, const char *path, bool need_tls, char *err, size_t errlen)
{
    cfg_defaults(c);
    if ((path && !cfg_load_file(c, path, err, errlen)) || !cfg_apply_env(c, NULL, err, errlen) ||
        !cfg_validate(c, need_tls, err, errlen)) {
        cfg_free(c);
        return false;
    }
    return true;
}
