#!/usr/bin/env bash
# Installs the Debian 12 packages aqpd needs to build, run and test, when they are missing.
# As root: apt-get update + apt-get install (noninteractive). As anyone else: prints the exact
# `sudo apt-get install ...` line and exits 1 if something is missing. A no-op (one dpkg-query)
# when everything is present. Extra package names may be given as arguments (scripts/test.sh
# asks for chromium, the browser tests/integration/web.sh drives headless, so that running the
# service does not need it; the benchmark asks for wrk and nginx-light).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libevent-dev libssl-dev libpq-dev libyajl-dev libcmocka-dev
  postgresql postgresql-contrib
  curl openssl ca-certificates
  procps jq util-linux coreutils
  nodejs npm
  "$@"
)

# One dpkg-query for all: it prints name=status for every known package, nothing for unknown
# ones (and then exits 1, which is not an error here).
installed=" $({ dpkg-query -W -f='${Package}=${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true; } |
  awk -F= '$2 ~ /^ii/ { printf "%s ", $1 }') "
missing=()
for pkg in "${packages[@]}"; do
  case "$pkg" in
    # Node.js may come from elsewhere than Debian (e.g. a nodejs package that bundles npm):
    # what matters is the commands, and installing Debian's npm over it would conflict.
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  [[ "$installed" == *" $pkg "* ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
