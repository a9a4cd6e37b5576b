/*
 * search: see search.h. Three parts: the loader (database pages and notifications into the
 * index), the reference tables (codes the parameters are checked against, council prices,
 * postcode districts), and the two search handlers plus the vacancy update.
 */
#include "api/search.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api/acache.h"
#include "api/api.h"
#include "api/body.h"
#include "api/index.h"
#include "daemon/log.h"
#include "daemon/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Sites per page of a full load: big enough that a million sites take 50 round trips, small
 * enough that the loader holds one page's rows at a time, not the directory's. */
#define PAGE_SITES "20000"
/* Organisations per reload batch; beyond the pending limit a full reload is cheaper. */
#define BATCH_ORGS 500
#define PENDING_MAX 20000
/* Copies of one notification to drop: every pool connection listens, so each arrives once per
 * connection; the txid in the payload tells copies from a second change. */
#define SEEN_RING 1024
/* How often the loader checks whether it has work (the pool came back, a batch is pending). */
#define PUMP_MS 200
/* "covers": a site in the council's area, or within this distance of its centroid (a council
 * places children in neighbouring areas; 25 km is about the radius of a large county's core). */
#define COVERS_RADIUS_KM 25.0
/* radius_km accepted: up to the length of England and Wales (a placement far from home is
 * still a placement); larger asks are mistakes. */
#define MAX_RADIUS_KM 1000.0

/* The answer cache (acache.h): answers kept at once, and their bytes in all. An answer to a
 * page of 20 is about 14 KB, one of 100 about 70 KB: 512 of them fit the budget. */
#define CACHE_ENTRIES 512
#define CACHE_BYTES (16u << 20)

/* ---- reference tables: sorted arrays searched by bsearch ---- */

struct ref_point {
    char *code;
    char *name;        /* commissioners and regions; NULL for districts */
    char *region;      /* commissioners: region code */
    double lat, lon;
};

struct ref_offer {
    char key[64]; /* "E08000035 independent-fostering" */
    int64_t price_pence;
    char *unit;
    bool open;
};

struct reftab {
    struct ref_point *districts, *councils, *regions;
    size_t n_districts, n_councils, n_regions;
    char **service_types;
    size_t n_service_types;
    struct ref_offer *offers;
    size_t n_offers;
};

enum load_state { L_IDLE, L_REF, L_FULL, L_ORGS };

static struct {
    bool index_on;        /* search_index; when false nothing below is used */
    struct event_base *base;
    struct db_pool *pool;
    struct event *pump;
    uint64_t vacancy_max_age_s;

    struct idx *ix;       /* served; NULL until the first full load completes */
    struct idx *building; /* a full load in progress */
    char after[40];       /* the last site id of the pages loaded so far */
    struct reftab ref;
    bool have_ref;

    enum load_state state; /* what the job in flight is doing */
    bool full_pending, ref_pending, was_down;
    char **pending;        /* organisation ids to reload */
    size_t n_pending, cap_pending;
    char **batch;          /* the ones in flight */
    size_t n_batch;

    uint64_t seen[SEEN_RING];
    size_t seen_next;

    uint64_t full_started_ns;
    /* Bumped by every change to what an answer shows (index, reference tables, vacancy age):
     * a cached answer of an older generation is never served. */
    uint64_t gen;
    struct acache *cache; /* answers; NULL when cache_ms is 0 */
    uint64_t cache_ms;
    /* metrics */
    uint64_t loads_full, loads_orgs, load_failures, last_full_ms, notifications;
} S;

static int cmp_code(const void *a, const void *b)
{
    return strcmp(((const struct ref_point *)a)->code, ((const struct ref_point *)b)->code);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_offer(const void *a, const void *b)
{
    return strcmp(((const struct ref_offer *)a)->key, ((const struct ref_offer *)b)->key);
}

static const struct ref_point *ref_find(const struct ref_point *v, size_t n, const char *code)
{
    struct ref_point k = {.code = (char *)code};
    return bsearch(&k, v, n, sizeof *v, cmp_code);
}

static bool ref_service_type(const char *code)
{
    return bsearch(&code, S.ref.service_types, S.ref.n_service_types, sizeof(char *), cmp_str);
}

static const struct ref_offer *ref_offer(const char *council, const char *service_type)
{
    struct ref_offer k;
    snprintf(k.key, sizeof k.key, "%s %s", council, service_type);
    return bsearch(&k, S.ref.offers, S.ref.n_offers, sizeof k, cmp_offer);
}

static void points_free(struct ref_point *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].code);
        free(v[i].name);
        free(v[i].region);
    }
    free(v);
}

static void reftab_free(struct reftab *r)
{
    points_free(r->districts, r->n_districts);
    points_free(r->councils, r->n_councils);
    points_free(r->regions, r->n_regions);
    for (size_t i = 0; i < r->n_service_types; i++)
        free(r->service_types[i]);
    free(r->service_types);
    for (size_t i = 0; i < r->n_offers; i++)
        free(r->offers[i].unit);
    free(r->offers);
    memset(r, 0, sizeof *r);
}

static char *col(const PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? NULL : xstrdup(PQgetvalue(r, row, c));
}

/* Columns: code, name, region, lat, lon (name and region may be absent: ncols 3 or 5). */
static struct ref_point *points_from(const PGresult *r, size_t *n)
{
    int rows = PQntuples(r), nc = PQnfields(r);
    struct ref_point *v = xcalloc((size_t)rows + 1, sizeof *v);
    for (int i = 0; i < rows; i++) {
        v[i].code = col(r, i, 0);
        v[i].name = nc == 5 ? col(r, i, 1) : NULL;
        v[i].region = nc == 5 ? col(r, i, 2) : NULL;
        v[i].lat = strtod(PQgetvalue(r, i, nc - 2), NULL);
        v[i].lon = strtod(PQgetvalue(r, i, nc - 1), NULL);
    }
    qsort(v, (size_t)rows, sizeof *v, cmp_code);
    *n = (size_t)rows;
    return v;
}

static void reftab_load(struct reftab *t, PGresult *const *res)
{
    t->districts = points_from(res[0], &t->n_districts);
    t->councils = points_from(res[1], &t->n_councils);
    t->regions = points_from(res[2], &t->n_regions);
    int rows = PQntuples(res[3]);
    t->service_types = xcalloc((size_t)rows + 1, sizeof(char *));
    for (int i = 0; i < rows; i++)
        t->service_types[i] = xstrdup(PQgetvalue(res[3], i, 0));
    t->n_service_types = (size_t)rows;
    qsort(t->service_types, t->n_service_types, sizeof(char *), cmp_str);
    rows = PQntuples(res[4]);
    t->offers = xcalloc((size_t)rows + 1, sizeof *t->offers);
    for (int i = 0; i < rows; i++) {
        struct ref_offer *o = &t->offers[i];
        snprintf(o->key, sizeof o->key, "%s %s", PQgetvalue(res[4], i, 0), PQgetvalue(res[4], i, 1));
        o->price_pence = strtoll(PQgetvalue(res[4], i, 2), NULL, 10);
        o->unit = xstrdup(PQgetvalue(res[4], i, 3));
        o->open = PQgetvalue(res[4], i, 4)[0] == 't';
    }
    t->n_offers = (size_t)rows;
    qsort(t->offers, t->n_offers, sizeof *t->offers, cmp_offer);
}

/* ---- output: a growable buffer the reply takes over ---- */

struct sb {
    char *p;
    size_t n, cap;
};

static void sb_grow(struct sb *b, size_t more)
{
    size_t c = b->cap ? b->cap : 16384;
    while (c < b->n + more)
        c *= 2;
    b->p = xrealloc(b->p, c);
    b->cap = c;
}

/* Rendering an answer is hundreds of these calls: the common case is inlined. */
static inline void sb_need(struct sb *b, size_t more)
{
    if (__builtin_expect(b->n + more > b->cap, 0))
        sb_grow(b, more);
}

static inline void sb_put(struct sb *b, const char *s, size_t n)
{
    sb_need(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* A string literal, its length known when compiled. */
#define sb_lit(b, lit) sb_put((b), "" lit, sizeof(lit) - 1)

static void sb_puts(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        sb_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* A decimal integer, without printf (this runs for every number of every answer). */
static void sb_int(struct sb *b, long long v)
{
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sb_put(b, p, (size_t)(e - p));
}

/* A non-negative number with three decimals (distances: metres). */
static void sb_fixed3(struct sb *b, double x)
{
    long long m = llround(x * 1000.0);
    sb_int(b, m / 1000);
    char f[4] = {'.', (char)('0' + m / 100 % 10), (char)('0' + m / 10 % 10), (char)('0' + m % 10)};
    sb_put(b, f, 4);
}

/* Bytes a JSON string cannot hold as they are: the end of the C string too, so one test ends
 * the scan at either. */
static const bool json_special[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* A JSON string. Input is valid UTF-8 (the database's); control characters are escaped. */
static void sb_str(struct sb *b, const char *s)
{
    const char *run = s;
    while (!json_special[(unsigned char)*s]) /* the usual string: scanned once, copied once */
        s++;
    if (!*s) {
        size_t n = (size_t)(s - run);
        sb_need(b, n + 2);
        b->p[b->n] = '"';
        memcpy(b->p + b->n + 1, run, n);
        b->p[b->n + 1 + n] = '"';
        b->n += n + 2;
        return;
    }
    sb_need(b, 1);
    b->p[b->n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!json_special[c])
            continue;
        sb_put(b, run, (size_t)(s - run));
        if (c == '"')
            sb_lit(b, "\\\"");
        else if (c == '\\')
            sb_lit(b, "\\\\");
        else
            sb_printf(b, "\\u%04x", c);
        run = s + 1;
    }
    sb_put(b, run, (size_t)(s - run));
    sb_put(b, "\"", 1);
}

static void sb_free_cb(const void *data, size_t len, void *arg)
{
    (void)len, (void)arg;
    free((void *)data);
}

static void sb_reply(struct api_ctx *ctx, struct sb *b)
{
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_reference(out, b->p, b->n, sb_free_cb, NULL);
    b->p = NULL;
    api_reply_json(ctx, 200, out);
}

/* ---- rows into entries ---- */

enum {
    C_KEY, C_SITE, C_ORG, C_ORG_NAME, C_SITE_NAME, C_ST, C_TIERS, C_STATUS, C_SECTOR, C_REGION,
    C_LA, C_LAT, C_LON, C_PLAT, C_PLON, C_PRIVATE, C_RATING, C_AGE_MIN, C_AGE_MAX, C_VAC,
    C_VAC_AT, C_DESC, C_AGREEMENTS, C_PREC, C_PUB_PREC, C_DISTRICT, C_URN, C_PLACES, C_ADDRESS,
    C_POSTCODE, C_PUB_POINT, C_PRECISE_POINT, C_COUNT
};

static const char *val(const PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c);
}

/*
 * What the index keeps of an entry's display, beyond its own fields (api/index.h calls them
 * opaque texts; only this file reads them):
 *   display_public   two letters, where the precise and the public point come from (s site,
 *                    d district, l local authority); the public point and the precise point as
 *                    shown ("53.81234,-1.57001", formatted by index_rows()), each followed by
 *                    "|"; then the site's JSON members that every view shows and the entry does
 *                    not hold: "district", "ofsted_urn", "places";
 *   display_private  the members that only the commissioner view shows of a private site (a
 *                    children's home) and every view shows of another: "address", "postcode";
 *                    NULL when there are none.
 * The names of its council and region come from the reference tables when an answer is
 * rendered (put_hit), so the index holds a few dozen bytes per entry here instead of the two
 * rendered JSON texts (about 650 bytes) index_entries() returns.
 */
static char precision_letter(const char *p)
{
    return p && p[0] == 's' ? 's' : p && p[0] == 'd' ? 'd' : 'l';
}

/* "name":"v" after any members at or beyond offset `from` of b; nothing for NULL. */
static void member_str(struct sb *b, size_t from, const char *name, const char *v)
{
    if (!v)
        return;
    if (b->n > from)
        sb_put(b, ",", 1);
    sb_str(b, name);
    sb_put(b, ":", 1);
    sb_str(b, v);
}

/* A point as index_rows() formats it: "lat,lon", digits, signs and points only. */
static bool point_ok(const char *p)
{
    if (!p || !strchr(p, ','))
        return false;
    for (; *p; p++)
        if (!strchr("0123456789.,-", *p))
            return false;
    return true;
}

static void display_texts(const PGresult *r, int i, struct sb *pub, struct sb *priv)
{
    char head[2] = {precision_letter(val(r, i, C_PREC)), precision_letter(val(r, i, C_PUB_PREC))};
    sb_put(pub, head, 2);
    const char *u = val(r, i, C_PUB_POINT), *p = val(r, i, C_PRECISE_POINT);
    sb_puts(pub, point_ok(u) ? u : "0,0"); /* never: the query places every entry it returns */
    sb_put(pub, "|", 1);
    sb_puts(pub, point_ok(p) ? p : "0,0");
    sb_put(pub, "|", 1);
    size_t from = pub->n;
    member_str(pub, from, "district", val(r, i, C_DISTRICT));
    member_str(pub, from, "ofsted_urn", val(r, i, C_URN));
    if (val(r, i, C_PLACES)) {
        sb_puts(pub, pub->n > from ? ",\"places\":" : "\"places\":");
        sb_int(pub, atoll(val(r, i, C_PLACES)));
    }
    sb_put(pub, "", 1); /* the index copies C strings */
    if (val(r, i, C_ADDRESS) || val(r, i, C_POSTCODE)) {
        member_str(priv, 0, "address", val(r, i, C_ADDRESS));
        member_str(priv, 0, "postcode", val(r, i, C_POSTCODE));
        sb_put(priv, "", 1);
    }
}

/* Upserts row `i`; false (logged) when the index refuses it. */
static bool upsert_row(struct idx *ix, const PGresult *r, int i)
{
    struct idx_entry e;
    memset(&e, 0, sizeof e);
    if (PQgetisnull(r, i, C_LAT) || PQgetisnull(r, i, C_PLAT)) /* never placed at 0,0 */
        return false;
    e.key = val(r, i, C_KEY);
    e.site_id = val(r, i, C_SITE);
    e.organisation_id = val(r, i, C_ORG);
    e.organisation_name = val(r, i, C_ORG_NAME);
    e.site_name = val(r, i, C_SITE_NAME);
    e.service_type = val(r, i, C_ST);
    e.tiers = (unsigned)atoi(PQgetvalue(r, i, C_TIERS));
    const char *st = PQgetvalue(r, i, C_STATUS);
    e.sector = val(r, i, C_SECTOR);
    e.region = val(r, i, C_REGION);
    e.la = val(r, i, C_LA);
    e.lat = strtod(PQgetvalue(r, i, C_LAT), NULL);
    e.lon = strtod(PQgetvalue(r, i, C_LON), NULL);
    e.has_precise = true;
    e.precise_lat = strtod(PQgetvalue(r, i, C_PLAT), NULL);
    e.precise_lon = strtod(PQgetvalue(r, i, C_PLON), NULL);
    e.address_private = PQgetvalue(r, i, C_PRIVATE)[0] == 't';
    const char *rating = val(r, i, C_RATING);
    e.age_min = val(r, i, C_AGE_MIN) ? atoi(val(r, i, C_AGE_MIN)) : -1;
    e.age_max = val(r, i, C_AGE_MAX) ? atoi(val(r, i, C_AGE_MAX)) : -1;
    e.vacancies = val(r, i, C_VAC) ? atoi(val(r, i, C_VAC)) : -1;
    e.vacancies_at = val(r, i, C_VAC_AT) ? strtoll(val(r, i, C_VAC_AT), NULL, 10) : 0;
    e.description = val(r, i, C_DESC);
    static struct sb pub, priv; /* reused: one loop loads */
    pub.n = priv.n = 0;
    display_texts(r, i, &pub, &priv);
    e.display_public = pub.p;
    e.display_private = priv.n ? priv.p : NULL;

    /* "E08000035 active 12345 week,E09000001 suspended 5000 night" */
    struct idx_agreement ag[IDX_MAX_AGREEMENTS];
    char *agtext = val(r, i, C_AGREEMENTS) ? xstrdup(val(r, i, C_AGREEMENTS)) : NULL;
    bool ok = idx_status_parse(st, &e.status) &&
              (!rating || idx_rating_parse(rating, &e.rating));
    char *save = NULL;
    for (char *item = agtext ? strtok_r(agtext, ",", &save) : NULL; ok && item;
         item = strtok_r(NULL, ",", &save)) {
        if (e.n_agreements == IDX_MAX_AGREEMENTS) {
            ok = false;
            break;
        }
        struct idx_agreement *a = &ag[e.n_agreements++];
        char *s2 = NULL;
        a->commissioner = strtok_r(item, " ", &s2);
        const char *ast = strtok_r(NULL, " ", &s2);
        const char *price = strtok_r(NULL, " ", &s2);
        a->price_unit = strtok_r(NULL, " ", &s2);
        ok = a->commissioner && ast && price && a->price_unit &&
             idx_agreement_status_parse(ast, &a->status);
        if (ok)
            a->price_pence = strtoll(price, NULL, 10);
    }
    e.agreements = e.n_agreements ? ag : NULL;
    ok = ok && idx_upsert(ix, &e);
    if (!ok)
        log_kv(LOG_ERROR, "search: the index refused an entry", "key", e.key, (char *)NULL);
    free(agtext);
    return ok;
}

/* ---- the loader ---- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

static void pending_add(const char *org)
{
    if (S.n_pending >= PENDING_MAX) {
        S.full_pending = true; /* cheaper, and nothing is lost */
        return;
    }
    if (S.n_pending == S.cap_pending) {
        S.cap_pending = S.cap_pending ? S.cap_pending * 2 : 64;
        S.pending = xrealloc(S.pending, S.cap_pending * sizeof(char *));
    }
    S.pending[S.n_pending++] = xstrdup(org);
}

static void batch_free(void)
{
    for (size_t i = 0; i < S.n_batch; i++)
        free(S.batch[i]);
    free(S.batch);
    S.batch = NULL;
    S.n_batch = 0;
}

static void pump(void);

static void load_failed(const char *what)
{
    S.load_failures++;
    log_kv(LOG_WARN, "search: loading failed; retrying", "what", what, (char *)NULL);
    switch (S.state) {
    case L_REF:
        S.ref_pending = true;
        break;
    case L_FULL:
        S.full_pending = true; /* starts again from the first page */
        idx_free(S.building);
        S.building = NULL;
        break;
    case L_ORGS:
        for (size_t i = 0; i < S.n_batch; i++)
            pending_add(S.batch[i]);
        batch_free();
        break;
    case L_IDLE:
        break;
    }
    S.state = L_IDLE;
}

static void ref_done(void *arg, enum db_status st, PGresult *const *res, int n)
{
    (void)arg;
    if (st != DB_OK || n != 5) {
        load_failed("reference tables");
        return;
    }
    struct reftab t;
    memset(&t, 0, sizeof t);
    reftab_load(&t, res);
    reftab_free(&S.ref);
    S.ref = t;
    S.have_ref = true;
    S.gen++;
    S.state = L_IDLE;
    pump();
}

static void page_done(void *arg, enum db_status st, PGresult *const *res, int n)
{
    (void)arg;
    if (st != DB_OK || n != 2) {
        load_failed("a page of sites");
        return;
    }
    for (int i = 0; i < PQntuples(res[0]); i++)
        (void)upsert_row(S.building, res[0], i); /* a refused entry is logged and left out */
    const char *last = val(res[1], 0, 0);
    S.state = L_IDLE; /* pump() continues with the next page, or other work */
    if (last) {
        snprintf(S.after, sizeof S.after, "%s", last);
    } else { /* no sites after the last page: complete */
        idx_free(S.ix);
        S.ix = S.building;
        S.building = NULL;
        S.gen++;
        S.loads_full++;
        S.last_full_ms = (util_now_ns() - S.full_started_ns) / 1000000;
        char ms[24], count[24];
        snprintf(ms, sizeof ms, "%llu", (unsigned long long)S.last_full_ms);
        snprintf(count, sizeof count, "%zu", idx_count(S.ix));
        log_kv(LOG_INFO, "search: index loaded", "entries#", count, "ms#", ms, (char *)NULL);
    }
    pump();
}

static void orgs_done(void *arg, enum db_status st, PGresult *const *res, int n)
{
    (void)arg;
    if (st != DB_OK || n != 1) {
        load_failed("changed organisations");
        return;
    }
    if (S.ix) {
        for (size_t i = 0; i < S.n_batch; i++)
            idx_remove_organisation(S.ix, S.batch[i]);
        for (int i = 0; i < PQntuples(res[0]); i++)
            (void)upsert_row(S.ix, res[0], i);
        S.gen++;
    }
    S.loads_orgs++;
    batch_free();
    S.state = L_IDLE;
    pump();
}

static bool submit(struct db_job *j, enum load_state state)
{
    S.state = state;
    if (db_submit(S.pool, j) != DB_OK) {
        load_failed("submit");
        return false;
    }
    return true;
}

/* Starts the next piece of loading work, if any and if nothing is in flight. */
static void pump(void)
{
    if (S.state != L_IDLE || !S.pool)
        return;
    if (!db_pool_available(S.pool)) {
        S.was_down = true;
        return;
    }
    if (S.was_down) { /* notifications may have been missed meanwhile */
        S.was_down = false;
        S.full_pending = S.ref_pending = true;
    }
    if (S.ref_pending || !S.have_ref) {
        S.ref_pending = false;
        struct db_job *j = db_job_new(ref_done, NULL);
        db_job_add(j, "search_ref_districts", 0, NULL);
        db_job_add(j, "search_ref_councils", 0, NULL);
        db_job_add(j, "search_ref_regions", 0, NULL);
        db_job_add(j, "search_ref_service_types", 0, NULL);
        db_job_add(j, "search_ref_offers", 0, NULL);
        (void)submit(j, L_REF);
        return;
    }
    if (S.full_pending || S.building) {
        if (S.full_pending) {
            S.full_pending = false;
            idx_free(S.building);
            S.building = idx_new();
            snprintf(S.after, sizeof S.after, "00000000-0000-0000-0000-000000000000");
            S.full_started_ns = util_now_ns();
            /* Changes already queued are in the new index; later ones queue again. */
            for (size_t i = 0; i < S.n_pending; i++)
                free(S.pending[i]);
            S.n_pending = 0;
        }
        struct db_job *j = db_job_new(page_done, NULL);
        const char *p[] = {S.after, PAGE_SITES};
        db_job_add(j, "search_page", 2, p);
        db_job_add(j, "search_page_last", 2, p);
        (void)submit(j, L_FULL);
        return;
    }
    if (S.n_pending && S.ix) {
        qsort(S.pending, S.n_pending, sizeof(char *), cmp_str);
        size_t take = 0;
        S.batch = xcalloc(BATCH_ORGS, sizeof(char *));
        struct evbuffer *arr = evbuffer_new();
        evbuffer_add(arr, "{", 1);
        size_t i = 0;
        for (; i < S.n_pending && take < BATCH_ORGS; i++) {
            if (take && strcmp(S.batch[take - 1], S.pending[i]) == 0) {
                free(S.pending[i]);
                continue;
            }
            evbuffer_add_printf(arr, "%s%s", take ? "," : "", S.pending[i]);
            S.batch[take++] = S.pending[i];
        }
        memmove(S.pending, S.pending + i, (S.n_pending - i) * sizeof(char *));
        S.n_pending -= i;
        S.n_batch = take;
        evbuffer_add(arr, "}", 2); /* with the NUL */
        const char *p[] = {(const char *)evbuffer_pullup(arr, -1)};
        struct db_job *j = db_job_new(orgs_done, NULL);
        db_job_add(j, "search_orgs", 1, p);
        evbuffer_free(arr);
        (void)submit(j, L_ORGS);
    }
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    pump();
}

void search_start(struct event_base *base, struct db_pool *pool, uint64_t vacancy_max_age_s,
                  bool index)
{
    memset(&S, 0, sizeof S);
    if (!index) { /* no pool either: search_notify and pump() have nothing to do */
        log_kv(LOG_INFO,
               "search index off (search_index = false): not loaded; /v1/search and "
               "/v1/directory answer 503 search_not_served",
               (char *)NULL);
        return;
    }
    S.index_on = true;
    S.base = base;
    S.pool = pool;
    S.vacancy_max_age_s = vacancy_max_age_s;
    S.full_pending = S.ref_pending = true;
    S.pump = event_new(base, -1, EV_PERSIST, on_pump, NULL);
    struct timeval tv = {0, PUMP_MS * 1000};
    event_add(S.pump, &tv);
}

void search_set_vacancy_max_age(uint64_t seconds)
{
    if (S.vacancy_max_age_s != seconds)
        S.gen++;
    S.vacancy_max_age_s = seconds;
}

void search_set_cache_ms(uint64_t ms)
{
    S.cache_ms = ms;
    if (!ms || !S.index_on) { /* an instance without the index answers no search */
        acache_free(S.cache);
        S.cache = NULL;
    } else if (!S.cache) {
        S.cache = acache_new(CACHE_ENTRIES, CACHE_BYTES);
    }
}

void search_stop(void)
{
    if (S.pump)
        event_free(S.pump);
    idx_free(S.ix);
    idx_free(S.building);
    reftab_free(&S.ref);
    acache_free(S.cache);
    for (size_t i = 0; i < S.n_pending; i++)
        free(S.pending[i]);
    free(S.pending);
    batch_free();
    memset(&S, 0, sizeof S);
}

bool search_index_on(void)
{
    return S.index_on;
}

bool search_ready(void)
{
    return S.ix && S.have_ref;
}

void search_notify(const char *channel, const char *payload)
{
    bool ref = strcmp(channel, "aqpd_reference_import") == 0;
    bool register_import = strcmp(channel, "aqpd_ofsted_import") == 0;
    if (!S.pool || (!ref && !register_import && strcmp(channel, "aqpd_index") != 0))
        return;
    char tagged[300];
    snprintf(tagged, sizeof tagged, "%s/%s", channel, payload);
    uint64_t h = fnv(tagged);
    for (size_t i = 0; i < SEEN_RING; i++)
        if (S.seen[i] == h)
            return; /* a copy from another pool connection */
    S.seen[S.seen_next] = h;
    S.seen_next = (S.seen_next + 1) % SEEN_RING;
    S.notifications++;
    if (ref) { /* postcode districts or councils (names, centroids) changed */
        S.ref_pending = S.full_pending = true;
    } else if (register_import) { /* ratings changed */
        S.full_pending = true;
    } else if (strncmp(payload, "org:", 4) == 0 && strlen(payload) >= 4 + 36) {
        char org[37];
        memcpy(org, payload + 4, 36);
        org[36] = '\0';
        if (api_is_uuid(org))
            pending_add(org);
    } else if (strncmp(payload, "offers:", 7) == 0) {
        S.ref_pending = true;
    } else if (strncmp(payload, "all:", 4) == 0) {
        S.full_pending = true;
    }
    pump();
}

void search_metrics(struct evbuffer *out)
{
    struct idx_stats st = {0};
    if (S.ix)
        idx_stats(S.ix, &st);
    struct acache_stats cs = {0};
    if (S.cache)
        acache_stats(S.cache, &cs);
    evbuffer_add_printf(out,
                        "# HELP aqpd_search_cache_answers_total Searches, by whether the answer "
                        "cache had their answer.\n"
                        "# TYPE aqpd_search_cache_answers_total counter\n"
                        "aqpd_search_cache_answers_total{result=\"hit\"} %llu\n"
                        "aqpd_search_cache_answers_total{result=\"miss\"} %llu\n"
                        "# HELP aqpd_search_cache_entries Answers in the answer cache.\n"
                        "# TYPE aqpd_search_cache_entries gauge\n"
                        "aqpd_search_cache_entries %zu\n"
                        "# HELP aqpd_search_cache_bytes Memory the answer cache holds.\n"
                        "# TYPE aqpd_search_cache_bytes gauge\n"
                        "aqpd_search_cache_bytes %zu\n",
                        (unsigned long long)cs.hits, (unsigned long long)cs.misses, cs.entries,
                        cs.bytes);
    evbuffer_add_printf(out,
                        "# HELP aqpd_search_index_enabled Whether this instance loads the search "
                        "index (search_index).\n"
                        "# TYPE aqpd_search_index_enabled gauge\n"
                        "aqpd_search_index_enabled %d\n"
                        "# HELP aqpd_search_entries Directory entries in the search index.\n"
                        "# TYPE aqpd_search_entries gauge\n"
                        "aqpd_search_entries %zu\n"
                        "# HELP aqpd_search_index_bytes Memory the search index allocated.\n"
                        "# TYPE aqpd_search_index_bytes gauge\n"
                        "aqpd_search_index_bytes %zu\n"
                        "# HELP aqpd_search_ready Whether the first load has completed.\n"
                        "# TYPE aqpd_search_ready gauge\n"
                        "aqpd_search_ready %d\n"
                        "# HELP aqpd_search_loads_total Index loads, by kind.\n"
                        "# TYPE aqpd_search_loads_total counter\n"
                        "aqpd_search_loads_total{kind=\"full\"} %llu\n"
                        "aqpd_search_loads_total{kind=\"organisations\"} %llu\n"
                        "# HELP aqpd_search_load_failures_total Index loads that failed (retried).\n"
                        "# TYPE aqpd_search_load_failures_total counter\n"
                        "aqpd_search_load_failures_total %llu\n"
                        "# HELP aqpd_search_last_full_load_ms Duration of the last full load.\n"
                        "# TYPE aqpd_search_last_full_load_ms gauge\n"
                        "aqpd_search_last_full_load_ms %llu\n"
                        "# HELP aqpd_search_pending_organisations Organisations waiting to be reloaded.\n"
                        "# TYPE aqpd_search_pending_organisations gauge\n"
                        "aqpd_search_pending_organisations %zu\n",
                        S.index_on, st.entries, st.bytes, S.ix != NULL,
                        (unsigned long long)S.loads_full, (unsigned long long)S.loads_orgs,
                        (unsigned long long)S.load_failures, (unsigned long long)S.last_full_ms,
                        S.n_pending + S.n_batch);
}

static void rfc3339(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- parameters ---- */

enum which { W_DIRECTORY, W_SEARCH };

struct parsed {
    struct idx_query q;
    const char *types[IDX_MAX_SERVICE_TYPES];
    char typebuf[1024];
    char near_query[64];
    const char *near_kind;
};

static bool bad(struct api_ctx *ctx, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool bad(struct api_ctx *ctx, const char *param, const char *fmt, ...)
{
    char d[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof d, fmt, ap);
    va_end(ap);
    api_problem(ctx, 400, "invalid_parameter", "%s: %s", param, d);
    return false;
}

static bool parse_double(const char *s, double *out)
{
    if (!s || !*s || strlen(s) > 32)
        return false;
    char *end;
    *out = strtod(s, &end);
    return *end == '\0' && isfinite(*out);
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s || strlen(s) > 12)
        return false;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return false;
    return true;
}

/* "LS6", "ls6 2ab", "LS62AB", "53.8,-1.57". */
static bool parse_near(struct api_ctx *ctx, struct parsed *P, const char *s)
{
    snprintf(P->near_query, sizeof P->near_query, "%s", s);
    const char *comma = strchr(s, ',');
    if (comma) {
        char a[40];
        size_t la = (size_t)(comma - s);
        if (la >= sizeof a)
            return bad(ctx, "near", "expected a postcode, an outcode or lat,lon");
        memcpy(a, s, la);
        a[la] = '\0';
        double lat, lon;
        if (!parse_double(a, &lat) || !parse_double(comma + 1, &lon) || lat < -90 || lat > 90 ||
            lon < -180 || lon > 180)
            return bad(ctx, "near", "lat,lon must be two decimal numbers, latitude -90..90 and "
                                    "longitude -180..180");
        P->q.near_lat = lat;
        P->q.near_lon = lon;
        P->near_kind = "latlon";
        return true;
    }
    char pc[16];
    size_t k = 0;
    for (const char *p = s; *p; p++) {
        if (*p == ' ')
            continue;
        if (!isalnum((unsigned char)*p) || k >= 8)
            return bad(ctx, "near", "'%.40s' is not a postcode, an outcode or lat,lon", s);
        pc[k++] = (char)toupper((unsigned char)*p);
    }
    pc[k] = '\0';
    /* A full postcode ends in digit, letter, letter after an outcode of 2..4 characters. */
    bool full = k >= 5 && isdigit((unsigned char)pc[k - 3]) && isalpha((unsigned char)pc[k - 2]) &&
                isalpha((unsigned char)pc[k - 1]);
    if (full)
        pc[k - 3] = '\0';
    const struct ref_point *d = ref_find(S.ref.districts, S.ref.n_districts, pc);
    if (!d)
        return bad(ctx, "near", "unknown postcode district '%s'", pc);
    P->q.near_lat = d->lat;
    P->q.near_lon = d->lon;
    P->near_kind = full ? "postcode" : "outcode";
    return true;
}

static bool allowed_param(const char *k, enum which w)
{
    static const char *const names[] = {"service_type", "tier", "near", "radius_km",
                                        "commissioner", "covers", "region", "min_rating", "age",
                                        "has_vacancies", "sector", "q", "sort", "limit",
                                        "cursor", "status"};
    for (size_t i = 0; i < N(names); i++)
        if (strcmp(k, names[i]) == 0)
            return w == W_SEARCH || strcmp(k, "status") != 0;
    return false;
}

/* Adds one service type code (from a repeated or comma-separated parameter). */
static bool add_type(struct api_ctx *ctx, struct parsed *P, const char *code, size_t len,
                     size_t *used)
{
    if (len == 0)
        return bad(ctx, "service_type", "empty service type");
    if (P->q.n_service_types == N(P->types) || *used + len + 1 > sizeof P->typebuf)
        return bad(ctx, "service_type", "too many service types");
    char *dst = P->typebuf + *used;
    memcpy(dst, code, len);
    dst[len] = '\0';
    *used += len + 1;
    if (!ref_service_type(dst))
        return bad(ctx, "service_type", "unknown service type '%.60s' (GET /v1/service-types lists them)",
                   dst);
    for (size_t i = 0; i < P->q.n_service_types; i++)
        if (strcmp(P->types[i], dst) == 0)
            return true;
    P->types[P->q.n_service_types++] = dst;
    return true;
}

static const char *const sectors[] = {"private", "voluntary", "local_authority", "health",
                                      "other"};

static bool parse_params(struct api_ctx *ctx, enum which w, struct parsed *P)
{
    struct idx_query *q = &P->q;
    memset(P, 0, sizeof *P);
    q->view = w == W_SEARCH ? IDX_VIEW_COMMISSIONER : IDX_VIEW_PUBLIC;
    q->radius_km = INFINITY;
    q->age = -1;
    q->limit = 20;
    q->now = (int64_t)time(NULL);
    q->vacancy_max_age_s = (int64_t)S.vacancy_max_age_s;
    q->status_mask = 1u << IDX_STATUS_ACTIVE;
    (void)api_query(ctx, "limit"); /* parses the query string */
    size_t used = 0;
    bool have_radius = false;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, ctx->query, next) {
        const char *k = kv->key, *v = kv->value;
        if (!allowed_param(k, w)) {
            if (strcmp(k, "status") == 0)
                return bad(ctx, k, "the public directory lists active qualifications only; "
                                   "councils and the board filter by status in /v1/search");
            return bad(ctx, k, "unknown parameter");
        }
        if (strcmp(k, "service_type") == 0) {
            for (const char *p = v;;) {
                const char *c = strchr(p, ',');
                size_t len = c ? (size_t)(c - p) : strlen(p);
                if (!add_type(ctx, P, p, len, &used))
                    return false;
                if (!c)
                    break;
                p = c + 1;
            }
            continue;
        }
        /* Every other parameter once. */
        for (struct evkeyval *o = TAILQ_FIRST(ctx->query); o != kv; o = TAILQ_NEXT(o, next))
            if (strcmp(o->key, k) == 0)
                return bad(ctx, k, "given more than once");
        long n;
        if (strcmp(k, "tier") == 0) {
            if (!parse_int(v, 1, 4, &n))
                return bad(ctx, k, "must be 1, 2, 3 or 4");
            q->tier = (int)n;
        } else if (strcmp(k, "near") == 0) {
            if (!parse_near(ctx, P, v))
                return false;
            q->has_near = true;
        } else if (strcmp(k, "radius_km") == 0) {
            double r;
            if (!parse_double(v, &r) || r <= 0 || r > MAX_RADIUS_KM)
                return bad(ctx, k, "must be a number of kilometres above 0 and at most %.0f",
                           MAX_RADIUS_KM);
            q->radius_km = r;
            have_radius = true;
        } else if (strcmp(k, "commissioner") == 0) {
            if (!ref_find(S.ref.councils, S.ref.n_councils, v))
                return bad(ctx, k, "unknown council code '%.20s' (GET /v1/commissioners lists them)", v);
            q->commissioner = v;
        } else if (strcmp(k, "covers") == 0) {
            const struct ref_point *c = ref_find(S.ref.councils, S.ref.n_councils, v);
            if (!c)
                return bad(ctx, k, "unknown council code '%.20s' (GET /v1/commissioners lists them)", v);
            q->covers_la = c->code;
            q->covers_lat = c->lat;
            q->covers_lon = c->lon;
            q->covers_radius_km = COVERS_RADIUS_KM;
        } else if (strcmp(k, "region") == 0) {
            const struct ref_point *r = ref_find(S.ref.regions, S.ref.n_regions, v);
            for (size_t i = 0; !r && i < S.ref.n_regions; i++)
                if (strcasecmp(S.ref.regions[i].name, v) == 0)
                    r = &S.ref.regions[i];
            if (!r)
                return bad(ctx, k, "unknown region '%.60s' (a code such as E12000003 or a name "
                                   "such as Yorkshire and The Humber)", v);
            q->region = r->code;
        } else if (strcmp(k, "min_rating") == 0) {
            enum idx_rating r;
            if (!idx_rating_parse(v, &r) || r == IDX_RATING_NONE)
                return bad(ctx, k, "must be outstanding, good, requires_improvement or inadequate");
            q->min_rating = r;
        } else if (strcmp(k, "age") == 0) {
            if (!parse_int(v, 0, 25, &n))
                return bad(ctx, k, "must be a whole number of years from 0 to 25");
            q->age = (int)n;
        } else if (strcmp(k, "has_vacancies") == 0) {
            if (!parse_bool(v, &q->has_vacancies))
                return bad(ctx, k, "must be true or false");
        } else if (strcmp(k, "sector") == 0) {
            size_t i = 0;
            while (i < N(sectors) && strcmp(sectors[i], v) != 0)
                i++;
            if (i == N(sectors))
                return bad(ctx, k, "must be private, voluntary, local_authority, health or other");
            q->sector = v;
        } else if (strcmp(k, "q") == 0) {
            q->q = v;
        } else if (strcmp(k, "sort") == 0) {
            static const struct {
                const char *name;
                enum idx_sort s;
            } sorts[] = {{"distance", IDX_SORT_DISTANCE}, {"rating", IDX_SORT_RATING},
                         {"name", IDX_SORT_NAME}, {"relevance", IDX_SORT_RELEVANCE}};
            size_t i = 0;
            while (i < N(sorts) && strcmp(sorts[i].name, v) != 0)
                i++;
            if (i == N(sorts))
                return bad(ctx, k, "must be distance, rating, name or relevance");
            q->sort = sorts[i].s;
        } else if (strcmp(k, "limit") == 0) {
            if (!parse_int(v, 1, IDX_MAX_LIMIT, &n))
                return bad(ctx, k, "must be a whole number from 1 to %d", IDX_MAX_LIMIT);
            q->limit = (unsigned)n;
        } else if (strcmp(k, "cursor") == 0) {
            q->cursor = v;
        } else if (strcmp(k, "status") == 0) {
            q->status_mask = 0;
            for (const char *p = v;;) {
                const char *c = strchr(p, ',');
                char one[24];
                size_t len = c ? (size_t)(c - p) : strlen(p);
                enum idx_status s;
                if (len >= sizeof one)
                    len = sizeof one - 1;
                memcpy(one, p, len);
                one[len] = '\0';
                if (!idx_status_parse(one, &s))
                    return bad(ctx, k, "must be active, suspended, lapsed or revoked "
                                       "(comma-separated for several)");
                q->status_mask |= 1u << s;
                if (!c)
                    break;
                p = c + 1;
            }
        }
    }
    q->service_types = P->types;
    if (have_radius && !q->has_near)
        return bad(ctx, "radius_km", "needs near");
    return true;
}

static const char *param_name(enum idx_param p)
{
    switch (p) {
    case IDX_PARAM_TIER: return "tier";
    case IDX_PARAM_NEAR: return "near";
    case IDX_PARAM_RADIUS: return "radius_km";
    case IDX_PARAM_COVERS: return "covers";
    case IDX_PARAM_MIN_RATING: return "min_rating";
    case IDX_PARAM_AGE: return "age";
    case IDX_PARAM_VACANCIES: return "has_vacancies";
    case IDX_PARAM_STATUS: return "status";
    case IDX_PARAM_Q: return "q";
    case IDX_PARAM_SORT: return "sort";
    case IDX_PARAM_LIMIT: return "limit";
    case IDX_PARAM_CURSOR: return "cursor";
    default: return "query";
    }
}

/* ---- the answer ---- */

static const char *precision_name(char c)
{
    return c == 's' ? "site" : c == 'd' ? "district" : "local_authority";
}

/* {"code":…,"name":…} of a council or region, when the reference tables know the code. */
static void put_place(struct sb *b, const char *member, const struct ref_point *v, size_t n,
                      const char *code)
{
    const struct ref_point *p = code && *code ? ref_find(v, n, code) : NULL;
    if (!p)
        return;
    sb_puts(b, member);
    sb_lit(b, "{\"code\":");
    sb_str(b, p->code);
    if (p->name) {
        sb_lit(b, ",\"name\":");
        sb_str(b, p->name);
    }
    sb_lit(b, "}");
}

/* The members "provider", "site" and "location" of a hit, in the view's redaction (see
   display_texts): a private site's name, address and postcode only for the commissioner view,
   and its point the public one (district or council) in the public view. */
static void put_display(struct sb *b, const struct idx_entry *e, bool priv)
{
    /* display_public: "PU" lat,lon "|" lat,lon "|" members (display_texts) */
    const char *pub = e->display_public ? e->display_public : "";
    const char *bar1 = strlen(pub) >= 2 ? strchr(pub + 2, '|') : NULL;
    const char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
    if (!bar2) /* never: display_texts wrote it */
        pub = "ll0,0|0,0|", bar1 = pub + 5, bar2 = pub + 9;
    const char *point = priv ? bar1 + 1 : pub + 2, *point_end = priv ? bar2 : bar1;
    const char *comma = memchr(point, ',', (size_t)(point_end - point));
    bool full = priv || !e->address_private;
    sb_lit(b, "\"provider\":{\"id\":");
    sb_str(b, e->organisation_id);
    sb_lit(b, ",\"name\":");
    sb_str(b, e->organisation_name);
    sb_lit(b, ",\"sector\":");
    if (e->sector && *e->sector)
        sb_str(b, e->sector);
    else
        sb_lit(b, "null");
    sb_lit(b, "},\"site\":{\"id\":");
    sb_str(b, e->site_id);
    if (full && e->site_name && *e->site_name) {
        sb_lit(b, ",\"name\":");
        sb_str(b, e->site_name);
    }
    if (full && e->display_private && *e->display_private) {
        sb_put(b, ",", 1);
        sb_puts(b, e->display_private);
    }
    if (bar2[1]) {
        sb_put(b, ",", 1);
        sb_puts(b, bar2 + 1);
    }
    sb_puts(b, e->address_private ? ",\"address_private\":true" : ",\"address_private\":false");
    put_place(b, ",\"local_authority\":", S.ref.councils, S.ref.n_councils, e->la);
    put_place(b, ",\"region\":", S.ref.regions, S.ref.n_regions, e->region);
    sb_lit(b, "},\"location\":{\"lat\":");
    sb_put(b, point, (size_t)(comma - point));
    sb_lit(b, ",\"lon\":");
    sb_put(b, comma + 1, (size_t)(point_end - comma - 1));
    sb_lit(b, ",\"precision\":\"");
    sb_puts(b, precision_name(priv ? pub[0] : pub[1]));
    sb_lit(b, "\"}");
}

static void put_hit(struct sb *b, const struct idx_hit *h, const struct parsed *P,
                    const struct api_ctx *ctx)
{
    const struct idx_entry *e = h->entry;
    bool priv = P->q.view == IDX_VIEW_COMMISSIONER;
    sb_lit(b, "{\"id\":");
    sb_str(b, e->key);
    sb_lit(b, ",\"service_type\":");
    sb_str(b, e->service_type);
    sb_lit(b, ",\"tiers\":[");
    for (int t = 1, first = 1; t <= 4; t++)
        if (e->tiers & (1u << (t - 1))) {
            char d[2] = {',', (char)('0' + t)};
            sb_put(b, first ? d + 1 : d, first ? 1 : 2);
            first = 0;
        }
    sb_lit(b, "],\"status\":\"");
    sb_puts(b, idx_status_name(e->status));
    sb_lit(b, "\",");
    put_display(b, e, priv);
    if (e->rating != IDX_RATING_NONE) {
        sb_lit(b, ",\"rating\":\"");
        sb_puts(b, idx_rating_name(e->rating));
        sb_lit(b, "\"");
    }
    if (e->age_min >= 0) {
        sb_lit(b, ",\"age_min\":");
        sb_int(b, e->age_min);
    }
    if (e->age_max >= 0) {
        sb_lit(b, ",\"age_max\":");
        sb_int(b, e->age_max);
    }
    if (e->vacancies >= 0) {
        char at[32];
        rfc3339(e->vacancies_at, at);
        bool fresh = e->vacancies_at > P->q.now - P->q.vacancy_max_age_s;
        sb_printf(b, ",\"vacancies\":{\"places\":%d,\"updated_at\":\"%s\",\"fresh\":%s}",
                  (int)e->vacancies, at, fresh ? "true" : "false");
    }
    if (P->q.has_near) {
        sb_lit(b, ",\"distance_km\":");
        sb_fixed3(b, h->distance_km);
    }
    if (priv && ctx->who.role == ROLE_COMMISSIONER) {
        const struct idx_agreement *a = idx_entry_agreement(e, ctx->who.commissioner);
        if (a) {
            sb_printf(b, ",\"agreement\":{\"status\":\"%s\",\"price_pence\":%lld,\"price_unit\":",
                      idx_agreement_status_name(a->status), (long long)a->price_pence);
            sb_str(b, a->price_unit);
            sb_lit(b, "}");
        }
        const struct ref_offer *o = ref_offer(ctx->who.commissioner, e->service_type);
        if (o) {
            sb_printf(b, ",\"price\":{\"price_pence\":%lld,\"price_unit\":",
                      (long long)o->price_pence);
            sb_str(b, o->unit);
            sb_printf(b, ",\"open\":%s}", o->open ? "true" : "false");
        }
    }
    sb_lit(b, "}");
}

/*
 * The answer cache's key for this request: the view, the caller when the answer depends on
 * who asks (the framework search shows a council its own agreements and prices), and the
 * request's URI as sent. Two spellings of one search are two keys; that costs a miss, never
 * a wrong answer. False when the URI is too long to be worth keeping.
 */
static bool cache_key(const struct api_ctx *ctx, enum which w, char *key, size_t len)
{
    const char *uri = evhttp_request_get_uri(ctx->req);
    int k = w == W_DIRECTORY
                ? snprintf(key, len, "d %s", uri)
                : snprintf(key, len, "s %u %s %s", ctx->who.role, ctx->who.commissioner, uri);
    return k > 0 && (size_t)k < len;
}

static void run_search(struct api_ctx *ctx, enum which w)
{
    if (!S.index_on) { /* a publication/feed instance: a load balancer should not send these */
        api_problem(ctx, 503, "search_not_served",
                    "this server does not run the directory search (search_index is off: it "
                    "serves publications, the Open Referral feed and the rest of the API); "
                    "searches are answered by the instances that run the search index");
        return;
    }
    if (!search_ready()) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", "1");
        api_problem(ctx, 503, "search_loading",
                    "the search index is loading from the database; try again in a moment");
        return;
    }
    char key[1024];
    uint64_t now_ms = util_now_ns() / 1000000u;
    bool cacheable = S.cache && cache_key(ctx, w, key, sizeof key);
    if (cacheable) {
        size_t n;
        const char *hit = acache_get(S.cache, key, S.gen, now_ms, &n);
        if (hit) {
            struct evbuffer *out = evbuffer_new();
            evbuffer_add(out, hit, n);
            api_reply_json(ctx, 200, out);
            return;
        }
    }
    /* One event loop answers one search at a time (nothing here waits), so the parameters and
     * the result (about 20 KB) are reused rather than allocated per request. */
    static struct parsed parsed;
    static struct idx_result result;
    struct parsed *P = &parsed;
    struct idx_result *res = &result;
    struct idx_error err = {0};
    if (!parse_params(ctx, w, P))
        return;
    if (!idx_query(S.ix, &P->q, res, &err)) {
        (void)bad(ctx, param_name(err.param), "%s", err.detail ? err.detail : "invalid");
        return;
    }
    struct sb b = {0};
    sb_lit(&b, "{\"items\":[");
    for (size_t i = 0; i < res->n; i++) {
        if (i)
            sb_put(&b, ",", 1);
        put_hit(&b, &res->hits[i], P, ctx);
    }
    sb_lit(&b, "],\"next_cursor\":");
    if (res->has_next)
        sb_str(&b, res->next_cursor);
    else
        sb_lit(&b, "null");
    sb_printf(&b, ",\"total\":%u,\"facets\":{\"service_type\":{", res->total);
    for (size_t i = 0; i < res->n_service_type_facets; i++) {
        sb_puts(&b, i ? "," : "");
        sb_str(&b, res->service_type_facets[i].code);
        sb_put(&b, ":", 1);
        sb_int(&b, res->service_type_facets[i].count);
    }
    sb_lit(&b, "},\"region\":{");
    for (size_t i = 0; i < res->n_region_facets; i++) {
        sb_puts(&b, i ? "," : "");
        sb_str(&b, res->region_facets[i].code);
        sb_put(&b, ":", 1);
        sb_int(&b, res->region_facets[i].count);
    }
    sb_lit(&b, "},\"rating\":{");
    for (int r = IDX_RATING_COUNT - 1, first = 1; r >= 0; r--) {
        sb_puts(&b, first ? "\"" : ",\"");
        sb_puts(&b, r == IDX_RATING_NONE ? "none" : idx_rating_name((enum idx_rating)r));
        sb_lit(&b, "\":");
        sb_int(&b, res->rating_facets[r]);
        first = 0;
    }
    sb_lit(&b, "}}");
    if (P->q.has_near) {
        sb_printf(&b, ",\"near\":{\"lat\":%.5f,\"lon\":%.5f,\"query\":", P->q.near_lat,
                  P->q.near_lon);
        sb_str(&b, P->near_query);
        sb_printf(&b, ",\"kind\":\"%s\"}", P->near_kind);
    }
    sb_lit(&b, "}");
    if (cacheable)
        acache_put(S.cache, key, S.gen, now_ms, S.cache_ms, b.p, b.n);
    sb_reply(ctx, &b);
}

void search_framework(struct api_ctx *ctx)
{
    run_search(ctx, W_SEARCH);
}

void search_directory(struct api_ctx *ctx)
{
    run_search(ctx, W_DIRECTORY); /* CORS: the router adds it to every public read */
}

/* ---- PUT /v1/sites/{id}/vacancies ---- */

static const struct api_field vacancy_fields[] = {
    {"places", F_INT, true, 0, 10000, NULL},
};

static void vacancies_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0 || PQgetisnull(res[0], 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such site of your organisation");
        return;
    }
    api_reply_sql_json(ctx, 200, res[0], 0);
}

void site_vacancies_put(struct api_ctx *ctx)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no such site of your organisation");
        return;
    }
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", vacancy_fields, N(vacancy_fields))) {
        jv_free(body);
        return;
    }
    char places[24], actor[96];
    snprintf(places, sizeof places, "%lld", (long long)jv_int(jv_get(body, "places")));
    jv_free(body);
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {api_param(ctx, 0), ctx->who.organisation, places, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "site_vacancies", 4, p);
    api_db(ctx, j, vacancies_done);
}
