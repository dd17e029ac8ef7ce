#!/usr/bin/env bash
# Create .venv (if missing) and install the locked dependencies and the project into it.
#   bash scripts/install.sh         runtime only (requirements.lock): what the service and the demo need
#   bash scripts/install.sh --dev   runtime + test and lint tools (requirements-dev.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements.lock
case "${1:-}" in
  "") ;;
  --dev) lock=requirements-dev.lock ;;
  *) echo "install: unknown argument '$1'; use no argument (runtime) or --dev (runtime + test tools)" >&2; exit 2 ;;
esac
if [ ! -x .venv/bin/python ]; then
  echo "install: creating .venv with $(python3 --version)"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q --require-hashes -r "$lock"
.venv/bin/python -m pip install -q --no-deps -e .
bash verifier/web/build.sh  # verify.html, which every evidence pack carries (needs node and npm)
echo "install: the dependencies of $lock and the tiezheng command are in .venv"
