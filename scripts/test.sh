#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, builds, lints, runs every test
# against real servers (nats-server, redis-server, Samba AD, Chromium) started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-samba --with-chromium --with-test-tools
npm run --silent lint
npm run --silent test:only -- "$@"
