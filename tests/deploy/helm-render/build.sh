#!/usr/bin/env bash
# Builds helm-render with Debian's Go and Go libraries, without network: a throw-away GOPATH whose
# /v3 import paths point at Debian's unversioned source folders (as Debian's own package builds do).
# Needs: apt-get install golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev
#        golang-github-xeipuuv-gojsonschema-dev
# Usage: build.sh OUTPUT_BINARY
set -euo pipefail
out=$(realpath -m "$1")
src=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode
for p in github.com/Masterminds/sprig github.com/Masterminds/semver gopkg.in/yaml.v2 github.com/xeipuuv/gojsonschema; do
  [ -d "$gocode/src/$p" ] || { echo "helm-render: $gocode/src/$p is missing (apt-get install golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev golang-github-xeipuuv-gojsonschema-dev)" >&2; exit 3; }
done
command -v go >/dev/null || { echo "helm-render: go is missing (apt-get install golang-go)" >&2; exit 3; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/github.com/Masterminds/sprig" "$work/src/github.com/Masterminds/semver" "$work/main"
ln -s "$gocode/src/github.com/Masterminds/sprig" "$work/src/github.com/Masterminds/sprig/v3"
ln -s "$gocode/src/github.com/Masterminds/semver" "$work/src/github.com/Masterminds/semver/v3"
cp "$src/main.go" "$work/main/"
cd "$work/main"
GO111MODULE=off GOPATH="$work:$gocode" GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tapgate-helm-render-go}" GOFLAGS= \
  go build -o "$out" .
