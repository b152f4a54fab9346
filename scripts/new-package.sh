#!/usr/bin/env bash
# Creates a workspace package skeleton: scripts/new-package.sh libs/foo "@tapgate/foo" [ref ...]
set -euo pipefail
dir=$1; name=$2; shift 2
mkdir -p "$dir/src"
refs=""
for r in "$@"; do refs="$refs{ \"path\": \"../../$r\" },"; done
refs="[${refs%,}]"
cat >"$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "private": true,
  "main": "dist/index.js",
  "types": "dist/index.d.ts"
}
JSON
cat >"$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "tsBuildInfoFile": "dist/.tsbuildinfo" },
  "include": ["src"],
  "references": $refs
}
JSON
