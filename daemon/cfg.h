/*
 * cfg: the daemon's configuration. Sources, later overriding earlier: built-in defaults
 * (limits.h), a config file of `key = value` lines, then AQPD_<KEY> environment variables.
 * Parsing and validation are pure (no sockets, no globals) so they are unit-tested; the only
 * I/O is reading the file. A config that fails validation is never applied: the caller keeps
 * the old one (SIGHUP) or exits before listening (start-up).
 */
#ifndef AQPD_CFG_H
#define AQPD_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/util.h"

struct cfg {
    char *database_url;     /* libpq URI or conninfo; required by serve and migrate */
    char *listen;           /* "host:port"; port 0 = any free port */
    char *listen_host;      /* derived from listen */
    uint16_t listen_port;   /* derived from listen */
    char *tls_cert;         /* PEM certificate chain path */
    char *tls_key;          /* PEM private key path */
    char *signing_key;      /* PEM Ed25519 private key path (publications), or NULL */
    char *port_file;        /* where the bound port is written, or NULL */
    char *schema_dir;       /* directory of NNNN_name.sql migrations */
    char *criteria_dir;     /* directory of vN.json criteria sets, loaded by migrate */
    char *log_level;        /* debug | info | warn | error */
    uint64_t pool_size;
    uint64_t max_connections;
    uint64_t max_header_bytes;
    uint64_t max_body_bytes;
    uint64_t idle_timeout_s;
    uint64_t request_timeout_ms;
    uint64_t publish_timeout_ms; /* POST /v1/publications, instead of request_timeout_ms */
    uint64_t shutdown_grace_s;
    uint64_t db_queue_max;
    uint64_t signup_per_hour; /* public sign-ups admitted per client address per hour */
    uint64_t sweep_interval_s; /* how often qualifications are lapsed / register-checked */
    char *tile_url;         /* map tile URL template for the web page; "" = no tiles */
    char *tile_attribution; /* plain text credit the map shows for those tiles; may be "" */
    uint64_t vacancy_max_age_s; /* an older vacancy figure counts as unknown in search */
    uint64_t search_cache_ms;   /* how long a search answer may be served again; 0: no cache */
    bool search_index;      /* load the in-memory search index and answer /v1/search and
                               /v1/directory; false: a publication/feed instance (restart only) */
};

/* Environment lookup, injectable for tests; NULL means getenv. */
typedef const char *(*cfg_getenv_fn)(const char *name);

/* Fills `c` with the defaults. Free with cfg_free. */
void cfg_defaults(struct cfg *c);
void cfg_free(struct cfg *c);

/* Sets one key from text. False with a message naming the key in `err` on unknown key or bad value. */
bool cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen) WUR;

/* Parses config file text (not a path). `origin` names it in messages ("aqpd.conf"). */
bool cfg_parse_text(struct cfg *c, const char *text, const char *origin, char *err,
                    size_t errlen) WUR;

/* Reads and parses a config file. */
bool cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen) WUR;

/* Applies every AQPD_<KEY> variable that is set. */
bool cfg_apply_env(struct cfg *c, cfg_getenv_fn getenv_fn, char *err, size_t errlen) WUR;

/*
 * Checks what `aqpd serve` needs (need_tls) or `aqpd migrate` needs: required keys present,
 * listen parsed, files readable. The message names the key and says what is wrong.
 */
bool cfg_validate(const struct cfg *c, bool need_tls, char *err, size_t errlen) WUR;

/* defaults + optional file + environment + validation, in that order. */
bool cfg_build(struct cfg *c, const char *path, bool need_tls, char *err, size_t errlen) WUR;

/*
 * Checks a map tile URL template (tile_url) and writes into `origin` (len bytes) the origin the
 * web page's Content-Security-Policy must admit for it: "" for "" (no tiles); for
 * "https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://" + "*.tile.example.org" ({s}.
 * becomes a wildcard label). False when the template is not https, has a host other than
 * letters, digits, dots and hyphens (with an optional "{s}." first label and ":port"), lacks
 * {z}, {x} or {y}, is longer than CFG_TILE_URL_MAX, or has a character that could break out of
 * a header or a URL (space, quotes, angle brackets, backslash, semicolon, comma, controls).
 */
#define CFG_TILE_URL_MAX 500
bool cfg_tile_origin(const char *url, char *origin, size_t len) WUR;

/* Parses "host:port" or "[v6]:port" into its parts (host is allocated). */
bool cfg_parse_listen(const char *s, char **host, uint16_t *port) WUR;

#endif
