/*
 * publish: `aqpd publish`. See publish.h.
 */
#include "daemon/publish.h"
#include "api/api.h"
#include "api/pubdoc.h"
#include "daemon/cfg.h"
#include "daemon/signkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

/* The SQL of an API statement, by name (the CLI runs the very statements the server runs). */
static const char *stmt_sql(const char *name)
{
    for (size_t i = 0; i < api_nstmts; i++)
        if (strcmp(api_stmts[i].name, name) == 0)
            return api_stmts[i].sql;
    abort();
}

static bool exec_ok(PGconn *pg, PGresult *r, const char *what)
{
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return true;
    fprintf(stderr, "aqpd publish: %s: %s", what, PQerrorMessage(pg));
    return false;
}

int publish_main(const struct cfg *c)
{
    if (!c->signing_key) {
        fprintf(stderr, "aqpd publish: signing_key is not set: the board's Ed25519 key is needed "
                        "to sign (set AQPD_SIGNING_KEY or signing_key = in the config; make one "
                        "with: openssl genpkey -algorithm ed25519 -out board-key.pem)\n");
        return 2;
    }
    char err[1024];
    EVP_PKEY *key = signkey_load(c->signing_key, err, sizeof err);
    if (!key) {
        fprintf(stderr, "aqpd publish: %s\n", err);
        return 2;
    }
    char *pub_pem = signkey_public_pem(key);
    PGconn *pg = PQconnectdb(c->database_url);
    int rc = 1;
    PGresult *r = NULL;
    struct pubdoc d = {0};
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "aqpd publish: cannot connect to the database: %s", PQerrorMessage(pg));
        goto out;
    }
    r = PQexec(pg, "BEGIN");
    if (!exec_ok(pg, r, "BEGIN"))
        goto out;
    PQclear(r);
    fprintf(stderr, "aqpd publish: waiting for the publication lock\n");
    r = PQexecParams(pg, stmt_sql("pub_lock"), 0, NULL, NULL, NULL, NULL, 0);
    if (!exec_ok(pg, r, "lock"))
        goto out;
    PQclear(r);
    fprintf(stderr, "aqpd publish: reading the directory\n");
    r = PQexecParams(pg, stmt_sql("pub_snapshot"), 0, NULL, NULL, NULL, NULL, 0);
    if (!exec_ok(pg, r, "snapshot"))
        goto out;
    fprintf(stderr, "aqpd publish: %d rows read; building the canonical document\n", PQntuples(r));
    if (!pubdoc_build(r, &d, err, sizeof err)) {
        fprintf(stderr, "aqpd publish: cannot build the document: %s\n", err);
        goto out;
    }
    PQclear(r);
    r = NULL;
    fprintf(stderr, "aqpd publish: %zu bytes, sha256 %s, counts %s; signing\n", d.doc.len,
            d.sha256, d.counts);
    char sig[SIGNKEY_SIG_B64];
    if (!signkey_sign_b64(key, d.doc.p, d.doc.len, sig)) {
        fprintf(stderr, "aqpd publish: signing failed\n");
        goto out;
    }
    char *text = xstrndup(d.doc.p, d.doc.len);
    pubdoc_free(&d);
    char seq[24];
    snprintf(seq, sizeof seq, "%lld", d.audit_seq);
    const char *p[] = {text, d.sha256, d.content_sha256, sig, pub_pem, d.counts, seq,
                       d.audit_hash, "cli:publish"};
    fprintf(stderr, "aqpd publish: storing (and deriving the feed and the CSV)\n");
    r = PQexecParams(pg, stmt_sql("pub_create"), 9, NULL, p, NULL, NULL, 0);
    free(text);
    if (!exec_ok(pg, r, "store"))
        goto out;
    bool created = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    const char *meta = PQgetvalue(r, 0, 1);
    PGresult *cr = PQexec(pg, "COMMIT");
    bool committed = exec_ok(pg, cr, "COMMIT");
    PQclear(cr);
    if (!committed)
        goto out;
    if (created)
        fprintf(stderr, "aqpd publish: published\n");
    else
        fprintf(stderr, "aqpd publish: nothing changed since the last publication; "
                        "nothing published\n");
    printf("{\"unchanged\": %s, %s\n", created ? "false" : "true", meta + 1);
    rc = 0;
out:
    PQclear(r);
    pubdoc_free(&d);
    PQfinish(pg);
    free(pub_pem);
    EVP_PKEY_free(key);
    return rc;
}
