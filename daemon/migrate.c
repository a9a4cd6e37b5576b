/*
 * migrate: numbered SQL migrations. See migrate.h.
 */
#include "daemon/migrate.h"
#include "daemon/cfg.h"
#include "qualify/criteria.h"
#include "qualify/jv.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

/* A fixed key for pg_advisory_lock, so two `aqpd migrate` runs never interleave. */
#define MIGRATE_LOCK_KEY "7243519001"

struct mfile {
    int version;
    char *name; /* file name */
    char *sql;
    char sha256[65];
};

static int cmp_version(const void *a, const void *b)
{
    const struct mfile *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, n = 0, r;
    char *buf = xmalloc(cap);
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Lists NNNN_name.sql files; false (message printed) on unreadable dir or duplicate version. */
static bool list_files(const char *dir, struct mfile **out, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "aqpd: migrate: schema_dir %s: %s\n", dir, strerror(errno));
        return false;
    }
    struct mfile *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    bool ok = true;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        size_t l = strlen(nm);
        if (l < 10 || strcmp(nm + l - 4, ".sql") != 0 || !isdigit((unsigned char)nm[0]) ||
            !isdigit((unsigned char)nm[1]) || !isdigit((unsigned char)nm[2]) ||
            !isdigit((unsigned char)nm[3]) || nm[4] != '_')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        size_t len;
        char *sql = read_file(path, &len);
        if (!sql) {
            fprintf(stderr, "aqpd: migrate: cannot read %s: %s\n", path, strerror(errno));
            ok = false;
            break;
        }
        if (n == cap)
            v = xrealloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
        v[n].version = atoi(nm);
        v[n].name = xstrdup(nm);
        v[n].sql = sql;
        sha256_hex(sql, len, v[n].sha256);
        n++;
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_version);
    for (size_t i = 1; ok && i < n; i++)
        if (v[i].version == v[i - 1].version) {
            fprintf(stderr, "aqpd: migrate: %s and %s have the same version\n", v[i - 1].name,
                    v[i].name);
            ok = false;
        }
    *out = v;
    *count = n;
    return ok;
}

static bool exec_ok(PGconn *pg, const char *sql, const char *what)
{
    PGresult *r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "aqpd: migrate: %s: %s", what, PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

/*
 * Publishes criteria_dir/vN.json sets the database lacks (validated by qualify/criteria.c;
 * the document's version must be N). A set already published must be byte-identical: sets
 * are immutable, so a changed file is refused like a changed migration.
 */
static bool load_criteria(PGconn *pg, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "aqpd: migrate: criteria_dir %s: %s\n", dir, strerror(errno));
        return false;
    }
    bool ok = true;
    int loaded = 0, present = 0;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        int n = 0;
        char tail[8] = "";
        if (sscanf(e->d_name, "v%d.%7s", &n, tail) != 2 || strcmp(tail, "json") != 0 || n < 1)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *text = read_file(path, &len);
        if (!text) {
            fprintf(stderr, "aqpd: migrate: cannot read %s: %s\n", path, strerror(errno));
            ok = false;
            break;
        }
        jv *doc = NULL;
        struct jv_error jerr;
        char err[512];
        struct crit_set *set = NULL;
        if (!jv_parse(text, len, NULL, &doc, &jerr)) {
            fprintf(stderr, "aqpd: migrate: %s: not JSON: %s at byte %zu\n", path, jerr.msg,
                    jerr.offset);
            ok = false;
        } else if (!(set = crit_load(doc, err, sizeof err))) {
            fprintf(stderr, "aqpd: migrate: %s: %s\n", path, err);
            ok = false;
        } else if (crit_version(set) != n) {
            fprintf(stderr, "aqpd: migrate: %s holds version %d\n", path, crit_version(set));
            ok = false;
        }
        if (ok) {
            char sum[65], ver[16];
            sha256_hex(text, len, sum);
            snprintf(ver, sizeof ver, "%d", n);
            const char *p[] = {ver, text, sum};
            PGresult *r = PQexecParams(
                pg,
                "WITH ins AS (INSERT INTO criteria_set (version, published_by, document, sha256)"
                " VALUES ($1::int, 'aqpd migrate', $2::jsonb, $3) ON CONFLICT (version) DO NOTHING"
                " RETURNING version)"
                "SELECT (SELECT count(*) FROM ins),"
                " (SELECT sha256 FROM criteria_set WHERE version = $1::int)",
                3, NULL, p, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                fprintf(stderr, "aqpd: migrate: %s: %s", path, PQerrorMessage(pg));
                ok = false;
            } else if (strcmp(PQgetvalue(r, 0, 0), "1") == 0) {
                printf("published criteria set %d from %s\n", n, e->d_name);
                loaded++;
            } else if (strcmp(PQgetvalue(r, 0, 1), sum) != 0) {
                fprintf(stderr,
                        "aqpd: migrate: %s differs from criteria set %d as published; sets are "
                        "immutable: publish a new version instead\n",
                        path, n);
                ok = false;
            } else {
                present++;
            }
            PQclear(r);
        }
        crit_free(set);
        jv_free(doc);
        free(text);
    }
    closedir(d);
    if (ok)
        printf("criteria sets: %d published now, %d already published\n", loaded, present);
    return ok;
}

int migrate_main(const struct cfg *c)
{
    struct mfile *files = NULL;
    size_t nfiles = 0;
    int rc = 1;
    PGconn *pg = NULL;
    if (!list_files(c->schema_dir, &files, &nfiles))
        goto out;

    pg = PQconnectdb(c->database_url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "aqpd: migrate: cannot connect to the database: %s", PQerrorMessage(pg));
        goto out;
    }
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    if (!exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "lock") ||
        !exec_ok(pg,
                 "CREATE TABLE IF NOT EXISTS aqpd_schema_migrations ("
                 " version integer PRIMARY KEY,"
                 " name text NOT NULL,"
                 " sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 "create aqpd_schema_migrations"))
        goto out;

    PGresult *applied = PQexec(pg, "SELECT version, name, sha256 FROM aqpd_schema_migrations "
                                   "ORDER BY version");
    if (PQresultStatus(applied) != PGRES_TUPLES_OK) {
        fprintf(stderr, "aqpd: migrate: %s", PQerrorMessage(pg));
        PQclear(applied);
        goto out;
    }
    /* Check every applied migration against the files before changing anything. */
    bool consistent = true;
    for (int i = 0; i < PQntuples(applied); i++) {
        int ver = atoi(PQgetvalue(applied, i, 0));
        const char *name = PQgetvalue(applied, i, 1);
        const char *sum = PQgetvalue(applied, i, 2);
        struct mfile *f = NULL;
        for (size_t k = 0; k < nfiles; k++)
            if (files[k].version == ver)
                f = &files[k];
        if (!f) {
            fprintf(stderr, "aqpd: migrate: applied migration %s is missing from %s\n", name,
                    c->schema_dir);
            consistent = false;
        } else if (strcmp(f->sha256, sum) != 0) {
            fprintf(stderr,
                    "aqpd: migrate: %s was changed after it was applied (sha256 %s, applied %s); "
                    "write a new migration instead\n",
                    f->name, f->sha256, sum);
            consistent = false;
        }
    }
    int napplied = PQntuples(applied);
    if (!consistent) {
        PQclear(applied);
        goto out;
    }

    int done = 0;
    for (size_t k = 0; k < nfiles; k++) {
        bool already = false;
        for (int i = 0; i < napplied; i++)
            if (atoi(PQgetvalue(applied, i, 0)) == files[k].version)
                already = true;
        if (already)
            continue;
        printf("applying %s ... ", files[k].name);
        fflush(stdout);
        if (!exec_ok(pg, "BEGIN", "begin") || !exec_ok(pg, files[k].sql, files[k].name)) {
            PQclear(PQexec(pg, "ROLLBACK"));
            printf("failed\n");
            PQclear(applied);
            goto out;
        }
        char ver[16];
        snprintf(ver, sizeof ver, "%d", files[k].version);
        const char *params[3] = {ver, files[k].name, files[k].sha256};
        PGresult *r = PQexecParams(pg,
                                   "INSERT INTO aqpd_schema_migrations (version, name, sha256) "
                                   "VALUES ($1, $2, $3)",
                                   3, NULL, params, NULL, NULL, 0);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok || !exec_ok(pg, "COMMIT", "commit")) {
            fprintf(stderr, "aqpd: migrate: recording %s: %s", files[k].name, PQerrorMessage(pg));
            PQclear(PQexec(pg, "ROLLBACK"));
            printf("failed\n");
            PQclear(applied);
            goto out;
        }
        printf("ok\n");
        done++;
    }
    PQclear(applied);
    printf("migrations: %d applied now, %d already applied, %zu in %s\n", done, napplied, nfiles,
           c->schema_dir);
    if (!load_criteria(pg, c->criteria_dir))
        goto out;
    rc = 0;
out:
    if (pg)
        PQfinish(pg);
    for (size_t k = 0; k < nfiles; k++) {
        free(files[k].name);
        free(files[k].sql);
    }
    free(files);
    return rc;
}
