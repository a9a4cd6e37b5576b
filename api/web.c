/*
 * web: the public web page (GET /) and its assets, embedded in the binary at build time from
 * web/ (as openapi.c embeds api/openapi.json), so aqpd serves exactly the page it was built
 * with, needs no file or CDN at run time, and the page cannot drift from the API it calls.
 *
 * Every asset is answered with its Content-Type, a strong ETag (the first 128 bits of its
 * SHA-256, computed once), Cache-Control, and 304 Not Modified to a matching If-None-Match.
 * The page itself carries a strict Content-Security-Policy: scripts, styles and data only from
 * this origin, images from this origin and the configured tile server's (tile_url), nothing
 * inline, no framing. GET /config.json tells the page the tile URL and its attribution.
 */
#include "api/api.h"
#include "api/json.h"
#include "daemon/cfg.h"
#include "daemon/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/evp.h>

#ifndef AQPD_WEB_DIR
#error "AQPD_WEB_DIR must name the web/ directory"
#endif

/*
 * Embeds web/FILE as the bytes sym[0 .. sym_len), followed by a NUL that is not counted. The
 * assembler computes the length, so C never subtracts pointers to two different objects.
 */
#define WEB_INCBIN(sym, file)                                                                  \
    __asm__(".section .rodata\n"                                                               \
            ".balign 16\n"                                                                     \
            ".global " #sym "\n"                                                               \
            ".type " #sym ", @object\n" #sym ":\n"                                             \
            ".incbin \"" AQPD_WEB_DIR "/" file "\"\n" #sym "_end:\n"                             \
            ".byte 0\n"                                                                        \
            ".balign 8\n"                                                                      \
            ".global " #sym "_len\n"                                                           \
            ".type " #sym "_len, @object\n" #sym "_len:\n"                                     \
            ".quad " #sym "_end - " #sym "\n"                                                   \
            ".previous\n");                                                                    \
    extern const char sym[];                                                                   \
    extern const size_t sym##_len

WEB_INCBIN(web_index_html, "index.html");
WEB_INCBIN(web_app_js, "app.js");
WEB_INCBIN(web_app_css, "app.css");
WEB_INCBIN(web_england_las, "england-las.geojson");
WEB_INCBIN(web_leaflet_js, "vendor/leaflet/leaflet.js");
WEB_INCBIN(web_leaflet_css, "vendor/leaflet/leaflet.css");
WEB_INCBIN(web_leaflet_license, "vendor/leaflet/LICENSE");
WEB_INCBIN(web_leaflet_layers, "vendor/leaflet/images/layers.png");
WEB_INCBIN(web_leaflet_layers_2x, "vendor/leaflet/images/layers-2x.png");
WEB_INCBIN(web_leaflet_marker, "vendor/leaflet/images/marker-icon.png");
WEB_INCBIN(web_leaflet_marker_2x, "vendor/leaflet/images/marker-icon-2x.png");
WEB_INCBIN(web_leaflet_shadow, "vendor/leaflet/images/marker-shadow.png");

#define CT_HTML "text/html; charset=utf-8"
#define CT_JS "text/javascript; charset=utf-8"
#define CT_CSS "text/css; charset=utf-8"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PNG "image/png"
#define CT_GEOJSON "application/geo+json"

/*
 * Cache lifetimes. The page and the project's own script and style are revalidated on every
 * use (no-cache + ETag: a 304 costs one small round trip) so that a new release is seen at
 * once; the vendored library and the boundaries change only with a release and are kept for a
 * day.
 */
#define CACHE_REVALIDATE "public, no-cache"
#define CACHE_DAY "public, max-age=86400"

/* The page's policy; %s is the tile server's origin (or nothing). */
#define CSP_PAGE                                                                               \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'%s%s; "          \
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
/* Every other answer of this module is data, never a document to run. */
#define CSP_DATA "default-src 'none'; frame-ancestors 'none'"

struct web_asset {
    const char *path;  /* the URL path it is served at */
    const char *type;  /* Content-Type */
    const char *cache; /* Cache-Control */
    const char *data;  /* embedded bytes */
    const size_t *len; /* their length */
    char etag[35];     /* "\"" + 32 hex digits + "\"", computed on first use */
};

static struct web_asset assets[] = {
    {"/", CT_HTML, CACHE_REVALIDATE, web_index_html, &web_index_html_len, ""},
    {"/assets/app.js", CT_JS, CACHE_REVALIDATE, web_app_js, &web_app_js_len, ""},
    {"/assets/app.css", CT_CSS, CACHE_REVALIDATE, web_app_css, &web_app_css_len, ""},
    {"/assets/england-las.geojson", CT_GEOJSON, CACHE_DAY, web_england_las, &web_england_las_len, ""},
    {"/assets/leaflet/leaflet.js", CT_JS, CACHE_DAY, web_leaflet_js, &web_leaflet_js_len, ""},
    {"/assets/leaflet/leaflet.css", CT_CSS, CACHE_DAY, web_leaflet_css, &web_leaflet_css_len, ""},
    {"/assets/leaflet/LICENSE", CT_TEXT, CACHE_DAY, web_leaflet_license, &web_leaflet_license_len, ""},
    {"/assets/leaflet/images/layers.png", CT_PNG, CACHE_DAY, web_leaflet_layers,
     &web_leaflet_layers_len, ""},
    {"/assets/leaflet/images/layers-2x.png", CT_PNG, CACHE_DAY, web_leaflet_layers_2x,
     &web_leaflet_layers_2x_len, ""},
    {"/assets/leaflet/images/marker-icon.png", CT_PNG, CACHE_DAY, web_leaflet_marker,
     &web_leaflet_marker_len, ""},
    {"/assets/leaflet/images/marker-icon-2x.png", CT_PNG, CACHE_DAY, web_leaflet_marker_2x,
     &web_leaflet_marker_2x_len, ""},
    {"/assets/leaflet/images/marker-shadow.png", CT_PNG, CACHE_DAY, web_leaflet_shadow,
     &web_leaflet_shadow_len, ""},
};
#define NASSETS (sizeof assets / sizeof assets[0])

/* The asset's ETag, computed once (the daemon runs one event loop: no race). */
static const char *asset_etag(struct web_asset *a)
{
    if (a->etag[0])
        return a->etag;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(a->data, *a->len, md, &mdlen, EVP_sha256(), NULL) ||
        mdlen < 16)
        abort(); /* SHA-256 of memory cannot fail short of a broken library */
    a->etag[0] = '"';
    for (int i = 0; i < 16; i++)
        snprintf(a->etag + 1 + 2 * i, 3, "%02x", md[i]);
    a->etag[33] = '"';
    a->etag[34] = '\0';
    return a->etag;
}

bool web_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag)
        return false;
    size_t el = strlen(etag);
    const char *p = if_none_match;
    for (;;) {
        p += strspn(p, " \t,");
        if (!*p)
            return false;
        if (*p == '*') {
            /* "*" alone matches any current representation; in a list it is malformed. */
            const char *q = p + 1 + strspn(p + 1, " \t");
            return *q == '\0' && p == if_none_match + strspn(if_none_match, " \t");
        }
        /* Weak comparison (RFC 9110 13.1.2): W/"x" matches "x". */
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return false; /* not an entity-tag: the header is malformed; treat as no match */
        const char *close = strchr(p + 1, '"');
        if (!close)
            return false;
        size_t tl = (size_t)(close - p) + 1;
        if (tl == el && memcmp(p, etag, el) == 0)
            return true;
        p = close + 1;
        p += strspn(p, " \t");
        if (*p && *p != ',')
            return false;
    }
}

void web_csp(const char *tile_url, char *buf, size_t len)
{
    char origin[CFG_TILE_URL_MAX + 1];
    if (!tile_url || !cfg_tile_origin(tile_url, origin, sizeof origin))
        origin[0] = '\0'; /* validated at load; never admit something unchecked */
    snprintf(buf, len, CSP_PAGE, origin[0] ? " " : "", origin);
}

static void add_header(struct api_ctx *ctx, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(ctx->req), name, value);
}

/* The headers every answer of this module carries: policy, referrer, framing. */
static void security_headers(struct api_ctx *ctx, bool page)
{
    if (page) {
        char csp[sizeof CSP_PAGE + CFG_TILE_URL_MAX + 8];
        web_csp(ctx->srv->cfg.tile_url, csp, sizeof csp);
        add_header(ctx, "Content-Security-Policy", csp);
    } else {
        add_header(ctx, "Content-Security-Policy", CSP_DATA);
    }
    /* The tile server sees this origin (tile usage policies ask for it), never a path. */
    add_header(ctx, "Referrer-Policy", "strict-origin-when-cross-origin");
    add_header(ctx, "X-Frame-Options", "DENY");
    add_header(ctx, "Cross-Origin-Opener-Policy", "same-origin");
}

static void serve(struct api_ctx *ctx, struct web_asset *a)
{
    const char *etag = asset_etag(a);
    add_header(ctx, "ETag", etag);
    add_header(ctx, "Cache-Control", a->cache);
    security_headers(ctx, strcmp(a->type, CT_HTML) == 0);
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "If-None-Match");
    if (web_etag_matches(inm, etag)) {
        api_reply(ctx, 304, NULL, NULL);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_reference(b, a->data, *a->len, NULL, NULL);
    api_reply(ctx, 200, b, a->type);
}

void web_page(struct api_ctx *ctx)
{
    serve(ctx, &assets[0]);
}

void web_asset(struct api_ctx *ctx)
{
    for (size_t i = 1; i < NASSETS; i++)
        if (strcmp(assets[i].path, ctx->path) == 0) {
            serve(ctx, &assets[i]);
            return;
        }
    api_problem(ctx, 404, "not_found", "no such asset");
}

void web_config(struct api_ctx *ctx)
{
    const struct cfg *c = &ctx->srv->cfg;
    struct evbuffer *b = evbuffer_new();
    yajl_gen g = json_gen_new(b);
    yajl_gen_map_open(g);
    json_kv_str(g, "tile_url", c->tile_url ? c->tile_url : "");
    json_kv_str(g, "tile_attribution", c->tile_attribution ? c->tile_attribution : "");
    yajl_gen_map_close(g);
    yajl_gen_free(g);
    add_header(ctx, "Cache-Control", "no-cache");
    security_headers(ctx, false);
    api_reply_json(ctx, 200, b);
}
