/*
 * admin: key creation and audit verification. See admin.h.
 */
#include "daemon/admin.h"
#include "api/auth.h"
#include "daemon/cfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

static PGconn *connect_db(const struct cfg *c)
{
    PGconn *pg = PQconnectdb(c->database_url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "aqpd: cannot connect to the database: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

int admin_key_create(const struct cfg *c, const char *role, const char *organisation,
                     const char *commissioner, const char *label)
{
    unsigned r;
    if (!auth_role_parse(role, &r)) {
        fprintf(stderr, "aqpd key create: --role must be provider, commissioner, assessor or board\n");
        return 2;
    }
    if ((r == ROLE_PROVIDER) != (organisation != NULL)) {
        fprintf(stderr, "aqpd key create: --organisation ID is %s for role %s\n",
                r == ROLE_PROVIDER ? "required" : "not allowed", role);
        return 2;
    }
    if ((r == ROLE_COMMISSIONER) != (commissioner != NULL)) {
        fprintf(stderr, "aqpd key create: --commissioner CODE is %s for role %s\n",
                r == ROLE_COMMISSIONER ? "required" : "not allowed", role);
        return 2;
    }
    PGconn *pg = connect_db(c);
    if (!pg)
        return 1;
    char key[AUTH_KEY_LEN + 1], hex[65];
    unsigned char hash[32];
    auth_key_new(key, hash);
    auth_hex(hash, hex);
    const char *p[] = {hex, role, organisation, commissioner, label ? label : "aqpd key create"};
    PGresult *res = PQexecParams(
        pg,
        "WITH k AS (INSERT INTO api_key (key_hash, role, organisation_id, commissioner_code, label)"
        " VALUES (decode($1, 'hex'), $2, $3::uuid, CASE WHEN $4::text IS NOT NULL THEN"
        " coalesce(commissioner_resolve($4), $4) END, $5) RETURNING id, role, organisation_id,"
        " commissioner_code, label),"
        " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
        " SELECT 'cli:key create', 'api_key.create', 'api_key', k.id::text,"
        " jsonb_build_object('role', k.role, 'organisation_id', k.organisation_id,"
        " 'commissioner_code', k.commissioner_code, 'label', k.label) FROM k RETURNING 1)"
        "SELECT id FROM k",
        5, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "aqpd key create: %s", PQerrorMessage(pg));
        rc = 1;
    } else {
        printf("%s\n", key);
    }
    OPENSSL_cleanse(key, sizeof key);
    PQclear(res);
    PQfinish(pg);
    return rc;
}

int admin_audit_verify(const struct cfg *c)
{
    PGconn *pg = connect_db(c);
    if (!pg)
        return 1;
    /* A cursor in one read-only transaction: a consistent snapshot, streamed in batches. */
    PGresult *r = PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    PQclear(r);
    r = PQexec(pg, "DECLARE chain NO SCROLL CURSOR FOR SELECT e.seq, encode(e.prev_hash, 'hex'),"
                   " encode(e.hash, 'hex'), audit_event_text(e) FROM audit_event e ORDER BY e.seq");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "aqpd audit verify: %s", PQerrorMessage(pg));
        PQclear(r);
        PQfinish(pg);
        return 1;
    }
    PQclear(r);
    unsigned char prev[32] = {0};
    long long count = 0;
    int rc = 0;
    for (;;) {
        r = PQexec(pg, "FETCH 5000 FROM chain");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "aqpd audit verify: %s", PQerrorMessage(pg));
            rc = 1;
            break;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n && rc == 0; i++) {
            const char *seq = PQgetvalue(r, i, 0);
            char want_prev[65];
            auth_hex(prev, want_prev);
            if (strcmp(PQgetvalue(r, i, 1), want_prev) != 0) {
                printf("audit chain broken at event %s: its prev_hash does not match the event "
                       "before it (an event was removed, inserted or altered)\n",
                       seq);
                rc = 1;
                break;
            }
            const char *text = PQgetvalue(r, i, 3);
            size_t tl = (size_t)PQgetlength(r, i, 3);
            EVP_MD_CTX *md = EVP_MD_CTX_new();
            unsigned char h[32];
            unsigned hl = 0;
            if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
                !EVP_DigestUpdate(md, prev, 32) || !EVP_DigestUpdate(md, text, tl) ||
                !EVP_DigestFinal_ex(md, h, &hl))
                abort();
            EVP_MD_CTX_free(md);
            char got[65];
            auth_hex(h, got);
            if (strcmp(got, PQgetvalue(r, i, 2)) != 0) {
                printf("audit chain broken at event %s: its contents do not match its hash (the "
                       "event was edited)\n",
                       seq);
                rc = 1;
                break;
            }
            memcpy(prev, h, 32);
            count++;
        }
        PQclear(r);
        if (rc || n == 0)
            break;
        if (count % 100000 == 0)
            fprintf(stderr, "verified %lld events\n", count);
    }
    if (rc == 0) {
        char last[65];
        auth_hex(prev, last);
        printf("audit chain intact: %lld events, last hash %s\n", count, last);
    }
    PQclear(PQexec(pg, "COMMIT"));
    PQfinish(pg);
    return rc;
}
