/*
 * index: the in-memory read model of the directory for search. Owns the entries and every
 * structure built over them: the key map, the site and organisation lists, the code tables,
 * the two spatial trees with their per-node class counts, the global class counts, the bitmap
 * index, the two ordered sets, the inverted index, the per-commissioner and per-LA lists, and
 * the query scratch buffers. No I/O, no clock. See index.h for the contracts and the costs.
 */
#include "api/index.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEG (M_PI / 180.0)
#define NONE32 UINT32_MAX

/* Margin for a node's bounds, which compare cosines from dot products (accurate to ~1e-15):
   a node this close to the boundary is treated as crossing it, and its entries are tested. */
#define DOT_EPS 1e-11
/* Margin for chord bounds (chords from vector differences are accurate to ~1e-16). */
#define CHORD_EPS 1e-12

/* ------------------------------------------------------------------------------------------
 * Classes. The spatial trees and the global counts count entries by class: 16 bits of
 * region (6) | status (2) | service type (5) | rating (3), exactly the dimensions the facets
 * and the always-present status filter need.
 * ------------------------------------------------------------------------------------------ */

#define K_REGION(k) ((unsigned)(k) >> 10)
#define K_STATUS(k) (((unsigned)(k) >> 8) & 3u)
#define K_ST(k) (((unsigned)(k) >> 3) & 31u)
#define K_RATING(k) ((unsigned)(k) & 7u)

static uint16_t make_class(unsigned region, unsigned status, unsigned st, unsigned rating)
{
    return (uint16_t)(region << 10 | status << 8 | st << 3 | rating);
}

/* Why an entry fails a query: one bit per facet dimension, and OTHER for everything else. */
#define F_ST 1u
#define F_REGION 2u
#define F_RATING 4u
#define F_OTHER 8u

/* ------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------ */

static uint32_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static void *grow(void *p, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return p;
    uint32_t c = *cap ? *cap : 4;
    while (c < need)
        c = c > UINT32_MAX / 2 ? UINT32_MAX : c * 2;
    *cap = c;
    return xrealloc(p, (size_t)c * size);
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static void unit_vec(double lat, double lon, double v[3])
{
    double p = lat * DEG, l = lon * DEG;
    v[0] = cos(p) * cos(l);
    v[1] = cos(p) * sin(l);
    v[2] = sin(p);
}

static double dot3(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* Distances. The haversine formula gives d = 2R asin(sqrt(a)) with a = sin^2(dlat/2) +
   cos lat1 cos lat2 sin^2(dlon/2), and sqrt(a) is half the chord between the two points' unit
   vectors. The index works on the squared chord s = 4a, from the vectors it stores: no
   trigonometry per entry, exact near 0, and monotonic in d, so filtering, ordering and cursors
   all compare s, and only a returned distance pays for the asin. */
static double chord2(const double a[3], const double b[3])
{
    double x = a[0] - b[0], y = a[1] - b[1], z = a[2] - b[2];
    return x * x + y * y + z * z;
}

static double chord2_km(double s)
{
    double h = sqrt(s) / 2;
    return 2 * IDX_EARTH_RADIUS_KM * asin(h > 1 ? 1 : h);
}

static double km_chord2(double km)
{
    double ang = km / IDX_EARTH_RADIUS_KM;
    if (!(ang < M_PI))
        return INFINITY;
    double c = 2 * sin(ang / 2);
    return c * c;
}

/* ------------------------------------------------------------------------------------------
 * String hash map: string -> uint32, open addressing with linear probing and backward-shift
 * deletion. Keys are borrowed; the owner keeps them alive (and repoints them when moving).
 * ------------------------------------------------------------------------------------------ */

struct smap_slot {
    const char *k; /* NULL: empty */
    uint32_t h, v;
};

struct smap {
    struct smap_slot *s;
    uint32_t cap, n; /* cap: 0 or a power of two */
};

static long smap_find(const struct smap *m, const char *k, uint32_t h)
{
    if (!m->cap)
        return -1;
    uint32_t mask = m->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        if (!m->s[i].k)
            return -1;
        if (m->s[i].h == h && strcmp(m->s[i].k, k) == 0)
            return i;
    }
}

static void smap_insert_raw(struct smap *m, const char *k, uint32_t h, uint32_t v)
{
    uint32_t mask = m->cap - 1, i = h & mask;
    while (m->s[i].k)
        i = (i + 1) & mask;
    m->s[i] = (struct smap_slot){k, h, v};
    m->n++;
}

/* Adds k (absent). */
static void smap_put(struct smap *m, const char *k, uint32_t h, uint32_t v)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        struct smap old = *m;
        m->cap = old.cap ? old.cap * 2 : 16;
        m->s = xcalloc(m->cap, sizeof *m->s);
        m->n = 0;
        for (uint32_t i = 0; i < old.cap; i++)
            if (old.s[i].k)
                smap_insert_raw(m, old.s[i].k, old.s[i].h, old.s[i].v);
        free(old.s);
    }
    smap_insert_raw(m, k, h, v);
}

static void smap_del_at(struct smap *m, uint32_t i)
{
    uint32_t mask = m->cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->s[j].k)
            break;
        uint32_t home = m->s[j].h & mask;
        /* Move j back to the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            m->s[i] = m->s[j];
            i = j;
        }
    }
    m->s[i].k = NULL;
    m->n--;
}

static void smap_free(struct smap *m)
{
    free(m->s);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------------------------
 * Code tables: a string <-> small id, never shrinking. Names are owned and never move, so an
 * entry may point at them. With reserve_empty, id 0 is "" (unknown).
 * ------------------------------------------------------------------------------------------ */

struct dict {
    struct smap map;
    char **names;
    uint32_t n, cap, limit;
};

static void dict_init(struct dict *d, uint32_t limit, bool reserve_empty);

static long dict_lookup(const struct dict *d, const char *s)
{
    long i = smap_find(&d->map, s, str_hash(s));
    return i < 0 ? -1 : (long)d->map.s[i].v;
}

static bool dict_room(const struct dict *d, const char *s)
{
    return dict_lookup(d, s) >= 0 || d->n < d->limit;
}

static uint32_t dict_intern(struct dict *d, const char *s)
{
    uint32_t h = str_hash(s);
    long i = smap_find(&d->map, s, h);
    if (i >= 0)
        return d->map.s[i].v;
    d->names = grow(d->names, &d->cap, d->n + 1, sizeof *d->names);
    d->names[d->n] = xstrdup(s);
    smap_put(&d->map, d->names[d->n], h, d->n);
    return d->n++;
}

static void dict_init(struct dict *d, uint32_t limit, bool reserve_empty)
{
    memset(d, 0, sizeof *d);
    d->limit = limit;
    if (reserve_empty)
        (void)dict_intern(d, "");
}

static void dict_free(struct dict *d)
{
    for (uint32_t i = 0; i < d->n; i++)
        free(d->names[i]);
    free(d->names);
    smap_free(&d->map);
}

/* ------------------------------------------------------------------------------------------
 * Entries
 * ------------------------------------------------------------------------------------------ */

struct rec_ag {
    uint32_t comm; /* commissioner id */
};

/* One entry, in one allocation: this struct, the agreements, then the strings. */
struct rec {
    struct idx_entry e;   /* the public view; strings point into this allocation or the tables */
    const char *name_cf;  /* sort name: case-folded organisation name, cut to IDX_SORT_NAME_BYTES;
                             the string of `name` in the sort name table */
    uint32_t name;        /* sort name id (idx.names) */
    double plat, plon;    /* the precise point (the public one when none was given) */
    uint32_t site_next, site_prev, org_next, org_prev;
    uint32_t size;        /* bytes of this allocation */
    uint16_t st, region, sector, la;
    struct rec_ag *ag;    /* parallel to e.agreements */
};

/* What scans and page comparisons read per slot, packed: two to a cache line. */
struct hot {
    uint64_t kp;     /* the key's first 8 bytes, big-endian: orders like the key, mostly */
    int64_t vac_at;
    uint32_t name;   /* sort name id: idx.nrank orders it */
    uint16_t cls;    /* class */
    uint16_t la;     /* LA id, 0 unknown */
    uint16_t sector; /* sector id, 0 unknown */
    uint8_t tiers;
    uint8_t age_min, age_max; /* 255 unknown */
    uint8_t live;
    uint8_t places;  /* vacancies > 0 */
};
_Static_assert(sizeof(struct hot) == 32, "two hot records to a cache line");

/* ------------------------------------------------------------------------------------------
 * Spatial trees. A fixed grid over lat/lon: level 7 cells are 1 degree square and each level
 * halves them, down to 1/128 degree at level 0. Under each top cell, an adaptive quadtree on
 * that grid: a node exists while an entry lies under it, and is a leaf until it holds more
 * than GEO_LEAF_MAX entries. Each node carries a spherical cap around it (centre + angular
 * radius, from the corners: along a parallel and along a meridian the distance from the
 * centre is unimodal, so a corner is farthest), which is all the geometry a query needs, and
 * counts its entries per class. Leaves hold their entries' unit vectors and hot records,
 * contiguous for fast scans.
 * ------------------------------------------------------------------------------------------ */

#define GEO_LEVELS 8
#define GEO_TOP (GEO_LEVELS - 1)
/* A leaf above level 0 splits when it holds more entries than this, and an inner node
   collapses back into a leaf when its entries fall to GEO_LEAF_MERGE: sparse areas stay
   shallow (few nodes to visit), dense ones get small cells (few entries on a disc's edge). */
#define GEO_LEAF_MAX 48
#define GEO_LEAF_MERGE 12
#define GEO_FINE (1u << GEO_TOP) /* leaf cells per degree */
#define GEO_COLS 360u
#define GEO_ROWS 180u
/* With a disc, the distance sort walks nodes nearest-first only when more than this many
   pages' worth of entries match; otherwise one scan of the disc is cheaper. */
#define NEAREST_MIN_MATCHES 8
/* A text query with near whose driving word list is longer than this tests it against a
   bitset of the disc's entries (when the disc holds fewer) before seeking the other words or
   fetching a candidate's point. */
#define TEXT_DISC_MIN 4096
/* Descend to this level when estimating how many entries a disc holds. */
#define GEO_ESTIMATE_LEVEL 4

struct agg {
    uint16_t cls;
    uint32_t n;
};

/* Counts per class, sorted by class, and which (service type, rating) pairs occur: a node
   without any pair a query accepts holds no match. */
struct aggset {
    struct agg *a;
    uint32_t n, cap;
    uint64_t pairs[4]; /* bit st << 3 | rating */
};

/* A leaf's entry: its point and a copy of its hot record, so a scan of a disc reads memory
   in order instead of chasing each slot. */
struct gitem {
    double v[3];
    struct hot h;
    uint32_t slot;
    uint32_t fxy; /* its leaf cell: x | y << 16 at level 0, to place it when a leaf splits */
};

/* A leaf's entry as a disc count reads it, parallel to the leaf's items: its point in single
   precision (within 3e-8 of the unit vector per coordinate, so a chord from it is within 6e-8
   of the exact one: see cap) and its class. Four to a cache line instead of one. */
struct gpt {
    float x, y, z;
    uint16_t cls;
    uint16_t unused;
};
_Static_assert(sizeof(struct gpt) == 16, "four points to a cache line");

/* A walk reads the first two cache lines of a node (a node is 64-byte aligned): its cap, what
   it is, and where its children or entries are. */
struct gnode {
    double c[3], rho, cos_rho, sin_rho;
    double chord_rho;  /* 2 sin(rho / 2): the cap's radius as a straight line */
    uint8_t level, ci; /* ci: index in parent->child */
    bool leaf;
    struct gnode *child[4]; /* inner nodes */
    struct gitem *items;    /* leaves */
    struct gpt *pts;        /* leaves: parallel to items */
    uint32_t n_items;
    uint32_t count;    /* entries under this node */
    struct aggset agg; /* the classes of every entry under it */
    uint32_t cap_items;
    uint32_t top_pos;  /* level GEO_TOP: position in geo.tops */
    uint32_t top_ix;   /* level GEO_TOP: index in geo.top */
    uint16_t ix, iy;   /* the cell at its level (GEO_COLS * GEO_FINE columns at level 0) */
    struct gnode *parent;
};
_Static_assert(sizeof(struct gnode) <= 192, "a node in three cache lines");
_Static_assert(GEO_COLS * GEO_FINE <= 65536, "a cell's column fits ix");

struct gref {
    struct gnode *leaf;
    uint32_t pos;
};

struct geo {
    struct gnode **top; /* GEO_ROWS * GEO_COLS */
    struct gnode **tops; /* the non-empty top cells */
    uint32_t n_tops, cap_tops;
    struct gref *ref;   /* per slot */
    double (*vec)[3];   /* per slot: its point, for lists that are not spatial */
    size_t nodes;
};

/* ------------------------------------------------------------------------------------------
 * Ordered sets: slots in sort order, as a list of sorted blocks (a two-level B+-tree).
 * ------------------------------------------------------------------------------------------ */

#define OSET_BLOCK 512

struct oblock {
    uint32_t n;
    uint32_t s[OSET_BLOCK];
};

struct oset {
    struct oblock **b;
    uint32_t n, cap;
    enum idx_sort sort; /* IDX_SORT_NAME or IDX_SORT_RATING */
};

/* A position in some order: what a cursor carries and what an entry is compared by. */
struct skey {
    double s; /* squared chord to the near point (the distance sort) */
    int rating, score;
    const char *name, *key;
};

/* ------------------------------------------------------------------------------------------
 * Inverted index: postings are slot << 3 | where the word occurs, sorted by slot.
 * ------------------------------------------------------------------------------------------ */

#define T_NAME 1u /* organisation name, or site name of a public site */
#define T_PRIV 2u /* site name of an address_private site */
#define T_DESC 4u

struct plist {
    uint32_t *p;
    uint32_t n, cap;
};

struct vec32 {
    uint32_t *v;
    uint32_t n, cap;
};

/* The first position of `sorted` (ids of `d`'s names, in byte order of the names) whose name
 * is at or after `s`. */
static uint32_t sorted_lower(const struct dict *d, const struct vec32 *sorted, const char *s)
{
    uint32_t lo = 0, hi = sorted->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (strcmp(d->names[sorted->v[mid]], s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct cand {
    uint32_t slot;
    int score;
    double s;    /* squared chord to the near point, for the distance sort */
    uint64_t kp; /* key prefix, for the distance sort's tie-break */
};

struct pqe {
    double lb;
    struct gnode *n;
};

/* The bitmap index: one bit per slot for each value of the filters that a pass over every
   entry would otherwise test one by one. A query without near ANDs and ORs them 64 entries
   at a time and visits only the candidates left. */
#define BS_AGES 26 /* ages 0..25 have a set; an older age is tested entry by entry */
enum {
    BS_LIVE,
    BS_VAC, /* vacancies > 0 (their age is tested per candidate) */
    BS_ST0,
    BS_REGION0 = BS_ST0 + IDX_MAX_SERVICE_TYPES,
    BS_RATING0 = BS_REGION0 + IDX_MAX_REGIONS + 1,
    BS_STATUS0 = BS_RATING0 + IDX_RATING_COUNT,
    BS_TIER0 = BS_STATUS0 + IDX_STATUS_COUNT,
    BS_AGE0 = BS_TIER0 + 4,
    BS_SECTOR0 = BS_AGE0 + BS_AGES,
    BS_COUNT = BS_SECTOR0 + IDX_MAX_SECTORS + 1
};

struct idx {
    struct rec **recs;
    struct hot *hot;
    uint32_t n_slots, cap_slots;
    struct vec32 free_slots;
    size_t n_entries;
    uint64_t *bs[BS_COUNT]; /* each cap_slots / 64 words; NULL while empty */
    bool bulk; /* inside idx_build: ordered sets are filled at the end */

    struct smap keys;  /* key -> slot; key borrowed from the rec */
    struct smap sites; /* site id -> first slot of the site's list; id borrowed from that rec */
    struct smap orgs;

    struct dict st, region, sector, la, comm, unit, terms;
    /* Sort names (case-folded, cut organisation names; never shrinking) and each one's position
       among them in byte order, so a page compares two entries' names as two integers without
       reading their recs. A new name shifts the positions after it: O(names), only when an
       entry brings a name no other has had. */
    struct dict names;
    struct vec32 nsorted; /* name ids in byte order */
    uint32_t *nrank;      /* per name id: its position in nsorted */
    uint32_t cap_nrank;
    struct vec32 *la_list; /* per LA id: its entries, by slot */
    uint32_t cap_la_list;
    struct vec32 *comm_list; /* per commissioner id: entries with an active agreement, by slot */
    uint32_t cap_comm_list;
    struct plist *tp; /* per term id */
    uint32_t cap_tp;
    struct vec32 tsorted; /* term ids in byte order of the term */

    /* Entries per service type and tier set (bits 0-3): when every service type's entries
       offer the same tiers, as they do when tiers come from the service type, a tier filter is
       a filter on service types and the class counts answer it (qctx: fold_tier). */
    uint32_t st_tiers[IDX_MAX_SERVICE_TYPES][16];
    struct geo geo[2]; /* by idx_view: public point, precise point */
    struct aggset global;
    /* The class counts of sub-populations: per sector id, per age 0..BS_AGES-1 (the entries
       whose range holds it), per commissioner id (the entries with an active agreement). A
       query whose one filter beyond the classes is one of these counts from it. */
    struct aggset *sector_agg, age_agg[BS_AGES], *comm_agg;
    uint32_t cap_sector_agg, cap_comm_agg;
    struct oset by_name, by_rating;

    /* query scratch */
    struct vec32 sv;         /* collected slots */
    struct vec32 ubuf, ubuf2; /* prefix union */
    uint64_t *dbits;          /* the slots in a disc */
    uint32_t cap_dbits;
    uint64_t *cbits;          /* the slots of a commissioner's list */
    uint32_t cap_cbits;
    struct cand *tc;         /* text candidates */
    uint32_t n_tc, cap_tc;
    struct pqe *pq;
    uint32_t n_pq, cap_pq;
    const struct gnode **bfs; /* disc_count's queue and the nodes it counts */
    uint32_t cap_bfs;
};

/* ------------------------------------------------------------------------------------------
 * Enum names
 * ------------------------------------------------------------------------------------------ */

static const char *const status_names[] = {"active", "suspended", "lapsed", "revoked"};
static const char *const rating_names[] = {"none", "inadequate", "requires_improvement", "good",
                                           "outstanding"};
static const char *const agreement_names[] = {"active", "suspended", "terminated"};

/* The position of s in names[0..n), or -1. */
static int name_lookup(const char *const *names, unsigned n, const char *s)
{
    for (unsigned i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

const char *idx_status_name(enum idx_status s)
{
    return (unsigned)s < IDX_STATUS_COUNT ? status_names[s] : "?";
}

bool idx_status_parse(const char *s, enum idx_status *out)
{
    int i = name_lookup(status_names, IDX_STATUS_COUNT, s);
    if (i >= 0)
        *out = (enum idx_status)i;
    return i >= 0;
}

const char *idx_rating_name(enum idx_rating r)
{
    return (unsigned)r < IDX_RATING_COUNT ? rating_names[r] : "?";
}

bool idx_rating_parse(const char *s, enum idx_rating *out)
{
    int i = name_lookup(rating_names, IDX_RATING_COUNT, s);
    if (i >= 0)
        *out = (enum idx_rating)i;
    return i >= 0;
}

const char *idx_agreement_status_name(enum idx_agreement_status s)
{
    return (unsigned)s <= IDX_AGREEMENT_TERMINATED ? agreement_names[s] : "?";
}

bool idx_agreement_status_parse(const char *s, enum idx_agreement_status *out)
{
    int i = name_lookup(agreement_names, IDX_AGREEMENT_TERMINATED + 1, s);
    if (i >= 0)
        *out = (enum idx_agreement_status)i;
    return i >= 0;
}

/* ------------------------------------------------------------------------------------------
 * Class counts
 * ------------------------------------------------------------------------------------------ */

static uint32_t agg_find(const struct aggset *s, uint16_t cls)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->a[mid].cls < cls)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void agg_add(struct aggset *s, uint16_t cls)
{
    uint32_t i = agg_find(s, cls);
    if (i < s->n && s->a[i].cls == cls) {
        s->a[i].n++;
        return;
    }
    s->a = grow(s->a, &s->cap, s->n + 1, sizeof *s->a);
    memmove(s->a + i + 1, s->a + i, (s->n - i) * sizeof *s->a);
    s->a[i] = (struct agg){cls, 1};
    s->n++;
    unsigned pair = cls & 0xFFu;
    s->pairs[pair >> 6] |= 1ull << (pair & 63);
}

static void agg_del(struct aggset *s, uint16_t cls)
{
    uint32_t i = agg_find(s, cls);
    if (i >= s->n || s->a[i].cls != cls)
        abort(); /* the structures disagree: a bug, not an input */
    if (--s->a[i].n == 0) {
        memmove(s->a + i, s->a + i + 1, (s->n - i - 1) * sizeof *s->a);
        s->n--;
        memset(s->pairs, 0, sizeof s->pairs);
        for (uint32_t j = 0; j < s->n; j++) {
            unsigned pair = s->a[j].cls & 0xFFu;
            s->pairs[pair >> 6] |= 1ull << (pair & 63);
        }
    }
}

/* ------------------------------------------------------------------------------------------
 * Spatial trees
 * ------------------------------------------------------------------------------------------ */

static double ang_rad(double lat1, double lon1, double lat2, double lon2)
{
    double a[3], b[3];
    unit_vec(lat1, lon1, a);
    unit_vec(lat2, lon2, b);
    return 2 * asin(fmin(1, sqrt(chord2(a, b)) / 2));
}

static struct gnode *gnode_new(struct geo *g, unsigned level, uint32_t ix, uint32_t iy)
{
    struct gnode *n = xcalloc_aligned(64, sizeof *n);
    n->level = (uint8_t)level;
    n->leaf = true;
    n->ix = (uint16_t)ix;
    n->iy = (uint16_t)iy;
    double span = (double)(1u << level) / GEO_FINE;
    double lon0 = ix * span - 180, lon1 = lon0 + span;
    double lat0 = iy * span - 90, lat1 = fmin(90, lat0 + span);
    double clat = (lat0 + lat1) / 2, clon = (lon0 + lon1) / 2;
    unit_vec(clat, clon, n->c);
    double r = fmax(fmax(ang_rad(clat, clon, lat0, lon0), ang_rad(clat, clon, lat0, lon1)),
                    fmax(ang_rad(clat, clon, lat1, lon0), ang_rad(clat, clon, lat1, lon1)));
    n->rho = r * (1 + 1e-9) + 1e-12;
    n->cos_rho = cos(n->rho);
    n->sin_rho = sin(n->rho);
    n->chord_rho = 2 * sin(n->rho / 2);
    g->nodes++;
    return n;
}

static void fine_xy(double lat, double lon, uint32_t *fx, uint32_t *fy)
{
    double x = floor((lon + 180) * GEO_FINE), y = floor((lat + 90) * GEO_FINE);
    double xmax = GEO_COLS * GEO_FINE - 1, ymax = GEO_ROWS * GEO_FINE - 1;
    *fx = (uint32_t)(x < 0 ? 0 : x > xmax ? xmax : x);
    *fy = (uint32_t)(y < 0 ? 0 : y > ymax ? ymax : y);
}

static void geo_init(struct geo *g)
{
    memset(g, 0, sizeof *g);
    g->top = xcalloc((size_t)GEO_ROWS * GEO_COLS, sizeof *g->top);
}

static unsigned child_index(uint32_t fxy, unsigned level)
{
    uint32_t fx = fxy & 0xFFFFu, fy = fxy >> 16;
    return ((fy >> (level - 1)) & 1u) << 1 | ((fx >> (level - 1)) & 1u);
}

static struct gnode *child_of(struct geo *g, struct gnode *n, unsigned ci)
{
    if (!n->child[ci]) {
        unsigned l = n->level - 1u;
        struct gnode *c = gnode_new(g, l, n->ix * 2 + (ci & 1u), n->iy * 2 + (ci >> 1));
        c->parent = n;
        c->ci = (uint8_t)ci;
        n->child[ci] = c;
    }
    return n->child[ci];
}

static void leaf_push(struct geo *g, struct gnode *n, const struct gitem *it)
{
    uint32_t cap = n->cap_items;
    n->items = grow(n->items, &n->cap_items, n->n_items + 1, sizeof *n->items);
    if (n->cap_items != cap)
        n->pts = xrealloc(n->pts, n->cap_items * sizeof *n->pts);
    n->items[n->n_items] = *it;
    n->pts[n->n_items] =
        (struct gpt){(float)it->v[0], (float)it->v[1], (float)it->v[2], it->h.cls, 0};
    g->ref[it->slot] = (struct gref){n, n->n_items};
    n->n_items++;
    n->count++;
    agg_add(&n->agg, it->h.cls);
}

/* A full leaf becomes an inner node: its entries go to new leaves a level down. */
static void leaf_split(struct geo *g, struct gnode *n)
{
    struct gitem *items = n->items;
    uint32_t m = n->n_items;
    n->items = NULL;
    free(n->pts);
    n->pts = NULL;
    n->n_items = n->cap_items = 0;
    n->leaf = false; /* its count and classes stay: they are those of its new children */
    for (uint32_t i = 0; i < m; i++)
        leaf_push(g, child_of(g, n, child_index(items[i].fxy, n->level)), &items[i]);
    free(items);
    for (int i = 0; i < 4; i++) /* one child may hold them all: split it in turn */
        if (n->child[i] && n->child[i]->n_items > GEO_LEAF_MAX && n->child[i]->level > 0)
            leaf_split(g, n->child[i]);
}

static void geo_add(struct geo *g, uint32_t slot, double lat, double lon, const struct hot *h)
{
    uint32_t fx, fy;
    fine_xy(lat, lon, &fx, &fy);
    size_t ti = (size_t)(fy >> GEO_TOP) * GEO_COLS + (fx >> GEO_TOP);
    struct gnode *n = g->top[ti];
    if (!n) {
        n = g->top[ti] = gnode_new(g, GEO_TOP, fx >> GEO_TOP, fy >> GEO_TOP);
        n->top_ix = (uint32_t)ti;
        g->tops = grow(g->tops, &g->cap_tops, g->n_tops + 1, sizeof *g->tops);
        n->top_pos = g->n_tops;
        g->tops[g->n_tops++] = n;
    }
    struct gitem it = {.h = *h, .slot = slot, .fxy = fx | fy << 16};
    unit_vec(lat, lon, it.v);
    memcpy(g->vec[slot], it.v, sizeof it.v);
    while (!n->leaf) {
        n->count++;
        agg_add(&n->agg, h->cls);
        n = child_of(g, n, child_index(it.fxy, n->level));
    }
    leaf_push(g, n, &it);
    if (n->n_items > GEO_LEAF_MAX && n->level > 0)
        leaf_split(g, n);
}

static void gnode_free(struct gnode *n)
{
    free(n->items);
    free(n->pts);
    free(n->agg.a);
    free(n);
}

static void gather(struct geo *g, struct gnode *into, struct gnode *n)
{
    if (n->leaf) {
        for (uint32_t i = 0; i < n->n_items; i++)
            leaf_push(g, into, &n->items[i]);
    } else {
        for (int i = 0; i < 4; i++)
            if (n->child[i])
                gather(g, into, n->child[i]);
    }
    gnode_free(n);
    g->nodes--;
}

/* An inner node with few entries left becomes a leaf again. */
static void collapse(struct geo *g, struct gnode *n)
{
    struct gnode *kids[4];
    memcpy(kids, n->child, sizeof kids);
    memset(n->child, 0, sizeof n->child);
    free(n->agg.a);
    n->agg = (struct aggset){0}; /* rebuilt by the pushes, with the count */
    n->count = 0;
    n->leaf = true;
    for (int i = 0; i < 4; i++)
        if (kids[i])
            gather(g, n, kids[i]);
}

static void geo_del(struct geo *g, uint32_t slot)
{
    struct gnode *n = g->ref[slot].leaf;
    uint32_t pos = g->ref[slot].pos;
    uint16_t cls = n->items[pos].h.cls;
    n->items[pos] = n->items[--n->n_items];
    n->pts[pos] = n->pts[n->n_items];
    if (pos < n->n_items)
        g->ref[n->items[pos].slot].pos = pos;
    g->ref[slot] = (struct gref){NULL, 0};
    n->count--;
    agg_del(&n->agg, cls);
    struct gnode *merge = NULL;
    for (struct gnode *p = n->parent; p; p = p->parent) {
        p->count--;
        agg_del(&p->agg, cls);
        if (p->count <= GEO_LEAF_MERGE)
            merge = p; /* the topmost such ancestor */
    }
    if (merge) {
        collapse(g, merge);
        n = merge;
    }
    if (n->count > 0)
        return;
    struct gnode *p = n->parent; /* an empty leaf goes; its parent holds more than a merge */
    if (p) {
        p->child[n->ci] = NULL;
    } else {
        g->top[n->top_ix] = NULL;
        g->tops[n->top_pos] = g->tops[--g->n_tops];
        g->tops[n->top_pos]->top_pos = n->top_pos;
    }
    gnode_free(n);
    g->nodes--;
}

static void gnode_free_tree(struct gnode *n)
{
    if (!n)
        return;
    for (int i = 0; i < 4; i++)
        gnode_free_tree(n->child[i]);
    gnode_free(n);
}

static void geo_free(struct geo *g)
{
    for (uint32_t i = 0; i < g->n_tops; i++)
        gnode_free_tree(g->tops[i]);
    free(g->tops);
    free(g->top);
    free(g->ref);
    free(g->vec);
}

static const double *geo_vec(const struct geo *g, uint32_t slot)
{
    return g->vec[slot];
}

/* Refreshes the copy of a slot's hot record in its leaf (its class unchanged). */
static void geo_set_hot(struct geo *g, uint32_t slot, const struct hot *h)
{
    g->ref[slot].leaf->items[g->ref[slot].pos].h = *h;
}

/* A disc on the sphere: centre, radius (km, tolerance included) as an angle and as a squared
   chord. A point is in it when its squared chord to the centre is <= s_max. */
struct cap {
    double v[3], r_ang, cos_r, sin_r, s_max;
    /* For a leaf's single-precision points: a squared chord from one up to pt_in is surely
       inside, one beyond pt_out surely outside, and between them the exact point decides.
       The margin, 1e-7 on the chord (0.6 m), is twice the error a float point can make. */
    double pt_in, pt_out;
    bool all; /* the radius covers the sphere */
};

static bool cap_has(const struct cap *c, const double v[3])
{
    return c->all || chord2(c->v, v) <= c->s_max;
}

#define PT_MARGIN 1e-7

static void cap_init(struct cap *c, double lat, double lon, double radius_km)
{
    unit_vec(lat, lon, c->v);
    double r_km = radius_km + IDX_DISTANCE_EPS_KM;
    c->r_ang = r_km / IDX_EARTH_RADIUS_KM;
    c->all = !(c->r_ang < M_PI);
    c->cos_r = c->all ? -1 : cos(c->r_ang);
    c->sin_r = c->all ? 0 : sin(c->r_ang);
    c->s_max = km_chord2(r_km);
    double ch = sqrt(c->s_max), lo = ch - PT_MARGIN;
    c->pt_in = lo > 0 ? lo * lo : -1;
    c->pt_out = c->all ? INFINITY : (ch + PT_MARGIN) * (ch + PT_MARGIN);
}

/* The squared chord from the cap's centre to a leaf's single-precision point. */
static double pt_chord2(const struct cap *c, const struct gpt *p)
{
    double dx = (double)p->x - c->v[0], dy = (double)p->y - c->v[1], dz = (double)p->z - c->v[2];
    return dx * dx + dy * dy + dz * dz;
}

/* cap_has for the i-th entry of a leaf, from its single-precision point when that settles it. */
static bool cap_has_item(const struct cap *c, const struct gnode *leaf, uint32_t i)
{
    if (c->all)
        return true;
    double s = pt_chord2(c, &leaf->pts[i]);
    if (s <= c->pt_in)
        return true;
    if (s > c->pt_out)
        return false;
    return cap_has(c, leaf->items[i].v);
}


enum { REL_OUT, REL_PART, REL_IN };

static int cap_rel(const struct cap *c, const struct gnode *n)
{
    if (c->all)
        return REL_IN;
    double d = dot3(c->v, n->c);
    if (c->r_ang + n->rho < M_PI && d < c->cos_r * n->cos_rho - c->sin_r * n->sin_rho - DOT_EPS)
        return REL_OUT;
    if (c->r_ang > n->rho && d > c->cos_r * n->cos_rho + c->sin_r * n->sin_rho + DOT_EPS)
        return REL_IN;
    return REL_PART;
}

/* ------------------------------------------------------------------------------------------
 * Ordered sets
 * ------------------------------------------------------------------------------------------ */

static int skey_cmp(enum idx_sort sort, const struct skey *a, const struct skey *b)
{
    int r;
    switch (sort) {
    case IDX_SORT_DISTANCE:
        if (a->s != b->s)
            return a->s < b->s ? -1 : 1;
        break;
    case IDX_SORT_RATING:
        if (a->rating != b->rating)
            return a->rating > b->rating ? -1 : 1;
        if ((r = strcmp(a->name, b->name)) != 0)
            return r;
        break;
    case IDX_SORT_RELEVANCE:
        if (a->score != b->score)
            return a->score > b->score ? -1 : 1;
        if ((r = strcmp(a->name, b->name)) != 0)
            return r;
        break;
    default:
        if ((r = strcmp(a->name, b->name)) != 0)
            return r;
        break;
    }
    return strcmp(a->key, b->key);
}

static struct skey slot_skey(const struct idx *ix, uint32_t slot)
{
    const struct rec *r = ix->recs[slot];
    return (struct skey){0, (int)K_RATING(ix->hot[slot].cls), 0, r->name_cf, r->e.key};
}

/* First position (block, index) whose element is > k (strict) or >= k. */
static void oset_seek(const struct idx *ix, const struct oset *o, const struct skey *k, bool strict,
                      uint32_t *bi, uint32_t *pos)
{
    uint32_t lo = 0, hi = o->n;
    while (lo < hi) { /* first block whose last element passes */
        uint32_t mid = (lo + hi) / 2;
        const struct oblock *b = o->b[mid];
        struct skey last = slot_skey(ix, b->s[b->n - 1]);
        int c = skey_cmp(o->sort, &last, k);
        if (strict ? c > 0 : c >= 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *bi = lo;
    *pos = 0;
    if (lo == o->n)
        return;
    const struct oblock *b = o->b[lo];
    uint32_t l = 0, h = b->n;
    while (l < h) {
        uint32_t mid = (l + h) / 2;
        struct skey e = slot_skey(ix, b->s[mid]);
        int c = skey_cmp(o->sort, &e, k);
        if (strict ? c > 0 : c >= 0)
            h = mid;
        else
            l = mid + 1;
    }
    *pos = l;
}

static void oset_add(struct idx *ix, struct oset *o, uint32_t slot)
{
    struct skey k = slot_skey(ix, slot);
    if (o->n == 0) {
        o->b = grow(o->b, &o->cap, 1, sizeof *o->b);
        o->b[0] = xmalloc(sizeof **o->b);
        o->b[0]->n = 1;
        o->b[0]->s[0] = slot;
        o->n = 1;
        return;
    }
    uint32_t bi, pos;
    oset_seek(ix, o, &k, false, &bi, &pos);
    if (bi == o->n) { /* after everything: the end of the last block */
        bi = o->n - 1;
        pos = o->b[bi]->n;
    }
    struct oblock *b = o->b[bi];
    if (b->n == OSET_BLOCK) { /* split in halves */
        struct oblock *nb = xmalloc(sizeof *nb);
        nb->n = OSET_BLOCK / 2;
        memcpy(nb->s, b->s + OSET_BLOCK / 2, (OSET_BLOCK / 2) * sizeof *b->s);
        b->n = OSET_BLOCK / 2;
        o->b = grow(o->b, &o->cap, o->n + 1, sizeof *o->b);
        memmove(o->b + bi + 2, o->b + bi + 1, (o->n - bi - 1) * sizeof *o->b);
        o->b[bi + 1] = nb;
        o->n++;
        if (pos > OSET_BLOCK / 2) {
            b = nb;
            pos -= OSET_BLOCK / 2;
        }
    }
    memmove(b->s + pos + 1, b->s + pos, (b->n - pos) * sizeof *b->s);
    b->s[pos] = slot;
    b->n++;
}

static void oset_del(struct idx *ix, struct oset *o, uint32_t slot)
{
    struct skey k = slot_skey(ix, slot);
    uint32_t bi, pos;
    oset_seek(ix, o, &k, false, &bi, &pos);
    if (bi == o->n || o->b[bi]->s[pos] != slot)
        abort(); /* the structures disagree: a bug, not an input */
    struct oblock *b = o->b[bi];
    memmove(b->s + pos, b->s + pos + 1, (b->n - pos - 1) * sizeof *b->s);
    if (--b->n == 0) {
        free(b);
        memmove(o->b + bi, o->b + bi + 1, (o->n - bi - 1) * sizeof *o->b);
        o->n--;
    }
}

static void oset_free(struct oset *o)
{
    for (uint32_t i = 0; i < o->n; i++)
        free(o->b[i]);
    free(o->b);
    o->b = NULL;
    o->n = o->cap = 0;
}

/* A slot with the first bytes of its name and key, so sorting rarely reads the recs. */
struct sortrec {
    uint64_t np, kp;
    uint32_t slot;
};

static uint64_t prefix8(const char *s)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < 8 && s[i]; i++)
        v = v << 8 | (unsigned char)s[i];
    return v << (8 * (8 - i));
}

static int sortrec_cmp(const void *pa, const void *pb, void *arg)
{
    const struct sortrec *a = pa, *b = pb;
    const struct idx *ix = arg;
    if (a->np != b->np)
        return a->np < b->np ? -1 : 1;
    int r = strcmp(ix->recs[a->slot]->name_cf, ix->recs[b->slot]->name_cf);
    if (r)
        return r;
    if (a->kp != b->kp)
        return a->kp < b->kp ? -1 : 1;
    return strcmp(ix->recs[a->slot]->e.key, ix->recs[b->slot]->e.key);
}

static void oset_fill(struct oset *o, const uint32_t *all, uint32_t n)
{
    const uint32_t fill = OSET_BLOCK * 3 / 4; /* room to insert before a block splits */
    for (uint32_t i = 0; i < n; i += fill) {
        struct oblock *b = xmalloc(sizeof *b);
        b->n = n - i < fill ? n - i : fill;
        memcpy(b->s, all + i, b->n * sizeof *all);
        o->b = grow(o->b, &o->cap, o->n + 1, sizeof *o->b);
        o->b[o->n++] = b;
    }
}

/* Fills both empty sets with every live slot: one sort by name, then the rating order as a
   stable pass over it by rating (rating leads that order, name and key follow). */
static void osets_bulk(struct idx *ix)
{
    struct sortrec *sr = xmalloc(((size_t)ix->n_slots + 1) * sizeof *sr);
    uint32_t n = 0;
    for (uint32_t s = 0; s < ix->n_slots; s++)
        if (ix->hot[s].live)
            sr[n++] = (struct sortrec){prefix8(ix->recs[s]->name_cf), ix->hot[s].kp, s};
    qsort_r(sr, n, sizeof *sr, sortrec_cmp, ix);
    uint32_t *all = xmalloc(((size_t)n + 1) * sizeof *all), *by_rating = xmalloc(((size_t)n + 1) * sizeof *all);
    uint32_t start[IDX_RATING_COUNT + 1] = {0};
    for (uint32_t i = 0; i < n; i++) {
        all[i] = sr[i].slot;
        start[IDX_RATING_COUNT - 1 - K_RATING(ix->hot[all[i]].cls) + 1]++;
    }
    for (unsigned r = 1; r <= IDX_RATING_COUNT; r++)
        start[r] += start[r - 1];
    for (uint32_t i = 0; i < n; i++)
        by_rating[start[IDX_RATING_COUNT - 1 - K_RATING(ix->hot[all[i]].cls)]++] = all[i];
    oset_fill(&ix->by_name, all, n);
    oset_fill(&ix->by_rating, by_rating, n);
    free(sr);
    free(all);
    free(by_rating);
}

/* ------------------------------------------------------------------------------------------
 * Words
 * ------------------------------------------------------------------------------------------ */

static int apos_len(const unsigned char *s)
{
    if (s[0] == '\'')
        return 1;
    if (s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0x99) /* U+2019 */
        return 3;
    return 0;
}

static bool word_byte(const unsigned char *s)
{
    unsigned c = *s;
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c >= 0x80 && !apos_len(s));
}

/* The next word of *p into out (NUL-terminated, at most IDX_MAX_TOKEN bytes); false at the
   end. *ended says whether a non-word byte followed it. */
static bool word_next(const char **p, char out[IDX_MAX_TOKEN + 1], size_t *len, bool *ended)
{
    const unsigned char *s = (const unsigned char *)*p;
    while (*s && !word_byte(s)) {
        int a = apos_len(s);
        s += a ? a : 1;
    }
    if (!*s) {
        *p = (const char *)s;
        return false;
    }
    size_t n = 0;
    while (*s) {
        if (word_byte(s)) {
            if (n < IDX_MAX_TOKEN)
                out[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
            s++;
            continue;
        }
        int a = apos_len(s);
        if (a && word_byte(s + a)) {
            s += a;
            continue;
        }
        break;
    }
    out[n] = '\0';
    *len = n;
    *ended = *s != '\0';
    *p = (const char *)s;
    return true;
}

struct tword {
    uint32_t term, bits;
};

static int tword_cmp(const void *a, const void *b)
{
    const struct tword *x = a, *y = b;
    return x->term < y->term ? -1 : x->term > y->term;
}

/* The distinct words of an entry's text with where they occur. With intern, unknown words
   become terms; without, they are skipped (the removal path: every word is known). Caller
   frees *out. */
static uint32_t rec_words(struct idx *ix, const struct rec *r, bool intern, struct tword **out)
{
    struct {
        const char *s;
        uint32_t bits;
    } fields[3] = {{r->e.organisation_name, T_NAME},
                   {r->e.site_name, r->e.address_private ? T_PRIV : T_NAME},
                   {r->e.description, T_DESC}};
    struct tword *w = NULL;
    uint32_t n = 0, cap = 0;
    char tok[IDX_MAX_TOKEN + 1];
    for (int f = 0; f < 3; f++) {
        const char *p = fields[f].s;
        size_t len;
        bool ended;
        while (word_next(&p, tok, &len, &ended)) {
            long id;
            if (intern) {
                uint32_t before = ix->terms.n;
                id = dict_intern(&ix->terms, tok);
                if (ix->terms.n != before) { /* a new term: a posting list, a sorted place */
                    ix->tp = grow(ix->tp, &ix->cap_tp, ix->terms.n, sizeof *ix->tp);
                    memset(&ix->tp[id], 0, sizeof ix->tp[id]);
                    uint32_t lo = sorted_lower(&ix->terms, &ix->tsorted, tok);
                    struct vec32 *t = &ix->tsorted;
                    t->v = grow(t->v, &t->cap, t->n + 1, sizeof *t->v);
                    memmove(t->v + lo + 1, t->v + lo, (t->n - lo) * sizeof *t->v);
                    t->v[lo] = (uint32_t)id;
                    t->n++;
                }
            } else {
                id = dict_lookup(&ix->terms, tok);
                if (id < 0)
                    continue;
            }
            w = grow(w, &cap, n + 1, sizeof *w);
            w[n++] = (struct tword){(uint32_t)id, fields[f].bits};
        }
    }
    if (n)
        qsort(w, n, sizeof *w, tword_cmp);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m && w[m - 1].term == w[i].term)
            w[m - 1].bits |= w[i].bits;
        else
            w[m++] = w[i];
    }
    *out = w;
    return m;
}

/* Position of the first posting with slot >= `slot`, searching from `from`. */
static uint32_t plist_seek(const uint32_t *p, uint32_t n, uint32_t from, uint32_t slot, unsigned shift)
{
    /* gallop, then binary search */
    uint32_t step = 1, lo = from, hi = from;
    while (hi < n && (p[hi] >> shift) < slot) {
        lo = hi + 1;
        hi = hi + step;
        step *= 2;
    }
    if (hi > n)
        hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((p[mid] >> shift) < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void text_add(struct idx *ix, uint32_t slot, const struct rec *r)
{
    struct tword *w;
    uint32_t n = rec_words(ix, r, true, &w);
    for (uint32_t i = 0; i < n; i++) {
        struct plist *pl = &ix->tp[w[i].term];
        uint32_t pos = pl->n && (pl->p[pl->n - 1] >> 3) < slot
                           ? pl->n
                           : plist_seek(pl->p, pl->n, 0, slot, 3);
        pl->p = grow(pl->p, &pl->cap, pl->n + 1, sizeof *pl->p);
        memmove(pl->p + pos + 1, pl->p + pos, (pl->n - pos) * sizeof *pl->p);
        pl->p[pos] = slot << 3 | w[i].bits;
        pl->n++;
    }
    free(w);
}

static void text_del(struct idx *ix, uint32_t slot, const struct rec *r)
{
    struct tword *w;
    uint32_t n = rec_words(ix, r, false, &w);
    for (uint32_t i = 0; i < n; i++) {
        struct plist *pl = &ix->tp[w[i].term];
        uint32_t pos = plist_seek(pl->p, pl->n, 0, slot, 3);
        if (pos == pl->n || (pl->p[pos] >> 3) != slot)
            abort(); /* the structures disagree: a bug, not an input */
        memmove(pl->p + pos, pl->p + pos + 1, (pl->n - pos - 1) * sizeof *pl->p);
        pl->n--;
    }
    free(w);
}

/* ------------------------------------------------------------------------------------------
 * Entry validation and records
 * ------------------------------------------------------------------------------------------ */

static bool str_ok(const char *s, size_t max, bool required)
{
    if (!s)
        return !required;
    size_t n = strnlen(s, max + 1);
    return n <= max && (!required || n > 0);
}

static bool latlon_ok(double lat, double lon)
{
    return isfinite(lat) && isfinite(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;
}

static bool entry_valid(const struct idx_entry *e)
{
    if (!str_ok(e->key, IDX_MAX_ID, true) || !str_ok(e->site_id, IDX_MAX_ID, true) ||
        !str_ok(e->organisation_id, IDX_MAX_ID, true) ||
        !str_ok(e->organisation_name, IDX_MAX_NAME, true) ||
        !str_ok(e->site_name, IDX_MAX_NAME, false) ||
        !str_ok(e->service_type, IDX_MAX_ID, true) || !str_ok(e->sector, IDX_MAX_ID, false) ||
        !str_ok(e->region, IDX_MAX_ID, false) || !str_ok(e->la, IDX_MAX_ID, false) ||
        !str_ok(e->description, IDX_MAX_DESCRIPTION, false) ||
        !str_ok(e->display_public, IDX_MAX_DISPLAY, false) ||
        !str_ok(e->display_private, IDX_MAX_DISPLAY, false))
        return false;
    if (e->tiers & ~0xFu || (unsigned)e->status >= IDX_STATUS_COUNT ||
        (unsigned)e->rating >= IDX_RATING_COUNT)
        return false;
    if (!latlon_ok(e->lat, e->lon) || (e->has_precise && !latlon_ok(e->precise_lat, e->precise_lon)))
        return false;
    if (e->age_min < -1 || e->age_min > IDX_MAX_AGE || e->age_max < -1 || e->age_max > IDX_MAX_AGE ||
        (e->age_min >= 0 && e->age_max >= 0 && e->age_min > e->age_max))
        return false;
    if (e->vacancies < -1)
        return false;
    if (e->n_agreements > IDX_MAX_AGREEMENTS || (e->n_agreements && !e->agreements))
        return false;
    for (size_t i = 0; i < e->n_agreements; i++) {
        const struct idx_agreement *a = &e->agreements[i];
        if (!str_ok(a->commissioner, IDX_MAX_ID, true) || !str_ok(a->price_unit, IDX_MAX_ID, false) ||
            (unsigned)a->status > IDX_AGREEMENT_TERMINATED || a->price_pence < 0)
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(e->agreements[j].commissioner, a->commissioner) == 0)
                return false;
    }
    return true;
}

/* Whether every code of `e` has (or would get) an id. Commissioner codes are counted one by
   one: an entry has at most IDX_MAX_AGREEMENTS, so a table near its limit is checked with a
   margin rather than by simulating the interning. */
static bool codes_room(const struct idx *ix, const struct idx_entry *e)
{
    if (!dict_room(&ix->st, e->service_type) || !dict_room(&ix->region, nz(e->region)) ||
        !dict_room(&ix->sector, nz(e->sector)) || !dict_room(&ix->la, nz(e->la)))
        return false;
    uint32_t fresh = 0;
    for (size_t i = 0; i < e->n_agreements; i++)
        if (dict_lookup(&ix->comm, e->agreements[i].commissioner) < 0)
            fresh++;
    return ix->comm.n + fresh <= ix->comm.limit;
}

static size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 1;
}

static char *put_str(char **cursor, const char *s)
{
    char *d = *cursor;
    size_t n = s ? strlen(s) : 0;
    memcpy(d, s ? s : "", n);
    d[n] = '\0';
    *cursor += n + 1;
    return d;
}

/* ------------------------------------------------------------------------------------------
 * Sort names: an id per distinct sort name and its rank in byte order (idx.names, nsorted,
 * nrank). A name's rank only grows as names before it arrive, so nrank orders the ids exactly
 * like strcmp orders their strings at any moment.
 * ------------------------------------------------------------------------------------------ */

/* The first position in nsorted whose name is >= s; *found when it equals s. */
static uint32_t name_lower(const struct idx *ix, const char *s, bool *found)
{
    uint32_t lo = sorted_lower(&ix->names, &ix->nsorted, s);
    *found = lo < ix->nsorted.n && strcmp(ix->names.names[ix->nsorted.v[lo]], s) == 0;
    return lo;
}

/* The id of sort name s, ranked among the others (in a build: by names_bulk at the end). */
static uint32_t name_intern(struct idx *ix, const char *s)
{
    uint32_t n0 = ix->names.n, id = dict_intern(&ix->names, s);
    if (id < n0)
        return id;
    ix->nrank = grow(ix->nrank, &ix->cap_nrank, ix->names.n, sizeof *ix->nrank);
    if (ix->bulk)
        return id;
    bool found;
    uint32_t pos = name_lower(ix, s, &found);
    struct vec32 *v = &ix->nsorted;
    v->v = grow(v->v, &v->cap, v->n + 1, sizeof *v->v);
    memmove(v->v + pos + 1, v->v + pos, (v->n - pos) * sizeof *v->v);
    v->v[pos] = id;
    v->n++;
    for (uint32_t i = pos; i < v->n; i++)
        ix->nrank[v->v[i]] = i;
    return id;
}

static int name_id_cmp(const void *a, const void *b, void *arg)
{
    const struct dict *d = arg;
    return strcmp(d->names[*(const uint32_t *)a], d->names[*(const uint32_t *)b]);
}

/* Ranks every name at the end of a build: one sort. */
static void names_bulk(struct idx *ix)
{
    struct vec32 *v = &ix->nsorted;
    v->v = grow(v->v, &v->cap, ix->names.n, sizeof *v->v);
    v->n = ix->names.n;
    for (uint32_t i = 0; i < v->n; i++)
        v->v[i] = i;
    if (v->n > 1)
        qsort_r(v->v, v->n, sizeof *v->v, name_id_cmp, &ix->names);
    for (uint32_t i = 0; i < v->n; i++)
        ix->nrank[v->v[i]] = i;
}

static struct rec *rec_new(struct idx *ix, const struct idx_entry *e)
{
    size_t nag = e->n_agreements;
    size_t name_cf = strnlen(e->organisation_name, IDX_SORT_NAME_BYTES);
    size_t size = sizeof(struct rec) + nag * (sizeof(struct idx_agreement) + sizeof(struct rec_ag)) +
                  slen(e->key) + slen(e->site_id) + slen(e->organisation_id) +
                  slen(e->organisation_name) + slen(e->site_name) + slen(e->description) +
                  slen(e->display_public) + slen(e->display_private);
    struct rec *r = xmalloc(size);
    memset(r, 0, sizeof *r);
    r->size = (uint32_t)size;
    r->e = *e;
    struct idx_agreement *ag = (struct idx_agreement *)(r + 1);
    r->ag = (struct rec_ag *)(ag + nag);
    char *p = (char *)(r->ag + nag);
    r->e.key = put_str(&p, e->key);
    r->e.site_id = put_str(&p, e->site_id);
    r->e.organisation_id = put_str(&p, e->organisation_id);
    r->e.organisation_name = put_str(&p, e->organisation_name);
    r->e.site_name = put_str(&p, e->site_name);
    r->e.description = put_str(&p, e->description);
    r->e.display_public = put_str(&p, e->display_public);
    r->e.display_private = put_str(&p, e->display_private);
    char cf[IDX_SORT_NAME_BYTES + 1];
    for (size_t i = 0; i < name_cf; i++) {
        char c = e->organisation_name[i];
        cf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    cf[name_cf] = '\0';
    r->name = name_intern(ix, cf);
    r->name_cf = ix->names.names[r->name];

    r->st = (uint16_t)dict_intern(&ix->st, e->service_type);
    r->region = (uint16_t)dict_intern(&ix->region, nz(e->region));
    r->sector = (uint16_t)dict_intern(&ix->sector, nz(e->sector));
    r->la = (uint16_t)dict_intern(&ix->la, nz(e->la));
    r->e.service_type = ix->st.names[r->st];
    r->e.region = ix->region.names[r->region];
    r->e.sector = ix->sector.names[r->sector];
    r->e.la = ix->la.names[r->la];
    r->plat = e->has_precise ? e->precise_lat : e->lat;
    r->plon = e->has_precise ? e->precise_lon : e->lon;
    if (!e->has_precise)
        r->e.precise_lat = r->e.precise_lon = 0;
    for (size_t i = 0; i < nag; i++) {
        uint32_t c = dict_intern(&ix->comm, e->agreements[i].commissioner);
        uint32_t u = dict_intern(&ix->unit, nz(e->agreements[i].price_unit));
        ag[i] = e->agreements[i];
        ag[i].commissioner = ix->comm.names[c];
        ag[i].price_unit = ix->unit.names[u];
        r->ag[i] = (struct rec_ag){c};
    }
    r->e.agreements = nag ? ag : NULL;
    r->site_next = r->site_prev = r->org_next = r->org_prev = NONE32;
    return r;
}

static uint16_t rec_class(const struct rec *r)
{
    return make_class(r->region, (unsigned)r->e.status, r->st, (unsigned)r->e.rating);
}

static uint64_t prefix8(const char *s);

/* The key's first 8 bytes, big-endian: ordered like the key, as far as they go. */
static uint64_t key_prefix(const char *key)
{
    return prefix8(key);
}

static struct hot rec_hot(const struct rec *r)
{
    return (struct hot){
        .kp = key_prefix(r->e.key),
        .vac_at = r->e.vacancies_at,
        .name = r->name,
        .cls = rec_class(r),
        .la = r->la,
        .sector = r->sector,
        .tiers = (uint8_t)r->e.tiers,
        .age_min = (uint8_t)(r->e.age_min < 0 ? 255 : r->e.age_min),
        .age_max = (uint8_t)(r->e.age_max < 0 ? 255 : r->e.age_max),
        .live = 1,
        .places = r->e.vacancies > 0,
    };
}

/* ------------------------------------------------------------------------------------------
 * Per-site and per-organisation lists: intrusive, doubly linked through the recs; the map
 * holds the head slot and borrows its id string from the head's rec.
 * ------------------------------------------------------------------------------------------ */

enum group { G_SITE, G_ORG };

static uint32_t *g_next(struct rec *r, enum group g)
{
    return g == G_SITE ? &r->site_next : &r->org_next;
}

static uint32_t *g_prev(struct rec *r, enum group g)
{
    return g == G_SITE ? &r->site_prev : &r->org_prev;
}

static const char *g_id(const struct rec *r, enum group g)
{
    return g == G_SITE ? r->e.site_id : r->e.organisation_id;
}

static struct smap *g_map(struct idx *ix, enum group g)
{
    return g == G_SITE ? &ix->sites : &ix->orgs;
}

static void group_add(struct idx *ix, enum group g, uint32_t slot)
{
    struct rec *r = ix->recs[slot];
    struct smap *m = g_map(ix, g);
    const char *id = g_id(r, g);
    uint32_t h = str_hash(id);
    long i = smap_find(m, id, h);
    *g_prev(r, g) = NONE32;
    if (i < 0) {
        *g_next(r, g) = NONE32;
        smap_put(m, id, h, slot);
        return;
    }
    uint32_t head = m->s[i].v;
    *g_next(r, g) = head;
    *g_prev(ix->recs[head], g) = slot;
    m->s[i].v = slot;
    m->s[i].k = id;
}

static void group_del(struct idx *ix, enum group g, uint32_t slot)
{
    struct rec *r = ix->recs[slot];
    struct smap *m = g_map(ix, g);
    uint32_t next = *g_next(r, g), prev = *g_prev(r, g);
    if (next != NONE32)
        *g_prev(ix->recs[next], g) = prev;
    if (prev != NONE32) {
        *g_next(ix->recs[prev], g) = next;
        return;
    }
    long i = smap_find(m, g_id(r, g), str_hash(g_id(r, g)));
    if (i < 0)
        abort(); /* the structures disagree: a bug, not an input */
    if (next == NONE32) {
        smap_del_at(m, (uint32_t)i);
    } else {
        m->s[i].v = next;
        m->s[i].k = g_id(ix->recs[next], g);
    }
}

/* ------------------------------------------------------------------------------------------
 * Per-LA and per-commissioner lists (unordered; each member knows its position)
 * ------------------------------------------------------------------------------------------ */

static void vec_insert_sorted(struct vec32 *l, uint32_t slot)
{
    uint32_t pos = l->n && l->v[l->n - 1] < slot ? l->n : plist_seek(l->v, l->n, 0, slot, 0);
    l->v = grow(l->v, &l->cap, l->n + 1, sizeof *l->v);
    memmove(l->v + pos + 1, l->v + pos, (l->n - pos) * sizeof *l->v);
    l->v[pos] = slot;
    l->n++;
}

static void vec_remove_sorted(struct vec32 *l, uint32_t slot)
{
    uint32_t pos = plist_seek(l->v, l->n, 0, slot, 0);
    if (pos == l->n || l->v[pos] != slot)
        abort(); /* the structures disagree: a bug, not an input */
    memmove(l->v + pos, l->v + pos + 1, (l->n - pos - 1) * sizeof *l->v);
    l->n--;
}

static struct vec32 *list_at(struct vec32 **lists, uint32_t *cap, uint32_t id)
{
    if (id >= *cap) {
        uint32_t old = *cap;
        *lists = grow(*lists, cap, id + 1, sizeof **lists);
        memset(*lists + old, 0, (*cap - old) * sizeof **lists);
    }
    return &(*lists)[id];
}

static void la_add(struct idx *ix, uint32_t slot)
{
    struct rec *r = ix->recs[slot];
    if (r->la != 0)
        vec_insert_sorted(list_at(&ix->la_list, &ix->cap_la_list, r->la), slot);
}

static void la_del(struct idx *ix, uint32_t slot)
{
    struct rec *r = ix->recs[slot];
    if (r->la != 0)
        vec_remove_sorted(&ix->la_list[r->la], slot);
}

static void comm_add(struct idx *ix, uint32_t slot)
{
    struct rec *r = ix->recs[slot];
    for (size_t i = 0; i < r->e.n_agreements; i++)
        if (r->e.agreements[i].status == IDX_AGREEMENT_ACTIVE)
            vec_insert_sorted(list_at(&ix->comm_list, &ix->cap_comm_list, r->ag[i].comm), slot);
}

static void comm_del(struct idx *ix, uint32_t slot)
{
    struct rec *r = ix->recs[slot];
    for (size_t i = 0; i < r->e.n_agreements; i++)
        if (r->e.agreements[i].status == IDX_AGREEMENT_ACTIVE)
            vec_remove_sorted(&ix->comm_list[r->ag[i].comm], slot);
}

static struct aggset *aggset_at(struct aggset **sets, uint32_t *cap, uint32_t id)
{
    if (id >= *cap) {
        uint32_t old = *cap;
        *sets = grow(*sets, cap, id + 1, sizeof **sets);
        memset(*sets + old, 0, (*cap - old) * sizeof **sets);
    }
    return &(*sets)[id];
}

/* Adds r, of class cls, to the class counts of its sector, ages and commissioners, or takes
   it out of them. */
static void subs_apply(struct idx *ix, const struct rec *r, uint16_t cls, bool add)
{
    void (*f)(struct aggset *, uint16_t) = add ? agg_add : agg_del;
    f(aggset_at(&ix->sector_agg, &ix->cap_sector_agg, r->sector), cls);
    if (r->e.age_min >= 0 && r->e.age_max >= 0)
        for (int a = r->e.age_min; a <= r->e.age_max && a < BS_AGES; a++)
            f(&ix->age_agg[a], cls);
    for (size_t i = 0; i < r->e.n_agreements; i++)
        if (r->e.agreements[i].status == IDX_AGREEMENT_ACTIVE)
            f(aggset_at(&ix->comm_agg, &ix->cap_comm_agg, r->ag[i].comm), cls);
}

/* ------------------------------------------------------------------------------------------
 * Index life, slots, attaching and detaching an entry
 * ------------------------------------------------------------------------------------------ */

static void idx_init(struct idx *ix)
{
    memset(ix, 0, sizeof *ix);
    dict_init(&ix->st, IDX_MAX_SERVICE_TYPES, false);
    dict_init(&ix->region, IDX_MAX_REGIONS + 1, true);
    dict_init(&ix->sector, IDX_MAX_SECTORS + 1, true);
    dict_init(&ix->la, IDX_MAX_AREAS + 1, true);
    dict_init(&ix->comm, IDX_MAX_AREAS, false);
    dict_init(&ix->unit, IDX_MAX_AREAS, true);
    dict_init(&ix->terms, UINT32_MAX, false);
    dict_init(&ix->names, UINT32_MAX, false);
    geo_init(&ix->geo[0]);
    geo_init(&ix->geo[1]);
    ix->by_name.sort = IDX_SORT_NAME;
    ix->by_rating.sort = IDX_SORT_RATING;
}

static void idx_fini(struct idx *ix)
{
    for (uint32_t s = 0; s < ix->n_slots; s++)
        free(ix->recs[s]);
    free(ix->recs);
    free(ix->hot);
    free(ix->free_slots.v);
    for (int b = 0; b < BS_COUNT; b++)
        free(ix->bs[b]);
    smap_free(&ix->keys);
    smap_free(&ix->sites);
    smap_free(&ix->orgs);
    for (uint32_t i = 0; i < ix->cap_la_list; i++)
        free(ix->la_list[i].v);
    free(ix->la_list);
    for (uint32_t i = 0; i < ix->cap_comm_list; i++)
        free(ix->comm_list[i].v);
    free(ix->comm_list);
    for (uint32_t i = 0; i < ix->terms.n; i++)
        free(ix->tp[i].p);
    free(ix->tp);
    free(ix->tsorted.v);
    dict_free(&ix->st);
    dict_free(&ix->region);
    dict_free(&ix->sector);
    dict_free(&ix->la);
    dict_free(&ix->comm);
    dict_free(&ix->unit);
    dict_free(&ix->terms);
    dict_free(&ix->names);
    free(ix->nsorted.v);
    free(ix->nrank);
    geo_free(&ix->geo[0]);
    geo_free(&ix->geo[1]);
    free(ix->global.a);
    for (uint32_t i = 0; i < ix->cap_sector_agg; i++)
        free(ix->sector_agg[i].a);
    free(ix->sector_agg);
    for (unsigned a = 0; a < BS_AGES; a++)
        free(ix->age_agg[a].a);
    for (uint32_t i = 0; i < ix->cap_comm_agg; i++)
        free(ix->comm_agg[i].a);
    free(ix->comm_agg);
    oset_free(&ix->by_name);
    oset_free(&ix->by_rating);
    free(ix->sv.v);
    free(ix->ubuf.v);
    free(ix->ubuf2.v);
    free(ix->dbits);
    free(ix->cbits);
    free(ix->tc);
    free(ix->pq);
    free(ix->bfs);
}

struct idx *idx_new(void)
{
    struct idx *ix = xmalloc(sizeof *ix);
    idx_init(ix);
    return ix;
}

void idx_free(struct idx *ix)
{
    if (!ix)
        return;
    idx_fini(ix);
    free(ix);
}

static uint32_t slot_alloc(struct idx *ix)
{
    if (ix->free_slots.n)
        return ix->free_slots.v[--ix->free_slots.n];
    if (ix->n_slots == ix->cap_slots) {
        uint32_t cap = ix->cap_slots ? ix->cap_slots * 2 : 64;
        ix->recs = xrealloc(ix->recs, (size_t)cap * sizeof *ix->recs);
        ix->hot = xrealloc(ix->hot, (size_t)cap * sizeof *ix->hot);
        for (int v = 0; v < 2; v++) {
            ix->geo[v].ref = xrealloc(ix->geo[v].ref, (size_t)cap * sizeof *ix->geo[v].ref);
            ix->geo[v].vec = xrealloc(ix->geo[v].vec, (size_t)cap * sizeof *ix->geo[v].vec);
        }
        for (int b = 0; b < BS_COUNT; b++)
            if (ix->bs[b]) {
                ix->bs[b] = xrealloc(ix->bs[b], cap / 64 * sizeof(uint64_t));
                memset(ix->bs[b] + ix->cap_slots / 64, 0, (cap - ix->cap_slots) / 64 * sizeof(uint64_t));
            }
        ix->cap_slots = cap;
    }
    return ix->n_slots++;
}

/* Sets or clears the slot's bit in every set its entry belongs to. */
static void bits_apply(struct idx *ix, uint32_t slot, const struct rec *r, bool set)
{
    unsigned ids[BS_AGES + 16], n = 0;
    ids[n++] = BS_LIVE;
    if (r->e.vacancies > 0)
        ids[n++] = BS_VAC;
    ids[n++] = BS_ST0 + r->st;
    ids[n++] = BS_REGION0 + r->region;
    ids[n++] = BS_RATING0 + (unsigned)r->e.rating;
    ids[n++] = BS_STATUS0 + (unsigned)r->e.status;
    ids[n++] = BS_SECTOR0 + r->sector;
    for (unsigned t = 0; t < 4; t++)
        if (r->e.tiers & (1u << t))
            ids[n++] = BS_TIER0 + t;
    if (r->e.age_min >= 0 && r->e.age_max >= 0)
        for (int a = r->e.age_min; a <= r->e.age_max && a < BS_AGES; a++)
            ids[n++] = BS_AGE0 + (unsigned)a;
    if (set)
        ix->st_tiers[r->st][r->e.tiers & 0xFu]++;
    else
        ix->st_tiers[r->st][r->e.tiers & 0xFu]--;
    uint64_t bit = 1ull << (slot & 63);
    for (unsigned i = 0; i < n; i++) {
        uint64_t **w = &ix->bs[ids[i]];
        if (!*w) {
            if (!set)
                abort(); /* the structures disagree: a bug, not an input */
            *w = xcalloc(ix->cap_slots / 64, sizeof **w);
        }
        if (set)
            (*w)[slot / 64] |= bit;
        else
            (*w)[slot / 64] &= ~bit;
    }
}

static void attach(struct idx *ix, uint32_t slot, struct rec *r)
{
    ix->recs[slot] = r;
    ix->hot[slot] = rec_hot(r);
    const struct hot *h = &ix->hot[slot];
    bits_apply(ix, slot, r, true);
    smap_put(&ix->keys, r->e.key, str_hash(r->e.key), slot);
    group_add(ix, G_SITE, slot);
    group_add(ix, G_ORG, slot);
    la_add(ix, slot);
    comm_add(ix, slot);
    text_add(ix, slot, r);
    geo_add(&ix->geo[IDX_VIEW_PUBLIC], slot, r->e.lat, r->e.lon, h);
    geo_add(&ix->geo[IDX_VIEW_COMMISSIONER], slot, r->plat, r->plon, h);
    agg_add(&ix->global, h->cls);
    subs_apply(ix, r, h->cls, true);
    if (!ix->bulk) {
        oset_add(ix, &ix->by_name, slot);
        oset_add(ix, &ix->by_rating, slot);
    }
    ix->n_entries++;
}

/* Undoes attach; the rec stays in recs[slot] for the caller to free. */
static void detach(struct idx *ix, uint32_t slot)
{
    struct rec *r = ix->recs[slot];
    uint16_t cls = ix->hot[slot].cls;
    long ki = smap_find(&ix->keys, r->e.key, str_hash(r->e.key));
    smap_del_at(&ix->keys, (uint32_t)ki);
    group_del(ix, G_SITE, slot);
    group_del(ix, G_ORG, slot);
    la_del(ix, slot);
    comm_del(ix, slot);
    text_del(ix, slot, r);
    geo_del(&ix->geo[IDX_VIEW_PUBLIC], slot);
    geo_del(&ix->geo[IDX_VIEW_COMMISSIONER], slot);
    agg_del(&ix->global, cls);
    subs_apply(ix, r, cls, false);
    oset_del(ix, &ix->by_name, slot);
    oset_del(ix, &ix->by_rating, slot);
    ix->hot[slot].live = 0;
    bits_apply(ix, slot, r, false);
    ix->n_entries--;
}

static void remove_slot(struct idx *ix, uint32_t slot)
{
    struct rec *r = ix->recs[slot];
    detach(ix, slot);
    free(r);
    ix->recs[slot] = NULL;
    ix->free_slots.v = grow(ix->free_slots.v, &ix->free_slots.cap, ix->free_slots.n + 1,
                            sizeof *ix->free_slots.v);
    ix->free_slots.v[ix->free_slots.n++] = slot;
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(nz(a), nz(b)) == 0;
}

/* Whether two versions of an entry are in the same bitmap sets. */
static bool bits_same(const struct rec *a, const struct rec *b)
{
    return a->st == b->st && a->region == b->region && a->sector == b->sector &&
           a->e.rating == b->e.rating && a->e.status == b->e.status && a->e.tiers == b->e.tiers &&
           a->e.age_min == b->e.age_min && a->e.age_max == b->e.age_max &&
           (a->e.vacancies > 0) == (b->e.vacancies > 0);
}

/* Whether two versions of an entry have active agreements with the same commissioners. */
static bool comm_same(const struct rec *a, const struct rec *b)
{
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < a->e.n_agreements; i++) {
        if (a->e.agreements[i].status != IDX_AGREEMENT_ACTIVE)
            continue;
        na++;
        bool found = false;
        for (size_t j = 0; j < b->e.n_agreements && !found; j++)
            found = b->ag[j].comm == a->ag[i].comm && b->e.agreements[j].status == IDX_AGREEMENT_ACTIVE;
        if (!found)
            return false;
    }
    for (size_t j = 0; j < b->e.n_agreements; j++)
        nb += b->e.agreements[j].status == IDX_AGREEMENT_ACTIVE;
    return na == nb;
}

/* Replaces the rec of an existing slot, touching only the structures whose inputs changed. */
static void replace(struct idx *ix, uint32_t slot, struct rec *nr)
{
    struct rec *or = ix->recs[slot];
    uint16_t ocls = ix->hot[slot].cls, ncls = rec_class(nr);
    bool text = !same_str(or->e.organisation_name, nr->e.organisation_name) ||
                !same_str(or->e.site_name, nr->e.site_name) ||
                !same_str(or->e.description, nr->e.description) ||
                or->e.address_private != nr->e.address_private;
    bool order = strcmp(or->name_cf, nr->name_cf) != 0 || or->e.rating != nr->e.rating;
    bool pub = ocls != ncls || or->e.lat != nr->e.lat || or->e.lon != nr->e.lon;
    bool prec = ocls != ncls || or->plat != nr->plat || or->plon != nr->plon;
    bool la = or->la != nr->la;
    bool comm = !comm_same(or, nr), bits = !bits_same(or, nr);
    bool subs = ocls != ncls || comm || bits; /* bits: the sector and the ages among them */

    /* Out, while recs[slot] is the old rec (the ordered sets compare through it). */
    group_del(ix, G_SITE, slot);
    group_del(ix, G_ORG, slot);
    if (comm)
        comm_del(ix, slot);
    if (la)
        la_del(ix, slot);
    if (text)
        text_del(ix, slot, or);
    if (order) {
        oset_del(ix, &ix->by_name, slot);
        oset_del(ix, &ix->by_rating, slot);
    }
    if (pub)
        geo_del(&ix->geo[IDX_VIEW_PUBLIC], slot);
    if (prec)
        geo_del(&ix->geo[IDX_VIEW_COMMISSIONER], slot);
    if (ocls != ncls) {
        agg_del(&ix->global, ocls);
        agg_add(&ix->global, ncls);
    }

    if (subs)
        subs_apply(ix, or, ocls, false);
    if (bits)
        bits_apply(ix, slot, or, false);

    /* In, with the new rec. */
    if (bits)
        bits_apply(ix, slot, nr, true);
    if (subs)
        subs_apply(ix, nr, ncls, true);
    ix->recs[slot] = nr;
    ix->hot[slot] = rec_hot(nr);
    long ki = smap_find(&ix->keys, nr->e.key, str_hash(nr->e.key));
    ix->keys.s[ki].k = nr->e.key; /* the old string is about to be freed */
    group_add(ix, G_SITE, slot);
    group_add(ix, G_ORG, slot);
    if (comm)
        comm_add(ix, slot);
    if (la)
        la_add(ix, slot);
    if (text)
        text_add(ix, slot, nr);
    if (order) {
        oset_add(ix, &ix->by_name, slot);
        oset_add(ix, &ix->by_rating, slot);
    }
    const struct hot *h = &ix->hot[slot];
    if (pub)
        geo_add(&ix->geo[IDX_VIEW_PUBLIC], slot, nr->e.lat, nr->e.lon, h);
    else
        geo_set_hot(&ix->geo[IDX_VIEW_PUBLIC], slot, h);
    if (prec)
        geo_add(&ix->geo[IDX_VIEW_COMMISSIONER], slot, nr->plat, nr->plon, h);
    else
        geo_set_hot(&ix->geo[IDX_VIEW_COMMISSIONER], slot, h);
    free(or);
}

bool idx_upsert(struct idx *ix, const struct idx_entry *e)
{
    if (!e || !entry_valid(e) || !codes_room(ix, e))
        return false;
    long ki = smap_find(&ix->keys, e->key, str_hash(e->key));
    if (ki < 0 && ix->n_slots >= (1u << 29) && !ix->free_slots.n)
        return false; /* postings keep the slot in 29 bits */
    struct rec *r = rec_new(ix, e);
    if (ki >= 0)
        replace(ix, ix->keys.s[ki].v, r);
    else
        attach(ix, slot_alloc(ix), r);
    return true;
}

bool idx_build(struct idx *ix, const struct idx_entry *entries, size_t n)
{
    if (n && !entries)
        return false;
    struct idx fresh;
    idx_init(&fresh);
    fresh.bulk = true;
    for (size_t i = 0; i < n; i++) {
        const struct idx_entry *e = &entries[i];
        if (!entry_valid(e) || !codes_room(&fresh, e) ||
            smap_find(&fresh.keys, e->key, str_hash(e->key)) >= 0 || fresh.n_slots >= (1u << 29)) {
            idx_fini(&fresh);
            return false;
        }
        attach(&fresh, slot_alloc(&fresh), rec_new(&fresh, e));
    }
    fresh.bulk = false;
    names_bulk(&fresh);
    osets_bulk(&fresh);
    idx_fini(ix);
    *ix = fresh;
    return true;
}

bool idx_remove(struct idx *ix, const char *key)
{
    if (!key)
        return false;
    long ki = smap_find(&ix->keys, key, str_hash(key));
    if (ki < 0)
        return false;
    remove_slot(ix, ix->keys.s[ki].v);
    return true;
}

static size_t remove_group(struct idx *ix, enum group g, const char *id)
{
    if (!id)
        return 0;
    size_t n = 0;
    for (;;) {
        struct smap *m = g_map(ix, g);
        long i = smap_find(m, id, str_hash(id));
        if (i < 0)
            return n;
        remove_slot(ix, m->s[i].v);
        n++;
    }
}

size_t idx_remove_site(struct idx *ix, const char *site_id)
{
    return remove_group(ix, G_SITE, site_id);
}

size_t idx_remove_organisation(struct idx *ix, const char *organisation_id)
{
    return remove_group(ix, G_ORG, organisation_id);
}

const struct idx_entry *idx_get(const struct idx *ix, const char *key)
{
    if (!key)
        return NULL;
    long ki = smap_find(&ix->keys, key, str_hash(key));
    return ki < 0 ? NULL : &ix->recs[ix->keys.s[ki].v]->e;
}

const struct idx_agreement *idx_entry_agreement(const struct idx_entry *e, const char *commissioner)
{
    if (!e || !commissioner)
        return NULL;
    for (size_t i = 0; i < e->n_agreements; i++)
        if (strcmp(e->agreements[i].commissioner, commissioner) == 0)
            return &e->agreements[i];
    return NULL;
}

size_t idx_count(const struct idx *ix)
{
    return ix->n_entries;
}

static size_t gnode_bytes(const struct gnode *n, size_t *nodes)
{
    if (!n)
        return 0;
    (*nodes)++;
    size_t b = (sizeof *n + 63) / 64 * 64 + n->cap_items * (sizeof *n->items + sizeof *n->pts) +
               n->agg.cap * sizeof *n->agg.a;
    for (int i = 0; i < 4; i++)
        b += gnode_bytes(n->child[i], nodes);
    return b;
}

void idx_stats(const struct idx *ix, struct idx_stats *out)
{
    memset(out, 0, sizeof *out);
    out->entries = ix->n_entries;
    out->slots = ix->n_slots;
    out->terms = ix->terms.n;
    size_t b = sizeof *ix + (size_t)ix->cap_slots * (sizeof *ix->recs + sizeof *ix->hot +
                                                     2 * (sizeof(struct gref) + 3 * sizeof(double)));
    for (uint32_t s = 0; s < ix->n_slots; s++)
        if (ix->recs[s])
            b += ix->recs[s]->size;
    b += (ix->keys.cap + ix->sites.cap + ix->orgs.cap) * sizeof(struct smap_slot);
    for (uint32_t i = 0; i < ix->terms.n; i++) {
        out->postings += ix->tp[i].n;
        b += ix->tp[i].cap * sizeof(uint32_t) + strlen(ix->terms.names[i]) + 1 + sizeof(char *);
    }
    b += ix->terms.map.cap * sizeof(struct smap_slot) + ix->tsorted.cap * sizeof(uint32_t);
    for (uint32_t i = 0; i < ix->names.n; i++)
        b += strlen(ix->names.names[i]) + 1 + sizeof(char *);
    b += ix->names.map.cap * sizeof(struct smap_slot) + (ix->nsorted.cap + ix->cap_nrank) * sizeof(uint32_t);
    for (uint32_t i = 0; i < ix->cap_la_list; i++)
        b += ix->la_list[i].cap * sizeof(uint32_t);
    for (uint32_t i = 0; i < ix->cap_comm_list; i++)
        b += ix->comm_list[i].cap * sizeof(uint32_t);
    for (int v = 0; v < 2; v++) {
        b += (size_t)GEO_ROWS * GEO_COLS * sizeof(struct gnode *);
        for (uint32_t i = 0; i < ix->geo[v].n_tops; i++)
            b += gnode_bytes(ix->geo[v].tops[i], &out->nodes);
    }
    b += (size_t)(ix->by_name.n + ix->by_rating.n) * sizeof(struct oblock);
    b += ((size_t)ix->cap_sector_agg + ix->cap_comm_agg) * sizeof(struct aggset);
    for (uint32_t i = 0; i < ix->cap_sector_agg; i++)
        b += ix->sector_agg[i].cap * sizeof(struct agg);
    for (unsigned a = 0; a < BS_AGES; a++)
        b += ix->age_agg[a].cap * sizeof(struct agg);
    for (uint32_t i = 0; i < ix->cap_comm_agg; i++)
        b += ix->comm_agg[i].cap * sizeof(struct agg);
    for (int i = 0; i < BS_COUNT; i++)
        if (ix->bs[i])
            b += ix->cap_slots / 8;
    b += ix->sv.cap * sizeof(uint32_t) + ix->ubuf.cap * sizeof(uint32_t) +
         ix->cap_tc * sizeof(struct cand) + ix->cap_pq * sizeof(struct pqe) +
         (ix->cap_dbits + ix->cap_cbits) * sizeof(uint64_t);
    out->bytes = b;
}

/* ------------------------------------------------------------------------------------------
 * Cursors: "1" sort fingerprint "." fields, every field URL-safe:
 *   distance   1d<fp>.<16 hex digits: the IEEE bits of the km>.<key>
 *   rating     1r<fp>.<rating digit>.<name>.<key>
 *   name       1n<fp>.<name>.<key>
 *   relevance  1s<fp>.<score>.<name>.<key>
 * with name and key in unpadded base64url and fp 8 hex digits identifying the query's
 * filters and sort, so a cursor from another query is refused.
 * ------------------------------------------------------------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64_put(char *out, const unsigned char *s, size_t n)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
    }
    return o;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes exactly n characters (canonical form only: no stray bits) into out (cap bytes,
   NUL-terminated). False on anything else, or a NUL byte inside. */
static bool b64_get(const char *s, size_t n, char *out, size_t cap)
{
    if (n % 4 == 1)
        return false;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i]);
        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            unsigned char c = (unsigned char)(acc >> bits);
            if (c == 0 || o + 1 >= cap)
                return false;
            out[o++] = (char)c;
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* leftover bits must be zero */
        return false;
    out[o] = '\0';
    return true;
}

struct ckey {
    struct skey k;
    char name[IDX_SORT_NAME_BYTES + 1];
    char key[IDX_MAX_ID + 1];
};

static char sort_letter(enum idx_sort s)
{
    return s == IDX_SORT_DISTANCE ? 'd' : s == IDX_SORT_RATING ? 'r' : s == IDX_SORT_NAME ? 'n' : 's';
}

/* The longest cursor: "1" + sort letter + 8 hex + ".", a number of at most 11 characters and
   ".", the base64 of a sort name and of a key, a "." between them, and the NUL. */
_Static_assert(2 + 8 + 1 + 12 + (IDX_SORT_NAME_BYTES + 2) / 3 * 4 + 1 + (IDX_MAX_ID + 2) / 3 * 4 + 1 <=
                   IDX_CURSOR_MAX,
               "a cursor always fits IDX_CURSOR_MAX");

static void cursor_make(char out[IDX_CURSOR_MAX], enum idx_sort sort, uint32_t fp, const struct skey *k)
{
    char *p = out;
    p += snprintf(p, IDX_CURSOR_MAX, "1%c%08x.", sort_letter(sort), fp);
    if (sort == IDX_SORT_DISTANCE) {
        uint64_t bits;
        memcpy(&bits, &k->s, sizeof bits);
        p += snprintf(p, IDX_CURSOR_MAX - (size_t)(p - out), "%016llx.", (unsigned long long)bits);
    } else {
        if (sort == IDX_SORT_RATING)
            p += snprintf(p, IDX_CURSOR_MAX - (size_t)(p - out), "%d.", k->rating);
        else if (sort == IDX_SORT_RELEVANCE)
            p += snprintf(p, IDX_CURSOR_MAX - (size_t)(p - out), "%d.", k->score);
        p += b64_put(p, (const unsigned char *)k->name, strlen(k->name));
        *p++ = '.';
    }
    p += b64_put(p, (const unsigned char *)k->key, strlen(k->key));
    *p = '\0';
}

/* Splits s at '.' into at most max fields; false when there are more. */
static size_t split_dots(const char *s, const char **f, size_t *len, size_t max)
{
    size_t n = 0;
    for (;;) {
        const char *d = strchr(s, '.');
        if (n == max)
            return max + 1;
        f[n] = s;
        len[n] = d ? (size_t)(d - s) : strlen(s);
        n++;
        if (!d)
            return n;
        s = d + 1;
    }
}

static bool parse_hex(const char *s, size_t n, size_t want, uint64_t *out)
{
    if (n != want)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

static bool parse_small_int(const char *s, size_t n, int max, int *out)
{
    if (n == 0 || n > 6 || (n > 1 && s[0] == '0'))
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool cursor_parse(const char *s, enum idx_sort sort, uint32_t fp, struct ckey *c)
{
    size_t n = strnlen(s, IDX_CURSOR_MAX);
    if (n >= IDX_CURSOR_MAX || n < 11 || s[0] != '1' || s[1] != sort_letter(sort) || s[10] != '.')
        return false;
    uint64_t got;
    if (!parse_hex(s + 2, 8, 8, &got) || got != fp)
        return false;
    const char *f[4];
    size_t len[4];
    size_t nf = split_dots(s + 11, f, len, 3);
    memset(c, 0, sizeof *c);
    c->k.name = c->name;
    c->k.key = c->key;
    size_t ki;
    switch (sort) {
    case IDX_SORT_DISTANCE: {
        uint64_t bits;
        if (nf != 2 || !parse_hex(f[0], len[0], 16, &bits))
            return false;
        memcpy(&c->k.s, &bits, sizeof bits);
        if (!(c->k.s >= 0 && c->k.s <= 4) || signbit(c->k.s)) /* a squared chord of unit vectors */
            return false;
        ki = 1;
        break;
    }
    case IDX_SORT_NAME:
        if (nf != 2 || !b64_get(f[0], len[0], c->name, sizeof c->name))
            return false;
        ki = 1;
        break;
    default: /* rating, relevance */
        if (nf != 3 || !b64_get(f[1], len[1], c->name, sizeof c->name))
            return false;
        if (sort == IDX_SORT_RATING ? !parse_small_int(f[0], len[0], IDX_RATING_COUNT - 1, &c->k.rating)
                                    : !parse_small_int(f[0], len[0], 3 * IDX_MAX_Q_TOKENS, &c->k.score))
            return false;
        ki = 2;
        break;
    }
    return len[ki] > 0 && b64_get(f[ki], len[ki], c->key, sizeof c->key);
}

/* FNV-1a over the canonical form of the query. */
struct fp {
    uint32_t h;
};

static void fp_bytes(struct fp *f, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        f->h ^= b[i];
        f->h *= 16777619u;
    }
}

static void fp_str(struct fp *f, const char *s)
{
    if (s)
        fp_bytes(f, s, strlen(s) + 1);
    else
        fp_bytes(f, "\xff", 1);
}

static void fp_num(struct fp *f, double d)
{
    fp_bytes(f, &d, sizeof d);
}

/* ------------------------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------------------------ */

struct qword {
    char s[IDX_MAX_TOKEN + 1];
    size_t len;
    bool prefix;
};

/* A list a text query walks: a posting list (shift 3, bits) or the prefix union (shift 2,
   the weight itself). */
struct tlist {
    const uint32_t *p;
    uint32_t n, at;
    unsigned shift;
    bool exact; /* a posting list reached by a prefix: false when the term is longer */
    /* A prefix sought term by term (t1 > t0): the terms tsorted[t0..t1), each with its
       position in ix->ubuf; p and at unused, n the sum of their lengths. */
    uint32_t t0, t1;
    size_t len; /* the prefix's length */
};

struct counts {
    uint32_t total, st[IDX_MAX_SERVICE_TYPES], region[IDX_MAX_REGIONS + 1], rating[8];
};

enum collect { COLLECT_NONE, COLLECT_HEAP, COLLECT_VEC };

struct qctx {
    struct idx *ix;
    const struct idx_query *q;
    enum idx_sort sort;
    enum idx_view view;
    struct geo *geo;
    uint8_t st_fail[IDX_MAX_SERVICE_TYPES], region_fail[IDX_MAX_REGIONS + 1], rating_fail[8],
        status_fail[4];
    uint64_t pairs[4]; /* the (service type, rating) pairs that pass */
    const uint64_t *bs_st[IDX_MAX_SERVICE_TYPES], *bs_rating[IDX_RATING_COUNT],
        *bs_status[IDX_STATUS_COUNT], *bs_and[8]; /* bs_and holds the commissioner's set too */
    unsigned n_bs_st, n_bs_rating, n_bs_status, n_bs_and;
    bool bits_planned;
    const uint64_t *bs_region;
    bool impossible; /* a filter no entry can pass (an unknown sector or commissioner) */
    bool extra;      /* a filter the class counts cannot answer */
    unsigned tier_bit; /* 0 when no tier filter or when folded */
    bool tier_folded;
    long sector, comm;
    int age;
    bool vac;
    int64_t vac_after;
    bool near; /* with a finite radius, or sorting by distance */
    struct cap nc;
    bool covers;
    long covers_la;
    struct cap cc;
    struct qword words[IDX_MAX_Q_TOKENS];
    size_t n_words;
    unsigned vis; /* posting bits this view may match */
    uint32_t fp;
    bool has_cursor;
    struct ckey cur;
    double cur_chord; /* sqrt of the cursor's squared chord */
    uint64_t cur_kp;
    uint64_t cur_name; /* the cursor's name among the sort names: 2 * rank + 1 when it is one,
                          else 2 * (the rank of the first name after it) */
    struct counts cnt;
    size_t e_disc;
    enum collect collect;
    struct cand heap[IDX_MAX_LIMIT + 1];
    size_t hn, K;
};

/* When no service type has entries both with and without the tier, marks the types whose
   entries lack it as failing a filter that is not a facet's (F_OTHER: such an entry counts
   nowhere) and returns true; the tier then needs no test per entry. Otherwise false. */
static bool fold_tier(struct qctx *c, const struct idx *ix, unsigned tier_bit)
{
    bool lacks[IDX_MAX_SERVICE_TYPES];
    for (unsigned st = 0; st < IDX_MAX_SERVICE_TYPES; st++) {
        uint32_t with = 0, without = 0;
        for (unsigned m = 0; m < 16; m++)
            *(m & tier_bit ? &with : &without) += ix->st_tiers[st][m];
        if (with && without)
            return false;
        lacks[st] = without > 0;
    }
    for (unsigned st = 0; st < IDX_MAX_SERVICE_TYPES; st++)
        if (lacks[st])
            c->st_fail[st] |= F_OTHER;
    return true;
}

static unsigned class_fails(const struct qctx *c, unsigned cls)
{
    return c->st_fail[K_ST(cls)] | c->region_fail[K_REGION(cls)] | c->rating_fail[K_RATING(cls)] |
           c->status_fail[K_STATUS(cls)];
}

/* Counts n entries of class cls that failed `f`: each counts in the total when it passes
   everything, and in a facet when it fails only that facet's own filter. */
static void tally(struct counts *k, unsigned cls, unsigned f, uint32_t n)
{
    switch (f) {
    case 0:
        k->total += n;
        k->st[K_ST(cls)] += n;
        k->region[K_REGION(cls)] += n;
        k->rating[K_RATING(cls)] += n;
        break;
    case F_ST:
        k->st[K_ST(cls)] += n;
        break;
    case F_REGION:
        k->region[K_REGION(cls)] += n;
        break;
    case F_RATING:
        k->rating[K_RATING(cls)] += n;
        break;
    default:
        break;
    }
}

static bool countable(unsigned f)
{
    return !(f & F_OTHER) && !(f & (f - 1)); /* fails at most one facet filter */
}

/* The filters the class counts cannot answer. near and covers are checked unless the caller's
   candidates already satisfy them. */
/* The filters a candidate list may already guarantee: extra_ok checks those in chk. */
#define CHK_NEAR 1u
#define CHK_COVERS 2u
#define CHK_COMM 4u
#define CHK_ALL 7u

static bool extra_ok(struct qctx *c, const struct hot *h, const double *v, uint32_t slot, unsigned chk)
{
    bool chk_near = chk & CHK_NEAR, chk_covers = chk & CHK_COVERS;
    if (c->tier_bit && !(h->tiers & c->tier_bit))
        return false;
    if (c->sector >= 0 && h->sector != c->sector)
        return false;
    if (c->age >= 0 && !(h->age_min != 255 && h->age_max != 255 && h->age_min <= c->age &&
                         c->age <= h->age_max))
        return false;
    if (c->vac && !(h->places && h->vac_at > c->vac_after))
        return false;
    if (c->comm >= 0 && (chk & CHK_COMM)) {
        const struct rec *r = c->ix->recs[slot];
        bool found = false;
        for (size_t i = 0; i < r->e.n_agreements && !found; i++)
            found = r->ag[i].comm == (uint32_t)c->comm &&
                    r->e.agreements[i].status == IDX_AGREEMENT_ACTIVE;
        if (!found)
            return false;
    }
    if (!v && ((chk_covers && c->covers) || (chk_near && c->near)))
        v = geo_vec(c->geo, slot);
    if (chk_covers && c->covers && h->la != c->covers_la && !cap_has(&c->cc, v))
        return false;
    if (chk_near && c->near && !cap_has(&c->nc, v))
        return false;
    return true;
}

static struct skey cand_skey(const struct qctx *c, const struct cand *x)
{
    struct skey k = slot_skey(c->ix, x->slot);
    k.s = x->s;
    k.score = x->score;
    return k;
}

/* Orders two candidates like skey_cmp orders their sort keys, from what the hot records
   hold (rating, name rank, key prefix): only equal key prefixes read the recs. */
static int cand_cmp(const struct qctx *c, const struct cand *a, const struct cand *b)
{
    const struct idx *ix = c->ix;
    if (c->sort == IDX_SORT_DISTANCE) {
        if (a->s != b->s)
            return a->s < b->s ? -1 : 1;
        if (a->kp != b->kp)
            return a->kp < b->kp ? -1 : 1;
        return strcmp(ix->recs[a->slot]->e.key, ix->recs[b->slot]->e.key);
    }
    const struct hot *ha = &ix->hot[a->slot], *hb = &ix->hot[b->slot];
    if (c->sort == IDX_SORT_RATING && K_RATING(ha->cls) != K_RATING(hb->cls))
        return K_RATING(ha->cls) > K_RATING(hb->cls) ? -1 : 1;
    if (c->sort == IDX_SORT_RELEVANCE && a->score != b->score)
        return a->score > b->score ? -1 : 1;
    uint32_t ra = ix->nrank[ha->name], rb = ix->nrank[hb->name];
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ha->kp != hb->kp)
        return ha->kp < hb->kp ? -1 : 1;
    return strcmp(ix->recs[a->slot]->e.key, ix->recs[b->slot]->e.key);
}

/* Orders a candidate against the cursor (negative: before it), as cand_cmp would. */
static int cursor_cmp(const struct qctx *c, const struct cand *x)
{
    const struct idx *ix = c->ix;
    if (c->sort == IDX_SORT_DISTANCE) {
        if (x->s != c->cur.k.s)
            return x->s < c->cur.k.s ? -1 : 1;
        if (x->kp != c->cur_kp)
            return x->kp < c->cur_kp ? -1 : 1;
        return strcmp(ix->recs[x->slot]->e.key, c->cur.key);
    }
    const struct hot *h = &ix->hot[x->slot];
    if (c->sort == IDX_SORT_RATING && (int)K_RATING(h->cls) != c->cur.k.rating)
        return (int)K_RATING(h->cls) > c->cur.k.rating ? -1 : 1;
    if (c->sort == IDX_SORT_RELEVANCE && x->score != c->cur.k.score)
        return x->score > c->cur.k.score ? -1 : 1;
    uint64_t r = 2 * (uint64_t)ix->nrank[h->name] + 1;
    if (r != c->cur_name)
        return r < c->cur_name ? -1 : 1;
    if (h->kp != c->cur_kp)
        return h->kp < c->cur_kp ? -1 : 1;
    return strcmp(ix->recs[x->slot]->e.key, c->cur.key);
}

static void heap_down(struct qctx *c, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->hn && cand_cmp(c, &c->heap[l], &c->heap[m]) > 0)
            m = l;
        if (r < c->hn && cand_cmp(c, &c->heap[r], &c->heap[m]) > 0)
            m = r;
        if (m == i)
            return;
        struct cand t = c->heap[i];
        c->heap[i] = c->heap[m];
        c->heap[m] = t;
        i = m;
    }
}

/* Offers a match to the page being built: kept when it comes after the cursor and is among
   the K first so far (a max-heap of K = limit + 1, the extra one telling whether more follow). */
static void offer(struct qctx *c, struct cand x)
{
    if (c->has_cursor && cursor_cmp(c, &x) <= 0)
        return;
    if (c->hn < c->K) {
        size_t i = c->hn++;
        c->heap[i] = x;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (cand_cmp(c, &c->heap[i], &c->heap[p]) <= 0)
                break;
            struct cand t = c->heap[i];
            c->heap[i] = c->heap[p];
            c->heap[p] = t;
            i = p;
        }
        return;
    }
    if (cand_cmp(c, &x, &c->heap[0]) >= 0)
        return;
    c->heap[0] = x;
    heap_down(c, 0);
}

/* offer for the distance sort: the squared chord settles most comparisons alone. */
static void offer_dist(struct qctx *c, uint32_t slot, double s, uint64_t kp, int score)
{
    if (c->has_cursor && s < c->cur.k.s)
        return; /* strictly nearer than the cursor */
    if (c->hn == c->K && s > c->heap[0].s)
        return; /* strictly farther than the K-th */
    offer(c, (struct cand){slot, score, s, kp});
}

/* A match found while counting: to the page, or to the slot vector for later. s: its
   squared chord to the near point, or NAN when the caller does not have it. */
static void collect(struct qctx *c, uint32_t slot, int score, double s, uint64_t kp)
{
    if (c->collect == COLLECT_VEC) {
        struct vec32 *v = &c->ix->sv;
        v->v = grow(v->v, &v->cap, v->n + 1, sizeof *v->v);
        v->v[v->n++] = slot;
    } else if (c->collect == COLLECT_HEAP) {
        if (c->sort == IDX_SORT_DISTANCE)
            offer_dist(c, slot, isnan(s) ? chord2(c->nc.v, geo_vec(c->geo, slot)) : s, kp, score);
        else
            offer(c, (struct cand){slot, score, NAN, 0});
    }
}

/* One candidate from a list (commissioner, LA, text, all): every filter, then count. */
static void consider(struct qctx *c, uint32_t slot, unsigned chk, int score)
{
    const struct hot *h = &c->ix->hot[slot];
    unsigned f = class_fails(c, h->cls);
    if (!countable(f) || !extra_ok(c, h, NULL, slot, chk))
        return;
    tally(&c->cnt, h->cls, f, 1);
    if (f == 0)
        collect(c, slot, score, NAN, h->kp);
}

/* ---- spatial passes ---- */

/* Whether some entry under n has a (service type, rating) pair the query accepts. */
static bool may_match(const struct qctx *c, const struct gnode *n)
{
    return (n->agg.pairs[0] & c->pairs[0]) | (n->agg.pairs[1] & c->pairs[1]) |
           (n->agg.pairs[2] & c->pairs[2]) | (n->agg.pairs[3] & c->pairs[3]);
}


/* The three cache lines of each child of an inner node: a walk that descends into several of
   them waits for memory once instead of once per child. */
static void prefetch_children(const struct gnode *n)
{
    for (int i = 0; i < 4; i++)
        if (n->child[i])
            for (int l = 0; l < 3; l++)
                __builtin_prefetch((const char *)n->child[i] + 64 * l);
}

/*
 * Totals and facets over a disc when only class filters apply: whole nodes by their counts,
 * and the entries of the leaves its edge crosses. Breadth first, so that the memory of a whole
 * level of nodes is on its way at once instead of one node after another (at a million
 * entries this walk waits on memory, not on its tests): a node is prefetched when queued, and
 * a node kept for counting has its counts or points prefetched, to be read once the walk is
 * done. ix->bfs holds the kept nodes in [0, kept) and the queue in [head, n); a kept node's
 * address is tagged + 1 when it lies inside the disc (nodes are 64-byte aligned), else it is a
 * leaf the edge crosses.
 */
static void disc_count(struct qctx *c)
{
    struct idx *ix = c->ix;
    const struct geo *g = c->geo;
    uint32_t head = 0, n = 0, kept = 0;
    ix->bfs = grow(ix->bfs, &ix->cap_bfs, g->n_tops, sizeof *ix->bfs);
    for (uint32_t i = 0; i < g->n_tops; i++)
        ix->bfs[n++] = g->tops[i];
    while (head < n) {
        const struct gnode *nd = ix->bfs[head++];
        int rel = cap_rel(&c->nc, nd);
        if (rel == REL_OUT)
            continue;
        if (rel == REL_IN || nd->leaf) {
            if (rel == REL_IN)
                __builtin_prefetch(nd->agg.a);
            else
                for (uint32_t k = 0; k < nd->n_items && k < 16; k += 4)
                    __builtin_prefetch(nd->pts + k);
            /* kept < head: a place already read */
            ix->bfs[kept++] = (const struct gnode *)((const char *)nd + (rel == REL_IN));
            continue;
        }
        ix->bfs = grow(ix->bfs, &ix->cap_bfs, n + 4, sizeof *ix->bfs);
        prefetch_children(nd);
        for (int i = 0; i < 4; i++)
            if (nd->child[i])
                ix->bfs[n++] = nd->child[i];
    }
    for (uint32_t j = 0; j < kept; j++) {
        const char *x = (const char *)ix->bfs[j];
        uintptr_t inside = (uintptr_t)x & 1u;
        const struct gnode *nd = (const struct gnode *)(x - inside);
        if (inside) {
            c->e_disc += nd->count;
            for (uint32_t i = 0; i < nd->agg.n; i++) {
                unsigned cls = nd->agg.a[i].cls;
                unsigned f = class_fails(c, cls);
                if (countable(f))
                    tally(&c->cnt, cls, f, nd->agg.a[i].n);
            }
            continue;
        }
        c->e_disc += nd->n_items;
        for (uint32_t i = 0; i < nd->n_items; i++) {
            unsigned cls = nd->pts[i].cls, f = class_fails(c, cls);
            if (countable(f) && cap_has_item(&c->nc, nd, i))
                tally(&c->cnt, cls, f, 1);
        }
    }
}

/* Every entry in the disc `cap`, with every filter (those in chk besides): counted when
   `count`, collected when it matches. skip_la: leave out the entries of the covers LA (the
   covers pass already took them). */
static void geo_scan(struct qctx *c, const struct gnode *n, const struct cap *cap, bool inside,
                     bool count, unsigned chk, bool skip_la)
{
    if (!count && !may_match(c, n))
        return;
    int rel = inside ? REL_IN : cap_rel(cap, n);
    if (rel == REL_OUT)
        return;
    if (!n->leaf) {
        /* the children's headers, then each next leaf's first items, while this one is read:
           the scan is bound by memory latency, not by its tests */
        prefetch_children(n);
        for (int i = 0; i < 4; i++) {
            if (!n->child[i])
                continue;
            for (int j = i + 1; j < 4; j++)
                if (n->child[j]) {
                    if (n->child[j]->leaf)
                        for (int k = 0; k < 4; k++)
                            __builtin_prefetch(n->child[j]->items + 2 * k);
                    break;
                }
            geo_scan(c, n->child[i], cap, rel == REL_IN, count, chk, skip_la);
        }
        return;
    }
    for (uint32_t i = 0; i < n->n_items; i++) {
        const struct gitem *it = &n->items[i];
        unsigned f = class_fails(c, it->h.cls);
        if (count ? !countable(f) : f != 0)
            continue;
        if (rel == REL_PART && !cap_has(cap, it->v))
            continue;
        if (skip_la && it->h.la == c->covers_la)
            continue;
        if (c->extra && !extra_ok(c, &it->h, it->v, it->slot, chk))
            continue;
        if (count)
            tally(&c->cnt, it->h.cls, f, 1);
        if (f == 0)
            collect(c, it->slot, 0, c->sort == IDX_SORT_DISTANCE ? chord2(c->nc.v, it->v) : NAN, it->h.kp);
    }
}

static void disc_bits_node(struct qctx *c, const struct gnode *n, bool inside)
{
    int rel = inside ? REL_IN : cap_rel(&c->nc, n);
    if (rel == REL_OUT)
        return;
    if (!n->leaf) {
        for (int i = 0; i < 4; i++)
            if (n->child[i])
                disc_bits_node(c, n->child[i], rel == REL_IN);
        return;
    }
    uint64_t *b = c->ix->dbits;
    for (uint32_t i = 0; i < n->n_items; i++)
        if (rel == REL_IN || cap_has(&c->nc, n->items[i].v))
            b[n->items[i].slot / 64] |= 1ull << (n->items[i].slot & 63);
}

/* The entries in the near disc as a bitset (ix->dbits), to test a long list against. */
static const uint64_t *disc_bits(struct qctx *c)
{
    struct idx *ix = c->ix;
    uint32_t nw = (ix->n_slots + 63) / 64;
    ix->dbits = grow(ix->dbits, &ix->cap_dbits, nw, sizeof *ix->dbits);
    memset(ix->dbits, 0, nw * sizeof *ix->dbits);
    for (uint32_t i = 0; i < c->geo->n_tops; i++)
        disc_bits_node(c, c->geo->tops[i], false);
    return ix->dbits;
}

/* An upper bound of the entries in a disc, from node counts down to GEO_ESTIMATE_LEVEL. */
static size_t geo_estimate(const struct gnode *n, const struct cap *cap)
{
    int rel = cap_rel(cap, n);
    if (rel == REL_OUT)
        return 0;
    if (rel == REL_IN || n->leaf || n->level <= GEO_ESTIMATE_LEVEL)
        return n->count;
    size_t s = 0;
    for (int i = 0; i < 4; i++)
        if (n->child[i])
            s += geo_estimate(n->child[i], cap);
    return s;
}

static size_t disc_estimate(struct qctx *c, const struct cap *cap)
{
    size_t s = 0;
    for (uint32_t i = 0; i < c->geo->n_tops; i++)
        s += geo_estimate(c->geo->tops[i], cap);
    return s;
}

static void pq_push(struct idx *ix, double lb, struct gnode *n)
{
    ix->pq = grow(ix->pq, &ix->cap_pq, ix->n_pq + 1, sizeof *ix->pq);
    size_t i = ix->n_pq++;
    ix->pq[i] = (struct pqe){lb, n};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (ix->pq[p].lb <= ix->pq[i].lb)
            break;
        struct pqe t = ix->pq[i];
        ix->pq[i] = ix->pq[p];
        ix->pq[p] = t;
        i = p;
    }
}

static struct pqe pq_pop(struct idx *ix)
{
    struct pqe top = ix->pq[0];
    ix->pq[0] = ix->pq[--ix->n_pq];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < ix->n_pq && ix->pq[l].lb < ix->pq[m].lb)
            m = l;
        if (r < ix->n_pq && ix->pq[r].lb < ix->pq[m].lb)
            m = r;
        if (m == i)
            break;
        struct pqe t = ix->pq[i];
        ix->pq[i] = ix->pq[m];
        ix->pq[m] = t;
        i = m;
    }
    return top;
}

/* Queues a node for the nearest-first walk, keyed by a lower bound of the chord to anything
   in it (triangle inequality), unless it is outside the disc or wholly before the cursor. */
static void nn_visit(struct qctx *c, struct gnode *n)
{
    if (!may_match(c, n) || cap_rel(&c->nc, n) == REL_OUT)
        return;
    double ch = sqrt(chord2(c->nc.v, n->c));
    if (c->has_cursor && ch + n->chord_rho + CHORD_EPS < c->cur_chord)
        return;
    double lb = ch - n->chord_rho - CHORD_EPS;
    if (n->leaf)
        __builtin_prefetch(n->items);
    pq_push(c->ix, lb > 0 ? lb : 0, n);
}

/* The page for the distance sort: nodes nearest-first until the K-th best is nearer than
   anything left. */
static void nearest(struct qctx *c)
{
    struct idx *ix = c->ix;
    ix->n_pq = 0;
    for (uint32_t i = 0; i < c->geo->n_tops; i++)
        nn_visit(c, c->geo->tops[i]);
    while (ix->n_pq) {
        struct pqe e = pq_pop(ix);
        if (c->hn == c->K && e.lb > sqrt(c->heap[0].s) + CHORD_EPS)
            break;
        const struct gnode *n = e.n;
        if (!n->leaf) {
            prefetch_children(n);
            for (int i = 0; i < 4; i++)
                if (n->child[i])
                    nn_visit(c, n->child[i]);
            continue;
        }
        for (uint32_t i = 0; i < n->n_items; i++) {
            const struct gitem *it = &n->items[i];
            if (class_fails(c, it->h.cls) != 0)
                continue;
            double s2 = chord2(c->nc.v, it->v);
            if (!c->nc.all && !(s2 <= c->nc.s_max))
                continue;
            if (c->extra && !extra_ok(c, &it->h, it->v, it->slot, CHK_COVERS | CHK_COMM))
                continue;
            offer_dist(c, it->slot, s2, it->h.kp, 0);
        }
    }
}

static void bits_plan(struct qctx *c);
static bool bits_match(const struct qctx *c, uint32_t slot);

/* The page for the name or rating sort by walking the ordered set from the cursor. An entry's
   bits are tested first: they stay in cache where its hot record would not. */
static void walk(struct qctx *c)
{
    bits_plan(c);
    struct oset *o = c->sort == IDX_SORT_RATING ? &c->ix->by_rating : &c->ix->by_name;
    uint32_t bi = 0, pos = 0;
    if (c->has_cursor)
        oset_seek(c->ix, o, &c->cur.k, true, &bi, &pos);
    for (; bi < o->n && c->hn < c->K; bi++, pos = 0) {
        const struct oblock *b = o->b[bi];
        for (; pos < b->n && c->hn < c->K; pos++) {
            uint32_t slot = b->s[pos];
            if (!bits_match(c, slot))
                continue;
            const struct hot *h = &c->ix->hot[slot];
            if (class_fails(c, h->cls) != 0)
                continue;
            if (!extra_ok(c, h, NULL, slot, CHK_NEAR | CHK_COVERS)) /* bits_match: commissioner */
                continue;
            c->heap[c->hn++] = (struct cand){slot, 0, NAN, 0};
        }
    }
}

/* ---- without near: the bitmap index ---- */

/* Population count without relying on the POPCNT instruction (not in the baseline x86-64 the
   project builds for, where the builtin becomes a library call). */
static inline uint32_t pop64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

static uint64_t or_words(const uint64_t *const *sets, unsigned n, uint32_t w)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x |= sets[i][w];
    return x;
}

/* Chooses the sets a bit pass combines (after the class tables are filled). */
static void bits_plan(struct qctx *c)
{
    struct idx *ix = c->ix;
    const struct idx_query *q = c->q;
    if (c->bits_planned)
        return;
    c->bits_planned = true;
    for (unsigned i = 0; i < IDX_MAX_SERVICE_TYPES; i++)
        if (!c->st_fail[i] && ix->bs[BS_ST0 + i])
            c->bs_st[c->n_bs_st++] = ix->bs[BS_ST0 + i];
    for (unsigned r = 0; r < IDX_RATING_COUNT; r++)
        if (!c->rating_fail[r] && ix->bs[BS_RATING0 + r])
            c->bs_rating[c->n_bs_rating++] = ix->bs[BS_RATING0 + r];
    for (unsigned s = 0; s < IDX_STATUS_COUNT; s++)
        if (!c->status_fail[s] && ix->bs[BS_STATUS0 + s])
            c->bs_status[c->n_bs_status++] = ix->bs[BS_STATUS0 + s];
    if (q->region) {
        long id = q->region[0] ? dict_lookup(&ix->region, q->region) : -1;
        c->bs_region = id > 0 ? ix->bs[BS_REGION0 + id] : NULL;
    }
    /* filters every candidate must pass; a missing set means nothing passes */
    c->n_bs_and = 0;
    if (c->sector >= 0)
        c->bs_and[c->n_bs_and++] = ix->bs[BS_SECTOR0 + c->sector];
    if (q->tier) /* even when folded into the class tables: fewer candidates to consider */
        c->bs_and[c->n_bs_and++] = ix->bs[BS_TIER0 + (unsigned)q->tier - 1];
    if (c->age >= 0 && c->age < BS_AGES)
        c->bs_and[c->n_bs_and++] = ix->bs[BS_AGE0 + (unsigned)c->age];
    if (c->vac)
        c->bs_and[c->n_bs_and++] = ix->bs[BS_VAC];
    if (c->comm >= 0) { /* the commissioner's list as a set: exact, like the others */
        uint32_t nw = (ix->n_slots + 63) / 64;
        ix->cbits = grow(ix->cbits, &ix->cap_cbits, nw, sizeof *ix->cbits);
        memset(ix->cbits, 0, nw * sizeof *ix->cbits);
        if ((uint32_t)c->comm < ix->cap_comm_list) {
            const struct vec32 *l = &ix->comm_list[c->comm];
            for (uint32_t i = 0; i < l->n; i++)
                ix->cbits[l->v[i] / 64] |= 1ull << (l->v[i] & 63);
        }
        c->bs_and[c->n_bs_and++] = ix->cbits;
    }
}

/* Whether one entry passes every filter the bitmap index holds. */
static bool bits_match(const struct qctx *c, uint32_t slot)
{
    const struct idx_query *q = c->q;
    uint32_t w = slot / 64;
    uint64_t bit = 1ull << (slot & 63);
    if (q->n_service_types && !(or_words(c->bs_st, c->n_bs_st, w) & bit))
        return false;
    if (q->region && !(c->bs_region && (c->bs_region[w] & bit)))
        return false;
    if (q->min_rating > IDX_RATING_NONE && !(or_words(c->bs_rating, c->n_bs_rating, w) & bit))
        return false;
    if (q->status_mask && !(or_words(c->bs_status, c->n_bs_status, w) & bit))
        return false;
    for (unsigned i = 0; i < c->n_bs_and; i++)
        if (!c->bs_and[i] || !(c->bs_and[i][w] & bit))
            return false;
    return true;
}

/* Every entry, 64 at a time: with count, those failing at most one facet filter (the
   majority of the three facet masks) and every other filter, counted and collected; without,
   the matches only, collected. */
static void bit_scan(struct qctx *c, bool count)
{
    struct idx *ix = c->ix;
    const uint64_t *live = ix->bs[BS_LIVE];
    if (!live)
        return;
    for (unsigned i = 0; i < c->n_bs_and; i++)
        if (!c->bs_and[i])
            return;
    bool f_st = c->q->n_service_types > 0, f_region = c->q->region != NULL,
         f_rating = c->q->min_rating > IDX_RATING_NONE, f_status = c->q->status_mask != 0;
    uint32_t nw = (ix->n_slots + 63) / 64;
    for (uint32_t w = 0; w < nw; w++) {
        uint64_t l = live[w];
        if (!l)
            continue;
        uint64_t a = f_st ? or_words(c->bs_st, c->n_bs_st, w) : l;
        uint64_t b = f_region ? (c->bs_region ? c->bs_region[w] : 0) : l;
        uint64_t r = f_rating ? or_words(c->bs_rating, c->n_bs_rating, w) : l;
        uint64_t m = l & (count ? ((a & b) | (a & r) | (b & r)) : (a & b & r));
        if (f_status)
            m &= or_words(c->bs_status, c->n_bs_status, w);
        for (unsigned i = 0; i < c->n_bs_and && m; i++)
            m &= c->bs_and[i][w];
        while (m) {
            uint32_t slot = w * 64 + (uint32_t)__builtin_ctzll(m);
            m &= m - 1;
            if (count) {
                consider(c, slot, CHK_NEAR | CHK_COVERS, 0); /* the commissioner is in the sets */
            } else {
                const struct hot *h = &ix->hot[slot];
                if (class_fails(c, h->cls) == 0 &&
                    (!c->extra || extra_ok(c, h, NULL, slot, CHK_NEAR | CHK_COVERS)))
                    collect(c, slot, 0, NAN, h->kp);
            }
        }
    }
}

/* The class counts of the one sub-population (a sector, an age below BS_AGES, a
   commissioner) whose membership is the only filter beyond the classes, or NULL when the
   query has no such single filter. */
static const struct aggset *sub_counts(const struct qctx *c)
{
    static const struct aggset none;
    const struct idx *ix = c->ix;
    if (c->near || c->covers || c->tier_bit || c->vac || c->n_words ||
        (c->sector >= 0) + (c->age >= 0) + (c->comm >= 0) != 1)
        return NULL;
    if (c->sector >= 0)
        return (uint32_t)c->sector < ix->cap_sector_agg ? &ix->sector_agg[c->sector] : &none;
    if (c->comm >= 0)
        return (uint32_t)c->comm < ix->cap_comm_agg ? &ix->comm_agg[c->comm] : &none;
    return c->age < BS_AGES ? &ix->age_agg[c->age] : NULL;
}

/* Whether the bitmap index alone decides every filter (then counting needs no entry). */
static bool bits_exact(const struct qctx *c)
{
    return !c->covers && !c->near && !c->vac && c->age < BS_AGES && !c->n_words;
}

/* Totals and facets by popcount: a facet value's count is its own set ANDed with the other
   two facet masks and every other filter. */
static void bit_count(struct qctx *c)
{
    struct idx *ix = c->ix;
    const uint64_t *live = ix->bs[BS_LIVE];
    if (!live)
        return;
    for (unsigned i = 0; i < c->n_bs_and; i++)
        if (!c->bs_and[i])
            return;
    struct fvset {
        const uint64_t *w;
        uint32_t *n;
    } fv[IDX_MAX_SERVICE_TYPES + IDX_MAX_REGIONS + 1 + IDX_RATING_COUNT];
    unsigned n_st = 0, n_region = 0, n_rating = 0;
    for (unsigned i = 0; i < IDX_MAX_SERVICE_TYPES; i++)
        if (ix->bs[BS_ST0 + i])
            fv[n_st++] = (struct fvset){ix->bs[BS_ST0 + i], &c->cnt.st[i]};
    for (unsigned i = 1; i <= IDX_MAX_REGIONS; i++)
        if (ix->bs[BS_REGION0 + i])
            fv[n_st + n_region++] = (struct fvset){ix->bs[BS_REGION0 + i], &c->cnt.region[i]};
    for (unsigned i = 0; i < IDX_RATING_COUNT; i++)
        if (ix->bs[BS_RATING0 + i])
            fv[n_st + n_region + n_rating++] = (struct fvset){ix->bs[BS_RATING0 + i], &c->cnt.rating[i]};
    bool f_st = c->q->n_service_types > 0, f_region = c->q->region != NULL,
         f_rating = c->q->min_rating > IDX_RATING_NONE, f_status = c->q->status_mask != 0;
    uint32_t nw = (ix->n_slots + 63) / 64;
    for (uint32_t w = 0; w < nw; w++) {
        uint64_t m = live[w];
        if (f_status)
            m &= or_words(c->bs_status, c->n_bs_status, w);
        for (unsigned i = 0; i < c->n_bs_and && m; i++)
            m &= c->bs_and[i][w];
        if (!m)
            continue;
        uint64_t a = f_st ? or_words(c->bs_st, c->n_bs_st, w) : m;
        uint64_t b = f_region ? (c->bs_region ? c->bs_region[w] : 0) : m;
        uint64_t r = f_rating ? or_words(c->bs_rating, c->n_bs_rating, w) : m;
        c->cnt.total += pop64(m & a & b & r);
        uint64_t mst = m & b & r, mreg = m & a & r, mrat = m & a & b;
        unsigned k = 0;
        if (mst)
            for (; k < n_st; k++)
                *fv[k].n += pop64(fv[k].w[w] & mst);
        k = n_st;
        if (mreg)
            for (; k < n_st + n_region; k++)
                *fv[k].n += pop64(fv[k].w[w] & mreg);
        k = n_st + n_region;
        if (mrat)
            for (; k < n_st + n_region + n_rating; k++)
                *fv[k].n += pop64(fv[k].w[w] & mrat);
    }
}

/* ---- text ---- */

/* Weight of one posting for a word (0: not visible in this view). */
static int post_weight(unsigned bits, unsigned vis, bool exact)
{
    bits &= vis;
    if (bits & (T_NAME | T_PRIV))
        return exact ? 3 : 2;
    return bits & T_DESC ? 1 : 0;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The union of the posting lists of every term starting with w, as slot << 2 | weight,
   sorted, one per slot with its best weight. */
/* Appends the visible postings of term t to u as slot << 2 | weight, in slot order. */
static void union_load(struct qctx *c, struct vec32 *u, uint32_t t, bool exact)
{
    const struct plist *pl = &c->ix->tp[t];
    u->v = grow(u->v, &u->cap, u->n + pl->n, sizeof *u->v);
    for (uint32_t j = 0; j < pl->n; j++) {
        int wt = post_weight(pl->p[j] & 7u, c->vis, exact);
        if (wt)
            u->v[u->n++] = (pl->p[j] >> 3) << 2 | (uint32_t)wt;
    }
}

/* The entries holding some term that starts with w: one term's posting list as it is, or the
   union of several as slot << 2 | best weight, sorted (merged pairwise when they are few). But
   when another word's list (`shortest`, UINT32_MAX for none) times the number of terms is
   shorter than the sum of their lists, the terms are sought one by one for each candidate of
   that list instead (prefix_seek): a seek from the last position costs about a merge step. */
static void prefix_union(struct qctx *c, const struct qword *w, struct tlist *out, uint32_t shortest)
{
    struct idx *ix = c->ix;
    uint32_t lo = sorted_lower(&ix->terms, &ix->tsorted, w->s);
    uint32_t end = lo;
    while (end < ix->tsorted.n && strncmp(ix->terms.names[ix->tsorted.v[end]], w->s, w->len) == 0)
        end++;
    if (end - lo <= 1) {
        const struct plist *pl = end > lo ? &ix->tp[ix->tsorted.v[lo]] : NULL;
        bool exact = pl && ix->terms.names[ix->tsorted.v[lo]][w->len] == '\0';
        *out = (struct tlist){pl ? pl->p : NULL, pl ? pl->n : 0, 0, 3, exact, 0, 0, 0};
        return;
    }
    uint64_t sum = 0;
    for (uint32_t i = lo; i < end; i++)
        sum += ix->tp[ix->tsorted.v[i]].n;
    if (shortest != UINT32_MAX && (uint64_t)shortest * (end - lo) < sum) {
        ix->ubuf.v = grow(ix->ubuf.v, &ix->ubuf.cap, end - lo, sizeof *ix->ubuf.v);
        memset(ix->ubuf.v, 0, (end - lo) * sizeof *ix->ubuf.v);
        *out = (struct tlist){NULL, sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum, 0, 3, false, lo, end, w->len};
        return;
    }
    struct vec32 *u = &ix->ubuf, *t = &ix->ubuf2;
    u->n = 0;
    bool few = end - lo <= 8;
    for (uint32_t i = lo; i < end; i++) {
        uint32_t term = ix->tsorted.v[i];
        bool exact = ix->terms.names[term][w->len] == '\0';
        if (!few || i == lo) {
            union_load(c, u, term, exact);
            continue;
        }
        /* merge u with this term's postings into t, then swap */
        t->n = 0;
        union_load(c, t, term, exact);
        uint32_t nb = t->n;
        t->v = grow(t->v, &t->cap, nb + u->n, sizeof *t->v);
        memmove(t->v + u->n, t->v, nb * sizeof *t->v); /* the term's list behind room for u */
        uint32_t ia = 0, ib = u->n, o = 0, eb = u->n + nb;
        while (ia < u->n || ib < eb) {
            uint32_t x = ib == eb || (ia < u->n && u->v[ia] <= t->v[ib]) ? u->v[ia++] : t->v[ib++];
            t->v[o++] = x;
        }
        t->n = o;
        struct vec32 sw = *u;
        *u = *t;
        *t = sw;
    }
    if (!few)
        qsort(u->v, u->n, sizeof *u->v, u32_cmp);
    uint32_t m = 0;
    for (uint32_t i = 0; i < u->n; i++) {
        if (m && (u->v[m - 1] >> 2) == (u->v[i] >> 2))
            u->v[m - 1] = u->v[i]; /* sorted: the later one has the higher weight */
        else
            u->v[m++] = u->v[i];
    }
    u->n = m;
    *out = (struct tlist){u->v, m, 0, 2, false, 0, 0, 0};
}

/* The weight of slot in a prefix sought term by term (0: none of its terms holds it, visibly);
   *left false when every term's list is exhausted. */
static int prefix_seek(const struct qctx *c, const struct tlist *l, uint32_t slot, bool *left)
{
    const struct idx *ix = c->ix;
    int best = 0;
    *left = false;
    for (uint32_t i = l->t0; i < l->t1; i++) {
        uint32_t term = ix->tsorted.v[i];
        const struct plist *pl = &ix->tp[term];
        uint32_t *at = &ix->ubuf.v[i - l->t0];
        *at = plist_seek(pl->p, pl->n, *at, slot, 3);
        if (*at == pl->n)
            continue;
        *left = true;
        if ((pl->p[*at] >> 3) == slot) {
            int wt = post_weight(pl->p[*at] & 7u, c->vis, ix->terms.names[term][l->len] == '\0');
            best = wt > best ? wt : best;
        }
    }
    return best;
}

static int tlist_weight(const struct qctx *c, const struct tlist *l, uint32_t i)
{
    return l->shift == 2 ? (int)(l->p[i] & 3u) : post_weight(l->p[i] & 7u, c->vis, l->exact);
}

static int tlist_len_cmp(const void *a, const void *b)
{
    const struct tlist *x = a, *y = b;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* The lists of q's words, shortest first; returns the length of the shortest (0: nothing
   can match). */
static uint32_t text_lists(struct qctx *c, struct tlist *lists)
{
    struct idx *ix = c->ix;
    uint32_t shortest = UINT32_MAX; /* of the words before the prefix (the last word) */
    for (size_t i = 0; i < c->n_words; i++) {
        const struct qword *w = &c->words[i];
        if (w->prefix) {
            prefix_union(c, w, &lists[i], shortest);
        } else {
            long t = dict_lookup(&ix->terms, w->s);
            lists[i] = t < 0 ? (struct tlist){NULL, 0, 0, 3, true, 0, 0, 0}
                             : (struct tlist){ix->tp[t].p, ix->tp[t].n, 0, 3, true, 0, 0, 0};
        }
        if (lists[i].n == 0)
            return 0;
        shortest = lists[i].n < shortest ? lists[i].n : shortest;
    }
    qsort(lists, c->n_words, sizeof *lists, tlist_len_cmp);
    return lists[0].n;
}

/* Every entry holding all of q's words (and in `only`, a set of slots, unless NULL), with its
   score, into ix->tc (sorted by slot). */
static void text_candidates(struct qctx *c, struct tlist *lists, const uint64_t *only)
{
    struct idx *ix = c->ix;
    ix->n_tc = 0;
    const struct tlist *d = &lists[0];
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t slot = d->p[i] >> d->shift;
        if (only && !((only[slot / 64] >> (slot & 63)) & 1))
            continue;
        int score = tlist_weight(c, d, i);
        if (!score)
            continue;
        size_t k = 1;
        for (; k < c->n_words; k++) {
            struct tlist *l = &lists[k];
            if (l->t1 > l->t0) { /* never the driver: a shorter list exists */
                bool left;
                int wt = prefix_seek(c, l, slot, &left);
                if (!left)
                    return;
                if (!wt)
                    break;
                score += wt;
                continue;
            }
            l->at = plist_seek(l->p, l->n, l->at, slot, l->shift);
            if (l->at == l->n)
                return; /* this list is exhausted: nothing further can match */
            if ((l->p[l->at] >> l->shift) != slot)
                break;
            int wt = tlist_weight(c, l, l->at);
            if (!wt)
                break;
            score += wt;
        }
        if (k < c->n_words)
            continue;
        ix->tc = grow(ix->tc, &ix->cap_tc, ix->n_tc + 1, sizeof *ix->tc);
        ix->tc[ix->n_tc++] = (struct cand){slot, score, NAN, 0};
    }
}

/* ---- planning ---- */

static bool fail(struct idx_error *err, enum idx_param p, const char *detail)
{
    if (err)
        *err = (struct idx_error){p, detail};
    return false;
}

static bool radius_ok(double r, bool allow_inf)
{
    if (isnan(r) || r < 0)
        return false;
    return isinf(r) ? allow_inf : r <= IDX_MAX_RADIUS_KM;
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Validates q and fills the parts of the context that need no index. */
static bool prepare(struct qctx *c, const struct idx_query *q, struct idx_error *err)
{
    if ((unsigned)q->view > IDX_VIEW_COMMISSIONER)
        return fail(err, IDX_PARAM_VIEW, "unknown view");
    if ((unsigned)q->sort > IDX_SORT_RELEVANCE)
        return fail(err, IDX_PARAM_SORT, "unknown sort");
    if (q->tier < 0 || q->tier > 4)
        return fail(err, IDX_PARAM_TIER, "tier must be 1 to 4");
    if (q->has_near && !latlon_ok(q->near_lat, q->near_lon))
        return fail(err, IDX_PARAM_NEAR, "near must be a latitude -90..90 and longitude -180..180");
    if (q->has_near && !radius_ok(q->radius_km, true))
        return fail(err, IDX_PARAM_RADIUS, "radius_km must be between 0 and 20016");
    if (q->covers_la && (!latlon_ok(q->covers_lat, q->covers_lon) ||
                         !radius_ok(q->covers_radius_km, false)))
        return fail(err, IDX_PARAM_COVERS, "covers needs a centroid and a radius between 0 and 20016 km");
    if ((unsigned)q->min_rating >= IDX_RATING_COUNT)
        return fail(err, IDX_PARAM_MIN_RATING, "unknown rating");
    if (q->age < -1 || q->age > IDX_MAX_AGE)
        return fail(err, IDX_PARAM_AGE, "age must be 0 to 254");
    if (q->has_vacancies && q->vacancy_max_age_s < 0)
        return fail(err, IDX_PARAM_VACANCIES, "the vacancy age must not be negative");
    if (q->status_mask & ~((1u << IDX_STATUS_COUNT) - 1))
        return fail(err, IDX_PARAM_STATUS, "unknown status");
    if (q->n_service_types && !q->service_types)
        return fail(err, IDX_PARAM_NONE, "service_types missing");
    if (q->q && strnlen(q->q, IDX_MAX_Q + 1) > IDX_MAX_Q)
        return fail(err, IDX_PARAM_Q, "q is too long");
    if (q->limit < 1 || q->limit > IDX_MAX_LIMIT)
        return fail(err, IDX_PARAM_LIMIT, "limit must be 1 to 100");

    c->n_words = 0;
    if (q->q) {
        const char *p = q->q;
        struct qword w;
        bool ended = true;
        while (word_next(&p, w.s, &w.len, &ended)) {
            bool dup = false;
            for (size_t i = 0; i < c->n_words && !dup; i++)
                dup = strcmp(c->words[i].s, w.s) == 0;
            if (dup)
                continue;
            if (c->n_words == IDX_MAX_Q_TOKENS)
                return fail(err, IDX_PARAM_Q, "q has too many words");
            w.prefix = false;
            c->words[c->n_words++] = w;
        }
        (void)ended;
        /* The last word as written (after de-duplication) may also match as a prefix. */
        if (c->n_words && c->words[c->n_words - 1].len >= 2)
            c->words[c->n_words - 1].prefix = true;
    }

    c->sort = q->sort;
    if (c->sort == IDX_SORT_DEFAULT)
        c->sort = c->n_words ? IDX_SORT_RELEVANCE : q->has_near ? IDX_SORT_DISTANCE : IDX_SORT_NAME;
    if (c->sort == IDX_SORT_DISTANCE && !q->has_near)
        return fail(err, IDX_PARAM_SORT, "sorting by distance needs near");
    if (c->sort == IDX_SORT_RELEVANCE && !c->n_words)
        return fail(err, IDX_PARAM_SORT, "sorting by relevance needs q");

    /* The fingerprint: everything that decides the matches and their order. */
    struct fp f = {2166136261u};
    fp_bytes(&f, &c->sort, sizeof c->sort);
    fp_bytes(&f, &q->view, sizeof q->view);
    const char **sts = xmalloc((q->n_service_types + 1) * sizeof *sts);
    for (size_t i = 0; i < q->n_service_types; i++)
        sts[i] = nz(q->service_types[i]);
    qsort(sts, q->n_service_types, sizeof *sts, str_ptr_cmp);
    for (size_t i = 0; i < q->n_service_types; i++)
        if (i == 0 || strcmp(sts[i], sts[i - 1]) != 0)
            fp_str(&f, sts[i]);
    free(sts);
    fp_bytes(&f, "|", 1);
    fp_bytes(&f, &q->tier, sizeof q->tier);
    fp_bytes(&f, &q->has_near, 1);
    if (q->has_near) {
        fp_num(&f, q->near_lat);
        fp_num(&f, q->near_lon);
        fp_num(&f, q->radius_km);
    }
    fp_str(&f, q->commissioner);
    fp_str(&f, q->covers_la);
    if (q->covers_la) {
        fp_num(&f, q->covers_lat);
        fp_num(&f, q->covers_lon);
        fp_num(&f, q->covers_radius_km);
    }
    fp_str(&f, q->region);
    fp_bytes(&f, &q->min_rating, sizeof q->min_rating);
    fp_bytes(&f, &q->age, sizeof q->age);
    fp_bytes(&f, &q->has_vacancies, 1);
    if (q->has_vacancies)
        fp_bytes(&f, &q->vacancy_max_age_s, sizeof q->vacancy_max_age_s);
    fp_str(&f, q->sector);
    fp_bytes(&f, &q->status_mask, sizeof q->status_mask);
    for (size_t i = 0; i < c->n_words; i++) {
        fp_str(&f, c->words[i].s);
        fp_bytes(&f, &c->words[i].prefix, 1);
    }
    c->fp = f.h;

    c->has_cursor = q->cursor && q->cursor[0];
    if (c->has_cursor && !cursor_parse(q->cursor, c->sort, c->fp, &c->cur))
        return fail(err, IDX_PARAM_CURSOR, "the cursor is malformed or belongs to another query");
    return true;
}

static int facet_cmp(const void *a, const void *b)
{
    return strcmp(((const struct idx_facet *)a)->code, ((const struct idx_facet *)b)->code);
}

static int cand_sort_cmp(const void *a, const void *b, void *arg)
{
    return cand_cmp(arg, a, b);
}

bool idx_query(struct idx *ix, const struct idx_query *q, struct idx_result *out,
               struct idx_error *err)
{
    struct qctx cx, *c = &cx;
    memset(c, 0, offsetof(struct qctx, heap)); /* the heap itself needs no clearing */
    c->hn = 0;
    if (err)
        *err = (struct idx_error){IDX_PARAM_NONE, NULL};
    if (!prepare(c, q, err))
        return false;
    c->ix = ix;
    c->q = q;
    c->view = q->view;
    c->geo = &ix->geo[q->view];
    c->K = q->limit + 1;
    c->vis = q->view == IDX_VIEW_PUBLIC ? (T_NAME | T_DESC) : (T_NAME | T_PRIV | T_DESC);

    /* Class filters as lookup tables. */
    if (q->n_service_types) {
        memset(c->st_fail, F_ST, sizeof c->st_fail);
        for (size_t i = 0; i < q->n_service_types; i++) {
            long id = q->service_types[i] ? dict_lookup(&ix->st, q->service_types[i]) : -1;
            if (id >= 0)
                c->st_fail[id] = 0;
        }
    }
    if (q->region) {
        memset(c->region_fail, F_REGION, sizeof c->region_fail);
        long id = q->region[0] ? dict_lookup(&ix->region, q->region) : -1;
        if (id > 0)
            c->region_fail[id] = 0;
    }
    for (unsigned r = 0; r < 8; r++)
        c->rating_fail[r] = r < (unsigned)q->min_rating ? F_RATING : 0;
    for (unsigned s = 0; s < 4; s++)
        c->status_fail[s] = q->status_mask && !(q->status_mask & (1u << s)) ? F_OTHER : 0;
    c->tier_folded = q->tier && fold_tier(c, ix, 1u << (q->tier - 1));
    for (unsigned pair = 0; pair < 256; pair++)
        if (!c->st_fail[pair >> 3] && !c->rating_fail[pair & 7])
            c->pairs[pair >> 6] |= 1ull << (pair & 63);

    /* The other filters. */
    c->tier_bit = q->tier ? 1u << (q->tier - 1) : 0;
    if (c->tier_bit && c->tier_folded)
        c->tier_bit = 0; /* in the class tables; bits_plan still uses the tier's set */
    c->sector = -1;
    if (q->sector) {
        c->sector = q->sector[0] ? dict_lookup(&ix->sector, q->sector) : -1;
        if (c->sector <= 0)
            c->impossible = true;
    }
    c->comm = -1;
    if (q->commissioner) {
        c->comm = dict_lookup(&ix->comm, q->commissioner);
        if (c->comm < 0)
            c->impossible = true;
    }
    c->age = q->age;
    c->vac = q->has_vacancies;
    c->vac_after = q->now - q->vacancy_max_age_s;
    if (q->has_near) {
        cap_init(&c->nc, q->near_lat, q->near_lon, q->radius_km);
        c->near = !c->nc.all; /* an unbounded radius filters nothing */
    }
    if (q->covers_la) {
        c->covers = true;
        long id = q->covers_la[0] ? dict_lookup(&ix->la, q->covers_la) : -1;
        c->covers_la = id > 0 ? id : -1;
        cap_init(&c->cc, q->covers_lat, q->covers_lon, q->covers_radius_km);
    }
    c->extra = c->tier_bit || c->sector >= 0 || c->age >= 0 || c->vac || c->comm >= 0 || c->covers;
    if (c->has_cursor) {
        c->cur_chord = sqrt(c->cur.k.s);
        c->cur_kp = key_prefix(c->cur.key);
        bool found;
        uint32_t pos = name_lower(ix, c->cur.k.name, &found);
        c->cur_name = 2 * (uint64_t)pos + found;
    }

    size_t N = ix->n_entries;
    bool agg_mode = false;
    const struct aggset *sub;
    if (c->impossible) {
        /* nothing matches: every count stays 0 */
    } else if (c->n_words) {
        /* q drives: its candidates are usually the fewest, and only it knows the scores. The
           page comes from them (the ordered sets know nothing of q). */
        c->collect = COLLECT_HEAP;
        struct tlist lists[IDX_MAX_Q_TOKENS];
        uint32_t nd = text_lists(c, lists);
        /* a long driving list, a smaller disc: its bits filter the list before anything else
           is read of an entry */
        const uint64_t *disc = NULL;
        if (c->near && nd > TEXT_DISC_MIN && disc_estimate(c, &c->nc) < nd)
            disc = disc_bits(c);
        ix->n_tc = 0;
        if (nd)
            text_candidates(c, lists, disc);
        for (uint32_t i = 0; i < ix->n_tc; i++)
            consider(c, ix->tc[i].slot, disc ? CHK_COVERS | CHK_COMM : CHK_ALL, ix->tc[i].score);
    } else if (c->extra && (sub = sub_counts(c)) != NULL) {
        /* one sector, age or commissioner beyond the class filters: from its class counts */
        agg_mode = true;
        for (uint32_t i = 0; i < sub->n; i++) {
            unsigned cls = sub->a[i].cls;
            unsigned f = class_fails(c, cls);
            if (countable(f))
                tally(&c->cnt, cls, f, sub->a[i].n);
        }
    } else if (!c->extra) {
        /* only class filters besides near: counts from the class counts */
        agg_mode = true;
        if (c->near) {
            disc_count(c);
        } else {
            for (uint32_t i = 0; i < ix->global.n; i++) {
                unsigned cls = ix->global.a[i].cls;
                unsigned f = class_fails(c, cls);
                if (countable(f))
                    tally(&c->cnt, cls, f, ix->global.a[i].n);
            }
        }
    } else {
        /* The smallest candidate list drives; every other filter is tested on it. */
        c->collect = c->sort == IDX_SORT_NAME || c->sort == IDX_SORT_RATING ? COLLECT_VEC : COLLECT_HEAP;
        ix->sv.n = 0;
        size_t best = N;
        int driver = 0; /* 0 all, 1 near, 2 commissioner, 3 covers */
        if (c->near) {
            size_t e = disc_estimate(c, &c->nc);
            if (e < best)
                best = e, driver = 1;
        }
        if (c->comm >= 0 && (c->near || c->covers)) { /* alone, it is a set in the bit pass */
            size_t e = (uint32_t)c->comm < ix->cap_comm_list ? ix->comm_list[c->comm].n : 0;
            if (e < best)
                best = e, driver = 2;
        }
        if (c->covers) {
            size_t e = (c->covers_la > 0 && (uint32_t)c->covers_la < ix->cap_la_list
                            ? ix->la_list[c->covers_la].n
                            : 0) +
                       disc_estimate(c, &c->cc);
            if (e < best)
                best = e, driver = 3;
        }
        switch (driver) {
        case 1:
            for (uint32_t i = 0; i < c->geo->n_tops; i++)
                geo_scan(c, c->geo->tops[i], &c->nc, false, true, CHK_COVERS | CHK_COMM, false);
            break;
        case 2: {
            const struct vec32 *l = &ix->comm_list[c->comm];
            for (uint32_t i = 0; i < l->n; i++)
                consider(c, l->v[i], CHK_NEAR | CHK_COVERS, 0);
            break;
        }
        case 3:
            if (c->covers_la > 0 && (uint32_t)c->covers_la < ix->cap_la_list) {
                const struct vec32 *l = &ix->la_list[c->covers_la];
                for (uint32_t i = 0; i < l->n; i++)
                    consider(c, l->v[i], CHK_NEAR | CHK_COMM, 0);
            }
            for (uint32_t i = 0; i < c->geo->n_tops; i++)
                geo_scan(c, c->geo->tops[i], &c->cc, false, true, CHK_NEAR | CHK_COMM, true);
            break;
        default:
            bits_plan(c);
            if (bits_exact(c)) {
                bit_count(c);
                agg_mode = true; /* the page comes as with class counts */
            } else {
                bit_scan(c, true);
            }
            break;
        }
    }

    /* The page. */
    uint32_t total = c->cnt.total;
    if (total && !c->impossible) {
        double walk_cost = 4.0 * fmin((double)N, (double)c->K * (double)N / total);
        if (agg_mode) {
            if (c->sort == IDX_SORT_DISTANCE && (!c->near || total > NEAREST_MIN_MATCHES * c->K)) {
                nearest(c);
            } else if (c->sort == IDX_SORT_DISTANCE) {
                /* few matches: best-first would open most of the disc's nodes anyway */
                c->collect = COLLECT_HEAP;
                for (uint32_t i = 0; i < c->geo->n_tops; i++)
                    geo_scan(c, c->geo->tops[i], &c->nc, false, false, 0, false);
            } else {
                double scan_cost = (c->near ? (double)c->e_disc : N / 16.0) + 3.0 * total;
                if (walk_cost <= scan_cost) {
                    walk(c);
                } else {
                    c->collect = COLLECT_HEAP;
                    if (c->near) {
                        for (uint32_t i = 0; i < c->geo->n_tops; i++)
                            geo_scan(c, c->geo->tops[i], &c->nc, false, false, 0, false);
                    } else {
                        bits_plan(c);
                        bit_scan(c, false);
                    }
                }
            }
        } else if (c->collect == COLLECT_VEC) {
            if (walk_cost <= 2.0 * total) {
                walk(c);
            } else {
                c->collect = COLLECT_HEAP;
                for (uint32_t i = 0; i < ix->sv.n; i++)
                    offer(c, (struct cand){ix->sv.v[i], 0, NAN, 0});
            }
        }
    }
    qsort_r(c->heap, c->hn, sizeof *c->heap, cand_sort_cmp, c);

    /* The result. */
    memset(out, 0, offsetof(struct idx_result, hits));
    out->total = total;
    out->n = c->hn < q->limit ? c->hn : q->limit;
    for (size_t i = 0; i < out->n; i++) {
        const struct cand *x = &c->heap[i];
        double d = NAN;
        if (q->has_near)
            d = chord2_km(c->sort == IDX_SORT_DISTANCE ? x->s : chord2(c->nc.v, geo_vec(c->geo, x->slot)));
        out->hits[i] = (struct idx_hit){&ix->recs[x->slot]->e, d, x->score};
    }
    out->has_next = c->hn > q->limit;
    out->next_cursor[0] = '\0';
    if (out->has_next) {
        struct skey k = cand_skey(c, &c->heap[q->limit - 1]);
        cursor_make(out->next_cursor, c->sort, c->fp, &k);
    }
    out->n_service_type_facets = 0;
    for (uint32_t i = 0; i < ix->st.n; i++)
        if (c->cnt.st[i])
            out->service_type_facets[out->n_service_type_facets++] =
                (struct idx_facet){ix->st.names[i], c->cnt.st[i]};
    qsort(out->service_type_facets, out->n_service_type_facets, sizeof(struct idx_facet), facet_cmp);
    out->n_region_facets = 0;
    for (uint32_t i = 1; i < ix->region.n; i++)
        if (c->cnt.region[i])
            out->region_facets[out->n_region_facets++] =
                (struct idx_facet){ix->region.names[i], c->cnt.region[i]};
    qsort(out->region_facets, out->n_region_facets, sizeof(struct idx_facet), facet_cmp);
    for (unsigned r = 0; r < IDX_RATING_COUNT; r++)
        out->rating_facets[r] = c->cnt.rating[r];
    return true;
}
