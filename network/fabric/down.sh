#!/usr/bin/env bash
# Stops the processes network/fabric/up.sh started, and only those (it reads their pid files): chaincode
# services first, then peers, then orderers. The ledgers and crypto material stay, so up.sh brings the same
# network back.
#
#   network/fabric/down.sh            stop every process up.sh started
#   network/fabric/down.sh --purge    stop them and delete .tiezheng/services/fabric (a new network next time)
#   network/fabric/down.sh NAME...    stop only these (orderer0..2, peer1, peer2, ccaas1, ccaas2), e.g. to
#                                     test that clients ride out an outage; up.sh starts them again
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

purge=false
only=()
for arg in "$@"; do
  case "$arg" in
    --purge) purge=true ;;
    orderer[012] | peer[12] | ccaas[12]) only+=("$arg") ;;
    *) die "usage: down.sh [--purge | orderer0|orderer1|orderer2|peer1|peer2|ccaas1|ccaas2 ...]" ;;
  esac
done
$purge && [ ${#only[@]} -gt 0 ] && die "--purge stops everything; name no process with it"

# stop NAME...: SIGTERM to each recorded pid, waits up to 10 s for all of them, SIGKILL after that; removes
# the pid files. A pid file whose process is gone is only removed.
stop() {
  local name pid pids=() i alive
  for name in "$@"; do
    if pid_alive "$name"; then
      pid=$(cat "$RUN_DIR/$name.pid")
      log "stopping $name (pid $pid)"
      kill "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
  for ((i = 0; i < 40; i++)); do
    alive=
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=yes; done
    [ -z "$alive" ] && return 0
    sleep 0.25
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop in 10s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

if [ ${#only[@]} -gt 0 ]; then
  stop "${only[@]}"
  exit 0
fi
stop "${CHAINCODE_SERVICES[@]}"
stop "${PEERS[@]}"
stop "${ORDERERS[@]}"
if $purge; then
  log "deleting $FABRIC_DATA"
  rm -rf "$FABRIC_DATA"
fi
log "network down"
