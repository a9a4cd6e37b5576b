/*
 * main: the aqpd command line. Subcommands: serve, migrate, import, key, audit, publish. Each takes -c FILE; AQPD_* environment variables override the file.
 */
#include "daemon/admin.h"
#include "daemon/cfg.h"
#include "daemon/geoimport.h"
#include "daemon/import.h"
#include "daemon/migrate.h"
#include "daemon/publish.h"
#include "daemon/server.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: aqpd <command> [-c FILE]\n"
    "\n"
    "The national Any Qualified Provider directory for children's social care.\n"
    "\n"
    "commands:\n"
    "  serve     serve the HTTPS API (runs until SIGTERM; SIGHUP reloads config and certificate)\n"
    "  migrate   apply schema/NNNN_name.sql migrations to the database, in order\n"
    "  import    load a reference register: aqpd import ofsted FILE,\n"
    "            aqpd import commissioners [DIR], aqpd import postcodes [FILE]\n"
    "  key       create an API key: aqpd key create --role ROLE [--organisation ID |\n"
    "            --commissioner CODE] [--label TEXT]; prints the key alone on stdout\n"
    "  audit     verify the hash-chained audit log: aqpd audit verify\n"
    "  publish   take a signed, numbered snapshot of the directory (needs signing_key)\n"
    "\n"
    "options:\n"
    "  -c FILE   configuration file of `key = value` lines (see deploy/aqpd.conf.example)\n"
    "  -h, --help\n"
    "\n"
    "Every key can also be set as an environment variable AQPD_<KEY>, which overrides the file:\n"
    "  AQPD_DATABASE_URL, AQPD_LISTEN (host:port; port 0 = any), AQPD_TLS_CERT, AQPD_TLS_KEY,\n"
    "  AQPD_PORT_FILE, AQPD_SCHEMA_DIR, AQPD_POOL_SIZE, AQPD_MAX_CONNECTIONS,\n"
    "  AQPD_MAX_HEADER_BYTES, AQPD_MAX_BODY_BYTES, AQPD_IDLE_TIMEOUT_S, AQPD_REQUEST_TIMEOUT_MS,\n"
    "  AQPD_SHUTDOWN_GRACE_S, AQPD_DB_QUEUE_MAX, AQPD_LOG_LEVEL, AQPD_SIGNING_KEY,\n"
    "  AQPD_SEARCH_INDEX (false: no search index, for a publication and feed instance).\n";

static const char serve_usage[] =
    "usage: aqpd serve [-c FILE]\n"
    "\n"
    "Serves the API over HTTPS (TLS 1.2 and 1.3 only) on `listen`, with a pool of `pool_size`\n"
    "asynchronous PostgreSQL connections to `database_url`. Needs tls_cert and tls_key.\n"
    "Writes the bound port to `port_file` if set. Logs one JSON object per line on stderr.\n"
    "SIGHUP reloads the configuration and certificate (a bad one is refused and logged);\n"
    "SIGTERM or SIGINT stops accepting, finishes requests in flight (up to shutdown_grace_s)\n"
    "and exits 0. Exit status 2 means bad configuration.\n";

static const char migrate_usage[] =
    "usage: aqpd migrate [-c FILE]\n"
    "\n"
    "Applies the migrations in `schema_dir` (NNNN_name.sql) that the database has not seen, in\n"
    "order, each in its own transaction, recorded in aqpd_schema_migrations. Running it again\n"
    "does nothing. It refuses to run if a migration already applied has been changed.\n";

static const char import_usage[] =
    "usage: aqpd import ofsted FILE [-c FILE]\n"
    "       aqpd import commissioners [DIR] [-c FILE]\n"
    "       aqpd import postcodes [FILE] [-c FILE]\n"
    "\n"
    "Loads Ofsted's register of children's social care settings (the provider-level CSV, e.g.\n"
    "data/ofsted/Provider_level_at_31_Mar_2025.csv) into ofsted_setting, mapping columns by\n"
    "header name, in one transaction. Rows are upserted by URN: the same file again reports\n"
    "every row unchanged; a newer file updates what changed. Malformed rows are rejected with\n"
    "their line numbers and reasons; the rest still load. Progress goes to stderr, a summary\n"
    "(inserted, updated, unchanged, rejected) to stdout, and the run is recorded in\n"
    "ofsted_import. Exit status 0 when the file was processed (even with rejected rows), 1 when\n"
    "it was not (unreadable file, missing column, database error: nothing changed), 2 on usage.\n"
    "\n"
    "commissioners loads the 153 English local authorities with children's services into\n"
    "commissioner: ONS code, name, region, DfE LA number and centroid, joined with the latest\n"
    "Ofsted judgement of each, from DIR (default: the shipped data directory, with\n"
    "local_authorities/ and ofsted/ as in data/SOURCES.md). Names are matched after\n"
    "normalising and through an explicit alias table; anything unmatched is listed.\n"
    "postcodes loads postcode district centroids into postcode_district from FILE (default:\n"
    "the shipped data/postcodes/postcode_districts.csv). Both are recorded in reference_import.\n";

static const char key_usage[] =
    "usage: aqpd key create --role provider|commissioner|assessor|board\n"
    "                       [--organisation ID | --commissioner CODE] [--label TEXT] [-c FILE]\n"
    "\n"
    "Creates an API key and prints it alone on stdout; only its SHA-256 is stored, so it cannot\n"
    "be shown again. A provider key acts for one organisation (--organisation, its id), a\n"
    "commissioner key for one local authority (--commissioner, its ONS code); assessor and\n"
    "board keys are national. The creation is recorded in the audit log.\n";

static const char audit_usage[] =
    "usage: aqpd audit verify [-c FILE]\n"
    "\n"
    "Walks the audit log from its first event, recomputing each event's SHA-256 over the\n"
    "previous hash and the event. Exit status 0 when the chain is intact; 1 naming the first\n"
    "event whose contents or link do not match (an event edited, removed or inserted).\n";

static const char publish_usage[] =
    "usage: aqpd publish [-c FILE]\n"
    "\n"
    "Takes a snapshot of the directory as it stands (active qualifications, providers and their\n"
    "public site data, councils and their offers, active agreements, the audit chain head) as\n"
    "canonical JSON, signs it with the board's Ed25519 key (signing_key) and stores it as the\n"
    "next numbered publication, unless nothing changed since the last one. Progress goes to\n"
    "stderr, the publication's metadata (JSON, with \"unchanged\") to stdout. Exit status 0\n"
    "published or unchanged, 1 failure, 2 no or bad signing_key. See docs/publications.md.\n";

static bool is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "help") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    const char *sub_usage = strcmp(cmd, "serve") == 0     ? serve_usage
                            : strcmp(cmd, "migrate") == 0 ? migrate_usage
                            : strcmp(cmd, "import") == 0  ? import_usage
                            : strcmp(cmd, "key") == 0     ? key_usage
                            : strcmp(cmd, "audit") == 0   ? audit_usage
                            : strcmp(cmd, "publish") == 0 ? publish_usage
                                                          : NULL;
    if (!sub_usage) {
        fprintf(stderr, "aqpd: unknown command \"%s\"\n\n%s", cmd, usage);
        return 2;
    }
    const char *cfg_path = NULL;
    const char *args[2] = {NULL, NULL}; /* import: KIND FILE; key: create; audit: verify */
    int nargs = 0;
    int max_args = strcmp(cmd, "import") == 0 ? 2 : strcmp(cmd, "key") == 0 || strcmp(cmd, "audit") == 0 ? 1 : 0;
    const char *role = NULL, *organisation = NULL, *commissioner = NULL, *label = NULL;
    struct {
        const char *flag;
        const char **dst;
    } key_opts[] = {{"--role", &role},
                    {"--organisation", &organisation},
                    {"--commissioner", &commissioner},
                    {"--label", &label}};
    for (int i = 2; i < argc; i++) {
        bool taken = false;
        if (strcmp(cmd, "key") == 0 && i + 1 < argc)
            for (size_t k = 0; k < sizeof key_opts / sizeof key_opts[0] && !taken; k++)
                if (strcmp(argv[i], key_opts[k].flag) == 0) {
                    *key_opts[k].dst = argv[++i];
                    taken = true;
                }
        if (taken)
            continue;
        if (is_help(argv[i])) {
            fputs(sub_usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            cfg_path = argv[++i];
        } else if (nargs < max_args && argv[i][0] != '-') {
            args[nargs++] = argv[i];
        } else {
            fprintf(stderr, "aqpd %s: unexpected argument \"%s\"\n\n%s", cmd, argv[i], sub_usage);
            return 2;
        }
    }
    if (strcmp(cmd, "serve") == 0)
        return srv_main(cfg_path);
    if (strcmp(cmd, "import") == 0 && nargs != 2 &&
        !(nargs == 1 && geoimport_handles(args[0]))) { /* commissioners, postcodes: [PATH] */
        fprintf(stderr, "aqpd import: expected a register and a file\n\n%s", import_usage);
        return 2;
    }
    if ((strcmp(cmd, "key") == 0 && (nargs != 1 || strcmp(args[0], "create") != 0)) ||
        (strcmp(cmd, "audit") == 0 && (nargs != 1 || strcmp(args[0], "verify") != 0))) {
        fprintf(stderr, "aqpd %s: expected \"%s\"\n\n%s", cmd,
                strcmp(cmd, "key") == 0 ? "create" : "verify", sub_usage);
        return 2;
    }

    struct cfg c;
    char err[1024];
    if (!cfg_build(&c, cfg_path, false, err, sizeof err)) {
        fprintf(stderr, "aqpd: config: %s\n", err);
        return 2;
    }
    int rc;
    if (strcmp(cmd, "import") == 0 && strcmp(args[0], "ofsted") == 0)
        rc = import_main(&c, args[0], args[1]);
    else if (strcmp(cmd, "import") == 0) /* commissioners, postcodes; names the kinds if not */
        rc = geoimport_main(&c, args[0], args[1]);
    else if (strcmp(cmd, "key") == 0)
        rc = admin_key_create(&c, role ? role : "", organisation, commissioner, label);
    else if (strcmp(cmd, "audit") == 0)
        rc = admin_audit_verify(&c);
    else if (strcmp(cmd, "publish") == 0)
        rc = publish_main(&c);
    else
        rc = migrate_main(&c);
    cfg_free(&c);
    return rc;
}
