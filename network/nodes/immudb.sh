#!/usr/bin/env bash
# immudb, natively, for the intake benchmark (bench/intake.py --against immudb): one `immudb` server on
# 127.0.0.1 (gRPC only: no PostgreSQL wire, metrics or web console), synced (its default: a commit is
# fsynced before it is acknowledged), data under ${TIEZHENG_STATE}/immudb (.tiezheng/services).
# Usage: immudb.sh up|down|status|url|build|driver|datadir
#   build   builds immudb and the benchmark driver (network/immudb/driver) into .tools/ if they are missing
#           or their sources changed (≈ 80 s cold), through the wrapper module network/immudb (its go.mod
#           repeats immudb's two replace lines: `go install …@version` refuses modules that have them)
#   up      builds if needed, starts immudb, waits until a session opens
#   url     127.0.0.1:PORT (immudb's gRPC address)
#   driver  the path of the benchmark driver binary (after build)
#   datadir immudb's --dir
# Overrides: IMMUDB_PORT (default 33322), TIEZHENG_STATE, TIEZHENG_IMMUDB_TOOLS (default .tools/immudb).
# immudb 1.10 is under the Business Source License 1.1 (internal use allowed): it is only a benchmark
# baseline here, built and run unmodified from the module proxy, never vendored or shipped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=native.sh
. "$here/native.sh"

MODULE_DIR=$(cd "$here/../immudb" && pwd)
VERSION=$(awk '$1 == "require" && $2 == "github.com/codenotary/immudb" {print $3}' "$MODULE_DIR/go.mod")
: "${TIEZHENG_IMMUDB_TOOLS:=$(cd "$here/../.." && pwd)/.tools/immudb}"
: "${IMMUDB_PORT:=33322}"
: "${IMMUDB_START_TIMEOUT:=60}"
HOME_DIR=$TIEZHENG_IMMUDB_TOOLS/${VERSION:?no immudb version in network/immudb/go.mod}
BIN=$HOME_DIR/bin/immudb
DRIVER=$HOME_DIR/bin/immudb-bench
DATA=$STATE/immudb/data

# stamp: what the binaries are built from (the module's files and the Go version); a change rebuilds.
stamp() {
  (cd "$MODULE_DIR" && cat go.mod go.sum tools.go driver/*.go | sha256sum | cut -c1-16)
  go env GOVERSION
}

build() {
  command -v go >/dev/null || die "go is not installed; immudb is built from source with the Go toolchain"
  if [ -x "$BIN" ] && [ -x "$DRIVER" ] && [ "$(cat "$HOME_DIR/build.stamp" 2>/dev/null)" = "$(stamp)" ]; then
    return 0
  fi
  mkdir -p "$HOME_DIR/bin"
  (cd "$MODULE_DIR" &&
    go_build_logged "$HOME_DIR" go build -trimpath -o "$BIN" github.com/codenotary/immudb/cmd/immudb &&
    go_build_logged "$HOME_DIR" go build -trimpath -o "$DRIVER" ./driver)
  stamp >"$HOME_DIR/build.stamp"
}

ready() { "$DRIVER" -port "$IMMUDB_PORT" -ping; }

up() {
  if native_pid immudb >/dev/null; then echo "immudb: already running on 127.0.0.1:$IMMUDB_PORT"; return; fi
  build
  mkdir -p "$DATA"
  # run from its state folder: immudb writes its logs and identifier relative to the working directory
  (cd "$STATE/immudb" && native_start immudb "$BIN" --dir "$DATA" --address 127.0.0.1 --port "$IMMUDB_PORT" \
    --pgsql-server=false --metrics-server=false --web-server=false --synced=true)
  native_wait immudb "$IMMUDB_START_TIMEOUT" ready
  echo "immudb: running on 127.0.0.1:$IMMUDB_PORT, data in $DATA"
}

down() { native_stop immudb; }

status() {
  if native_pid immudb >/dev/null && [ -x "$DRIVER" ] && ready >/dev/null 2>&1; then
    echo "immudb: running on 127.0.0.1:$IMMUDB_PORT ($DATA)"
  else echo "immudb: stopped"; fi
}

case "${1:-}" in
  up|down|status|build) "$1" ;;
  url) echo "127.0.0.1:$IMMUDB_PORT" ;;
  driver) echo "$DRIVER" ;;
  datadir) echo "$DATA" ;;
  *) echo "usage: $0 up|down|status|url|build|driver|datadir" >&2; exit 2 ;;
esac
