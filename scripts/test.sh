#!/usr/bin/env bash
# Install what the tests need, start the real services they use (PostgreSQL), run the whole suite.
# Extra arguments go to pytest. Services that this script started are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh

started_postgres=""
if ! bash network/nodes/postgres.sh status | grep -q running; then started_postgres=yes; fi
bash network/network.sh up
cleanup() { if [ -n "$started_postgres" ]; then bash network/nodes/postgres.sh down; fi; }
trap cleanup EXIT
export TIEZHENG_TEST_POSTGRES_URL
TIEZHENG_TEST_POSTGRES_URL=$(bash network/nodes/postgres.sh url)

status=0
.venv/bin/python -m pytest --require-services "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
