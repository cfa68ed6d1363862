#!/usr/bin/env bash
# Installs what the tests need besides the Kubernetes binaries (make tools):
# a PostgreSQL server for tenancy/sqlstore's PostgreSQL conformance run,
# Chromium for the console's headless browser tests, and
# what a real node needs (runc, the CNI plugins, static busybox for test
# images, iptables/ipset/conntrack/nftables for kube-proxy and kube-router).
# The tests start their own servers and node; nothing here starts a
# service. Idempotent; only Debian packages are installed.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
updated=""
apt_install() {
  [ -n "$updated" ] || { $sudo apt-get update -qq; updated=1; }
  $sudo apt-get install -y -qq "$@" >/dev/null
}

# Real node: each package is checked by a file it ships.
node_pkgs=()
[ -x /usr/sbin/runc ] || node_pkgs+=(runc)
[ -x /usr/lib/cni/bridge ] || node_pkgs+=(containernetworking-plugins)
[ -x /usr/bin/busybox ] || node_pkgs+=(busybox-static)
[ -x /usr/sbin/iptables ] || node_pkgs+=(iptables)
[ -x /usr/sbin/ipset ] || node_pkgs+=(ipset)
[ -x /usr/sbin/conntrack ] || node_pkgs+=(conntrack)
[ -x /usr/sbin/nft ] || node_pkgs+=(nftables)
command -v pgrep >/dev/null 2>&1 || node_pkgs+=(procps)
command -v ip >/dev/null 2>&1 || node_pkgs+=(iproute2)
if [ ${#node_pkgs[@]} -gt 0 ]; then
  echo "test-deps: installing ${node_pkgs[*]} from Debian packages (real node)"
  apt_install "${node_pkgs[@]}"
fi

have_pg() {
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

# `test-deps.sh node`: only the real node's packages (make demo).
[ "${1:-}" = node ] && exit 0

if ! have_pg; then
  echo "test-deps: installing PostgreSQL from Debian packages"
  apt_install postgresql
fi
if ! command -v chromium >/dev/null 2>&1; then
  # The console's browser tests (examples/console) drive headless Chromium.
  echo "test-deps: installing Chromium from Debian packages (browser tests)"
  apt_install chromium
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  # PostgreSQL refuses to run as root; the tests run it as this user.
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
echo "test-deps: PostgreSQL $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | head -1 || command -v initdb)"
