/*
 * publish: `aqpd publish`, the command-line way to take a publication (DESIGN.md §8): the same
 * statements and document as POST /v1/publications (api/sql.c pub_*, api/pubdoc.c), run on one
 * blocking connection inside one transaction that holds the publication lock throughout.
 */
#ifndef AQPD_PUBLISH_H
#define AQPD_PUBLISH_H

struct cfg;

/* Progress on stderr; the publication's metadata (JSON, one line) on stdout. Exit status: 0
 * published or unchanged, 1 failure, 2 configuration (no or bad signing_key). */
int publish_main(const struct cfg *c);

#endif
