#!/usr/bin/env bash
# Installs what proxymgr needs and is missing: HAProxy (>= 2.6) from Debian, and the npm dependencies.
# With --zookeeper, also ZooKeeper 3.8 and Java (scripts/zookeeper.sh). With --test, also the
# servers the tests start on 127.0.0.1: ZooKeeper 3.8 (and Java) and dnsmasq,
# Debian's Chromium for the dashboard's browser test, systemd-analyze, promtool, PHP-FPM and etcd.
# Safe to run again: it installs nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v socat >/dev/null 2>&1 || need+=(socat)   # for operators poking the admin socket by hand
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--zookeeper" ]; then
  [ -f /usr/share/java/zookeeper.jar ] && [ -f /usr/share/java/slf4j-simple.jar ] || need+=(zookeeper libslf4j-java)
  command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
fi
if [ "${1:-}" = "--test" ]; then
  command -v dnsmasq >/dev/null 2>&1 || need+=(dnsmasq-base)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)        # the ZooKeeper TLS tests' certificates (keytool comes with Java)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)   # verifies contrib/proxymgr.service
  command -v promtool >/dev/null 2>&1 || need+=(prometheus)     # promtool check metrics on /metrics
  compgen -G '/usr/sbin/php-fpm*' >/dev/null || need+=(php-fpm)  # the FastCGI backends' test (the tests start their own)
  command -v etcd >/dev/null 2>&1 || need+=(etcd-server)          # the etcd tests (they start their own members)
  command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
fi
if ((${#need[@]})); then
  echo "install-deps: installing ${need[*]} from Debian" >&2
  SUDO=
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null
  # Only promtool is wanted from the prometheus package: do not leave its server running on :9090.
  if [[ " ${need[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  # Nor Debian's etcd member: the tests start their own on free ports.
  if [[ " ${need[*]} " == *" etcd-server "* ]]; then
    if [ -d /run/systemd/system ]; then $SUDO systemctl disable --now etcd.service >/dev/null 2>&1 || true
    else $SUDO service etcd stop >/dev/null 2>&1 || true; fi
  fi
  # Nor Debian's PHP-FPM pool: the tests run their own, with their own config and socket.
  if [[ " ${need[*]} " == *" php-fpm "* ]]; then
    for unit in /lib/systemd/system/php*-fpm.service; do
      [ -e "$unit" ] || continue
      name=$(basename "$unit" .service)
      if [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now "$name" >/dev/null 2>&1 || true
      else
        # No systemd (a container): the package's init script may have started it.
        $SUDO service "$name" stop >/dev/null 2>&1 || true
      fi
    done
  fi
fi

version=$(haproxy -v | sed -n 's/^HAProxy version \([0-9]*\.[0-9]*\).*/\1/p')
if ! printf '%s\n2.6\n' "$version" | sort -V -C -r; then
  echo "install-deps: HAProxy $version found; proxymgr needs 2.6 or newer" >&2
  exit 1
fi

# npm ci only when node_modules is missing or older than the lock file. Never through a
# symlinked node_modules (a worktree sharing another checkout's): npm ci empties the target
# first, under whoever else is using it.
if [ -L node_modules ]; then
  echo "install-deps: node_modules is a symlink; not running npm ci (run it where it points)" >&2
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
