/*
 * pubdoc: the canonical JSON of a publication (docs/publications.md). The directory's rows come
 * from one statement (publication_snapshot() in schema/0009, ordered by section and key);
 * this module re-emits every item in the canonical form and assembles the document, its
 * SHA-256, the SHA-256 of its content (the document without its "audit" member: what
 * "unchanged" compares) and its counts. Pure: no I/O; memory it returns is owned by the caller
 * (pubdoc_free).
 *
 * The canonical form: UTF-8; no whitespace; object members sorted by key, comparing the keys'
 * UTF-8 bytes as unsigned; arrays in the order given; strings escaped minimally (\" \\ and the
 * control characters U+0000..U+001F: \b \t \n \f \r by name, the others as \u00XX with lower-case
 * hex; nothing else, so "/" and non-ASCII characters are literal); numbers as written by the
 * database without exponent or "+": integers, and coordinates with exactly six decimals;
 * true, false, null.
 */
#ifndef AQPD_PUBDOC_H
#define AQPD_PUBDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "daemon/util.h"

#define PUBDOC_FORMAT "aqpd-directory/1"

/* A growable byte buffer (xmalloc). */
struct pubdoc_buf {
    char *p;
    size_t len, cap;
};

struct pubdoc {
    struct pubdoc_buf doc;     /* the document's bytes (not NUL-terminated) */
    char sha256[65];           /* hex of SHA-256 over doc */
    char content_sha256[65];   /* hex of SHA-256 over doc without the "audit" member */
    char counts[512];          /* JSON object: items per section, and offers */
    long long audit_seq;       /* the audit chain head the document carries */
    char audit_hash[65];
};

/*
 * Appends the canonical form of the JSON text `json` (NUL-terminated, trusted: it comes from
 * the database) to `out`, parsed with qualify/jv under the row limits of pubdoc.c (nesting 32,
 * 1 MiB, strings 64 KiB). False with a reason in err for text that is not JSON as jv reads it
 * (also: a NUL, invalid UTF-8, a duplicate key, an integer outside 64 bits), that is past a
 * limit, or that has a number outside the canonical number forms (an exponent, a leading "+"
 * or zero); `out` may then hold part of the output.
 */
bool pubdoc_canonical(const char *json, struct pubdoc_buf *out, char *err, size_t errlen) WUR;

/*
 * Builds the document from the snapshot result `r` (columns: section, item as JSON text;
 * ordered by section, then key). False with a reason in err on an unknown or misordered
 * section, a missing or repeated audit row, or an item pubdoc_canonical refuses.
 */
bool pubdoc_build(const PGresult *r, struct pubdoc *out, char *err, size_t errlen) WUR;

void pubdoc_free(struct pubdoc *d);

#endif
