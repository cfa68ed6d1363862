#!/usr/bin/env bash
# Installs what the tests need besides the Kubernetes binaries (make tools):
# a PostgreSQL server for tenancy/sqlstore's PostgreSQL conformance run.
# The tests start their own throwaway server on loopback; nothing here
# starts a service. Idempotent; only Debian packages are installed.
set -euo pipefail

have_pg() {
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_pg; then
  echo "test-deps: installing PostgreSQL from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq postgresql >/dev/null
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  # PostgreSQL refuses to run as root; the tests run it as this user.
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
echo "test-deps: PostgreSQL $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | head -1 || command -v initdb)"
