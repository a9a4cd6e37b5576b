/*
 * Unit tests for api/index: the search read model. Every filter, alone and combined, is
 * checked against a brute-force answer computed here independently (its own haversine in the
 * atan2 form, its own tokenizer, its own facet rules) over a seeded random dataset spread
 * around real English towns, by walking every page of each query; plus hand-made edge cases:
 * radius 0, exact boundary distances, the empty index, everything filtered out, ties in sort
 * keys, pagination with limit 1, 7 and 100, foreign and garbage cursors, updates between
 * pages, removal and re-insertion, and the consistency of every structure after thousands of
 * random updates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/index.h"

/* ---- a seeded generator ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 2685821657736338717ull;
}

static unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static double ru(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* ---- the test's own geometry: haversine, atan2 form ---- */

static double t_dist(double lat1, double lon1, double lat2, double lon2)
{
    const double R = 6371.0088, rad = 3.14159265358979323846 / 180;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double h = pow(sin(dlat / 2), 2) + cos(lat1 * rad) * cos(lat2 * rad) * pow(sin(dlon / 2), 2);
    return 2 * R * atan2(sqrt(h), sqrt(1 - h));
}

/* ---- the model ---- */

struct town {
    const char *name;
    double lat, lon;
    const char *region, *la;
};

static const struct town towns[] = {
    {"Leeds", 53.8008, -1.5491, "E12000003", "E08000035"},
    {"Manchester", 53.4808, -2.2426, "E12000002", "E08000003"},
    {"Birmingham", 52.4862, -1.8904, "E12000005", "E08000025"},
    {"London", 51.5072, -0.1276, "E12000007", "E09000033"},
    {"Bristol", 51.4545, -2.5879, "E12000009", "E06000023"},
    {"Newcastle", 54.9783, -1.6178, "E12000001", "E08000021"},
    {"Sheffield", 53.3811, -1.4701, "E12000003", "E08000039"},
    {"Liverpool", 53.4084, -2.9916, "E12000002", "E08000012"},
    {"Nottingham", 52.9548, -1.1581, "E12000004", "E06000018"},
    {"Norwich", 52.6309, 1.2974, "E12000006", "E10000020"},
    {"Plymouth", 50.3755, -4.1427, "E12000009", "E06000026"},
    {"Carlisle", 54.8925, -2.9329, "E12000002", "E06000063"},
    {"York", 53.9600, -1.0873, "E12000003", "E06000014"},
    {"Hull", 53.7676, -0.3274, "E12000003", "E06000010"},
    {"Cambridge", 52.2053, 0.1218, "E12000006", "E10000003"},
    {"Brighton", 50.8225, -0.1372, "E12000008", "E06000043"},
    {"Truro", 50.2632, -5.0510, "E12000009", "E06000052"},
};
#define N_TOWNS (sizeof towns / sizeof towns[0])

static const char *const sts[] = {"childrens-home", "independent-fostering", "supported-accommodation",
                                  "adoption", "short-breaks", "family-support", "secure-childrens-home",
                                  "residential-family-centre", "adoption-support", "advocacy", "edge-of-care"};
#define N_STS (sizeof sts / sizeof sts[0])
static const char *const sectors[] = {"private", "voluntary", "local-authority"};
static const char *const comms[] = {"E08000035", "E08000003", "E08000025", "E09000033",
                                    "E06000023", "E08000021", "E10000020", "E06000014"};
static const char *const words[] = {
    "care", "caring", "cares", "family", "families", "foster", "fostering", "home", "homes",
    "children's", "young", "people", "support", "therapeutic", "trust", "north", "south",
    "bright", "brighter", "futures", "hope", "house", "oak", "oakwood", "willow", "St", "Mary's",
    "action", "compass", "horizon", "horizons", "Ltd", "limited", "services", "residential",
    "short", "breaks", "adoption", "agency", "Leeds", "sunrise", "ridge"};
#define N_WORDS (sizeof words / sizeof words[0])

#define NOW 1760000000
#define WEEK (7 * 86400)

struct tent {
    bool live;
    char key[48], site[32], org[32], orgname[96], sitename[96], desc[256];
    const char *st, *sector, *region, *la;
    unsigned tiers;
    int status, rating, amin, amax, vac;
    int64_t vac_at;
    double lat, lon, plat, plon;
    bool has_precise, priv;
    struct idx_agreement ag[6];
    size_t nag;
};

#define MAXT 8000
static struct tent T[MAXT];
static size_t nT;
static unsigned next_site;

static void phrase(char *out, size_t cap, unsigned nmin, unsigned nmax)
{
    unsigned n = nmin + rn(nmax - nmin + 1);
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        if (i)
            strncat(out, rn(8) ? " " : ", ", cap - strlen(out) - 1);
        strncat(out, words[rn(N_WORDS)], cap - strlen(out) - 1);
    }
}

static void org_fields(struct tent *t, unsigned org)
{
    snprintf(t->org, sizeof t->org, "org-%u", org);
    /* organisation names repeat across organisations: ties in the name sort */
    uint64_t save = rng_state;
    rng_state = 0x9E3779B97F4A7C15ull * (org % 150 + 1);
    phrase(t->orgname, sizeof t->orgname, 1, 3);
    if (org % 3 == 0)
        t->orgname[0] = (char)(t->orgname[0] >= 'a' && t->orgname[0] <= 'z' ? t->orgname[0] - 32
                                                                           : t->orgname[0]);
    rng_state = save;
}

/* When set, an entry's tiers follow from its service type, as the catalogue makes them (the
   index then answers a tier filter from its class counts); otherwise they are random. */
static bool tiers_by_type;
/* When set, every random query filters on a tier. */
static bool force_tier;

static unsigned type_tiers(const char *st)
{
    unsigned h = 0;
    for (; *st; st++)
        h = h * 31 + (unsigned char)*st;
    return h % 15 + 1;
}

static void random_fields(struct tent *t)
{
    const struct town *tw = &towns[rn(N_TOWNS)];
    unsigned s = rn(100);
    t->st = s < 40 ? sts[0] : s < 60 ? sts[1] : s < 75 ? sts[2] : s < 85 ? sts[3] : s < 92 ? sts[4]
                                                                                  : sts[5 + rn(6)];
    t->sector = rn(20) == 0 ? NULL : sectors[rn(3)];
    t->region = rn(25) == 0 ? NULL : tw->region;
    t->la = rn(25) == 0 ? NULL : tw->la;
    t->tiers = rn(16);
    if (tiers_by_type)
        t->tiers = type_tiers(t->st);
    unsigned st = rn(100);
    t->status = st < 85 ? 0 : st < 90 ? 1 : st < 95 ? 2 : 3;
    t->rating = (int)rn(5);
    t->amin = rn(10) == 0 ? -1 : (int)rn(13);
    t->amax = rn(10) == 0 ? -1 : (t->amin < 0 ? 0 : t->amin) + (int)rn(7);
    t->vac = rn(3) == 0 ? -1 : (int)rn(4);
    t->vac_at = NOW - (int64_t)rn(20 * 86400);
    t->priv = t->st == sts[0] || t->st == sts[4];
    double lat = tw->lat + (ru() - 0.5) * 0.6, lon = tw->lon + (ru() - 0.5) * 0.9;
    if (t->priv) { /* public point: the town centre (many ties); precise: the site */
        t->lat = tw->lat;
        t->lon = tw->lon;
        t->has_precise = true;
        t->plat = lat;
        t->plon = lon;
    } else {
        t->lat = lat;
        t->lon = lon;
        t->has_precise = rn(10) == 0;
        t->plat = t->has_precise ? lat + 0.01 : lat;
        t->plon = t->has_precise ? lon - 0.01 : lon;
    }
    phrase(t->sitename, sizeof t->sitename, 1, 3);
    phrase(t->desc, sizeof t->desc, 0, 8);
    t->nag = rn(5);
    unsigned used = 0;
    for (size_t i = 0; i < t->nag; i++) {
        unsigned c;
        do
            c = rn(8);
        while (used & (1u << c));
        used |= 1u << c;
        unsigned a = rn(10);
        t->ag[i] = (struct idx_agreement){comms[c], a < 7 ? IDX_AGREEMENT_ACTIVE : a < 9 ? IDX_AGREEMENT_SUSPENDED
                                                                                        : IDX_AGREEMENT_TERMINATED,
                                          (int64_t)rn(500000), rn(2) ? "week" : "night"};
    }
}

static void set_key(struct tent *t)
{
    char k[sizeof t->key + sizeof t->site];
    snprintf(k, sizeof k, "%s/%s", t->site, t->st);
    assert_true(strlen(k) < sizeof t->key);
    memcpy(t->key, k, strlen(k) + 1);
}

static struct tent *new_tent(unsigned org)
{
    assert_true(nT < MAXT);
    struct tent *t = &T[nT++];
    memset(t, 0, sizeof *t);
    t->live = true;
    snprintf(t->site, sizeof t->site, "site-%u", next_site++);
    org_fields(t, org);
    random_fields(t);
    set_key(t);
    return t;
}

static struct idx_entry to_entry(const struct tent *t)
{
    return (struct idx_entry){
        .key = t->key, .site_id = t->site, .organisation_id = t->org,
        .organisation_name = t->orgname, .site_name = t->sitename, .service_type = t->st,
        .tiers = t->tiers, .status = (enum idx_status)t->status, .sector = t->sector,
        .region = t->region, .la = t->la, .lat = t->lat, .lon = t->lon,
        .has_precise = t->has_precise, .precise_lat = t->plat, .precise_lon = t->plon,
        .address_private = t->priv, .rating = (enum idx_rating)t->rating, .age_min = t->amin,
        .age_max = t->amax, .vacancies = t->vac, .vacancies_at = t->vac_at,
        .description = t->desc, .agreements = t->ag, .n_agreements = t->nag};
}

static void upsert_t(struct idx *ix, const struct tent *t)
{
    struct idx_entry e = to_entry(t);
    assert_true(idx_upsert(ix, &e));
}

/* A dataset of about n entries: organisations with 1-4 sites, some sites with two service types. */
static struct idx *make_dataset(size_t n, uint64_t seed)
{
    rng_state = seed;
    nT = 0;
    next_site = 0;
    unsigned org = 0;
    while (nT < n) {
        unsigned sites = 1 + rn(4);
        for (unsigned s = 0; s < sites && nT < n; s++) {
            struct tent *t = new_tent(org);
            if (rn(8) == 0 && nT < n) { /* the same site, another service type */
                struct tent *u = &T[nT++];
                *u = *t;
                const char *st2 = t->st == sts[1] ? sts[3] : sts[1];
                u->st = st2;
                if (tiers_by_type)
                    u->tiers = type_tiers(st2);
                set_key(u);
            }
        }
        org++;
    }
    struct idx_entry *es = calloc(nT, sizeof *es);
    for (size_t i = 0; i < nT; i++)
        es[i] = to_entry(&T[i]);
    struct idx *ix = idx_new();
    assert_true(idx_build(ix, es, nT));
    free(es);
    assert_int_equal(idx_count(ix), nT);
    return ix;
}

/* ---- the brute force ---- */

static void t_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s += 32;
}

/* Words: letters and digits; an apostrophe between two of them is dropped. */
static size_t t_words(const char *s, char out[][72], size_t max)
{
    size_t n = 0, len = strlen(s);
    char cur[72];
    size_t cl = 0;
    for (size_t i = 0; i <= len; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (alnum) {
            if (cl < 64)
                cur[cl++] = ch;
            continue;
        }
        if (ch == '\'' && cl > 0 && i + 1 < len &&
            ((s[i + 1] >= 'a' && s[i + 1] <= 'z') || (s[i + 1] >= 'A' && s[i + 1] <= 'Z') ||
             (s[i + 1] >= '0' && s[i + 1] <= '9')))
            continue;
        if (cl) {
            cur[cl] = '\0';
            t_lower(cur);
            if (n < max) {
                snprintf(out[n], sizeof out[n], "%s", cur);
                n++;
            }
            cl = 0;
        }
    }
    return n;
}

static bool t_text(const struct tent *t, const char *q, bool commissioner, int *score)
{
    char qw[32][72];
    size_t nq = 0;
    {
        char raw[32][72];
        size_t nr = t_words(q, raw, 32);
        for (size_t i = 0; i < nr; i++) {
            bool dup = false;
            for (size_t j = 0; j < nq; j++)
                dup = dup || strcmp(qw[j], raw[i]) == 0;
            if (!dup) {
                memcpy(qw[nq], raw[i], sizeof qw[nq]); /* both 72-byte words */
                nq++;
            }
        }
    }
    *score = 0;
    char f[3][64][72];
    size_t nf[3];
    nf[0] = t_words(t->orgname, f[0], 64);
    nf[1] = (!t->priv || commissioner) ? t_words(t->sitename, f[1], 64) : 0;
    nf[2] = t_words(t->desc, f[2], 64);
    for (size_t i = 0; i < nq; i++) {
        bool last = i == nq - 1 && strlen(qw[i]) >= 2;
        int best = 0;
        for (int k = 0; k < 3; k++)
            for (size_t j = 0; j < nf[k]; j++) {
                bool exact = strcmp(f[k][j], qw[i]) == 0;
                bool pre = last && strncmp(f[k][j], qw[i], strlen(qw[i])) == 0;
                int w = k < 2 ? (exact ? 3 : pre ? 2 : 0) : (exact || pre ? 1 : 0);
                if (w > best)
                    best = w;
            }
        if (!best)
            return false;
        *score += best;
    }
    return true;
}

static bool t_has_words(const char *q)
{
    char w[32][72];
    return q && t_words(q, w, 32) > 0;
}

struct tquery {
    struct idx_query q;
    const char *stv[4];
};

#define TF_ST 1
#define TF_REGION 2
#define TF_RATING 4
#define TF_OTHER 8

static unsigned t_fails(const struct tent *t, const struct idx_query *q, double *dist, int *score)
{
    unsigned f = 0;
    bool com = q->view == IDX_VIEW_COMMISSIONER;
    double lat = com && t->has_precise ? t->plat : t->lat, lon = com && t->has_precise ? t->plon : t->lon;
    if (q->n_service_types) {
        bool in = false;
        for (size_t i = 0; i < q->n_service_types; i++)
            in = in || strcmp(q->service_types[i], t->st) == 0;
        if (!in)
            f |= TF_ST;
    }
    if (q->region && !(t->region && strcmp(t->region, q->region) == 0))
        f |= TF_REGION;
    if (t->rating < (int)q->min_rating)
        f |= TF_RATING;
    if (q->status_mask && !(q->status_mask & (1u << t->status)))
        f |= TF_OTHER;
    if (q->tier && !(t->tiers & (1u << (q->tier - 1))))
        f |= TF_OTHER;
    *dist = NAN;
    if (q->has_near) {
        *dist = t_dist(q->near_lat, q->near_lon, lat, lon);
        if (!(*dist <= q->radius_km + 1e-6))
            f |= TF_OTHER;
    }
    if (q->commissioner) {
        bool ok = false;
        for (size_t i = 0; i < t->nag; i++)
            ok = ok || (strcmp(t->ag[i].commissioner, q->commissioner) == 0 &&
                        t->ag[i].status == IDX_AGREEMENT_ACTIVE);
        if (!ok)
            f |= TF_OTHER;
    }
    if (q->covers_la) {
        bool in_la = t->la && strcmp(t->la, q->covers_la) == 0;
        if (!in_la && !(t_dist(q->covers_lat, q->covers_lon, lat, lon) <= q->covers_radius_km + 1e-6))
            f |= TF_OTHER;
    }
    if (q->age >= 0 && !(t->amin >= 0 && t->amax >= 0 && t->amin <= q->age && q->age <= t->amax))
        f |= TF_OTHER;
    if (q->has_vacancies && !(t->vac > 0 && t->vac_at > q->now - q->vacancy_max_age_s))
        f |= TF_OTHER;
    if (q->sector && !(t->sector && strcmp(t->sector, q->sector) == 0))
        f |= TF_OTHER;
    *score = 0;
    if (t_has_words(q->q) && !t_text(t, q->q, com, score))
        f |= TF_OTHER;
    return f;
}

struct texp {
    const struct tent *t;
    double dist;
    int score;
    char name[300];
};

static enum idx_sort t_sort(const struct idx_query *q)
{
    if (q->sort != IDX_SORT_DEFAULT)
        return q->sort;
    return t_has_words(q->q) ? IDX_SORT_RELEVANCE : q->has_near ? IDX_SORT_DISTANCE : IDX_SORT_NAME;
}

static enum idx_sort cmp_sort;

static int t_cmp(const void *pa, const void *pb)
{
    const struct texp *a = pa, *b = pb;
    int r;
    switch (cmp_sort) {
    case IDX_SORT_DISTANCE:
        if (a->dist != b->dist)
            return a->dist < b->dist ? -1 : 1;
        break;
    case IDX_SORT_RATING:
        if (a->t->rating != b->t->rating)
            return a->t->rating > b->t->rating ? -1 : 1;
        if ((r = strcmp(a->name, b->name)))
            return r;
        break;
    case IDX_SORT_RELEVANCE:
        if (a->score != b->score)
            return a->score > b->score ? -1 : 1;
        if ((r = strcmp(a->name, b->name)))
            return r;
        break;
    default:
        if ((r = strcmp(a->name, b->name)))
            return r;
    }
    return strcmp(a->t->key, b->t->key);
}

struct tfacets {
    uint32_t total, rating[5];
    char st[16][32], region[16][32];
    uint32_t stn[16], regionn[16];
    size_t nst, nregion;
};

static void facet_add(char codes[][32], uint32_t *counts, size_t *n, const char *code)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(codes[i], code) == 0) {
            counts[i]++;
            return;
        }
    snprintf(codes[*n], sizeof codes[*n], "%s", code);
    counts[(*n)++] = 1;
}

/* Expected matches in order, and facets. Returns the count; *out is malloc'd. */
static size_t brute(const struct idx_query *q, struct texp **out, struct tfacets *fc)
{
    struct texp *e = malloc((nT + 1) * sizeof *e);
    size_t n = 0;
    memset(fc, 0, sizeof *fc);
    for (size_t i = 0; i < nT; i++) {
        const struct tent *t = &T[i];
        if (!t->live)
            continue;
        double d;
        int score;
        unsigned f = t_fails(t, q, &d, &score);
        if (f == 0) {
            e[n].t = t;
            e[n].dist = d;
            e[n].score = score;
            snprintf(e[n].name, sizeof e[n].name, "%s", t->orgname);
            t_lower(e[n].name);
            n++;
            fc->total++;
        }
        if ((f & ~TF_ST) == 0)
            facet_add(fc->st, fc->stn, &fc->nst, t->st);
        if ((f & ~TF_REGION) == 0 && t->region)
            facet_add(fc->region, fc->regionn, &fc->nregion, t->region);
        if ((f & ~TF_RATING) == 0)
            fc->rating[t->rating]++;
    }
    cmp_sort = t_sort(q);
    qsort(e, n, sizeof *e, t_cmp);
    *out = e;
    return n;
}

static void check_facets(const struct idx_result *r, const struct tfacets *fc)
{
    assert_int_equal(r->total, fc->total);
    for (int i = 0; i < 5; i++)
        assert_int_equal(r->rating_facets[i], fc->rating[i]);
    assert_int_equal(r->n_service_type_facets, fc->nst);
    for (size_t i = 0; i < r->n_service_type_facets; i++) {
        if (i)
            assert_true(strcmp(r->service_type_facets[i - 1].code, r->service_type_facets[i].code) < 0);
        bool found = false;
        for (size_t j = 0; j < fc->nst; j++)
            if (strcmp(fc->st[j], r->service_type_facets[i].code) == 0) {
                assert_int_equal(fc->stn[j], r->service_type_facets[i].count);
                found = true;
            }
        assert_true(found);
    }
    assert_int_equal(r->n_region_facets, fc->nregion);
    for (size_t i = 0; i < r->n_region_facets; i++) {
        bool found = false;
        for (size_t j = 0; j < fc->nregion; j++)
            if (strcmp(fc->region[j], r->region_facets[i].code) == 0) {
                assert_int_equal(fc->regionn[j], r->region_facets[i].count);
                found = true;
            }
        assert_true(found);
    }
}

static struct idx_result R; /* large: keep it off the stack */

/* Walks every page of q and checks the concatenation against the brute force: same entries,
   same order, same distances and scores; facets and total on every page. Returns pages. */
static size_t check_query(struct idx *ix, struct idx_query q)
{
    struct texp *exp;
    struct tfacets fc;
    size_t n = brute(&q, &exp, &fc);
    size_t got = 0, pages = 0;
    char cursor[IDX_CURSOR_MAX] = "";
    for (;;) {
        q.cursor = cursor;
        struct idx_error err;
        bool ok = idx_query(ix, &q, &R, &err);
        if (!ok)
            fail_msg("query refused: param %d %s", err.param, err.detail);
        pages++;
        check_facets(&R, &fc);
        assert_true(R.n <= q.limit);
        for (size_t i = 0; i < R.n; i++, got++) {
            assert_true(got < n);
            if (strcmp(R.hits[i].entry->key, exp[got].t->key) != 0)
                fail_msg("position %zu: got %s want %s (sort %d, n %zu)", got, R.hits[i].entry->key,
                         exp[got].t->key, cmp_sort, n);
            if (q.has_near)
                assert_true(fabs(R.hits[i].distance_km - exp[got].dist) <= 1e-9 * (1 + exp[got].dist));
            else
                assert_true(isnan(R.hits[i].distance_km));
            assert_int_equal(R.hits[i].score, exp[got].score);
        }
        if (!R.has_next) {
            assert_int_equal(R.next_cursor[0], '\0');
            break;
        }
        assert_int_equal(R.n, q.limit);
        assert_true(strlen(R.next_cursor) < IDX_CURSOR_MAX);
        for (const char *p = R.next_cursor; *p; p++) /* URL-safe */
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", *p));
        snprintf(cursor, sizeof cursor, "%s", R.next_cursor);
    }
    assert_int_equal(got, n);
    free(exp);
    return pages;
}

static const char *const qphrases[] = {"care", "car", "foster", "fost", "oak", "children's home",
                                       "mary's", "st marys", "hope house", "ho", "zzz", "c",
                                       "bright futures", "brig", "Leeds", "trust care", "home ca"};

static struct tquery random_query(void)
{
    struct tquery t;
    memset(&t, 0, sizeof t);
    struct idx_query *q = &t.q;
    q->age = -1;
    q->now = NOW;
    q->vacancy_max_age_s = WEEK;
    q->view = rn(2) ? IDX_VIEW_PUBLIC : IDX_VIEW_COMMISSIONER;
    if (q->view == IDX_VIEW_PUBLIC)
        q->status_mask = 1u << IDX_STATUS_ACTIVE;
    else
        q->status_mask = rn(2) ? 0 : (unsigned)rn(16);
    if (rn(5) < 2) {
        size_t k = 1 + rn(3);
        for (size_t i = 0; i < k; i++)
            t.stv[i] = rn(15) ? sts[rn(N_STS)] : "no-such-type";
        q->service_types = t.stv;
        q->n_service_types = k;
    }
    if (rn(5) == 0 || force_tier)
        q->tier = 1 + (int)rn(4);
    if (rn(2)) {
        const struct town *tw = &towns[rn(N_TOWNS)];
        q->has_near = true;
        q->near_lat = tw->lat + (rn(3) ? (ru() - 0.5) * 0.4 : 0);
        q->near_lon = tw->lon + (rn(3) ? (ru() - 0.5) * 0.6 : 0);
        static const double radii[] = {0, 1, 5, 12, 20, 35, 50, 80, 150, 400, INFINITY};
        q->radius_km = radii[rn(11)];
    }
    if (rn(7) == 0)
        q->commissioner = rn(10) ? comms[rn(8)] : "E99999999";
    if (rn(7) == 0) {
        const struct town *tw = &towns[rn(N_TOWNS)];
        q->covers_la = rn(10) ? tw->la : "E99999998";
        q->covers_lat = tw->lat;
        q->covers_lon = tw->lon;
        q->covers_radius_km = rn(3) ? ru() * 60 : 0;
    }
    if (rn(5) == 0)
        q->region = rn(10) ? towns[rn(N_TOWNS)].region : "E12000099";
    if (rn(3) == 0)
        q->min_rating = (enum idx_rating)rn(5);
    if (rn(5) == 0)
        q->age = (int)rn(19);
    if (rn(5) == 0)
        q->has_vacancies = true;
    if (rn(7) == 0)
        q->sector = rn(10) ? sectors[rn(3)] : "no-such-sector";
    if (rn(4) == 0)
        q->q = qphrases[rn(sizeof qphrases / sizeof qphrases[0])];
    unsigned s = rn(5);
    q->sort = s == 0 ? IDX_SORT_DEFAULT : s == 1 ? IDX_SORT_NAME : s == 2 ? IDX_SORT_RATING
                                                                 : s == 3 ? IDX_SORT_DISTANCE
                                                                          : IDX_SORT_RELEVANCE;
    if (q->sort == IDX_SORT_DISTANCE && !q->has_near)
        q->sort = IDX_SORT_RATING;
    if (q->sort == IDX_SORT_RELEVANCE && !t_has_words(q->q))
        q->sort = IDX_SORT_NAME;
    static const unsigned limits[] = {1, 3, 7, 20, 100};
    q->limit = limits[rn(5)];
    return t;
}

/* Runs random queries; small limits only where the walk stays short. */
static void random_queries(struct idx *ix, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        struct tquery t = random_query();
        t.q.service_types = t.stv;
        struct texp *exp;
        struct tfacets fc;
        size_t n = brute(&t.q, &exp, &fc);
        free(exp);
        if (n / t.q.limit > 60)
            t.q.limit = 100;
        check_query(ix, t.q);
    }
}

/* ---- tests: random ---- */

static void test_random_queries(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(3000, 42);
    random_queries(ix, 700);
    idx_free(ix);
}

static void test_random_small_dataset(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(150, 7);
    random_queries(ix, 400);
    idx_free(ix);
}

/* Tiers that follow from the service type: the index folds a tier filter into its class
   tables. One entry whose tiers differ from its type's makes that type mixed, and the filter
   is tested entry by entry again; removing it restores the fold. Every answer against the
   brute force, including facets. */
static void test_tier_from_service_type(void **state)
{
    (void)state;
    tiers_by_type = true;
    struct idx *ix = make_dataset(2500, 4242);
    force_tier = true;
    random_queries(ix, 300);

    struct tent *odd = NULL;
    for (size_t i = 0; i < nT && !odd; i++)
        if (T[i].live && T[i].status == 0)
            odd = &T[i];
    assert_non_null(odd);
    unsigned was = odd->tiers;
    odd->tiers = (~was) & 0xFu; /* every tier it had, it now lacks, and the reverse */
    upsert_t(ix, odd);
    random_queries(ix, 300);

    odd->tiers = was;
    upsert_t(ix, odd);
    random_queries(ix, 200);
    force_tier = false;
    tiers_by_type = false;
    idx_free(ix);
}

/* Each filter alone, then pairs, over the same data. */
static void test_each_filter_alone_and_in_pairs(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(2500, 1234);
    const char *st2[] = {"independent-fostering", "adoption"};
    struct idx_query base = {.age = -1, .now = NOW, .vacancy_max_age_s = WEEK, .limit = 100,
                             .view = IDX_VIEW_COMMISSIONER};
    struct idx_query f[12];
    for (int i = 0; i < 12; i++)
        f[i] = base;
    f[0].service_types = st2, f[0].n_service_types = 2;
    f[1].tier = 3;
    f[2].has_near = true, f[2].near_lat = 53.819, f[2].near_lon = -1.573, f[2].radius_km = 50;
    f[3].commissioner = "E08000035";
    f[4].covers_la = "E08000035", f[4].covers_lat = 53.8008, f[4].covers_lon = -1.5491,
    f[4].covers_radius_km = 25;
    f[5].region = "E12000003";
    f[6].min_rating = IDX_RATING_GOOD;
    f[7].age = 14;
    f[8].has_vacancies = true;
    f[9].sector = "voluntary";
    f[10].status_mask = 1u << IDX_STATUS_ACTIVE | 1u << IDX_STATUS_SUSPENDED;
    f[11].q = "care home";
    for (int i = 0; i < 12; i++) {
        check_query(ix, f[i]);
        for (int j = i + 1; j < 12; j++) {
            struct idx_query q = f[i];
#define TAKE(field) if (memcmp(&f[j].field, &base.field, sizeof base.field)) q.field = f[j].field
            TAKE(service_types);
            TAKE(n_service_types);
            TAKE(tier);
            TAKE(has_near);
            TAKE(near_lat);
            TAKE(near_lon);
            TAKE(radius_km);
            TAKE(commissioner);
            TAKE(covers_la);
            TAKE(covers_lat);
            TAKE(covers_lon);
            TAKE(covers_radius_km);
            TAKE(region);
            TAKE(min_rating);
            TAKE(age);
            TAKE(has_vacancies);
            TAKE(sector);
            TAKE(status_mask);
            TAKE(q);
#undef TAKE
            for (int s = 0; s < 4; s++) {
                q.sort = (enum idx_sort[]){IDX_SORT_DEFAULT, IDX_SORT_NAME, IDX_SORT_RATING,
                                           IDX_SORT_DISTANCE}[s];
                if (q.sort == IDX_SORT_DISTANCE && !q.has_near)
                    continue;
                q.view = s % 2 ? IDX_VIEW_PUBLIC : IDX_VIEW_COMMISSIONER;
                check_query(ix, q);
            }
        }
    }
    /* all together */
    struct idx_query all = f[0];
    all.has_near = true, all.near_lat = 53.4808, all.near_lon = -2.2426, all.radius_km = 120;
    all.min_rating = IDX_RATING_REQUIRES_IMPROVEMENT;
    all.status_mask = 1u << IDX_STATUS_ACTIVE;
    all.tier = 2;
    check_query(ix, all);
    idx_free(ix);
}

/* Random updates of every kind, then the same comparisons: every auxiliary structure must
   have followed. */
static void test_random_updates_keep_structures_consistent(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(1500, 99);
    unsigned org_next = 10000;
    for (int round = 0; round < 4; round++) {
        for (int op = 0; op < 600; op++) {
            unsigned k = rn(100);
            if (k < 25) { /* new entry */
                struct tent *t = new_tent(rn(3) ? org_next++ : rn(400));
                struct idx_entry e = to_entry(t);
                assert_true(idx_upsert(ix, &e));
            } else if (k < 70) { /* change an existing one: any field */
                struct tent *t = &T[rn((unsigned)nT)];
                if (!t->live)
                    continue;
                unsigned what = rn(12);
                if (what == 0)
                    random_fields(t); /* everything but key, site and organisation */
                else if (what == 1)
                    t->status = (int)rn(4);
                else if (what == 2)
                    t->rating = (int)rn(5);
                else if (what == 3)
                    phrase(t->orgname, sizeof t->orgname, 1, 3);
                else if (what == 4)
                    t->vac = (int)rn(4), t->vac_at = NOW - (int64_t)rn(14 * 86400);
                else if (what == 5)
                    t->lat += 0.05, t->plat -= 0.05;
                else if (what == 6)
                    phrase(t->desc, sizeof t->desc, 0, 6);
                else if (what == 7)
                    snprintf(t->org, sizeof t->org, "org-%u", rn(400));
                else if (what == 8)
                    t->nag = 0;
                else if (what == 9) /* the class unchanged: sector, ages, an agreement's status */
                    t->sector = rn(6) == 0 ? NULL : sectors[rn(3)];
                else if (what == 10)
                    t->amin = (int)rn(13), t->amax = t->amin + (int)rn(7);
                else if (t->nag)
                    t->ag[0].status = t->ag[0].status == IDX_AGREEMENT_ACTIVE ? IDX_AGREEMENT_SUSPENDED
                                                                              : IDX_AGREEMENT_ACTIVE;
                /* the key's service type is fixed: keep the model's st equal to the key's */
                const char *slash = strchr(t->key, '/');
                for (size_t i = 0; i < N_STS; i++)
                    if (strcmp(slash + 1, sts[i]) == 0)
                        t->st = sts[i];
                struct idx_entry e = to_entry(t);
                assert_true(idx_upsert(ix, &e));
            } else if (k < 88) {
                struct tent *t = &T[rn((unsigned)nT)];
                assert_int_equal(idx_remove(ix, t->key), t->live);
                t->live = false;
            } else if (k < 94) {
                struct tent *t = &T[rn((unsigned)nT)];
                size_t want = 0;
                char site[32];
                snprintf(site, sizeof site, "%s", t->site);
                for (size_t i = 0; i < nT; i++)
                    if (T[i].live && strcmp(T[i].site, site) == 0)
                        T[i].live = false, want++;
                assert_int_equal(idx_remove_site(ix, site), want);
            } else {
                struct tent *t = &T[rn((unsigned)nT)];
                size_t want = 0;
                char org[32];
                snprintf(org, sizeof org, "%s", t->org);
                for (size_t i = 0; i < nT; i++)
                    if (T[i].live && strcmp(T[i].org, org) == 0)
                        T[i].live = false, want++;
                assert_int_equal(idx_remove_organisation(ix, org), want);
            }
        }
        size_t live = 0;
        for (size_t i = 0; i < nT; i++) {
            const struct idx_entry *e = idx_get(ix, T[i].key);
            if (!T[i].live) {
                bool other_live = false; /* a re-inserted key lives in a later model row */
                for (size_t j = 0; j < nT; j++)
                    other_live = other_live || (T[j].live && strcmp(T[j].key, T[i].key) == 0);
                if (!other_live)
                    assert_null(e);
                continue;
            }
            live++;
            assert_non_null(e);
            assert_string_equal(e->organisation_name, T[i].orgname);
            assert_string_equal(e->service_type, T[i].st);
            assert_int_equal(e->rating, T[i].rating);
            assert_int_equal(e->vacancies, T[i].vac);
            assert_int_equal(e->n_agreements, T[i].nag);
        }
        assert_int_equal(idx_count(ix), live);
        random_queries(ix, 150);
        /* one sector, age or commissioner alone (their own class counts), with a class filter */
        struct idx_query q = {.age = -1, .now = NOW, .vacancy_max_age_s = WEEK, .limit = 100,
                              .min_rating = IDX_RATING_REQUIRES_IMPROVEMENT};
        for (size_t i = 0; i < 3; i++) {
            q.sector = sectors[i];
            check_query(ix, q);
        }
        q.sector = NULL;
        for (int a = 0; a < 20; a += 3) {
            q.age = a;
            check_query(ix, q);
        }
        q.age = -1;
        for (size_t i = 0; i < sizeof comms / sizeof comms[0]; i++) {
            q.commissioner = comms[i];
            check_query(ix, q);
        }
    }
    idx_free(ix);
}

/* The same data inserted one entry at a time, in shuffled order (ordered-set blocks fill and
   split, slots come in another order) answers exactly like the bulk build. */
static void test_upserts_one_by_one(void **state)
{
    (void)state;
    struct idx *bulk = make_dataset(2500, 4242);
    idx_free(bulk);
    struct idx *ix = idx_new();
    size_t *order = malloc(nT * sizeof *order);
    for (size_t i = 0; i < nT; i++)
        order[i] = i;
    for (size_t i = nT - 1; i > 0; i--) {
        size_t j = rn((unsigned)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < nT; i++)
        upsert_t(ix, &T[order[i]]);
    free(order);
    assert_int_equal(idx_count(ix), nT);
    random_queries(ix, 200);
    idx_free(ix);
}

/* ---- tests: hand-made ---- */

static struct idx_query q0(void)
{
    return (struct idx_query){.age = -1, .now = NOW, .vacancy_max_age_s = WEEK, .limit = 10};
}

static struct tent *plain(const char *key, double lat, double lon)
{
    struct tent *t = &T[nT++];
    memset(t, 0, sizeof *t);
    t->live = true;
    snprintf(t->key, sizeof t->key, "%s", key);
    snprintf(t->site, sizeof t->site, "s-%s", key);
    snprintf(t->org, sizeof t->org, "o-%s", key);
    snprintf(t->orgname, sizeof t->orgname, "Org %s", key);
    t->st = sts[1];
    t->lat = t->plat = lat;
    t->lon = t->plon = lon;
    t->amin = t->amax = -1;
    t->vac = -1;
    t->rating = IDX_RATING_GOOD;
    return t;
}

static void test_empty_index(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    struct idx_query q = q0();
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    assert_int_equal(R.n, 0);
    assert_false(R.has_next);
    assert_int_equal(R.n_service_type_facets, 0);
    q.has_near = true, q.near_lat = 53.8, q.near_lon = -1.5, q.radius_km = 10;
    q.q = "care";
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    struct idx_error err;
    q.cursor = "garbage";
    assert_false(idx_query(ix, &q, &R, &err));
    assert_int_equal(err.param, IDX_PARAM_CURSOR);
    assert_false(idx_remove(ix, "nope"));
    assert_int_equal(idx_remove_site(ix, "nope"), 0);
    assert_null(idx_get(ix, "nope"));
    assert_true(idx_build(ix, NULL, 0));
    idx_free(ix);
}

static void test_radius_zero_and_exact_boundary(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    const double lat0 = 53.8, lon0 = -1.55;
    upsert_t(ix, plain("centre", lat0, lon0));
    /* along the meridian at 1, 10, 50 km; and one just beyond 10 km */
    double step = 1.0 / 6371.0088 * 180 / 3.14159265358979323846;
    upsert_t(ix, plain("km1", lat0 + step, lon0));
    upsert_t(ix, plain("km10", lat0 + 10 * step, lon0));
    upsert_t(ix, plain("km10b", lat0 + 10.001 * step, lon0));
    upsert_t(ix, plain("km50", lat0, lon0 + 50 * step / cos(lat0 * 3.14159265358979323846 / 180)));
    struct idx_query q = q0();
    q.has_near = true, q.near_lat = lat0, q.near_lon = lon0, q.radius_km = 0;
    check_query(ix, q);
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    assert_string_equal(R.hits[0].entry->key, "centre");
    assert_true(R.hits[0].distance_km == 0);
    /* exactly on the boundary, as this test's haversine measures it: in */
    const char *keys[] = {"km1", "km10", "km50"};
    for (int i = 0; i < 3; i++) {
        const struct tent *t = NULL;
        for (size_t j = 0; j < nT; j++)
            if (strcmp(T[j].key, keys[i]) == 0)
                t = &T[j];
        double d = t_dist(lat0, lon0, t->lat, t->lon);
        q.radius_km = d;
        assert_true(idx_query(ix, &q, &R, NULL));
        assert_int_equal(R.total, (size_t)(i == 0 ? 2 : i == 1 ? 3 : 5));
        assert_string_equal(R.hits[R.n - 1].entry->key, keys[i]);
        q.radius_km = d - 1e-4; /* 10 cm short: out */
        assert_true(idx_query(ix, &q, &R, NULL));
        assert_int_equal(R.total, (size_t)(i == 0 ? 1 : i == 1 ? 2 : 4));
        check_query(ix, q);
    }
    q.radius_km = INFINITY;
    check_query(ix, q);
    /* covers with radius 0 at a point: that point only (plus the LA's sites: none here) */
    q = q0();
    q.covers_la = "E08000035", q.covers_lat = lat0, q.covers_lon = lon0, q.covers_radius_km = 0;
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    idx_free(ix);
}

/* Entries a hair inside and outside a disc's edge, in every direction, many to a leaf: a count
   over the disc (class filters only, so whole nodes count by their classes and the edge's
   leaves by their single-precision points) must settle each as the exact point would. The
   offsets straddle the points' error (about 0.3 m) and the margin that covers it (0.6 m). */
static void test_disc_edge_to_the_centimetre(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    const double pi = 3.14159265358979323846, R_KM = 6371.0088;
    const double lat0 = 51.5, lon0 = -0.12, r = 10.0;
    const double off_m[] = {-5, -1, -0.5, -0.3, -0.01, 0.01, 0.3, 0.5, 1, 5};
    const size_t n_off = sizeof off_m / sizeof *off_m;
    size_t inside = 0, k = 0;
    for (int b = 0; b < 360; b++) {
        for (size_t o = 0; o < n_off; o++) {
            /* + b * 10 micrometres: no two at one distance, so the distance order is one */
            double th = b * pi / 180, p1 = lat0 * pi / 180;
            double dl = (r + (off_m[o] + b * 1e-5) / 1000) / R_KM;
            double p2 = asin(sin(p1) * cos(dl) + cos(p1) * sin(dl) * cos(th));
            double l2 =
                lon0 * pi / 180 + atan2(sin(th) * sin(dl) * cos(p1), cos(dl) - sin(p1) * sin(p2));
            char key[32];
            snprintf(key, sizeof key, "e%zu", k++);
            struct tent *t = plain(key, p2 * 180 / pi, l2 * 180 / pi);
            /* this test's own haversine decides; the 1 mm tolerance is far below the offsets */
            inside += t_dist(lat0, lon0, t->lat, t->lon) <= r;
            upsert_t(ix, t);
        }
    }
    assert_int_equal(inside, 360 * 5);
    struct idx_query q = q0();
    q.has_near = true, q.near_lat = lat0, q.near_lon = lon0, q.radius_km = r;
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, inside);
    check_query(ix, q);
    q.service_types = (const char *const[]){sts[1]}, q.n_service_types = 1;
    q.view = IDX_VIEW_COMMISSIONER;
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, inside);
    check_query(ix, q);
    idx_free(ix);
}

static void test_all_filtered_out(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(500, 5);
    struct idx_query q = q0();
    q.sector = "no-such-sector";
    check_query(ix, q);
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    assert_int_equal(R.n_service_type_facets, 0);
    q = q0();
    q.commissioner = "E99999999";
    check_query(ix, q);
    q = q0();
    q.q = "qqqqqq";
    check_query(ix, q);
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    q = q0();
    q.has_near = true, q.near_lat = -33.9, q.near_lon = 151.2, q.radius_km = 100; /* Sydney */
    check_query(ix, q);
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    /* facets still count what only the facet's own filter excludes */
    q = q0();
    const char *none[] = {"no-such-type"};
    q.service_types = none, q.n_service_types = 1;
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    assert_true(R.n_service_type_facets > 0);
    check_query(ix, q);
    idx_free(ix);
}

/* Many entries with one name, one rating and one point: the key decides, and every page
   walk (limit 1, 7, 100) returns each exactly once in key order. */
static void test_ties_and_pagination_walks(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    for (int i = 0; i < 230; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%03d", (i * 37) % 230);
        struct tent *t = plain(key, 52.0, -1.0);
        snprintf(t->orgname, sizeof t->orgname, "%s", i % 2 ? "Same Name" : "same name");
        upsert_t(ix, t);
    }
    static const unsigned limits[] = {1, 7, 100};
    for (int li = 0; li < 3; li++)
        for (int s = 0; s < 3; s++) {
            struct idx_query q = q0();
            q.limit = limits[li];
            q.has_near = true, q.near_lat = 52.1, q.near_lon = -1.0, q.radius_km = 50;
            q.sort = (enum idx_sort[]){IDX_SORT_DISTANCE, IDX_SORT_NAME, IDX_SORT_RATING}[s];
            size_t pages = check_query(ix, q);
            assert_int_equal(pages, (230 + limits[li] - 1) / limits[li]);
        }
    /* and a random dataset walked at limit 1, 7 and 100 */
    idx_free(ix);
    ix = make_dataset(800, 77);
    for (int li = 0; li < 3; li++) {
        struct idx_query q = q0();
        q.limit = limits[li];
        const char *st1[] = {"independent-fostering"};
        q.service_types = st1, q.n_service_types = 1;
        for (int s = 0; s < 4; s++) {
            q.sort = (enum idx_sort[]){IDX_SORT_NAME, IDX_SORT_RATING, IDX_SORT_DISTANCE, IDX_SORT_RELEVANCE}[s];
            q.has_near = s == 2;
            q.near_lat = 52.5, q.near_lon = -1.5, q.radius_km = INFINITY;
            q.q = s == 3 ? "care" : NULL;
            check_query(ix, q);
        }
    }
    idx_free(ix);
}

/* A dense cluster (one point, and a few hundred metres around it) splits leaves down to the
   finest level; removing it entry by entry collapses them again. Queries stay exact throughout. */
static void test_tree_split_and_collapse(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    rng_state = 31337;
    for (int i = 0; i < 400; i++) {
        char key[16];
        snprintf(key, sizeof key, "c%03d", i);
        double jitter = i % 2 ? 0 : (ru() - 0.5) * 0.01;
        struct tent *t = plain(key, 53.5 + jitter, -2.2 + (i % 3 ? 0 : (ru() - 0.5) * 0.8));
        t->rating = (int)rn(5);
        t->st = sts[rn(N_STS)];
        upsert_t(ix, t);
    }
    struct idx_query q = q0();
    q.has_near = true, q.near_lat = 53.5, q.near_lon = -2.2, q.radius_km = 2;
    q.min_rating = IDX_RATING_INADEQUATE;
    q.limit = 7;
    struct idx_query wide = q;
    wide.radius_km = 30;
    wide.sort = IDX_SORT_RATING;
    check_query(ix, q);
    check_query(ix, wide);
    struct idx_stats st;
    idx_stats(ix, &st);
    assert_true(st.nodes > 16); /* split */
    size_t order[400];
    for (size_t i = 0; i < 400; i++)
        order[i] = i;
    for (size_t i = 399; i > 0; i--) {
        size_t j = rn((unsigned)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < 400; k++) {
        assert_true(idx_remove(ix, T[order[k]].key));
        T[order[k]].live = false;
        if (k % 25 == 0 || k > 380) {
            check_query(ix, q);
            check_query(ix, wide);
        }
    }
    idx_stats(ix, &st);
    assert_int_equal(st.nodes, 0);
    assert_int_equal(idx_count(ix), 0);
    idx_free(ix);
}

/* Ages: the bitmap index holds ages 0..25; older ones are tested entry by entry. */
static void test_ages_beyond_the_bitmap(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    rng_state = 2718;
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof key, "a%03d", i);
        struct tent *t = plain(key, 51 + ru(), -2 + ru());
        t->amin = rn(8) ? (int)rn(40) : -1;
        t->amax = rn(8) ? (t->amin < 0 ? 0 : t->amin) + (int)rn(30) : -1;
        t->sector = sectors[rn(3)];
        upsert_t(ix, t);
    }
    for (int age = 0; age <= 70; age += 3) {
        struct idx_query q = q0();
        q.age = age;
        q.limit = 100;
        check_query(ix, q);
        q.sector = "voluntary";
        q.sort = IDX_SORT_RATING;
        check_query(ix, q);
    }
    idx_free(ix);
}

static void test_cursors_refused(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(600, 11);
    struct idx_query q = q0();
    q.limit = 5;
    q.sort = IDX_SORT_NAME;
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_true(R.has_next);
    char name_cursor[IDX_CURSOR_MAX];
    snprintf(name_cursor, sizeof name_cursor, "%s", R.next_cursor);
    struct idx_error err;

    /* another sort */
    struct idx_query o = q;
    o.sort = IDX_SORT_RATING;
    o.cursor = name_cursor;
    assert_false(idx_query(ix, &o, &R, &err));
    assert_int_equal(err.param, IDX_PARAM_CURSOR);
    assert_non_null(err.detail);
    /* other filters */
    o = q;
    o.min_rating = IDX_RATING_GOOD;
    o.cursor = name_cursor;
    assert_false(idx_query(ix, &o, &R, &err));
    assert_int_equal(err.param, IDX_PARAM_CURSOR);
    o = q;
    o.view = IDX_VIEW_COMMISSIONER;
    o.cursor = name_cursor;
    assert_false(idx_query(ix, &o, &R, &err));
    /* a change to any one filter makes the cursor foreign */
    {
        const char *stx[] = {"adoption"};
        for (int i = 0; i < 16; i++) {
            o = q;
            switch (i) {
            case 0: o.service_types = stx, o.n_service_types = 1; break;
            case 1: o.tier = 2; break;
            case 2: o.has_near = true, o.radius_km = INFINITY; break;
            case 3: o.commissioner = "E08000035"; break;
            case 4: o.covers_la = "E08000035", o.covers_radius_km = 1; break;
            case 5: o.region = "E12000003"; break;
            case 6: o.age = 3; break;
            case 7: o.has_vacancies = true; break;
            case 8: o.sector = "private"; break;
            case 9: o.status_mask = 1; break;
            case 10: o.q = "care"; o.sort = IDX_SORT_NAME; break;
            case 11: o.view = IDX_VIEW_COMMISSIONER; break;
            case 12: o.sort = IDX_SORT_RATING; break;
            case 13: o.min_rating = IDX_RATING_INADEQUATE; break;
            case 14: o.has_vacancies = true, o.vacancy_max_age_s = 1; break;
            default: o.q = "car"; break;
            }
            o.cursor = name_cursor;
            assert_false(idx_query(ix, &o, &R, &err));
            assert_int_equal(err.param, IDX_PARAM_CURSOR);
        }
        /* and radius, near and covers values */
        struct idx_query n1 = q0(), n2;
        n1.has_near = true, n1.near_lat = 52, n1.near_lon = -1, n1.radius_km = 100, n1.limit = 2;
        n1.covers_la = "E08000025", n1.covers_lat = 52.5, n1.covers_lon = -1.9, n1.covers_radius_km = 80;
        assert_true(idx_query(ix, &n1, &R, NULL));
        assert_true(R.has_next);
        char nc[IDX_CURSOR_MAX];
        snprintf(nc, sizeof nc, "%s", R.next_cursor);
        for (int i = 0; i < 6; i++) {
            n2 = n1;
            double *fld[] = {&n2.near_lat, &n2.near_lon, &n2.radius_km, &n2.covers_lat, &n2.covers_lon,
                             &n2.covers_radius_km};
            *fld[i] += 0.5;
            n2.cursor = nc;
            assert_false(idx_query(ix, &n2, &R, &err));
            assert_int_equal(err.param, IDX_PARAM_CURSOR);
        }
        n2 = n1;
        n2.cursor = nc;
        assert_true(idx_query(ix, &n2, &R, &err));
    }
    /* a different limit is fine */
    o = q;
    o.limit = 50;
    o.cursor = name_cursor;
    assert_true(idx_query(ix, &o, &R, &err));
    /* the same service types in another order are the same query */
    const char *ab[] = {"adoption", "childrens-home"}, *ba[] = {"childrens-home", "adoption", "adoption"};
    o = q;
    o.service_types = ab, o.n_service_types = 2;
    assert_true(idx_query(ix, &o, &R, NULL));
    assert_true(R.has_next);
    char c2[IDX_CURSOR_MAX];
    snprintf(c2, sizeof c2, "%s", R.next_cursor);
    o.service_types = ba, o.n_service_types = 3;
    o.cursor = c2;
    assert_true(idx_query(ix, &o, &R, &err));

    /* garbage, and every corruption of a good cursor */
    const char *bad[] = {"x", "1", "1n", "1n00000000", "1n00000000.", "2n00000000.QQ.QQ", "%%%", "1n0000000g.QQ.QQ",
                         "1nffffffff.QQ.QQ", "1n00000000.QQ.QQ.QQ", "\xff\xfe", "1d00000000.zz.QQ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = q;
        o.cursor = bad[i];
        assert_false(idx_query(ix, &o, &R, &err));
        assert_int_equal(err.param, IDX_PARAM_CURSOR);
    }
    size_t len = strlen(name_cursor);
    for (size_t i = 0; i < len; i++) {
        char m[IDX_CURSOR_MAX];
        snprintf(m, sizeof m, "%s", name_cursor);
        for (const char *rep = "A_.0z!"; *rep; rep++) {
            if (m[i] == *rep)
                continue;
            m[i] = *rep;
            o = q;
            o.cursor = m;
            if (idx_query(ix, &o, &R, &err)) /* a corrupted name or key may still decode: then it */
                assert_true(R.n <= q.limit); /* is a valid position, and the walk goes on from it */
            else
                assert_int_equal(err.param, IDX_PARAM_CURSOR);
        }
        char t[IDX_CURSOR_MAX];
        memcpy(t, name_cursor, i); /* truncated */
        t[i] = '\0';
        o = q;
        o.cursor = t;
        if (i > 0 && !idx_query(ix, &o, &R, &err))
            assert_int_equal(err.param, IDX_PARAM_CURSOR);
    }
    char *huge = malloc(5000);
    memset(huge, 'A', 4999);
    huge[4999] = '\0';
    memcpy(huge, name_cursor, 11);
    o = q;
    o.cursor = huge;
    assert_false(idx_query(ix, &o, &R, &err));
    assert_int_equal(err.param, IDX_PARAM_CURSOR);
    free(huge);
    /* random bytes */
    for (int i = 0; i < 2000; i++) {
        char m[64];
        size_t n = 1 + rn(60);
        for (size_t j = 0; j < n; j++)
            m[j] = (char)(1 + rn(255));
        m[n] = '\0';
        o = q;
        o.cursor = m;
        if (!idx_query(ix, &o, &R, &err))
            assert_int_equal(err.param, IDX_PARAM_CURSOR);
    }
    /* a distance cursor with a negative or infinite distance */
    o = q0();
    o.has_near = true, o.near_lat = 52, o.near_lon = -1, o.radius_km = 100, o.limit = 2;
    assert_true(idx_query(ix, &o, &R, NULL));
    assert_true(R.has_next);
    char dc[IDX_CURSOR_MAX];
    snprintf(dc, sizeof dc, "%s", R.next_cursor);
    memcpy(dc + 11, "fff0000000000000", 16); /* -inf */
    o.cursor = dc;
    assert_false(idx_query(ix, &o, &R, &err));
    memcpy(dc + 11, "7ff8000000000000", 16); /* NaN */
    assert_false(idx_query(ix, &o, &R, &err));
    assert_int_equal(err.param, IDX_PARAM_CURSOR);
    idx_free(ix);
}

static void test_invalid_queries(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(50, 3);
    struct idx_error err;
    struct idx_query q;
#define BAD(stmt, p)                                   \
    do {                                               \
        q = q0();                                      \
        stmt;                                          \
        assert_false(idx_query(ix, &q, &R, &err));     \
        assert_int_equal(err.param, p);                \
    } while (0)
    BAD(q.limit = 0, IDX_PARAM_LIMIT);
    BAD(q.limit = 101, IDX_PARAM_LIMIT);
    BAD(q.tier = 5, IDX_PARAM_TIER);
    BAD(q.tier = -1, IDX_PARAM_TIER);
    BAD((q.has_near = true, q.near_lat = 91, q.radius_km = 1), IDX_PARAM_NEAR);
    BAD((q.has_near = true, q.near_lon = NAN, q.radius_km = 1), IDX_PARAM_NEAR);
    BAD((q.has_near = true, q.radius_km = -1), IDX_PARAM_RADIUS);
    BAD((q.has_near = true, q.radius_km = NAN), IDX_PARAM_RADIUS);
    BAD((q.has_near = true, q.radius_km = 1e6), IDX_PARAM_RADIUS);
    BAD((q.covers_la = "E1", q.covers_radius_km = INFINITY), IDX_PARAM_COVERS);
    BAD((q.covers_la = "E1", q.covers_lat = 100), IDX_PARAM_COVERS);
    BAD(q.min_rating = (enum idx_rating)9, IDX_PARAM_MIN_RATING);
    BAD(q.age = 300, IDX_PARAM_AGE);
    BAD(q.age = -2, IDX_PARAM_AGE);
    BAD((q.has_vacancies = true, q.vacancy_max_age_s = -1), IDX_PARAM_VACANCIES);
    BAD(q.status_mask = 16, IDX_PARAM_STATUS);
    BAD(q.sort = IDX_SORT_DISTANCE, IDX_PARAM_SORT);
    BAD(q.sort = IDX_SORT_RELEVANCE, IDX_PARAM_SORT);
    BAD((q.sort = IDX_SORT_RELEVANCE, q.q = " ,, '"), IDX_PARAM_SORT);
    BAD(q.sort = (enum idx_sort)17, IDX_PARAM_SORT);
    BAD(q.view = (enum idx_view)3, IDX_PARAM_VIEW);
    BAD(q.q = "a b c d e f g h i j k l m n o p q", IDX_PARAM_Q);
    char longq[1200];
    memset(longq, 'a', sizeof longq - 1);
    longq[sizeof longq - 1] = '\0';
    BAD(q.q = longq, IDX_PARAM_Q);
#undef BAD
    /* 16 words, repeated words, an unbounded radius: fine */
    q = q0();
    q.q = "a b c d e f g h i j k l m n o p p p";
    assert_true(idx_query(ix, &q, &R, &err));
    q = q0();
    q.has_near = true, q.radius_km = INFINITY;
    assert_true(idx_query(ix, &q, &R, &err));
    assert_int_equal(R.total, idx_count(ix));
    idx_free(ix);
}

static void test_invalid_entries(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    struct tent *t = plain("good", 52, -1);
    upsert_t(ix, t);
    struct idx_entry e;
#define BADE(stmt)                                     \
    do {                                               \
        e = to_entry(t);                               \
        stmt;                                          \
        assert_false(idx_upsert(ix, &e));              \
    } while (0)
    BADE(e.key = NULL);
    BADE(e.key = "");
    BADE(e.site_id = "");
    BADE(e.organisation_id = NULL);
    BADE(e.organisation_name = "");
    BADE(e.service_type = NULL);
    BADE(e.lat = 90.5);
    BADE(e.lon = -181);
    BADE(e.lat = NAN);
    BADE((e.has_precise = true, e.precise_lon = INFINITY));
    BADE(e.tiers = 16);
    BADE(e.status = (enum idx_status)4);
    BADE(e.rating = (enum idx_rating)5);
    BADE(e.age_min = -2);
    BADE((e.age_min = 10, e.age_max = 5));
    BADE(e.age_max = 255);
    BADE(e.vacancies = -2);
    struct idx_agreement two[2] = {{"E1", IDX_AGREEMENT_ACTIVE, 100, "week"}, {"E1", IDX_AGREEMENT_ACTIVE, 5, "week"}};
    BADE((e.agreements = two, e.n_agreements = 2));
    struct idx_agreement neg = {"E1", IDX_AGREEMENT_ACTIVE, -1, "week"};
    BADE((e.agreements = &neg, e.n_agreements = 1));
    BADE((e.agreements = NULL, e.n_agreements = 1));
    char big[1100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    BADE(e.organisation_name = big);
    BADE(e.key = big);
#undef BADE
    assert_int_equal(idx_count(ix), 1);
    /* too many service types: the 33rd is refused */
    for (int i = 0; i < 40; i++) {
        char st[16], key[16];
        snprintf(st, sizeof st, "type-%d", i);
        snprintf(key, sizeof key, "key-%d", i);
        e = to_entry(t);
        e.key = key;
        e.service_type = st;
        bool ok = idx_upsert(ix, &e);
        assert_int_equal(ok, i < 31); /* "independent-fostering" holds one id already */
    }
    /* build: a duplicate key refuses the whole build and leaves the index as it was */
    size_t before = idx_count(ix);
    struct idx_entry es[2] = {to_entry(t), to_entry(t)};
    assert_false(idx_build(ix, es, 2));
    assert_int_equal(idx_count(ix), before);
    es[1].key = "other";
    es[1].lat = 100;
    assert_false(idx_build(ix, es, 2));
    assert_int_equal(idx_count(ix), before);
    es[1].lat = 52;
    assert_true(idx_build(ix, es, 2));
    assert_int_equal(idx_count(ix), 2);
    idx_free(ix);
}

/* Unrelated updates between pages: every entry that matches throughout is returned exactly
   once, in order. */
static void test_updates_between_pages(void **state)
{
    (void)state;
    for (int s = 0; s < 4; s++) {
        struct idx *ix = make_dataset(1200, 500 + (uint64_t)s);
        struct idx_query q = q0();
        const char *st1[] = {"independent-fostering", "adoption"};
        q.service_types = st1, q.n_service_types = 2;
        q.limit = 7;
        q.sort = (enum idx_sort[]){IDX_SORT_NAME, IDX_SORT_RATING, IDX_SORT_DISTANCE, IDX_SORT_RELEVANCE}[s];
        q.has_near = true, q.near_lat = 52.9, q.near_lon = -1.2, q.radius_km = s == 2 ? 150 : INFINITY;
        q.q = s == 3 ? "care" : NULL;
        struct texp *exp;
        struct tfacets fc;
        size_t n = brute(&q, &exp, &fc);
        char **stable = calloc(n, sizeof *stable);
        for (size_t i = 0; i < n; i++)
            stable[i] = strdup(exp[i].t->key);
        free(exp);
        bool *seen = calloc(n, sizeof *seen);
        char cursor[IDX_CURSOR_MAX] = "", seen_keys[4000][48];
        size_t n_seen = 0;
        bool *touched = calloc(n, sizeof *touched); /* removed or changed in a sort field */
        unsigned org_next = 50000;
        for (;;) {
            q.cursor = cursor;
            assert_true(idx_query(ix, &q, &R, NULL));
            for (size_t i = 0; i < R.n; i++) {
                for (size_t j = 0; j < n_seen; j++)
                    assert_string_not_equal(seen_keys[j], R.hits[i].entry->key);
                snprintf(seen_keys[n_seen], sizeof seen_keys[n_seen], "%s", R.hits[i].entry->key);
                n_seen++;
                for (size_t j = 0; j < n; j++)
                    if (strcmp(stable[j], R.hits[i].entry->key) == 0)
                        seen[j] = true;
            }
            if (!R.has_next)
                break;
            snprintf(cursor, sizeof cursor, "%s", R.next_cursor);
            /* unrelated: a new non-matching entry, a removed non-matching one, a vacancy
               change on a matching one, a new matching one, and one matching entry removed */
            struct tent *t = new_tent(org_next++);
            t->st = sts[5];
            set_key(t);
            upsert_t(ix, t);
            struct tent *u = &T[rn((unsigned)nT)];
            if (u->live && u->st != sts[1] && u->st != sts[3]) {
                assert_true(idx_remove(ix, u->key));
                u->live = false;
            }
            struct tent *v = &T[rn((unsigned)nT)];
            if (v->live) {
                v->vac = (int)rn(5);
                upsert_t(ix, v);
            }
            struct tent *w = new_tent(org_next++);
            w->st = sts[1];
            set_key(w);
            upsert_t(ix, w);
            if (rn(4) == 0) {
                size_t j = rn((unsigned)n);
                if (idx_remove(ix, stable[j]))
                    touched[j] = true;
            }
        }
        for (size_t j = 0; j < n; j++) {
            if (!touched[j] && !seen[j])
                fail_msg("sort %d: %s matched throughout but was not returned", s, stable[j]);
            free(stable[j]);
        }
        free(stable);
        free(seen);
        free(touched);
        idx_free(ix);
    }
}

/* A cursor whose name no entry has any more, after a rebuild: the page continues after it,
   among the names around it. Every entry of the cursor's organisation name is renamed to that
   name plus " x", which sorts right after it, so an index that took the cursor's name for the
   next one would drop or repeat some of them. */
static void test_cursor_name_gone(void **state)
{
    (void)state;
    for (int s = 0; s < 3; s++) {
        struct idx *ix = make_dataset(800, 900 + (uint64_t)s);
        struct idx_query q = q0();
        q.limit = 9;
        q.sort = (enum idx_sort[]){IDX_SORT_NAME, IDX_SORT_RATING, IDX_SORT_RELEVANCE}[s];
        q.q = s == 2 ? "care" : NULL;
        for (int page = 0; page < 6; page++) { /* a cursor well inside the order */
            assert_true(idx_query(ix, &q, &R, NULL));
            assert_true(R.has_next);
            static char cursor[IDX_CURSOR_MAX];
            snprintf(cursor, sizeof cursor, "%s", R.next_cursor);
            q.cursor = cursor;
        }
        const struct idx_hit *last = &R.hits[R.n - 1];
        struct tent ct;
        for (size_t i = 0; i < nT; i++)
            if (strcmp(T[i].key, last->entry->key) == 0)
                ct = T[i];
        struct texp cur = {.t = &ct, .score = last->score};
        snprintf(cur.name, sizeof cur.name, "%s", ct.orgname);
        t_lower(cur.name);

        /* rename, rebuild */
        size_t renamed = 0;
        struct idx_entry *es = calloc(nT, sizeof *es);
        for (size_t i = 0; i < nT; i++) {
            if (strcmp(T[i].orgname, ct.orgname) == 0) {
                strncat(T[i].orgname, " x", sizeof T[i].orgname - strlen(T[i].orgname) - 1);
                renamed++;
            }
            es[i] = to_entry(&T[i]);
        }
        assert_true(renamed > 1);
        assert_true(idx_build(ix, es, nT));
        free(es);

        struct texp *exp;
        struct tfacets fc;
        size_t n = brute(&q, &exp, &fc);
        size_t first = 0;
        while (first < n && t_cmp(&exp[first], &cur) <= 0)
            first++;
        assert_true(idx_query(ix, &q, &R, NULL));
        assert_int_equal(R.n, n - first < q.limit ? n - first : q.limit);
        for (size_t i = 0; i < R.n; i++)
            assert_string_equal(R.hits[i].entry->key, exp[first + i].t->key);
        free(exp);
        idx_free(ix);
    }
}

static void test_remove_and_reinsert(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(400, 21);
    struct idx_query q = q0();
    q.q = NULL;
    q.limit = 100;
    /* an entry, removed, is nowhere; put back, it is everywhere again */
    struct tent *t = &T[17];
    char key[48];
    snprintf(key, sizeof key, "%s", t->key);
    q.view = IDX_VIEW_COMMISSIONER;
    q.has_near = true, q.near_lat = t->plat, q.near_lon = t->plon, q.radius_km = 0.5;
    assert_true(idx_query(ix, &q, &R, NULL));
    bool found = false;
    for (size_t i = 0; i < R.n; i++)
        found = found || strcmp(R.hits[i].entry->key, key) == 0;
    assert_true(found);
    assert_true(idx_remove(ix, key));
    assert_false(idx_remove(ix, key));
    t->live = false;
    assert_null(idx_get(ix, key));
    check_query(ix, q);
    t->live = true;
    upsert_t(ix, t);
    check_query(ix, q);
    assert_non_null(idx_get(ix, key));
    /* the same key upserted twice is one entry */
    upsert_t(ix, t);
    check_query(ix, q);
    assert_int_equal(idx_count(ix), nT);
    /* a site and an organisation */
    size_t n_site = 0;
    for (size_t i = 0; i < nT; i++)
        if (strcmp(T[i].site, t->site) == 0)
            n_site++;
    char site[32];
    snprintf(site, sizeof site, "%s", t->site);
    assert_int_equal(idx_remove_site(ix, site), n_site);
    for (size_t i = 0; i < nT; i++)
        if (strcmp(T[i].site, site) == 0)
            T[i].live = false;
    assert_int_equal(idx_remove_site(ix, site), 0);
    char org[32];
    snprintf(org, sizeof org, "%s", T[30].org);
    size_t n_org = 0;
    for (size_t i = 0; i < nT; i++)
        if (T[i].live && strcmp(T[i].org, org) == 0)
            n_org++, T[i].live = false;
    assert_int_equal(idx_remove_organisation(ix, org), n_org);
    random_queries(ix, 60);
    /* everything out, then back */
    for (size_t i = 0; i < nT; i++)
        if (T[i].live)
            assert_true(idx_remove(ix, T[i].key));
    assert_int_equal(idx_count(ix), 0);
    q = q0();
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    for (size_t i = 0; i < nT; i++)
        if (T[i].live)
            upsert_t(ix, &T[i]);
    random_queries(ix, 60);
    idx_free(ix);
}

static void test_text_search(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    struct tent *a = plain("a", 52, -1);
    snprintf(a->orgname, sizeof a->orgname, "%s", "Bright Futures Fostering Ltd");
    snprintf(a->desc, sizeof a->desc, "%s", "Therapeutic foster care across Yorkshire");
    upsert_t(ix, a);
    struct tent *b = plain("b", 52.1, -1);
    snprintf(b->orgname, sizeof b->orgname, "%s", "Oakwood Care");
    snprintf(b->sitename, sizeof b->sitename, "%s", "Rose Cottage");
    b->priv = true;
    b->st = sts[0];
    snprintf(b->key, sizeof b->key, "%s", "b/childrens-home");
    upsert_t(ix, b);
    struct tent *c = plain("c", 52.2, -1);
    snprintf(c->orgname, sizeof c->orgname, "%s", "St Mary\xE2\x80\x99s Children's Services");
    snprintf(c->desc, sizeof c->desc, "%s", "CARING for young people");
    upsert_t(ix, c);

    struct idx_query q = q0();
    q.view = IDX_VIEW_PUBLIC;
    q.q = "rose cottage"; /* a private site name: invisible publicly */
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    q.view = IDX_VIEW_COMMISSIONER;
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    assert_string_equal(R.hits[0].entry->key, b->key);
    assert_int_equal(R.hits[0].score, 6);

    q.view = IDX_VIEW_PUBLIC;
    q.q = "car"; /* prefix: care (name of b: 2), caring (description of c: 1) */
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 3);
    assert_string_equal(R.hits[0].entry->key, b->key);
    assert_int_equal(R.hits[0].score, 2);
    q.q = "care"; /* exact in b's name (3); a's description (1); "caring" is no match */
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 2);
    assert_int_equal(R.hits[0].score, 3);
    q.q = "marys childrens"; /* apostrophes, both kinds, are dropped inside words */
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    assert_string_equal(R.hits[0].entry->key, "c");
    q.q = "MARY'S";
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    q.q = "fostering bright"; /* every word must match; order does not matter */
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    assert_int_equal(R.hits[0].score, 6);
    q.q = "fostering zzz";
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    q.q = "c"; /* one letter: exact only */
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    /* a rename moves the entry in the text index */
    snprintf(a->orgname, sizeof a->orgname, "%s", "Horizon Family Placements");
    upsert_t(ix, a);
    q.q = "bright";
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    q.q = "horiz"; /* one term starts so: a prefix in a name scores 2 */
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    assert_int_equal(R.hits[0].score, 2);
    /* a site made private disappears from public name search */
    snprintf(a->sitename, sizeof a->sitename, "%s", "Hidden Place");
    upsert_t(ix, a);
    q.q = "hidden";
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    a->priv = true;
    upsert_t(ix, a);
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    idx_free(ix);
}

/* A prefix that expands to many terms (a sorted union, not a merge), and a common word with
   near (its candidates tested against a bitset of the disc). */
static void test_text_many_terms_and_many_candidates(void **state)
{
    (void)state;
    struct idx *ix = make_dataset(6000, 8080);
    for (size_t i = 0; i < nT; i++) { /* every entry gets a common word, some a numbered one */
        char extra[64];
        snprintf(extra, sizeof extra, " placements alpha%zu", i % 12);
        strncat(T[i].desc, extra, sizeof T[i].desc - strlen(T[i].desc) - 1);
        upsert_t(ix, &T[i]);
    }
    struct idx_query q = q0();
    q.limit = 100;
    q.q = "alpha";
    check_query(ix, q);
    q.q = "alpha1";
    check_query(ix, q);
    q.q = "placements";
    q.has_near = true, q.near_lat = 53.48, q.near_lon = -2.24, q.radius_km = 30;
    check_query(ix, q);
    q.sort = IDX_SORT_DISTANCE;
    q.view = IDX_VIEW_COMMISSIONER;
    q.covers_la = "E08000003", q.covers_lat = 53.48, q.covers_lon = -2.24, q.covers_radius_km = 10;
    check_query(ix, q);
    q.covers_la = NULL;
    q.q = "placements car";
    q.radius_km = 80;
    check_query(ix, q);
    idx_free(ix);
}

static void test_agreements_and_entry_view(void **state)
{
    (void)state;
    struct idx *ix = idx_new();
    nT = 0;
    struct tent *t = plain("x", 52, -1);
    t->ag[0] = (struct idx_agreement){"E08000035", IDX_AGREEMENT_ACTIVE, 120000, "week"};
    t->ag[1] = (struct idx_agreement){"E08000003", IDX_AGREEMENT_SUSPENDED, 99000, "week"};
    t->nag = 2;
    upsert_t(ix, t);
    const struct idx_entry *e = idx_get(ix, "x");
    assert_non_null(e);
    const struct idx_agreement *a = idx_entry_agreement(e, "E08000003");
    assert_non_null(a);
    assert_int_equal(a->status, IDX_AGREEMENT_SUSPENDED);
    assert_int_equal(a->price_pence, 99000);
    assert_string_equal(a->price_unit, "week");
    assert_null(idx_entry_agreement(e, "E06000001"));
    struct idx_query q = q0();
    q.commissioner = "E08000003"; /* suspended: not an active agreement */
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    q.commissioner = "E08000035";
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 1);
    /* the agreement is terminated: gone from the commissioner's list */
    t->ag[0].status = IDX_AGREEMENT_TERMINATED;
    upsert_t(ix, t);
    assert_true(idx_query(ix, &q, &R, NULL));
    assert_int_equal(R.total, 0);
    /* enum names round-trip */
    for (int i = 0; i < IDX_RATING_COUNT; i++) {
        enum idx_rating r;
        assert_true(idx_rating_parse(idx_rating_name((enum idx_rating)i), &r));
        assert_int_equal(r, i);
    }
    enum idx_status s;
    assert_true(idx_status_parse("lapsed", &s));
    assert_int_equal(s, IDX_STATUS_LAPSED);
    assert_false(idx_status_parse("gone", &s));
    enum idx_agreement_status as;
    assert_true(idx_agreement_status_parse("terminated", &as));
    assert_false(idx_rating_parse("requires improvement", &(enum idx_rating){0}));
    struct idx_stats st;
    idx_stats(ix, &st);
    assert_int_equal(st.entries, 1);
    assert_true(st.bytes > 0 && st.nodes == 2); /* one leaf in each tree */
    idx_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_index),
        cmocka_unit_test(test_radius_zero_and_exact_boundary),
        cmocka_unit_test(test_disc_edge_to_the_centimetre),
        cmocka_unit_test(test_all_filtered_out),
        cmocka_unit_test(test_ties_and_pagination_walks),
        cmocka_unit_test(test_tree_split_and_collapse),
        cmocka_unit_test(test_ages_beyond_the_bitmap),
        cmocka_unit_test(test_cursors_refused),
        cmocka_unit_test(test_invalid_queries),
        cmocka_unit_test(test_invalid_entries),
        cmocka_unit_test(test_text_search),
        cmocka_unit_test(test_agreements_and_entry_view),
        cmocka_unit_test(test_text_many_terms_and_many_candidates),
        cmocka_unit_test(test_each_filter_alone_and_in_pairs),
        cmocka_unit_test(test_tier_from_service_type),
        cmocka_unit_test(test_random_small_dataset),
        cmocka_unit_test(test_random_queries),
        cmocka_unit_test(test_upserts_one_by_one),
        cmocka_unit_test(test_updates_between_pages),
        cmocka_unit_test(test_cursor_name_gone),
        cmocka_unit_test(test_remove_and_reinsert),
        cmocka_unit_test(test_random_updates_keep_structures_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
