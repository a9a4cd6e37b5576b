#!/usr/bin/env bash
# A private PostgreSQL cluster in a directory: initdb + pg_ctl on a Unix socket, no TCP, no
# system service. Used as the CTest fixture "pg", by tests that need their own cluster (to stop
# it), and by scripts/run.sh (which keeps it in .state/pg between runs).
#
#   cluster.sh start DIR     create the cluster if DIR has none, start it if it is not running,
#                            create database "aqpd", write DIR/env (see below). Idempotent.
#   cluster.sh stop DIR      stop it (fast shutdown) if it is running. Keeps the data.
#   cluster.sh destroy DIR   stop it and delete it.
#   cluster.sh status DIR    exit 0 if it is running.
#
# DIR/env holds shell `export` lines: AQPD_TEST_DATABASE_URL (a libpq URI for database "aqpd"
# over the socket), and AQPD_PG_HOST (socket directory), AQPD_PG_PORT, AQPD_PG_USER,
# AQPD_PG_DATA, AQPD_PG_BINDIR, AQPD_PG_LOG for tools such as psql, createdb and pg_ctl.
#
# initdb and postgres refuse to run as root. Run as root, the server runs as the "postgres" user
# (the Debian package creates it) and owns only its data and socket directories; run as anyone
# else, it runs as that user. If the postgres user cannot reach DIR (a parent directory without
# x permission), or the socket path would be too long for a Unix socket (107 bytes), the data or
# the socket go to /tmp/aqpd-pg-HASH instead, HASH derived from DIR's absolute path so that
# every command finds them again.
#
# The file can also be sourced; it then only defines the pgc_* functions.

pgc_die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

# The directory holding initdb and pg_ctl: pg_config's answer if it has them (Debian's
# libpq-dev pg_config reports the server's bindir), else the newest /usr/lib/postgresql/*/bin.
pgc_bindir() {
  local d
  d=$(pg_config --bindir 2>/dev/null || true)
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
    echo "$d"
    return 0
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
      echo "$d"
      return 0
    fi
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  pgc_die "initdb not found (install the postgresql package: scripts/deps.sh)"
}

# Runs a command as the cluster's owner.
pgc_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pgc_owner() {
  if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi
}

# Makes directory $1 (mode 0700) owned by the cluster's owner.
pgc_owned_dir() {
  mkdir -p "$1"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$1"
  fi
  chmod 0700 "$1"
}

# Sets PGC_* variables for DIR: where data, socket and log live.
pgc_layout() {
  local dir=$1 hash
  mkdir -p "$dir"
  PGC_DIR=$(cd "$dir" && pwd -P)
  hash=$(printf '%s' "$PGC_DIR" | cksum | cut -d' ' -f1)
  PGC_ALT=/tmp/aqpd-pg-$hash
  PGC_PORT=${AQPD_PG_PORT_WANTED:-5432}
  PGC_USER=$(pgc_owner)
  PGC_BINDIR=$(pgc_bindir)
  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    pgc_die "running as root needs the 'postgres' user (install the postgresql package)"
  fi

  local reachable=1
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$PGC_DIR"; then
    reachable=0
  fi
  if ((reachable)) && [[ ! -e "$PGC_ALT/data/PG_VERSION" ]]; then
    PGC_HOME=$PGC_DIR
  else
    PGC_HOME=$PGC_ALT
  fi
  PGC_DATA=$PGC_HOME/data
  PGC_LOG=$PGC_HOME/postgres.log
  # sun_path is 108 bytes including the NUL; ".s.PGSQL.NNNNN.lock" must fit too.
  PGC_SOCK=$PGC_HOME/run
  if ((${#PGC_SOCK} + 20 > 100)); then
    PGC_SOCK=$PGC_ALT/run
  fi
}

pgc_running() {
  [[ -f "$PGC_DATA/PG_VERSION" ]] || return 1
  pgc_as_owner "$PGC_BINDIR/pg_ctl" status -D "$PGC_DATA" >/dev/null 2>&1
}

pgc_psql() {
  "$PGC_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGC_SOCK" -p "$PGC_PORT" -U "$PGC_USER" "$@"
}

pgc_write_env() {
  local url
  # A libpq URI with the socket directory as a query parameter: no spaces, so it also fits a
  # `key = value` config line.
  url="postgresql:///aqpd?host=$PGC_SOCK&port=$PGC_PORT&user=$PGC_USER"
  {
    printf 'export AQPD_TEST_DATABASE_URL=%q\n' "$url"
    printf 'export AQPD_PG_HOST=%q\n' "$PGC_SOCK"
    printf 'export AQPD_PG_PORT=%q\n' "$PGC_PORT"
    printf 'export AQPD_PG_USER=%q\n' "$PGC_USER"
    printf 'export AQPD_PG_DATA=%q\n' "$PGC_DATA"
    printf 'export AQPD_PG_BINDIR=%q\n' "$PGC_BINDIR"
    printf 'export AQPD_PG_LOG=%q\n' "$PGC_LOG"
  } >"$PGC_DIR/env.tmp"
  mv "$PGC_DIR/env.tmp" "$PGC_DIR/env"
}

pgc_start() {
  pgc_layout "$1"
  [[ "$PGC_HOME" == "$PGC_DIR" ]] || mkdir -p "$PGC_HOME"
  pgc_owned_dir "$PGC_SOCK"

  if [[ ! -f "$PGC_DATA/PG_VERSION" ]]; then
    rm -rf "$PGC_DATA"
    pgc_owned_dir "$PGC_DATA"
    local out
    if ! out=$(pgc_as_owner "$PGC_BINDIR/initdb" -D "$PGC_DATA" -U "$PGC_USER" \
        --auth=trust --encoding=UTF8 --locale=C.UTF-8 ${AQPD_PG_FAST:+--no-sync} 2>&1); then
      echo "$out" >&2
      pgc_die "initdb failed in $PGC_DATA"
    fi
    echo "include_if_exists = 'aqpd.conf'" >>"$PGC_DATA/postgresql.conf"
  fi

  # Rewritten at every start: the socket directory is the only way in.
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$PGC_SOCK'"
    echo "port = $PGC_PORT"
    echo "max_connections = 200"
    if [[ -n "${AQPD_PG_FAST:-}" ]]; then
      # Throwaway test clusters: durability is not wanted, speed is.
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } >"$PGC_DATA/aqpd.conf"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$PGC_DATA/aqpd.conf"; fi

  if ! pgc_running; then
    touch "$PGC_LOG"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$PGC_LOG"; fi
    if ! pgc_as_owner "$PGC_BINDIR/pg_ctl" start -D "$PGC_DATA" -l "$PGC_LOG" -w -t 60 \
        >/dev/null; then
      tail -n 30 "$PGC_LOG" >&2 || true
      pgc_die "pg_ctl start failed (log: $PGC_LOG)"
    fi
  fi

  if [[ -z $(pgc_psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'aqpd'") ]]; then
    pgc_psql -d postgres -c 'CREATE DATABASE aqpd' || pgc_die "cannot create database aqpd"
  fi
  pgc_write_env
}

# Reads the layout a start wrote, so that stop finds the same cluster.
pgc_load() {
  local dir=$1
  [[ -f "$dir/env" ]] || return 1
  # shellcheck disable=SC1091
  source "$dir/env"
  PGC_DIR=$(cd "$dir" && pwd -P)
  PGC_SOCK=$AQPD_PG_HOST PGC_PORT=$AQPD_PG_PORT PGC_USER=$AQPD_PG_USER
  PGC_DATA=$AQPD_PG_DATA PGC_BINDIR=$AQPD_PG_BINDIR PGC_LOG=$AQPD_PG_LOG
  PGC_HOME=$(dirname "$PGC_DATA")
  PGC_ALT=/tmp/aqpd-pg-$(printf '%s' "$PGC_DIR" | cksum | cut -d' ' -f1)
}

pgc_stop() {
  if [[ ! -d "$1" ]] || ! pgc_load "$1"; then
    return 0
  fi
  if pgc_running; then
    pgc_as_owner "$PGC_BINDIR/pg_ctl" stop -D "$PGC_DATA" -m fast -w -t 60 >/dev/null ||
      pgc_die "pg_ctl stop failed (log: $PGC_LOG)"
  fi
}

pgc_destroy() {
  [[ -d "$1" ]] || return 0
  pgc_stop "$1"
  if pgc_load "$1"; then
    rm -rf "$PGC_DATA" "$PGC_SOCK" "$PGC_ALT"
  fi
  rm -rf "$1"
}

pgc_main() {
  set -euo pipefail
  local cmd=${1:-} dir=${2:-}
  if [[ -z "$cmd" || -z "$dir" || $# -ne 2 ]]; then
    echo "usage: cluster.sh start|stop|destroy|status DIR" >&2
    exit 2
  fi
  case "$cmd" in
    start) pgc_start "$dir" ;;
    stop) pgc_stop "$dir" ;;
    destroy) pgc_destroy "$dir" ;;
    status)
      pgc_load "$dir" || exit 1
      pgc_running
      ;;
    *)
      echo "usage: cluster.sh start|stop|destroy|status DIR" >&2
      exit 2
      ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  pgc_main "$@"
fi
