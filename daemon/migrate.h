/*
 * migrate: `aqpd migrate`. Applies schema_dir/NNNN_name.sql in version order, each file in its
 * own transaction together with its row in aqpd_schema_migrations (version, name, sha256,
 * applied_at). Idempotent; refuses to run (and changes nothing) when a file already applied has
 * different contents now, or when an applied version's file is missing. Concurrent runs are
 * serialised by an advisory lock. Blocking libpq: this is a command, not the server.
 */
#ifndef AQPD_MIGRATE_H
#define AQPD_MIGRATE_H

struct cfg;

/* Returns the process exit status; prints progress to stdout and errors to stderr. */
int migrate_main(const struct cfg *c);

#endif
