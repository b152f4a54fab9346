#!/usr/bin/env bash
# Installs the npm packages (`npm ci`) only when node_modules does not already match package-lock.json,
# whoever installed it: after `npm ci && npm run build` this does nothing and needs no network. When an
# install is needed, the registry is asked first with a short timeout, so that an offline machine gets a
# clear message in seconds and keeps its node_modules (npm ci deletes node_modules before it downloads).
# Usage: scripts/install-deps.sh   (from anywhere; works on the repository it lives in, or on $TAPGATE_ROOT)
# Environment: TAPGATE_REGISTRY_TIMEOUT_S (default 10), the seconds allowed for reaching the registry.
set -euo pipefail
root=${TAPGATE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
here=$(cd "$(dirname "$0")" && pwd)
cd "$root"

if reason=$(node "$here/deps-current.mjs" "$root" 2>&1); then
  echo "setup: node_modules matches package-lock.json; no install needed"
  exit 0
fi
echo "setup: ${reason#node_modules is not up to date: }: installing with npm ci"
timeout_s=${TAPGATE_REGISTRY_TIMEOUT_S:-10}
registry=$(npm config get registry)
# Any HTTP answer means the registry is there (some registries answer /-/ping with 401 or 404); only no
# answer at all (refused, unresolvable, silent past the timeout) stops the install.
reachable() {
  local out
  # --loglevel=error: under `npm run --silent` (npm_config_loglevel=silent) npm would not print the code.
  out=$(timeout "$timeout_s" npm ping --loglevel=error --fetch-timeout=$((timeout_s * 1000)) \
    --fetch-retries=0 2>&1) && return 0
  grep -Eq 'npm error code E[1-5][0-9][0-9]$' <<<"$out"
}
if ! reachable; then
  echo "setup: the npm registry ($registry) cannot be reached within ${timeout_s}s, and node_modules" >&2
  echo "setup: does not match package-lock.json ($reason)." >&2
  echo "setup: node_modules was left as it is. Connect to the network (or set npm's registry/proxy) and" >&2
  echo "setup: run this again; once installed, the demo starts without the network." >&2
  exit 3
fi
# The PC/SC binding (@pokusew/pcsclite, native) compiles against Node 24's headers, which the `node`
# package brings along (its preinstall runs before any install script): node-gyp would otherwise
# download headers, and for the Node that runs npm here, which may be older than the one that loads it.
case "$(uname -m)" in
  x86_64) node_arch=x64 ;;
  aarch64 | arm64) node_arch=arm64 ;;
  *) node_arch=$(uname -m) ;;
esac
export npm_config_nodedir="$root/node_modules/node/node_modules/node-$(uname -s | tr '[:upper:]' '[:lower:]')-$node_arch"
npm ci --no-audit --no-fund --loglevel=error --fetch-retries=2 --fetch-timeout=60000
