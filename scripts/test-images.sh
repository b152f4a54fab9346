#!/usr/bin/env bash
# The platform run from its images: builds every image (scripts/images.sh; base images and layers are
# reused between runs on one machine), then runs each service from its image (buildah run, chroot
# isolation, the image's user and CMD, the config mounted where the chart mounts it) and runs against it
# the image checks and the end-to-end tap, login and e-signature tests (tests/e2e, tests/browser), which
# start their own nats-server, redis-server, Samba AD and Chromium. Run by .ci/run after `npm test`.
# Usage: scripts/test-images.sh [test-file-filter ...]   (default: the image checks and every e2e test)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-images --with-samba --with-chromium
bash scripts/images.sh
export TAPGATE_SERVICE_IMAGE="${TAPGATE_IMAGE_PREFIX:-localhost/tapgate}/{service}:${TAPGATE_IMAGE_TAG:-dev}"
(($#)) || set -- tests/deploy/dist/images.image-test.js tests/e2e/dist/ tests/browser/dist/
start=$(date +%s)
npm run --silent test:only -- "$@"
echo "test-images: tests against the images took $(($(date +%s) - start)) s"
