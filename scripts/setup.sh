#!/usr/bin/env bash
# Installs what Tapgate needs on a fresh Debian machine: system packages (as root, with apt-get),
# then the npm packages (which bring Node 24 into node_modules/.bin), then builds every workspace.
# Usage: scripts/setup.sh [--with-samba] [--with-chromium] [--with-test-tools] [--with-images]
set -euo pipefail
cd "$(dirname "$0")/.."

# libpcsclite-dev, g++, make, python3: building the PC/SC binding (@pokusew/pcsclite) during npm ci.
pkgs=(nats-server redis-server openssl libpcsclite-dev g++ make python3)
for arg in "$@"; do
  case "$arg" in
    --with-samba) pkgs+=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules python3-samba ldb-tools ldap-utils faketime) ;;
    --with-chromium) pkgs+=(chromium) ;;
    # pcscd + vsmartcard-vpcd: the PC/SC tests' reader stack; golang-go + sprig + yaml.v2 + gojsonschema:
    # tests/deploy/helm-render (the chart rendered with Helm's template engine); prometheus: promtool for
    # the chart's alert rules, and a real Prometheus for the dashboard's queries.
    --with-test-tools) pkgs+=(pcscd vsmartcard-vpcd golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev golang-github-xeipuuv-gojsonschema-dev prometheus) ;;
    --with-images) pkgs+=(podman buildah mmdebstrap) ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

command -v npm >/dev/null || { echo "setup: npm (any Node.js >= 18) is required to bootstrap Node 24" >&2; exit 1; }
bash scripts/install-deps.sh
echo "setup: building with Node $(node_modules/.bin/node --version)"
npm run --silent build
