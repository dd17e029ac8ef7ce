#!/usr/bin/env bash
# Install the pinned npm tools of the regulator chain (solc-js, anvil) into contracts/node_modules with
# `npm ci` (skipped when package-lock.json has not changed since the last install), then compile the
# registry contract into contracts/build/EvidenceRegistry.json. Both folders are git-ignored.
# Usage: bash contracts/install.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
stamp=node_modules/.tiezheng-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "contracts: npm ci (solc-js, anvil)"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$want" >"$stamp"
fi
node build.mjs
