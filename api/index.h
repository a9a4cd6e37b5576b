/*
 * index: the in-memory read model behind /v1/search and /v1/directory (DESIGN.md §7). It owns
 * a copy of every directory entry (one site of a provider for one service type it is qualified
 * for) and every structure that makes a search cost microseconds at a million entries:
 *
 *   - two spatial trees (public point, precise point) over a fixed lat/lon grid: 1-degree top
 *     cells, each an adaptive quadtree down to 1/128 degree (about 0.9 km x 0.5 km in England);
 *     a leaf splits beyond 48 entries and an inner node folds back into a leaf at 12. Every
 *     node counts its entries per class (region, qualification status, service type, rating)
 *     and knows which (service type, rating) pairs occur under it. A disc query takes the nodes
 *     inside the disc from their counts and tests only the entries of leaves its edge crosses,
 *     walking the tree breadth first so that a level's nodes are fetched from memory together;
 *     the nearest-first walk skips nodes that cannot hold a match. Leaves keep each entry's
 *     unit vector and filter fields inline, so scans read memory in order, and beside them
 *     each entry's class and point in single precision (16 bytes), which settle whether an
 *     entry of an edge leaf counts unless it lies within 0.6 m of the edge;
 *   - the same class counts over the whole index, for totals and facets without `near`, and
 *     over each sector, each age 0..25 (the entries whose range holds it) and each
 *     commissioner's entries, for a query whose one other filter is that;
 *   - a bitmap index (one bit per entry for each service type, region, rating, status, sector,
 *     tier, age 0..25, "has places"), so filters without `near` combine 64 entries per step and
 *     totals and facets come from population counts;
 *   - two ordered sets (name; rating then name), blocked sorted arrays of entries, and each
 *     distinct sort name's rank among them, so that building a page compares names as
 *     integers from the scan's own records instead of reading each entry;
 *   - an inverted index over organisation name, site name and description (case-insensitive
 *     words; posting lists sorted by entry; a sorted term list for prefixes);
 *   - per-commissioner lists of entries with an active agreement and per-LA lists of sites
 *     (sorted by entry), per-site and per-organisation lists (for removal), a key map.
 *
 * Pure: no I/O, no clock (the caller passes "now"), no libevent or libpq. Out of memory aborts
 * (daemon/util.h). Not thread-safe: one event loop owns an index; a query reuses scratch
 * buffers inside it, so even two concurrent queries on one index are unsafe. Another loop
 * wanting to search needs its own index (each fed by the same updates).
 *
 * Distances are great-circle distances on a sphere of radius IDX_EARTH_RADIUS_KM (the IUGG
 * mean radius), by the haversine formula d = 2R asin(sqrt(a)); the index computes sqrt(a) as
 * half the chord between the two points' unit vectors, which is the same quantity and exact
 * near 0. An entry is within a radius when d <= radius_km + IDX_DISTANCE_EPS_KM (a millimetre,
 * so a point exactly on the boundary is in whatever way the rounding falls). The geometry is
 * on the sphere throughout (caps around cells), so the antimeridian and the poles need no
 * special case.
 *
 * Complexity (N entries, L <= 8 tree levels, C = classes in a node, T = words of an entry's
 * text, P = postings of one of those words, B = 512, the ordered sets' block):
 *   build            O(N log N + N*L*log C + sum of T)
 *   upsert/remove    O(L*(log C + C)) for each tree (a split or fold moves at most a leaf's
 *                    entries), O(log N + B) for the ordered sets when the name or rating
 *                    changed, O(T*P) when the text changed (sorted posting lists shift), and
 *                    O(list) for the commissioner and LA lists; a change of vacancies or
 *                    agreements touches neither the text nor the ordered sets.
 *   remove site/org  the above for each of its entries.
 *   query            with `near` and only service_type/region/min_rating/status besides
 *                    (and tier, while every service type's entries offer the same tiers):
 *                    O(edge), the cells the disc's edge crosses plus the counts of the cells
 *                    inside, independent of how many match; the page by a nearest-first walk
 *                    (or, when the matches are few, one scan of the disc). With other filters,
 *                    the entries of the disc are tested. Without `near`: O(N/64) word
 *                    operations on the bitmap index (or O(classes) when only class filters
 *                    apply, or only they and one sector, age under 26 or commissioner), and
 *                    the page from an ordered set, O(limit * N / matches) steps.
 *                    A commissioner or covers filter may instead drive from its list when that
 *                    is smaller than the disc. `q` is driven by the shortest posting list.
 */
#ifndef AQPD_INDEX_H
#define AQPD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/util.h"

/* ---- limits (each with its reason) ---- */

#define IDX_MAX_LIMIT 100          /* page size: DESIGN.md §5 lists; issue 5 */
#define IDX_MAX_SERVICE_TYPES 32   /* 5 bits in a class; the catalogue has 13 */
#define IDX_MAX_REGIONS 63         /* 6 bits in a class, 0 = unknown; England has 9 */
#define IDX_MAX_SECTORS 255        /* distinct sector codes */
#define IDX_MAX_AREAS 65535        /* distinct LA codes, and distinct commissioner codes */
#define IDX_MAX_AGREEMENTS 256     /* per entry: there are 153 councils */
#define IDX_MAX_ID 255             /* bytes in a key, site id, organisation id or code */
#define IDX_MAX_NAME 1000          /* bytes in an organisation or site name */
#define IDX_MAX_DESCRIPTION 20000  /* bytes in a description (the schema's specification limit) */
#define IDX_SORT_NAME_BYTES 255    /* a name sorts by its first 255 case-folded bytes */
#define IDX_MAX_Q 1000             /* bytes in q */
#define IDX_MAX_Q_TOKENS 16        /* words in q */
#define IDX_MAX_TOKEN 64           /* longer words are cut to this many bytes, in text and q */
#define IDX_MAX_AGE 254            /* ages are years, 0..254 */
#define IDX_MAX_RADIUS_KM 20016.0  /* half the Earth's circumference: every point is within it */
#define IDX_CURSOR_MAX 1024        /* bytes in a cursor, with its NUL */
#define IDX_MAX_DISPLAY 65536      /* bytes in a display text */

#define IDX_EARTH_RADIUS_KM 6371.0088
#define IDX_DISTANCE_EPS_KM 1e-6

/* ---- entries ---- */

enum idx_status { /* a qualification's state (schema/0003: qualification.status) */
    IDX_STATUS_ACTIVE,
    IDX_STATUS_SUSPENDED,
    IDX_STATUS_LAPSED,
    IDX_STATUS_REVOKED,
    IDX_STATUS_COUNT
};

enum idx_rating { /* Ofsted overall rating, ordered: a higher value is better */
    IDX_RATING_NONE,
    IDX_RATING_INADEQUATE,
    IDX_RATING_REQUIRES_IMPROVEMENT,
    IDX_RATING_GOOD,
    IDX_RATING_OUTSTANDING,
    IDX_RATING_COUNT
};

enum idx_agreement_status { /* schema/0005: agreement.status */
    IDX_AGREEMENT_ACTIVE,
    IDX_AGREEMENT_SUSPENDED,
    IDX_AGREEMENT_TERMINATED,
};

/* A provider's agreement with one council, and that council's price. */
struct idx_agreement {
    const char *commissioner; /* ONS code of the council */
    enum idx_agreement_status status;
    int64_t price_pence;      /* >= 0 */
    const char *price_unit;   /* "week", "night", … (schema/0005: offer.price_unit) */
};

/*
 * One directory entry. As input (idx_build, idx_upsert) every pointer is borrowed for the call
 * and copied. As output (idx_get, idx_query) every pointer is owned by the index and valid
 * until the next change to the index (build, upsert, remove, free).
 */
struct idx_entry {
    const char *key;               /* unique, non-empty: site id + service type, the caller's choice */
    const char *site_id;           /* non-empty (uuid text) */
    const char *organisation_id;   /* non-empty */
    const char *organisation_name; /* non-empty; the name sort uses it */
    const char *site_name;         /* may be NULL or "" */
    const char *service_type;      /* non-empty code */
    unsigned tiers;                /* bit t-1 set for tier t (1..4) */
    enum idx_status status;
    const char *sector;            /* code; NULL or "" = unknown */
    const char *region;            /* code; NULL or "" = unknown */
    const char *la;                /* code of the site's local authority; NULL or "" = unknown */
    double lat, lon;               /* the public point (for a children's home, its postcode
                                      district or LA centroid: the loader decides) */
    bool has_precise;              /* false: the precise point is the public point */
    double precise_lat, precise_lon;
    bool address_private;          /* a children's home: its site name is never searchable
                                      publicly (IDX_VIEW_PUBLIC) */
    enum idx_rating rating;
    int age_min, age_max;          /* years; -1 = unknown */
    int32_t vacancies;             /* places available; -1 = unknown */
    int64_t vacancies_at;          /* unix seconds when vacancies was set */
    const char *description;       /* may be NULL */
    const struct idx_agreement *agreements; /* at most one per commissioner */
    size_t n_agreements;
    /* Opaque text the index stores and returns but never reads: what the API shows of the
       entry beyond these fields (api/search.c keeps a few site facts there, as JSON members).
       May be NULL or "". */
    const char *display_public;
    const char *display_private;
};

struct idx;

/* An empty index. Free with idx_free. */
struct idx *idx_new(void);
void idx_free(struct idx *ix);

/*
 * Replaces the whole content with `n` entries. False, leaving the index unchanged, when an
 * entry is invalid (see idx_upsert) or two share a key.
 */
bool idx_build(struct idx *ix, const struct idx_entry *entries, size_t n) WUR;

/*
 * Inserts `e`, or replaces the entry with its key. False, leaving the index unchanged, when `e`
 * is invalid: a required string missing or over its limit, lat/lon out of range or not finite,
 * tiers beyond bits 0-3, an unknown enum value, ages outside -1..IDX_MAX_AGE or min > max,
 * vacancies < -1, a negative price, two agreements with one commissioner, or a code table full.
 */
bool idx_upsert(struct idx *ix, const struct idx_entry *e) WUR;

/* Removes the entry with `key`; false when there is none. */
bool idx_remove(struct idx *ix, const char *key);
/* Remove every entry of a site / of an organisation; return how many were removed. */
size_t idx_remove_site(struct idx *ix, const char *site_id);
size_t idx_remove_organisation(struct idx *ix, const char *organisation_id);

/* The entry with `key`, or NULL. Borrowed until the next change. */
const struct idx_entry *idx_get(const struct idx *ix, const char *key);
/* The agreement of `e` with `commissioner`, or NULL. */
const struct idx_agreement *idx_entry_agreement(const struct idx_entry *e, const char *commissioner);
size_t idx_count(const struct idx *ix);

/* ---- queries ---- */

enum idx_view {
    IDX_VIEW_PUBLIC,      /* /v1/directory: distance from the public point; q never matches a
                             private site name */
    IDX_VIEW_COMMISSIONER /* /v1/search: distance from the precise point; q sees everything */
};

enum idx_sort {
    IDX_SORT_DEFAULT,   /* relevance with q, else distance with near, else name */
    IDX_SORT_DISTANCE,  /* nearest first, then key; needs near */
    IDX_SORT_RATING,    /* best rating first, then name, then key */
    IDX_SORT_NAME,      /* organisation name (case-folded bytes), then key */
    IDX_SORT_RELEVANCE, /* highest score first, then name, then key; needs q */
};

/*
 * Filters all combine with AND; a zero-initialised query (plus limit) matches every entry.
 * Unknown codes are not errors: they match nothing (the API checks codes against the
 * catalogue). Strings are borrowed for the call.
 */
struct idx_query {
    enum idx_view view;
    const char *const *service_types; /* any of these; n_service_types == 0: any */
    size_t n_service_types;
    int tier;                         /* 0: any; 1..4: entries offering that tier */
    bool has_near;                    /* near: the point; radius_km >= 0, or INFINITY for none */
    double near_lat, near_lon, radius_km;
    const char *commissioner;         /* NULL: any; else an active agreement with that council */
    const char *covers_la;            /* NULL: any; else the site is in that LA, or within
                                         covers_radius_km of (covers_lat, covers_lon), its
                                         centroid, measured from the view's point */
    double covers_lat, covers_lon, covers_radius_km;
    const char *region;               /* NULL: any */
    enum idx_rating min_rating;       /* IDX_RATING_NONE: any */
    int age;                          /* -1: any; else age_min <= age <= age_max, both known */
    bool has_vacancies;               /* vacancies > 0 and vacancies_at > now - vacancy_max_age_s */
    int64_t now, vacancy_max_age_s;
    const char *sector;               /* NULL: any */
    unsigned status_mask;             /* bit per idx_status; 0: any. Public: 1u << ACTIVE */
    const char *q;                    /* NULL or no words: no text filter (see idx_query) */
    enum idx_sort sort;
    unsigned limit;                   /* 1..IDX_MAX_LIMIT */
    const char *cursor;               /* NULL or "": the first page; else a next_cursor */
};

/* The parameter a query was refused for, so the API can name it in its 400 problem. */
enum idx_param {
    IDX_PARAM_NONE,
    IDX_PARAM_VIEW,
    IDX_PARAM_TIER,
    IDX_PARAM_NEAR,
    IDX_PARAM_RADIUS,
    IDX_PARAM_COVERS,
    IDX_PARAM_MIN_RATING,
    IDX_PARAM_AGE,
    IDX_PARAM_VACANCIES,
    IDX_PARAM_STATUS,
    IDX_PARAM_Q,
    IDX_PARAM_SORT,
    IDX_PARAM_LIMIT,
    IDX_PARAM_CURSOR,
};

struct idx_error {
    enum idx_param param;
    const char *detail; /* static text */
};

struct idx_hit {
    const struct idx_entry *entry; /* borrowed until the next change to the index */
    double distance_km;            /* from near, by the view's point; NAN without near */
    int score;                     /* relevance with q, else 0 */
};

struct idx_facet {
    const char *code; /* owned by the index, valid while it lives */
    uint32_t count;
};

/* Filled by idx_query; holds no heap memory, so it needs no free. */
struct idx_result {
    size_t n;
    struct idx_hit hits[IDX_MAX_LIMIT];
    bool has_next;                  /* then next_cursor continues after hits[n-1] */
    char next_cursor[IDX_CURSOR_MAX];
    uint32_t total;                 /* matches of every filter */
    /* Each facet counts the matches of every filter except its own; codes with count 0 are
       left out; ordered by code. rating_facets[r] counts rating r (ignoring min_rating). */
    size_t n_service_type_facets;
    struct idx_facet service_type_facets[IDX_MAX_SERVICE_TYPES];
    size_t n_region_facets;
    struct idx_facet region_facets[IDX_MAX_REGIONS];
    uint32_t rating_facets[IDX_RATING_COUNT];
};

/*
 * Runs `q`. False with `err` naming the parameter on: an unknown view, sort, rating or status
 * bit; tier outside 0..4; near outside lat -90..90 / lon -180..180 or not finite; radius
 * negative, NaN or finite beyond IDX_MAX_RADIUS_KM; covers point or radius likewise (radius
 * must be finite); age outside -1..IDX_MAX_AGE; a negative vacancy age; q over IDX_MAX_Q bytes
 * or IDX_MAX_Q_TOKENS words; sort by distance without near or by relevance without words;
 * limit outside 1..IDX_MAX_LIMIT; a cursor that is malformed or was made by a query with other
 * filters or another sort (limit and now may change between pages).
 *
 * Text search: q and the text are cut into words (runs of ASCII letters and digits and of bytes
 * >= 0x80; an apostrophe inside a word is dropped, so "children's" is "childrens"), ASCII is
 * folded to lower case, and each word is cut to IDX_MAX_TOKEN bytes. Every word of q must
 * occur in the organisation name, site name (IDX_VIEW_COMMISSIONER, or not address_private) or
 * description; the last word, if it has 2 bytes or more, also matches as a prefix. Score: the
 * sum over q's words of 3 when the word is in a name, 2 when only a prefix of a name word, 1
 * when only in the description. It depends only on the entry and q (no corpus statistics), so
 * a cursor stays exact when other entries change.
 *
 * Pagination is by keyset: walking next_cursor returns every entry that matched throughout the
 * walk exactly once, in order, whatever else changes in between.
 */
bool idx_query(struct idx *ix, const struct idx_query *q, struct idx_result *out,
               struct idx_error *err) WUR;

/* Sizes, for metrics and the benchmark. bytes is the index's own allocations (approximate:
   malloc overhead excluded). */
struct idx_stats {
    size_t entries, slots, nodes, terms, postings, bytes;
};
void idx_stats(const struct idx *ix, struct idx_stats *out);

/* Names for the enums ("active", "requires_improvement", …) and their inverses. */
const char *idx_status_name(enum idx_status s);
bool idx_status_parse(const char *s, enum idx_status *out) WUR;
const char *idx_rating_name(enum idx_rating r);
bool idx_rating_parse(const char *s, enum idx_rating *out) WUR;
const char *idx_agreement_status_name(enum idx_agreement_status s);
bool idx_agreement_status_parse(const char *s, enum idx_agreement_status *out) WUR;

#endif
