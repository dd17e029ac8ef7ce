#!/usr/bin/env bash
# Tells which processes of the native Fabric network run and answer, each peer's height of the channel,
# which orderer leads the channel's Raft cluster, and where the network's data is.
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
      http) healthy "http://$address/healthz" && state=up ;;
      tcp) listening "${address##*:}" && state=up ;;
    esac
  fi
  echo "$name $state $pid $address"
}

# height N: peer N's height of the channel ("-" when it cannot say).
height() {
  local out
  [ -x "$FABRIC_BIN/peer" ] && [ -f "$CONFIG_DIR/core.yaml" ] || { echo -; return; }
  peer_client_env "$1" User1
  out=$(timeout 10 "$FABRIC_BIN/peer" channel getinfo -c "$CHANNEL_NAME" 2>/dev/null) || { echo -; return; }
  sed -n 's/^Blockchain info: //p' <<<"$out" | jq -r '.height // "-"' 2>/dev/null || echo -
}

rows=$(
  for k in 0 1 2; do probe "orderer$k" http "$FABRIC_HOST:$(var "ORDERER${k}_OPS_PORT")"; done
  for n in 1 2; do probe "peer$n" http "$FABRIC_HOST:$(var "PEER${n}_OPS_PORT")"; done
  for n in 1 2; do probe "ccaas$n" tcp "$FABRIC_HOST:$(var "CCAAS${n}_PORT")"; done
)
h1=- h2=-
leader=$(raft_leader "$CHANNEL_NAME") || leader=none
grep -q '^peer1 up ' <<<"$rows" && h1=$(height 1)
grep -q '^peer2 up ' <<<"$rows" && h2=$(height 2)
if $json; then
  jq -R 'split(" ") | {key: .[0], value: {state: .[1], pid: (.[2] | tonumber? // null), probe: .[3]}}' <<<"$rows" |
    jq -s --arg data "$FABRIC_DATA" --arg ch "$CHANNEL_NAME" --arg cc "$CHAINCODE_NAME" --arg h1 "$h1" --arg h2 "$h2" \
      --arg leader "$leader" '{data_dir: $data, channel: $ch, chaincode: $cc, processes: from_entries, raft_leader: $leader,
        height: {peer1: ($h1 | tonumber? // null), peer2: ($h2 | tonumber? // null)},
        running: (map(.value.state == "up") | all)}'
else
  printf '%-9s %-10s %-8s %s\n' PROCESS STATE PID PROBE
  while read -r name state pid address; do printf '%-9s %-10s %-8s %s\n' "$name" "$state" "$pid" "$address"; done <<<"$rows"
  echo "channel $CHANNEL_NAME height: peer1 $h1, peer2 $h2; Raft leader: $leader (chaincode $CHAINCODE_NAME)"
  echo "data: $FABRIC_DATA"
  [ -f "$FABRIC_DATA/network.json" ] && echo "clients: $FABRIC_DATA/network.json"
fi
! grep -qv ' up ' <<<"$rows"
