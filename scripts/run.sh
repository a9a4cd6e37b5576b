#!/usr/bin/env bash
# Runs aqpd on this machine: installs what is missing (scripts/deps.sh), builds build/aqpd,
# starts a private PostgreSQL cluster in the state directory unless AQPD_DATABASE_URL is given
# (initdb + pg_ctl on a Unix socket, as the postgres user when run as root; reused on the next
# run), makes a self-signed certificate for localhost if there is none, applies the migrations,
# loads the reference data (the Ofsted register, commissioners, postcode districts; idempotent),
# prints what to try, and then runs `aqpd serve` in the foreground (Ctrl-C stops it; the
# database cluster keeps running: tests/lib/cluster.sh stop .state/pg stops it).
#
# Environment:
#   AQPD_STATE_DIR     state directory (default: .state in the repository): pg/ (cluster),
#                      tls/ (certificate)
#   AQPD_LISTEN        host:port to listen on (default 127.0.0.1:8443)
#   AQPD_DATABASE_URL  use this database instead of the private cluster
#   AQPD_DEMO_DIRECTORY  0: do not load the demonstration directory into the private cluster
#   AQPD_TLS_CERT, AQPD_TLS_KEY   use this certificate instead of the self-signed one
#   AQPD_SIGNING_KEY   the board's Ed25519 key for publications (default: a development key
#                      made in the state directory, board-key.pem)
#   any other AQPD_* setting (see deploy/aqpd.conf.example) is passed on to aqpd.
# Arguments are passed to `aqpd serve` (e.g. -c FILE; the environment above overrides it).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE=${AQPD_STATE_DIR:-$ROOT/.state}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)

say() { echo "run.sh: $*" >&2; }

scripts/deps.sh

say "building build/aqpd"
if ! cmake -S . -B build >/dev/null || ! cmake --build build -j"$(nproc 2>/dev/null || echo 2)" \
  >build/build.log 2>&1; then
  tail -n 40 build/build.log >&2 || true
  say "the build failed (full log: build/build.log)"
  exit 1
fi
AQPD=$ROOT/build/aqpd

private_db=0
if [[ -z "${AQPD_DATABASE_URL:-}" ]]; then
  private_db=1
  say "starting the private PostgreSQL cluster in $STATE/pg"
  bash tests/lib/cluster.sh start "$STATE/pg"
  # shellcheck disable=SC1091
  AQPD_DATABASE_URL=$(source "$STATE/pg/env" && echo "$AQPD_TEST_DATABASE_URL")
  export AQPD_DATABASE_URL
fi

if [[ -z "${AQPD_TLS_CERT:-}" ]]; then
  export AQPD_TLS_CERT=$STATE/tls/cert.pem AQPD_TLS_KEY=$STATE/tls/key.pem
  if [[ ! -s "$AQPD_TLS_CERT" || ! -s "$AQPD_TLS_KEY" ]]; then
    say "making a self-signed certificate for localhost in $STATE/tls"
    mkdir -p "$STATE/tls"
    chmod 0700 "$STATE/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
      -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
      -keyout "$AQPD_TLS_KEY" -out "$AQPD_TLS_CERT" 2>/dev/null
  fi
fi

# The board's signing key for publications (docs/publications.md): a development key.
if [[ -z "${AQPD_SIGNING_KEY:-}" ]]; then
  export AQPD_SIGNING_KEY=$STATE/board-key.pem
  if [[ ! -s "$AQPD_SIGNING_KEY" ]]; then
    say "making a development signing key (Ed25519) in $AQPD_SIGNING_KEY"
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$AQPD_SIGNING_KEY")
  fi
fi

export AQPD_LISTEN=${AQPD_LISTEN:-127.0.0.1:8443}

say "applying migrations"
"$AQPD" migrate "$@"

# Reference data (data/SOURCES.md). Each import is idempotent: a re-run finds every row
# unchanged and takes well under a second. Its summary goes to a log; a failure shows it.
load_register() { # register [path]
  local log=$STATE/import-$1.log
  if ! "$AQPD" import "$@" "${run_args[@]}" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    say "aqpd import $1 failed (full log: $log)"
    exit 1
  fi
  say "import $1: $(grep -E '^(inserted|updated|unchanged|rejected|matched|unmatched):' "$log" |
    cut -d' ' -f1-2 | tr '\n' ' ')"
}
run_args=("$@")
say "loading reference data"
load_register ofsted data/ofsted/Provider_level_at_31_Mar_2025.csv
load_register commissioners
load_register postcodes

# A demonstration directory in the private cluster (never in a database you named): the real
# Ofsted register as qualified providers, through the bulk path of tests/lib/bulk_ofsted.sql,
# so that search and the directory have something to find. Once; AQPD_DEMO_DIRECTORY=0 skips it.
if ((private_db)) && [[ "${AQPD_DEMO_DIRECTORY:-1}" != 0 ]]; then
  demo_psql() { (source "$STATE/pg/env" && "$AQPD_PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 \
    -h "$AQPD_PG_HOST" -p "$AQPD_PG_PORT" -U "$AQPD_PG_USER" -d aqpd "$@"); }
  if [[ "$(demo_psql -c 'SELECT count(*) FROM site WHERE ofsted_urn IS NOT NULL')" == 0 ]]; then
    say "loading the demonstration directory (the Ofsted register as qualified providers)"
    demo_psql -f tests/lib/bulk_ofsted.sql >/dev/null || { say "loading the demonstration directory failed"; exit 1; }
  fi
fi

port=${AQPD_LISTEN##*:}
host=${AQPD_LISTEN%:*}
case "$host" in
  127.0.0.1 | localhost | 0.0.0.0 | "" | "[::]" | "[::1]") host=localhost ;;
esac
cacert=$AQPD_TLS_CERT
[[ "$cacert" == "$ROOT"/* ]] && cacert=${cacert#"$ROOT"/}
cat >&2 <<EOF

aqpd is starting on https://$host:$port (Ctrl-C stops it). Try, from $ROOT:

  curl --cacert $cacert https://$host:$port/healthz
  curl --cacert $cacert https://$host:$port/readyz
  curl --cacert $cacert https://$host:$port/metrics
  curl --cacert $cacert https://$host:$port/openapi.json
  curl --cacert $cacert -i https://$host:$port/no-such-route
  curl --cacert $cacert 'https://$host:$port/v1/directory?service_type=independent-fostering&near=LS6&radius_km=50&min_rating=good&limit=20'

Database: $AQPD_DATABASE_URL
Logs: one JSON object per line, below.

EOF
exec "$AQPD" serve "$@"
