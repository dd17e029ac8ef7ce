#!/usr/bin/env bash
# MinIO, natively: one `minio server` on 127.0.0.1, data under ${TIEZHENG_STATE}/minio (.tiezheng/services).
# Usage: minio.sh up|down|status|url|build
#   up      builds MinIO if it is not in .tools/ yet (≈ 9 min cold), starts it, waits until it is ready
#   url     http://ACCESS_KEY:SECRET@127.0.0.1:PORT, what ingest.objectstore.S3ObjectStore.connect takes
# Defaults (MINIO_VERSION, MINIO_PORT, MINIO_CONSOLE_PORT, MINIO_ROOT_USER, MINIO_ROOT_PASSWORD) are in
# network/config/objectstore.config. MinIO is AGPL-3.0 and its community repository was archived in April 2026:
# Tiezheng only runs it unmodified, as a separate server; new deployments should prefer SeaweedFS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../config/objectstore.config
. "$here/../config/objectstore.config"
# shellcheck source=native.sh
. "$here/native.sh"

HOME_DIR=$TIEZHENG_S3_TOOLS/minio/$MINIO_VERSION
BIN=$HOME_DIR/bin/minio

build() {
  go_build_needed "$BIN" MinIO || return 0
  go_build_logged "$HOME_DIR" env GOBIN="$HOME_DIR/bin" go install -trimpath "github.com/minio/minio@$MINIO_VERSION"
}

NATIVE_NAME=minio NATIVE_WHERE=127.0.0.1:$MINIO_PORT NATIVE_TIMEOUT=$S3_START_TIMEOUT NATIVE_EXTRA=build
NATIVE_KEEPS="data in $STATE/minio/data"

ready() { curl -fsS -o /dev/null "http://127.0.0.1:$MINIO_PORT/minio/health/ready"; }

launch() {
  build
  mkdir -p "$STATE/minio/data"
  native_start minio env MINIO_ROOT_USER="$MINIO_ROOT_USER" MINIO_ROOT_PASSWORD="$MINIO_ROOT_PASSWORD" \
    MINIO_BROWSER=off MINIO_UPDATE=off "$BIN" server "$STATE/minio/data" \
    --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet
}

url() { echo "http://$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD@127.0.0.1:$MINIO_PORT"; }

native_main "$@"
