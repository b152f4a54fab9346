#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: NATS, Redis, every service, one simulated
# terminal with software bands, and a page at http://127.0.0.1:8090/ to tap and watch. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node tools/demo/dist/main.js
