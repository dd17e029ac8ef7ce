#!/usr/bin/env bash
# Create .venv (if missing) and install the locked dependencies and the project into it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "install: creating .venv with $(python3 --version)"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q --require-hashes -r requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .
echo "install: dependencies and the tiezheng command are in .venv"
