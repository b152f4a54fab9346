#!/usr/bin/env bash
# The many-hosts scenario suite (*.cluster-test.js): the platform replicated on several hosts (network
# namespaces joined by a bridge) with clustered NATS, under checked tap load, through host loss,
# partitions and NATS leader loss. Needs root (CAP_NET_ADMIN) for the namespaces; without it every
# suite is skipped and this says why. Kept out of `npm test`: it takes minutes and most of the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh # installs what is missing and builds
node=node_modules/.bin/node
why=$("$node" -e "process.stdout.write(require('@tapgate/testing').hostsUnavailable() ?? '')")
[ -z "$why" ] || echo "test:cluster: skipped, this machine cannot build test hosts: $why"
mapfile -t found < <(find libs services tests tools -path '*/node_modules' -prune -o \
  -path '*/dist/*' -name '*.cluster-test.js' -print | sort)
# Only compiled files whose source still exists: tsc -b leaves the output of a deleted test behind.
files=()
for f in "${found[@]}"; do
  src="${f/\/dist\//\/src\/}"
  if [ -f "${src%.js}.ts" ]; then files+=("$f"); fi
done
# One file at a time: each one takes every host and most of the CPU. The suite closes every handle it
# opens (and prints any left); the time limit makes a hang a failure, never a stuck CI job. It is
# about twice what the files take on a loaded 2-core machine (5-8.5 minutes in all).
TAPGATE_TEST_CONCURRENCY=1 exec timeout --kill-after=10 900 "$node" scripts/run-tests.mjs "${files[@]}" "$@"
