/*
 * admin: operator commands that talk to the database directly (blocking libpq; they are
 * commands, not the server): `aqpd key create` and `aqpd audit verify`.
 */
#ifndef AQPD_ADMIN_H
#define AQPD_ADMIN_H

struct cfg;

/*
 * Creates an API key for `role` (provider needs organisation, commissioner needs commissioner)
 * and prints the key alone on stdout. Returns the exit status.
 */
int admin_key_create(const struct cfg *c, const char *role, const char *organisation,
                     const char *commissioner, const char *label);

/*
 * Walks the audit chain from the first event, recomputing every hash. Exit 0 and a summary
 * when intact; exit 1 naming the first event whose hash or link does not hold.
 */
int admin_audit_verify(const struct cfg *c);

#endif
