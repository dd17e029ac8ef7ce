#!/usr/bin/env bash
# Tells which processes of the native Fabric network run, whether they answer, and where its data is.
#
#   network/fabric/status.sh          human-readable
#   network/fabric/status.sh --json   one JSON object
# Exit status 0 when every process runs and answers, 1 otherwise.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

json=false
[ "${1:-}" = --json ] && json=true

# probe NAME KIND ADDRESS: prints "name state pid address" where state is up, unhealthy or stopped.
probe() {
  local name=$1 kind=$2 address=$3 state=stopped pid=-
  if pid_alive "$name"; then
    pid=$(cat "$RUN_DIR/$name.pid")
    state=unhealthy
    case "$kind" in
      http) curl -fsS -o /dev/null "http://$address/healthz" 2>/dev/null && state=up ;;
      tcp) (exec 3<>"/dev/tcp/${address%:*}/${address##*:}") 2>/dev/null && state=up ;;
    esac
  fi
  echo "$name $state $pid $address"
}

rows=$(
  probe orderer http "$FABRIC_HOST:$ORDERER_OPS_PORT"
  probe peer1 http "$FABRIC_HOST:$PEER1_OPS_PORT"
  probe peer2 http "$FABRIC_HOST:$PEER2_OPS_PORT"
  probe ccaas1 tcp "$FABRIC_HOST:$CCAAS1_PORT"
  probe ccaas2 tcp "$FABRIC_HOST:$CCAAS2_PORT"
)
if $json; then
  jq -R 'split(" ") | {key: .[0], value: {state: .[1], pid: (.[2] | tonumber? // null), probe: .[3]}}' <<<"$rows" |
    jq -s --arg data "$FABRIC_DATA" --arg ch "$CHANNEL_NAME" --arg cc "$CHAINCODE_NAME" \
      '{data_dir: $data, channel: $ch, chaincode: $cc, processes: from_entries,
        running: (map(.value.state == "up") | all)}'
else
  printf '%-8s %-10s %-8s %s\n' PROCESS STATE PID PROBE
  while read -r name state pid address; do printf '%-8s %-10s %-8s %s\n' "$name" "$state" "$pid" "$address"; done <<<"$rows"
  echo "data: $FABRIC_DATA (channel $CHANNEL_NAME, chaincode $CHAINCODE_NAME)"
  [ -f "$FABRIC_DATA/gateway.json" ] && echo "clients: $FABRIC_DATA/gateway.json"
fi
! grep -qv ' up ' <<<"$rows"
