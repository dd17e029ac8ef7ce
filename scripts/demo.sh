#!/usr/bin/env bash
# Install, then run the demo on the embedded default (SQLite, local files, local anchor journal).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/tiezheng demo "$@"
