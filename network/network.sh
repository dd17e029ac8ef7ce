#!/usr/bin/env bash
# Start, stop and inspect the real services Tiezheng runs natively (no Docker): `network.sh up|down|status`.
# Services: PostgreSQL (network/nodes/postgres.sh) and the Hyperledger Fabric 2.1.1 network
# (network/fabric/{up,down,status}.sh: three Raft orderers, two peer orgs, the checkpoint chaincode as a
# service; its processes have one script each in network/nodes/fabric-*.sh). State lives in the git-ignored
# .tiezheng/services folder; built tools in .tools/.
#
#   up       start what is not running (idempotent; builds Fabric first if needed) and print where it is
#   down     stop what `up` started, and only that: a PostgreSQL that already ran before `up` is left alone
#   status   what runs, where, and the Fabric channel's height; exit 1 when something is down
#
# Defaults (override with the environment; Fabric's are in network/config/fabric.config):
#   TIEZHENG_STATE=<repo>/.tiezheng/services   where service data and logs live
#   TIEZHENG_PG_PORT=54329                      PostgreSQL port on 127.0.0.1
#   TIEZHENG_PG_DB=tiezheng                     PostgreSQL database
#   TIEZHENG_NETWORK_SERVICES="postgres fabric minio seaweedfs" the services to act on
#   S3 servers (MinIO, SeaweedFS): ports, versions, dev credentials in network/config/objectstore.config
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export TIEZHENG_STATE=${TIEZHENG_STATE:-$(dirname "$here")/.tiezheng/services}
read -r -a services <<<"${TIEZHENG_NETWORK_SERVICES:-postgres fabric minio seaweedfs}"
started=$TIEZHENG_STATE/started-by-up   # one service name a line: what `up` started and `down` may stop

postgres_running() { bash "$here/nodes/postgres.sh" status | grep -q running; }
s3_running() { bash "$here/nodes/$1.sh" status | grep -q running; }

# remember NAME: records that `up` started NAME (once).
remember() { mkdir -p "$TIEZHENG_STATE"; grep -qx "$1" "$started" 2>/dev/null || echo "$1" >>"$started"; }
# forget NAME: removes NAME from the record.
forget() { [ -f "$started" ] && sed -i "/^$1\$/d" "$started" || true; }
# started_by_up NAME: true when `up` started NAME.
started_by_up() { grep -qx "$1" "$started" 2>/dev/null; }

up() {
  case "$1" in
    postgres)
      if postgres_running; then bash "$here/nodes/postgres.sh" status
      else bash "$here/nodes/postgres.sh" up && remember postgres; fi ;;
    fabric) remember fabric && bash "$here/fabric/up.sh" ;;
    minio|seaweedfs)  # the S3 servers of the object store (built into .tools/ on first use)
      if s3_running "$1"; then bash "$here/nodes/$1.sh" status
      else bash "$here/nodes/$1.sh" up && remember "$1"; fi ;;
  esac
}

down() {
  case "$1" in
    postgres)
      if started_by_up postgres; then bash "$here/nodes/postgres.sh" down && forget postgres
      else echo "postgres: not started by 'network up'; left alone"; fi ;;
    fabric) bash "$here/fabric/down.sh" && forget fabric ;;
    minio|seaweedfs)
      if started_by_up "$1"; then bash "$here/nodes/$1.sh" down && forget "$1"
      else echo "$1: not started by 'network up'; left alone"; fi ;;
  esac
}

status() {
  case "$1" in
    postgres) bash "$here/nodes/postgres.sh" status; postgres_running ;;
    fabric) echo "fabric:"; bash "$here/fabric/status.sh" ;;
    minio|seaweedfs) bash "$here/nodes/$1.sh" status; s3_running "$1" ;;
  esac
}

case "${1:-}" in
  up) for s in "${services[@]}"; do up "$s"; done ;;
  down) for ((i = ${#services[@]} - 1; i >= 0; i--)); do down "${services[$i]}"; done ;;
  status)
    rc=0
    for s in "${services[@]}"; do status "$s" || rc=1; done
    exit "$rc" ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
