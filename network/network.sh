#!/usr/bin/env bash
# Start, stop and inspect the real services Tiezheng runs natively (no Docker): `network.sh up|down|status`.
# Each service has one script in network/nodes/. State lives in the git-ignored .tiezheng/ folder.
#
# Defaults (override with the environment):
#   TIEZHENG_STATE=<repo>/.tiezheng/services   where service data and logs live
#   TIEZHENG_PG_PORT=54329                      PostgreSQL port on 127.0.0.1
#   TIEZHENG_PG_DB=tiezheng                     PostgreSQL database
#   S3 servers (MinIO, SeaweedFS): ports, versions, dev credentials in network/config/network.config
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export TIEZHENG_STATE=${TIEZHENG_STATE:-$(dirname "$here")/.tiezheng/services}
nodes=(postgres minio seaweedfs)  # object storage: see network/nodes/minio.sh, seaweedfs.sh

case "${1:-}" in
  up|down|status)
    for node in "${nodes[@]}"; do bash "$here/nodes/$node.sh" "$1"; done ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
