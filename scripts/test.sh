#!/usr/bin/env bash
# Install what the tests need, start the real services they use (PostgreSQL, Fabric, MinIO, SeaweedFS),
# run the whole suite.
# Extra arguments go to pytest. Services that this script started are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --dev
bash scripts/install-system.sh
bash contracts/install.sh  # the regulator chain: pinned solc-js and anvil (npm ci), the registry compiled
bash network/nodes/immudb.sh build  # the intake benchmark's baseline for tests/integration/test_bench_immudb.py (≈80 s cold)

echo "test: lint (ruff), types (mypy --strict), layering (import-linter), docstrings (interrogate)"
.venv/bin/ruff check ledger evidence_api ingest verifier bench tests
.venv/bin/mypy ledger evidence_api ingest verifier
.venv/bin/lint-imports --no-cache > /dev/null || .venv/bin/lint-imports --no-cache
.venv/bin/interrogate --quiet ledger evidence_api ingest verifier || .venv/bin/interrogate -v ledger evidence_api ingest verifier

started_postgres=""
if ! bash network/nodes/postgres.sh status | grep -q running; then started_postgres=yes; fi
# Fabric: network/network.sh up builds it on a fresh machine (about 4 min cold, seconds when cached) and
# starts what does not run; a network that already ran is reused and left running.
started_fabric=""
if ! bash network/fabric/status.sh > /dev/null 2>&1; then started_fabric=yes; fi
started_s3=""  # the S3 servers (built into .tools/ on first use) this run starts, and so stops
for s3 in minio seaweedfs; do bash "network/nodes/$s3.sh" status | grep -q running || started_s3+=" $s3"; done
cleanup() {
  if [ -n "$started_fabric" ]; then bash network/fabric/down.sh > /dev/null 2>&1 || true; fi
  if [ -n "$started_postgres" ]; then bash network/nodes/postgres.sh down > /dev/null; fi
  for s3 in $started_s3; do bash "network/nodes/$s3.sh" down > /dev/null; done
}
trap cleanup EXIT
bash network/network.sh up
export TIEZHENG_TEST_POSTGRES_URL TIEZHENG_TEST_FABRIC_NETWORK
TIEZHENG_TEST_POSTGRES_URL=$(bash network/nodes/postgres.sh url)
TIEZHENG_TEST_FABRIC_NETWORK=$(cd network/fabric && . ./lib.sh && echo "$FABRIC_DATA/network.json")
export TIEZHENG_TEST_MINIO_URL TIEZHENG_TEST_SEAWEEDFS_URL  # http://ACCESS_KEY:SECRET@127.0.0.1:PORT
TIEZHENG_TEST_MINIO_URL=$(bash network/nodes/minio.sh url)
TIEZHENG_TEST_SEAWEEDFS_URL=$(bash network/nodes/seaweedfs.sh url)

echo "test: chaincode (go vet, go test; shares tests/vectors with the Python verifier)"
(cd chaincode && go vet ./... && go test -count=1 ./...)

status=0
.venv/bin/python -m pytest --require-services "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
