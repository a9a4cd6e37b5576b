/*
 * Benchmark, not a test: the search index (api/index) at the real register's size (5,600
 * entries) and at 1,000,000, generated from the real distribution by a seeded generator:
 *
 *   - rows of data/ofsted/Provider_level_at_31_Mar_2025.csv give the joint mix of service
 *     type (provision type mapped as in schema/0003), Ofsted rating, sector, status, owner and
 *     local authority. The 5,600 set takes every row that maps to a service type once, then
 *     samples rows to 5,600; the 1M set samples rows with replacement.
 *   - positions: each English or Welsh postcode district of data/postcodes/postcode_districts.csv
 *     (with active postcodes) is given to the nearest LA centroid of
 *     data/local_authorities/ons/; a site of an LA lies in one of its districts, chosen in
 *     proportion to its active postcodes, jittered (Gaussian, sigma 1.5 km). A children's home
 *     (address_private) is located publicly at its district's centroid and precisely at the
 *     jittered point.
 *
 * Then it times the query (independent-fostering near LS6 within 50 km, min_rating
 * good, limit 20, facets) and a mix of 20 realistic queries across England, each many times,
 * and prints p50/p99 per set at both sizes, the ratios 1M/5.6k, build time, update costs,
 * the index's own bytes per entry and peak RSS.
 *
 *   tests/bench/index_bench.sh        (compiles this against the core sources and runs it)
 *
 * Arguments: ROOT [ENTRIES [BENCH_REPS [MIX_REPS [QUERIES]]]]. QUERIES, a comma-separated list
 * of the mix's query numbers (1..20, as printed), skips the 5,600 set and the query and
 * runs each of those queries MIX_REPS times in a row on ENTRIES entries, printing its p50 and
 * its answer's digest: one query alone, to profile it (perf record) or to time a change.
 *
 * The digest (FNV-1a over the total, the facets, each hit's key, distance and score, and the
 * next cursor) tells whether a change to the index altered any answer of the mix.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <dirent.h>

#include "api/index.h"
#include "daemon/csv.h"

#define NOW 1763900000
#define WEEK (7 * 86400)

static uint64_t rng = 0x5eed5eed12345678ull;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static double ru(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = ru(), v = ru();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * 4;
}

static long peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- an arena for the generated strings ---- */

static char *arena;
static size_t arena_left;

static void *aalloc(size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n > arena_left) {
        arena_left = 64u << 20;
        arena = xmalloc(arena_left);
    }
    void *p = arena;
    arena += n;
    arena_left -= n;
    return p;
}

static char *astr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = aalloc(n);
    memcpy(p, s, n);
    return p;
}

/* ---- reference data ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        exit(1);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int col(const struct csv_record *hdr, const char *name)
{
    for (size_t i = 0; i < hdr->nfields; i++)
        if (strcmp(hdr->field[i], name) == 0)
            return (int)i;
    fprintf(stderr, "bench: no column %s\n", name);
    exit(1);
}

/* Lower case, & -> and, drop anything after a comma ("Bristol, City of"), a leading "county ",
   and punctuation: the Ofsted register's LA names then equal the ONS names. */
static void name_key(const char *s, char *out, size_t cap)
{
    char tmp[256];
    size_t n = 0;
    for (; *s && *s != ',' && n + 5 < sizeof tmp; s++) {
        char c = *s;
        if (c == '&') {
            memcpy(tmp + n, " and ", 5);
            n += 5;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            tmp[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else {
            tmp[n++] = ' ';
        }
    }
    tmp[n] = '\0';
    const char *p = tmp;
    while (*p == ' ')
        p++;
    if (strncmp(p, "county ", 7) == 0)
        p += 7;
    size_t o = 0;
    bool space = false;
    for (; *p && o + 1 < cap; p++) {
        if (*p == ' ') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < cap)
            out[o++] = ' ';
        space = false;
        out[o++] = *p;
    }
    out[o] = '\0';
}

struct la {
    char code[16], key[96];
    double lat, lon;
    int *d; /* its districts */
    double *cum; /* cumulative weights */
    int nd, cap;
};

struct district {
    char outcode[8], town[48];
    double lat, lon, weight;
};

struct row {
    const char *st, *sector, *region, *owner, *name;
    int la, rating, status;
};

static struct la las[400];
static int n_las;
static struct district *ds;
static int n_ds;
static struct row *rows;
static int n_rows;

static const char *region_code(const char *name)
{
    static const char *const names[][2] = {
        {"North East", "E12000001"}, {"North West", "E12000002"}, {"Yorkshire and The Humber", "E12000003"},
        {"East Midlands", "E12000004"}, {"West Midlands", "E12000005"}, {"East of England", "E12000006"},
        {"London", "E12000007"}, {"South East", "E12000008"}, {"South West", "E12000009"},
        {"Wales", "W92000004"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

static const char *service_type(const char *provision, const char *short_breaks)
{
    if (strcmp(provision, "Children's home") == 0 || strcmp(provision, "Children's Home") == 0 ||
        strcmp(provision, "Residential special school (registered as a children's home)") == 0)
        return short_breaks[0] ? "short-breaks" : "childrens-home";
    if (strcmp(provision, "Independent Fostering Agency") == 0)
        return "independent-fostering";
    if (strcmp(provision, "Supported Accommodation") == 0)
        return "supported-accommodation";
    if (strcmp(provision, "Residential Family Centre") == 0)
        return "residential-family-centre";
    if (strcmp(provision, "Secure children's home") == 0)
        return "secure-childrens-home";
    if (strcmp(provision, "Voluntary Adoption Agency") == 0)
        return "adoption";
    if (strcmp(provision, "Adoption Support Agency") == 0)
        return "adoption-support";
    if (strcmp(provision, "Residential Holiday Scheme for Disabled Children") == 0)
        return "short-breaks";
    return NULL; /* schools, colleges, the secure training centre: no service type */
}

static int rating_of(const char *s)
{
    if (strcmp(s, "Outstanding") == 0)
        return IDX_RATING_OUTSTANDING;
    if (strcmp(s, "Good") == 0)
        return IDX_RATING_GOOD;
    if (strncmp(s, "Requires improvement", 20) == 0)
        return IDX_RATING_REQUIRES_IMPROVEMENT;
    if (strcmp(s, "Inadequate") == 0)
        return IDX_RATING_INADEQUATE;
    return IDX_RATING_NONE;
}

static double dist_km(double lat1, double lon1, double lat2, double lon2)
{
    double r = M_PI / 180, a = pow(sin((lat2 - lat1) * r / 2), 2) +
                                cos(lat1 * r) * cos(lat2 * r) * pow(sin((lon2 - lon1) * r / 2), 2);
    return 2 * 6371.0088 * asin(sqrt(a));
}

/* The ONS December 2024 file predates seven code changes (data/SOURCES.md, "Codes"): entries
   carry the live DfE code, as the loader's commissioner table does. */
static const char *live_code(const char *ons)
{
    static const char *const alias[][2] = {
        {"E08000016", "E08000038"}, {"E08000019", "E08000039"}, {"E06000048", "E06000057"},
        {"E08000020", "E08000037"}, {"E10000002", "E06000060"}, {"E10000023", "E06000065"},
        {"E10000027", "E06000066"}};
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcmp(ons, alias[i][0]) == 0)
            return alias[i][1];
    return ons;
}

static void load(const char *root)
{
    char path[512];
    size_t len;
    struct csv_reader r;
    struct csv_record rec, hdr;
    char hbuf[64][64];
    const char *hp[64];

    /* LA centroids (England and Wales) */
    snprintf(path, sizeof path, "%s/data/local_authorities/ons", root);
    DIR *dir = opendir(path);
    struct dirent *de;
    char onsfile[1024] = "";
    while (dir && (de = readdir(dir)))
        if (strstr(de->d_name, ".csv"))
            snprintf(onsfile, sizeof onsfile, "%s/%s", path, de->d_name);
    if (dir)
        closedir(dir);
    char *buf = slurp(onsfile, &len);
    csv_init(&r, buf, len);
    if (csv_next(&r, &hdr) != CSV_RECORD)
        exit(1);
    for (size_t i = 0; i < hdr.nfields && i < 64; i++) {
        snprintf(hbuf[i], sizeof hbuf[i], "%s", hdr.field[i]);
        hp[i] = hbuf[i];
    }
    hdr.field = hp;
    int c_code = col(&hdr, "CTYUA24CD"), c_name = col(&hdr, "CTYUA24NM"),
        c_lat = col(&hdr, "LAT"), c_lon = col(&hdr, "LONG");
    while (csv_next(&r, &rec) != CSV_EOF) {
        const char *code = rec.field[c_code];
        if (code[0] != 'E' && code[0] != 'W')
            continue;
        struct la *l = &las[n_las++];
        snprintf(l->code, sizeof l->code, "%s", live_code(code));
        name_key(rec.field[c_name], l->key, sizeof l->key);
        l->lat = atof(rec.field[c_lat]);
        l->lon = atof(rec.field[c_lon]);
    }
    csv_free(&r);
    free(buf);

    /* postcode districts, each to its nearest LA centroid */
    snprintf(path, sizeof path, "%s/data/postcodes/postcode_districts.csv", root);
    buf = slurp(path, &len);
    csv_init(&r, buf, len);
    if (csv_next(&r, &hdr) != CSV_RECORD)
        exit(1);
    for (size_t i = 0; i < hdr.nfields && i < 64; i++) {
        snprintf(hbuf[i], sizeof hbuf[i], "%s", hdr.field[i]);
        hp[i] = hbuf[i];
    }
    hdr.field = hp;
    int p_code = col(&hdr, "Postcode"), p_lat = col(&hdr, "Latitude"),
        p_lon = col(&hdr, "Longitude"), p_active = col(&hdr, "Active postcodes"),
        p_town = col(&hdr, "Town/Area"), p_uk = col(&hdr, "UK region");
    ds = xcalloc(4000, sizeof *ds);
    while (csv_next(&r, &rec) != CSV_EOF) {
        const char *uk = rec.field[p_uk];
        double w = atof(rec.field[p_active]);
        if (!uk[0] || strcmp(uk, "Scotland") == 0 || strcmp(uk, "Northern Ireland") == 0 || w <= 0 ||
            n_ds >= 4000)
            continue;
        struct district *d = &ds[n_ds];
        snprintf(d->outcode, sizeof d->outcode, "%s", rec.field[p_code]);
        snprintf(d->town, sizeof d->town, "%s", rec.field[p_town]);
        char *comma = strchr(d->town, ',');
        if (comma)
            *comma = '\0';
        d->lat = atof(rec.field[p_lat]);
        d->lon = atof(rec.field[p_lon]);
        d->weight = w;
        int best = 0;
        double bd = 1e18;
        for (int i = 0; i < n_las; i++) {
            double dd = dist_km(d->lat, d->lon, las[i].lat, las[i].lon);
            if (dd < bd)
                bd = dd, best = i;
        }
        struct la *l = &las[best];
        if (l->nd == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 8;
            l->d = xrealloc(l->d, (size_t)l->cap * sizeof *l->d);
            l->cum = xrealloc(l->cum, (size_t)l->cap * sizeof *l->cum);
        }
        l->d[l->nd] = n_ds;
        l->cum[l->nd] = (l->nd ? l->cum[l->nd - 1] : 0) + w;
        l->nd++;
        n_ds++;
    }
    csv_free(&r);
    free(buf);
    for (int i = 0; i < n_las; i++) { /* an LA no district is nearest to: its 3 nearest */
        struct la *l = &las[i];
        if (l->nd)
            continue;
        l->d = xmalloc(3 * sizeof *l->d);
        l->cum = xmalloc(3 * sizeof *l->cum);
        for (int k = 0; k < 3; k++) {
            int best = -1;
            double bd = 1e18;
            for (int j = 0; j < n_ds; j++) {
                bool used = false;
                for (int m = 0; m < k; m++)
                    used = used || l->d[m] == j;
                double dd = dist_km(ds[j].lat, ds[j].lon, l->lat, l->lon);
                if (!used && dd < bd)
                    bd = dd, best = j;
            }
            l->d[k] = best;
            l->cum[k] = k + 1.0;
        }
        l->nd = 3;
    }

    /* the register */
    snprintf(path, sizeof path, "%s/data/ofsted/Provider_level_at_31_Mar_2025.csv", root);
    buf = slurp(path, &len);
    csv_init(&r, buf, len);
    if (csv_next(&r, &hdr) != CSV_RECORD)
        exit(1);
    for (size_t i = 0; i < hdr.nfields && i < 64; i++) {
        snprintf(hbuf[i], sizeof hbuf[i], "%s", hdr.field[i]);
        hp[i] = hbuf[i];
    }
    hdr.field = hp;
    int o_prov = col(&hdr, "Provision type"), o_status = col(&hdr, "Registration status"),
        o_name = col(&hdr, "Name"), o_gor = col(&hdr, "Government Office Region"),
        o_la = col(&hdr, "Local authority"), o_sector = col(&hdr, "Sector"),
        o_owner = col(&hdr, "Organisation which owns the provider"),
        o_sb = col(&hdr, "Short-break-only children's home"),
        o_rating = col(&hdr, "Overall experiences and progress of children and young people");
    rows = xcalloc(6000, sizeof *rows);
    int unmatched = 0, unmapped = 0;
    while (csv_next(&r, &rec) != CSV_EOF && n_rows < 6000) {
        const char *st = service_type(rec.field[o_prov], rec.field[o_sb]);
        if (!st) {
            unmapped++;
            continue;
        }
        char key[96];
        name_key(rec.field[o_la], key, sizeof key);
        int la = -1;
        for (int i = 0; i < n_las; i++)
            if (strcmp(las[i].key, key) == 0)
                la = i;
        if (la < 0) {
            unmatched++;
            continue;
        }
        struct row *w = &rows[n_rows++];
        w->st = st;
        w->la = la;
        w->rating = rating_of(rec.field[o_rating]);
        w->status = strcmp(rec.field[o_status], "Suspended") == 0 ? IDX_STATUS_SUSPENDED : IDX_STATUS_ACTIVE;
        char sector[64];
        size_t k = 0;
        for (const char *s = rec.field[o_sector]; *s && k + 1 < sizeof sector; s++)
            sector[k++] = *s == ' ' ? '-' : (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
        sector[k] = '\0';
        w->sector = astr(sector);
        w->region = region_code(rec.field[o_gor]);
        w->owner = astr(rec.field[o_owner][0] ? rec.field[o_owner] : rec.field[o_name]);
        w->name = astr(rec.field[o_name]);
    }
    csv_free(&r);
    free(buf);
    fprintf(stderr, "bench: %d LAs, %d postcode districts, %d register rows with a service type "
                    "(%d without, %d unmatched LA)\n",
            n_las, n_ds, n_rows, unmapped, unmatched);
}

static const struct district *district_of(int la)
{
    const struct la *l = &las[la];
    double x = ru() * l->cum[l->nd - 1];
    int lo = 0, hi = l->nd - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (l->cum[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return &ds[l->d[lo]];
}

static const struct district *outcode(const char *oc)
{
    for (int i = 0; i < n_ds; i++)
        if (strcmp(ds[i].outcode, oc) == 0)
            return &ds[i];
    fprintf(stderr, "bench: unknown outcode %s\n", oc);
    exit(1);
}

static const struct la *la_by_code(const char *code)
{
    for (int i = 0; i < n_las; i++)
        if (strcmp(las[i].code, code) == 0)
            return &las[i];
    fprintf(stderr, "bench: unknown LA %s\n", code);
    exit(1);
}

/* ---- the generator ---- */

static const char *describe(const char *st)
{
    if (strcmp(st, "childrens-home") == 0)
        return "Residential care in a home registered with Ofsted for children who cannot live with their families";
    if (strcmp(st, "independent-fostering") == 0)
        return "Recruits, approves, trains and supports foster carers; therapeutic and parent and child placements";
    if (strcmp(st, "supported-accommodation") == 0)
        return "Accommodation with support for looked-after children and care leavers aged 16 and 17";
    if (strcmp(st, "residential-family-centre") == 0)
        return "Parents and children stay together while parenting is assessed and supported";
    if (strcmp(st, "secure-childrens-home") == 0)
        return "A children's home approved to restrict liberty, for children at serious risk";
    if (strcmp(st, "adoption") == 0)
        return "Recruits, assesses and approves adopters, and matches them with children";
    if (strcmp(st, "adoption-support") == 0)
        return "Therapeutic and practical support for adoptive families and adopted people";
    return "Planned short stays for disabled children, giving them new experiences and their families a break";
}

static unsigned tiers_of(const char *st)
{
    if (strcmp(st, "childrens-home") == 0 || strcmp(st, "residential-family-centre") == 0)
        return 0xC; /* 3,4 */
    if (strcmp(st, "independent-fostering") == 0)
        return 0xE;
    if (strcmp(st, "secure-childrens-home") == 0)
        return 0x8;
    if (strcmp(st, "adoption") == 0)
        return 0x4;
    return 0x6; /* supported accommodation, adoption support, short breaks: 2,3 */
}

static bool is_home(const char *st)
{
    return strcmp(st, "childrens-home") == 0 || strcmp(st, "secure-childrens-home") == 0 ||
           strcmp(st, "short-breaks") == 0;
}

static struct idx_entry *generate(size_t n)
{
    struct idx_entry *es = xcalloc(n, sizeof *es);
    size_t i = 0, site = 0;
    while (i < n) {
        const struct row *w = site < (size_t)n_rows && n < 100000 ? &rows[site]
                                                                   : &rows[rnd() % (unsigned)n_rows];
        const struct district *d = district_of(w->la);
        double plat = d->lat + gauss() * 1.5 / 111.2;
        double plon = d->lon + gauss() * 1.5 / (111.2 * cos(d->lat * M_PI / 180));
        char sid[48], oid[64], buf[256];
        snprintf(sid, sizeof sid, "%08x-%04x-4%03x-8000-%012zx", (unsigned)(site * 2654435761u),
                 (unsigned)(site & 0xffff), (unsigned)(site >> 16) & 0xfff, site);
        uint32_t h = 2166136261u;
        for (const char *s = w->owner; *s; s++)
            h = (h ^ (unsigned char)*s) * 16777619u;
        snprintf(oid, sizeof oid, "org-%08x-%zu", h, site / (size_t)n_rows);
        bool home = is_home(w->st);
        int copies = strcmp(w->st, "childrens-home") == 0 && rnd() % 20 == 0 ? 2 : 1; /* + short breaks */
        const char *sid_a = astr(sid), *oid_a = astr(oid);
        for (int c = 0; c < copies && i < n; c++, i++) {
            struct idx_entry *e = &es[i];
            const char *st = c ? "short-breaks" : w->st;
            snprintf(buf, sizeof buf, "%s/%s", sid, st);
            e->key = astr(buf);
            e->site_id = sid_a;
            e->organisation_id = oid_a;
            e->organisation_name = w->owner;
            if (strcmp(w->name, "REDACTED") == 0) {
                snprintf(buf, sizeof buf, "%s House %zu", d->town, site % 97);
                e->site_name = astr(buf);
            } else {
                e->site_name = w->name;
            }
            e->service_type = st;
            e->tiers = tiers_of(st);
            e->status = (enum idx_status)w->status;
            e->sector = w->sector;
            e->region = w->region;
            e->la = las[w->la].code;
            e->address_private = home;
            if (home) {
                e->lat = d->lat, e->lon = d->lon;
                e->has_precise = true, e->precise_lat = plat, e->precise_lon = plon;
            } else {
                e->lat = plat, e->lon = plon;
            }
            e->rating = (enum idx_rating)w->rating;
            if (rnd() % 10 == 0) {
                e->age_min = e->age_max = -1;
            } else if (strcmp(st, "supported-accommodation") == 0) {
                e->age_min = 16, e->age_max = 17;
            } else if (home) {
                e->age_min = 5 + (int)(rnd() % 6), e->age_max = 17;
            } else {
                e->age_min = 0, e->age_max = 17;
            }
            e->vacancies = rnd() % 10 < 4 ? (int32_t)(rnd() % 4) : -1;
            e->vacancies_at = NOW - (int64_t)(rnd() % (14 * 86400));
            snprintf(buf, sizeof buf, "%s in %s", describe(st), d->town);
            e->description = astr(buf);
            /* agreements: the home council often, and some others of its region */
            unsigned nag = (unsigned)(rnd() % 4);
            struct idx_agreement *ag = aalloc(4 * sizeof *ag);
            size_t k = 0;
            for (unsigned a = 0; a < nag; a++) {
                const struct la *l = a == 0 ? &las[w->la] : &las[rnd() % (unsigned)n_las];
                bool dup = false;
                for (size_t m = 0; m < k; m++)
                    dup = dup || strcmp(ag[m].commissioner, l->code) == 0;
                if (dup)
                    continue;
                unsigned s = (unsigned)(rnd() % 20);
                ag[k++] = (struct idx_agreement){l->code,
                                                 s < 16 ? IDX_AGREEMENT_ACTIVE : s < 19 ? IDX_AGREEMENT_SUSPENDED
                                                                                        : IDX_AGREEMENT_TERMINATED,
                                                 100000 + (int64_t)(rnd() % 500000), "week"};
            }
            e->agreements = ag;
            e->n_agreements = k;
        }
        site++;
    }
    return es;
}

/* ---- queries ---- */

struct bq {
    const char *label;
    struct idx_query q;
    const char *st[3];
    bool page2;
    char cursor[IDX_CURSOR_MAX];
};

static struct idx_query base(enum idx_view view)
{
    return (struct idx_query){.view = view, .age = -1, .now = NOW, .vacancy_max_age_s = WEEK,
                              .status_mask = 1u << IDX_STATUS_ACTIVE, .limit = 20};
}

static void near(struct idx_query *q, const char *oc, double radius)
{
    const struct district *d = outcode(oc);
    q->has_near = true;
    q->near_lat = d->lat;
    q->near_lon = d->lon;
    q->radius_km = radius;
}

static struct bq bench_q;
static struct bq mix[20];

static void set_st(struct bq *b, const char *st)
{
    b->st[0] = st;
    b->q.service_types = b->st;
    b->q.n_service_types = 1;
}

static void make_queries(void)
{
    bench_q.label = "independent-fostering near LS6 50 km, min good, limit 20";
    bench_q.q = base(IDX_VIEW_PUBLIC);
    set_st(&bench_q, "independent-fostering");
    near(&bench_q.q, "LS6", 50);
    bench_q.q.min_rating = IDX_RATING_GOOD;

    struct bq *m = mix;
    int i = 0;
#define NEXT(lbl, view) (m = &mix[i++], m->label = lbl, m->q = base(view))
    NEXT("childrens-home near M1 25 km", IDX_VIEW_PUBLIC);
    set_st(m, "childrens-home"), near(&m->q, "M1", 25);
    NEXT("childrens-home near B1 30 km, good+, vacancies", IDX_VIEW_PUBLIC);
    set_st(m, "childrens-home"), near(&m->q, "B1", 30), m->q.min_rating = IDX_RATING_GOOD,
        m->q.has_vacancies = true;
    NEXT("supported-accommodation near E1 10 km", IDX_VIEW_PUBLIC);
    set_st(m, "supported-accommodation"), near(&m->q, "E1", 10);
    NEXT("adoption, England, by name", IDX_VIEW_PUBLIC);
    set_st(m, "adoption"), m->q.sort = IDX_SORT_NAME;
    NEXT("childrens-home, North West, by rating", IDX_VIEW_PUBLIC);
    set_st(m, "childrens-home"), m->q.region = "E12000002", m->q.sort = IDX_SORT_RATING;
    NEXT("q=compass fostering", IDX_VIEW_PUBLIC);
    m->q.q = "compass fostering";
    NEXT("q=therapeutic near BS1 40 km", IDX_VIEW_PUBLIC);
    m->q.q = "therapeutic", near(&m->q, "BS1", 40);
    NEXT("near NE1 20 km, age 15", IDX_VIEW_PUBLIC);
    near(&m->q, "NE1", 20), m->q.age = 15;
    NEXT("commissioner E08000035 childrens-home, by name", IDX_VIEW_COMMISSIONER);
    set_st(m, "childrens-home"), m->q.commissioner = "E08000035", m->q.sort = IDX_SORT_NAME,
        m->q.status_mask = 3;
    NEXT("covers E06000023 (30 km) fostering", IDX_VIEW_COMMISSIONER);
    set_st(m, "independent-fostering");
    {
        const struct la *l = la_by_code("E06000023");
        m->q.covers_la = l->code, m->q.covers_lat = l->lat, m->q.covers_lon = l->lon,
        m->q.covers_radius_km = 30;
    }
    NEXT("tier 4 near S1 60 km", IDX_VIEW_PUBLIC);
    m->q.tier = 4, near(&m->q, "S1", 60);
    NEXT("voluntary sector, England, by name", IDX_VIEW_PUBLIC);
    m->q.sector = "voluntary", m->q.sort = IDX_SORT_NAME;
    NEXT("outstanding childrens-home, England, by rating", IDX_VIEW_PUBLIC);
    set_st(m, "childrens-home"), m->q.min_rating = IDX_RATING_OUTSTANDING, m->q.sort = IDX_SORT_RATING;
    NEXT("near PL1 100 km, vacancies", IDX_VIEW_PUBLIC);
    near(&m->q, "PL1", 100), m->q.has_vacancies = true;
    NEXT("commissioner view near NG1 30 km childrens-home", IDX_VIEW_COMMISSIONER);
    set_st(m, "childrens-home"), near(&m->q, "NG1", 30), m->q.status_mask = 3;
    NEXT("supported-accommodation age 17 London", IDX_VIEW_PUBLIC);
    set_st(m, "supported-accommodation"), m->q.age = 17, m->q.region = "E12000007";
    NEXT("q=action (prefix), England", IDX_VIEW_PUBLIC);
    m->q.q = "action";
    NEXT("near NR1 50 km, by name", IDX_VIEW_PUBLIC);
    near(&m->q, "NR1", 50), m->q.sort = IDX_SORT_NAME;
    NEXT("family centre nearest L1, no radius", IDX_VIEW_PUBLIC);
    set_st(m, "residential-family-centre"), near(&m->q, "L1", INFINITY);
    NEXT("childrens-home near LS6 50 km, page 2", IDX_VIEW_PUBLIC);
    set_st(m, "childrens-home"), near(&m->q, "LS6", 50), m->page2 = true;
#undef NEXT
}

static struct idx_result res;

static void run_once(struct idx *ix, struct bq *b)
{
    struct idx_error err;
    b->q.cursor = b->page2 ? b->cursor : NULL;
    if (!idx_query(ix, &b->q, &res, &err)) {
        fprintf(stderr, "bench: query \"%s\" refused: %s\n", b->label, err.detail);
        exit(1);
    }
}

static void fnv(uint32_t *h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ ((const unsigned char *)p)[i]) * 16777619u;
}

/* The digest of the last answer (res). */
static uint32_t digest(void)
{
    uint32_t h = 2166136261u;
    fnv(&h, &res.total, sizeof res.total);
    for (size_t i = 0; i < res.n_service_type_facets; i++) {
        fnv(&h, res.service_type_facets[i].code, strlen(res.service_type_facets[i].code) + 1);
        fnv(&h, &res.service_type_facets[i].count, sizeof res.service_type_facets[i].count);
    }
    for (size_t i = 0; i < res.n_region_facets; i++) {
        fnv(&h, res.region_facets[i].code, strlen(res.region_facets[i].code) + 1);
        fnv(&h, &res.region_facets[i].count, sizeof res.region_facets[i].count);
    }
    fnv(&h, res.rating_facets, sizeof res.rating_facets);
    for (size_t i = 0; i < res.n; i++) {
        fnv(&h, res.hits[i].entry->key, strlen(res.hits[i].entry->key) + 1);
        fnv(&h, &res.hits[i].distance_km, sizeof res.hits[i].distance_km);
        fnv(&h, &res.hits[i].score, sizeof res.hits[i].score);
    }
    fnv(&h, res.next_cursor, strlen(res.next_cursor) + 1);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct pct {
    double p50, p99;
};

static struct pct percentiles(uint64_t *s, size_t n)
{
    qsort(s, n, sizeof *s, cmp_u64);
    return (struct pct){s[n / 2] / 1000.0, s[(size_t)(n * 0.99)] / 1000.0};
}

struct sizes {
    size_t n;
    double build_s, bytes_per_entry, rss_per_entry;
    struct pct bench, mixed, mix_each[20];
    uint32_t bench_total, mix_total[20], mix_digest[20];
    double upd_vac_us, upd_status_us, upd_move_us, upd_reinsert_us;
};

static struct idx *build(size_t n, struct idx_entry **es_out, struct sizes *out)
{
    struct idx_entry *es = generate(n);
    long rss0 = rss_kb();
    struct idx *ix = idx_new();
    double t0 = now_s();
    if (!idx_build(ix, es, n)) {
        fprintf(stderr, "bench: build refused\n");
        exit(1);
    }
    out->build_s = now_s() - t0;
    out->rss_per_entry = (double)(rss_kb() - rss0) * 1024.0 / n;
    struct idx_stats st;
    idx_stats(ix, &st);
    out->bytes_per_entry = (double)st.bytes / n;
    fprintf(stderr, "bench: %zu entries: %zu nodes, %zu terms, %zu postings\n", n, st.nodes, st.terms,
            st.postings);

    for (int i = 0; i < 20; i++)
        if (mix[i].page2) {
            mix[i].page2 = false;
            run_once(ix, &mix[i]);
            snprintf(mix[i].cursor, sizeof mix[i].cursor, "%s", res.next_cursor);
            mix[i].page2 = res.has_next;
        }
    *es_out = es;
    return ix;
}

/* QUERIES mode: each listed query of the mix, reps times in a row. */
static void run_only(size_t n, const char *list, int reps)
{
    struct sizes sz;
    struct idx_entry *es;
    struct idx *ix = build(n, &es, &sz);
    uint64_t *s = xmalloc((size_t)reps * sizeof *s);
    for (const char *p = list; *p;) {
        char *end;
        long i = strtol(p, &end, 10);
        if (end == p || i < 1 || i > 20) {
            fprintf(stderr, "bench: QUERIES is a comma-separated list of 1..20\n");
            exit(2);
        }
        p = *end == ',' ? end + 1 : end;
        struct bq *b = &mix[i - 1];
        for (int r = 0; r < reps; r++) {
            uint64_t a = now_ns();
            run_once(ix, b);
            s[r] = now_ns() - a;
        }
        struct pct pc = percentiles(s, (size_t)reps);
        printf("%2ld %-50s p50 %9.1f us  matches %7u  digest %08x\n", i, b->label, pc.p50, res.total,
               digest());
    }
    free(s);
    idx_free(ix);
    free(es);
}

static void run_size(size_t n, struct sizes *out, int reps_bench, int reps_mix)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    struct idx_entry *es;
    struct idx *ix = build(n, &es, out);

    /* warm up, then time */
    for (int r = 0; r < 50; r++)
        run_once(ix, &bench_q);
    uint64_t *s = xmalloc((size_t)(reps_bench > reps_mix * 20 ? reps_bench : reps_mix * 20) * sizeof *s);
    for (int r = 0; r < reps_bench; r++) {
        uint64_t a = now_ns();
        run_once(ix, &bench_q);
        s[r] = now_ns() - a;
    }
    out->bench_total = res.total;
    out->bench = percentiles(s, (size_t)reps_bench);
    uint64_t *each = xmalloc((size_t)reps_mix * sizeof *each);
    size_t k = 0;
    for (int r = 0; r < reps_mix; r++) /* interleaved, as a real mix arrives */
        for (int i = 0; i < 20; i++) {
            uint64_t a = now_ns();
            run_once(ix, &mix[i]);
            s[k++] = now_ns() - a;
            out->mix_total[i] = res.total;
            if (r == 0)
                out->mix_digest[i] = digest();
        }
    for (int i = 0; i < 20; i++) {
        for (int r = 0; r < reps_mix; r++)
            each[r] = s[(size_t)r * 20 + (size_t)i];
        out->mix_each[i] = percentiles(each, (size_t)reps_mix);
    }
    out->mixed = percentiles(s, k);
    free(each);

    /* updates, as freshness delivers them: one at a time */
    int nu = 2000;
    struct idx_entry e;
    double t;
    t = now_s();
    for (int i = 0; i < nu; i++) {
        e = es[rnd() % n];
        e.vacancies = (int32_t)(rnd() % 4);
        e.vacancies_at = NOW;
        if (!idx_upsert(ix, &e))
            exit(1);
    }
    out->upd_vac_us = (now_s() - t) / nu * 1e6;
    t = now_s();
    for (int i = 0; i < nu; i++) {
        size_t j = rnd() % n;
        es[j].status = es[j].status == IDX_STATUS_ACTIVE ? IDX_STATUS_SUSPENDED : IDX_STATUS_ACTIVE;
        if (!idx_upsert(ix, &es[j]))
            exit(1);
    }
    out->upd_status_us = (now_s() - t) / nu * 1e6;
    t = now_s();
    for (int i = 0; i < nu; i++) {
        size_t j = rnd() % n;
        es[j].lat += es[j].lat > 54 ? -0.01 : 0.01;
        if (!idx_upsert(ix, &es[j]))
            exit(1);
    }
    out->upd_move_us = (now_s() - t) / nu * 1e6;
    t = now_s();
    for (int i = 0; i < nu; i++) {
        size_t j = rnd() % n;
        if (!idx_remove(ix, es[j].key) || !idx_upsert(ix, &es[j]))
            exit(1);
    }
    out->upd_reinsert_us = (now_s() - t) / nu * 1e6;

    idx_free(ix);
    free(es);
    free(s);
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : ".";
    size_t big = argc > 2 ? (size_t)atol(argv[2]) : 1000000;
    int reps_bench = argc > 3 ? atoi(argv[3]) : 5000, reps_mix = argc > 4 ? atoi(argv[4]) : 300;
    load(root);
    make_queries();
    if (argc > 5) {
        run_only(big, argv[5], reps_mix);
        return 0;
    }
    struct sizes a, b;
    run_size(5600, &a, reps_bench, reps_mix);
    long peak_small = peak_kb();
    run_size(big, &b, reps_bench, reps_mix);
    long peak = peak_kb();

    printf("index benchmark: one thread, times per query in microseconds (p50 / p99)\n\n");
    printf("%-52s %18s %18s %8s\n", "", "5,600", big == 1000000 ? "1,000,000" : "big", "ratio");
    printf("%-52s %8.1f /%8.1f %8.1f /%8.1f %4.2f /%5.2f\n", "benchmark query (issue 5)", a.bench.p50, a.bench.p99,
           b.bench.p50, b.bench.p99, b.bench.p50 / a.bench.p50, b.bench.p99 / a.bench.p99);
    printf("%-52s %8.1f /%8.1f %8.1f /%8.1f %4.2f /%5.2f\n", "mix of 20 queries (pooled)", a.mixed.p50,
           a.mixed.p99, b.mixed.p50, b.mixed.p99, b.mixed.p50 / a.mixed.p50, b.mixed.p99 / a.mixed.p99);
    printf("\n  matches of the benchmark query: %u at 5,600, %u at %zu\n\n", a.bench_total, b.bench_total, big);
    printf("%-52s %8s %8s %9s %9s %8s\n", "each query of the mix", "p50", "p50", "matches", "matches",
           "digest");
    for (int i = 0; i < 20; i++)
        printf("%2d %-49s %8.1f %8.1f %9u %9u %08x\n", i + 1, mix[i].label, a.mix_each[i].p50,
               b.mix_each[i].p50, a.mix_total[i], b.mix_total[i], b.mix_digest[i]);
    printf("\n%-52s %10.3f s %10.3f s\n", "build (idx_build)", a.build_s, b.build_s);
    printf("%-52s %10.0f B %10.0f B\n", "index bytes per entry (idx_stats)", a.bytes_per_entry, b.bytes_per_entry);
    printf("%-52s %10.0f B %10.0f B\n", "RSS growth per entry during build", a.rss_per_entry, b.rss_per_entry);
    printf("%-52s %10.2f   %10.2f   us\n", "upsert: vacancy change", a.upd_vac_us, b.upd_vac_us);
    printf("%-52s %10.2f   %10.2f   us\n", "upsert: status change (suspend/reinstate)", a.upd_status_us,
           b.upd_status_us);
    printf("%-52s %10.2f   %10.2f   us\n", "upsert: site moved", a.upd_move_us, b.upd_move_us);
    printf("%-52s %10.2f   %10.2f   us\n", "remove + insert", a.upd_reinsert_us, b.upd_reinsert_us);
    printf("%-52s %10.1f MB %9.1f MB\n", "peak RSS (process, incl. generated input)", peak_small / 1024.0,
           peak / 1024.0);
    return 0;
}
