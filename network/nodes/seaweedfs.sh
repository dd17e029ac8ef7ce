#!/usr/bin/env bash
# SeaweedFS, natively: one `weed server` (master, volume, filer and the S3 gateway in one process) on
# 127.0.0.1, data under ${TIEZHENG_STATE}/seaweedfs (.tiezheng/services).
# Usage: seaweedfs.sh up|down|status|url|build
#   up      builds weed if it is not in .tools/ yet (≈ 9 min cold), starts it, waits until S3 can store
#   url     http://ACCESS_KEY:SECRET@127.0.0.1:PORT, what ingest.objectstore.S3ObjectStore.connect takes
# Defaults (SEAWEEDFS_VERSION and the ports, SEAWEEDFS_ACCESS_KEY/SECRET_KEY) are in network/config/objectstore.config.
# `go install …/weed@VERSION` is refused because SeaweedFS's go.mod has a replace line; the build uses a
# wrapper module in .tools/ that repeats it. SeaweedFS is Apache-2.0 and maintained: the recommendation
# for new deployments.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../config/objectstore.config
. "$here/../config/objectstore.config"
# shellcheck source=native.sh
. "$here/native.sh"

HOME_DIR=$TIEZHENG_S3_TOOLS/seaweedfs/$SEAWEEDFS_VERSION
BIN=$HOME_DIR/bin/weed
MODULE=github.com/seaweedfs/seaweedfs
DATA=$STATE/seaweedfs
NATIVE_NAME=seaweedfs NATIVE_WHERE=127.0.0.1:$SEAWEEDFS_S3_PORT NATIVE_TIMEOUT=$S3_START_TIMEOUT NATIVE_EXTRA=build
NATIVE_KEEPS="data in $DATA/data"

build() {
  go_build_needed "$BIN" SeaweedFS || return 0
  mkdir -p "$HOME_DIR/module"
  cat >"$HOME_DIR/module/go.mod" <<MOD
module tiezheng.local/seaweedfs-build

go 1.26.6

// the same replace line as SeaweedFS's own go.mod (go install refuses modules that have one)
replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
MOD
  (cd "$HOME_DIR/module" && go_build_logged "$HOME_DIR" go get "$MODULE/weed@$SEAWEEDFS_VERSION" &&
    go_build_logged "$HOME_DIR" go build -trimpath -o "$BIN" "$MODULE/weed")
}

# The one S3 identity the gateway accepts (without a config SeaweedFS would accept anyone).
s3_config() {
  cat >"$DATA/s3.json" <<JSON
{"identities": [{"name": "tiezheng", "actions": ["Admin", "Read", "List", "Tagging", "Write"],
  "credentials": [{"accessKey": "$SEAWEEDFS_ACCESS_KEY", "secretKey": "$SEAWEEDFS_SECRET_KEY"}]}]}
JSON
  chmod 600 "$DATA/s3.json"
}

# Ready when the master can hand out a file id (a volume exists) and the S3 gateway answers HTTP.
ready() {
  curl -fsS "http://127.0.0.1:$SEAWEEDFS_MASTER_PORT/dir/assign" | grep -q '"fid"' &&
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SEAWEEDFS_S3_PORT/")" != 000 ]
}

launch() {
  build
  mkdir -p "$DATA/data"
  s3_config
  native_start seaweedfs "$BIN" server -dir="$DATA/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$SEAWEEDFS_MASTER_PORT" -volume.port="$SEAWEEDFS_VOLUME_PORT" \
    -filer.port="$SEAWEEDFS_FILER_PORT" -volume.max="$SEAWEEDFS_VOLUME_MAX" -master.volumeSizeLimitMB="$SEAWEEDFS_VOLUME_SIZE_MB" \
    -s3 -s3.port="$SEAWEEDFS_S3_PORT" -s3.config="$DATA/s3.json" -s3.port.iceberg=0 -s3.port.lance=0
}

url() { echo "http://$SEAWEEDFS_ACCESS_KEY:$SEAWEEDFS_SECRET_KEY@127.0.0.1:$SEAWEEDFS_S3_PORT"; }

native_main "$@"
