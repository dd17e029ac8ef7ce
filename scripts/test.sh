#!/usr/bin/env bash
# Install what the tests need, start the real services they use (PostgreSQL), run the whole suite.
# Extra arguments go to pytest. Services that this script started are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --dev

echo "test: lint (ruff), types (mypy --strict), layering (import-linter), docstrings (interrogate)"
.venv/bin/ruff check ledger evidence_api ingest verifier bench tests
.venv/bin/mypy ledger evidence_api ingest verifier
.venv/bin/lint-imports --no-cache > /dev/null || .venv/bin/lint-imports --no-cache
.venv/bin/interrogate --quiet ledger evidence_api ingest verifier || .venv/bin/interrogate -v ledger evidence_api ingest verifier

started_postgres=""
if ! bash network/nodes/postgres.sh status | grep -q running; then started_postgres=yes; fi
bash network/network.sh up
cleanup() { if [ -n "$started_postgres" ]; then bash network/nodes/postgres.sh down > /dev/null; fi; }
trap cleanup EXIT
export TIEZHENG_TEST_POSTGRES_URL
TIEZHENG_TEST_POSTGRES_URL=$(bash network/nodes/postgres.sh url)

echo "test: chaincode (go vet, go test; shares tests/vectors with the Python verifier)"
(cd chaincode && go vet ./... && go test -count=1 ./...)

status=0
.venv/bin/python -m pytest --require-services "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
