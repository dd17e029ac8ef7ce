#!/usr/bin/env bash
# Build verify.html, the self-contained offline pack verifier for the browser, into verifier/web/dist/.
#   bash verifier/web/build.sh     installs the locked npm packages (npm ci) when they changed, then bundles
# Needs node (>= 18) and npm; the npm registry is reached only by npm ci, never by verify.html itself.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "build verify.html: node and npm are needed (apt-get install nodejs npm)" >&2
  exit 1
fi
# npm ci when node_modules is missing or was installed from another lock (npm records the lock it used).
if ! cmp -s package-lock.json node_modules/.tiezheng-lock 2> /dev/null; then
  echo "build verify.html: npm ci (locked packages into verifier/web/node_modules)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.tiezheng-lock
fi
node build.mjs
