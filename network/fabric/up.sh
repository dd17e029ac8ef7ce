#!/usr/bin/env bash
# Brings up the native Fabric 2.1.1 network for Tiezheng anchors, and is safe to run again: every step checks
# what is already there and does only what is missing. Prints where everything is.
#
#   network/fabric/up.sh
#
#  1. build Fabric and the chaincode (build.sh; cached)   6. create the channel, join both peers, set the
#  2. crypto material with low-S CAs (crypto.sh)              anchor peers
#  3. render core.yaml, orderer.yaml, configtx.yaml        7. package the chaincode per org (a service), install
#  4. system genesis block, channel creation tx            8. start the chaincode services; both orgs approve,
#  5. start three orderers and two peers (network/nodes/)      commit; query it through each peer
#                                                          9. write network.json (what clients need), print it
# Everything lives under .tiezheng/services/fabric; processes log to its logs/ and record their pids in its
# run/, which down.sh reads (it stops only those).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
NODES=$REPO_ROOT/network/nodes
started=$(date +%s)

bash "$here/build.sh"
use_fabric
mkdir -p "$CONFIG_DIR" "$CHANNEL_DIR" "$CC_DIR" "$RUN_DIR" "$LOG_DIR"
bash "$here/crypto.sh"

# 3. Re-rendered on every run (cheap; follows fabric.config): the sample core.yaml with the project's external
#    builder and no Docker endpoint (an empty CORE_VM_ENDPOINT does not override the file; with an endpoint
#    the peer's /healthz fails on the missing Docker daemon), the sample orderer.yaml, and configtx.yaml from
#    network/config with its ${...} filled in.
render_config() {
  awk -v path="$BUILDER_DIR" '/^ *externalBuilders: \[\]/ {
      print "    externalBuilders:"; print "        - name: tiezheng-ccaas"; print "          path: " path; next }
    /^ *endpoint: unix:\/\/\/var\/run\/docker.sock/ { sub(/unix:.*/, "\"\""); print; next }
    { print }' "$SAMPLE_CONFIG/core.yaml" >"$CONFIG_DIR/core.yaml"
  grep -q "path: $BUILDER_DIR\$" "$CONFIG_DIR/core.yaml" || die "no externalBuilders entry in the sample core.yaml"
  ! grep -q "^ *endpoint: unix:" "$CONFIG_DIR/core.yaml" || die "the sample core.yaml's Docker endpoint was not removed"
  cp "$SAMPLE_CONFIG/orderer.yaml" "$CONFIG_DIR/orderer.yaml"
  export FABRIC_CRYPTO FABRIC_HOST FABRIC_BATCH_TIMEOUT PEER1_PORT PEER2_PORT ORDERER0_PORT ORDERER1_PORT \
    ORDERER2_PORT ORDERER0_CLUSTER_PORT ORDERER1_CLUSTER_PORT ORDERER2_CLUSTER_PORT
  envsubst <"$REPO_ROOT/network/config/configtx.yaml" >"$CONFIG_DIR/configtx.yaml"
}

# 4. The system channel's genesis block and the application channel's creation and anchor-peer transactions,
#    once (the orderers' ledgers are built on that block).
channel_artifacts() {
  local n
  configtx() { configtxgen -configPath "$CONFIG_DIR" "$@" 2>>"$LOG_DIR/configtxgen.log"; }
  [ -f "$SYSTEM_GENESIS" ] || configtx -profile TiezhengSystem -channelID "$SYSTEM_CHANNEL" -outputBlock "$SYSTEM_GENESIS"
  [ -f "$CHANNEL_TX" ] || configtx -profile TiezhengChannel -channelID "$CHANNEL_NAME" -outputCreateChannelTx "$CHANNEL_TX"
  for n in 1 2; do
    [ -f "$CHANNEL_DIR/Org${n}MSP-anchors.tx" ] || configtx -profile TiezhengChannel -channelID "$CHANNEL_NAME" \
      -asOrg "Org${n}MSP" -outputAnchorPeersUpdate "$CHANNEL_DIR/Org${n}MSP-anchors.tx"
  done
}

# check_ports_free NAME: stops with a clear message when a port NAME is to listen on is taken already
# (another Fabric network on this machine, typically another checkout's).
check_ports_free() {
  local port ports
  case "$1" in
    orderer?) ports="ORDERER${1#orderer}_PORT ORDERER${1#orderer}_CLUSTER_PORT ORDERER${1#orderer}_OPS_PORT" ;;
    peer?) ports="PEER${1#peer}_PORT PEER${1#peer}_CC_PORT PEER${1#peer}_OPS_PORT" ;;
    ccaas?) ports="CCAAS${1#ccaas}_PORT" ;;
  esac
  for port in $ports; do
    ! listening "$(var "$port")" ||
      die "$1 cannot start: $FABRIC_HOST:$(var "$port") ($port) is in use by another process (another Fabric network? see: ss -ltnp 'sport = :$(var "$port")'); stop it, or set $port (network/config/fabric.config)"
  done
}

# start NAME SCRIPT ARGS...: starts a node script in its own session in the background unless NAME runs.
start() {
  local name=$1
  shift
  if pid_alive "$name"; then
    log "$name already running (pid $(cat "$RUN_DIR/$name.pid"))"
    return 0
  fi
  check_ports_free "$name"
  log "starting $name (log: $LOG_DIR/$name.log)"
  setsid "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
}

# restart_if_rebuilt NAME: stops chaincode service NAME when it runs an older build of the chaincode, so
# that it is started again on the new binary.
restart_if_rebuilt() {
  pid_alive "$1" || return 0
  cmp -s "$TOOLS_DIR/chaincode/build.stamp" "$RUN_DIR/$1.stamp" && return 0
  log "the chaincode was rebuilt: restarting $1"
  bash "$here/down.sh" "$1"
}

# 5. The orderers and the peers, each answering /healthz.
start_nodes() {
  local k n
  for k in 0 1 2; do start "orderer$k" "$NODES/fabric-orderer.sh" "$k"; done
  for n in 1 2; do start "peer$n" "$NODES/fabric-peer.sh" "$n"; done
  for k in 0 1 2; do wait_for "orderer$k" healthy "http://$FABRIC_HOST:$(var "ORDERER${k}_OPS_PORT")/healthz"; done
  for n in 1 2; do wait_for "peer$n" healthy "http://$FABRIC_HOST:$(var "PEER${n}_OPS_PORT")/healthz"; done
}

# wait_leader CHANNEL: waits until CHANNEL's Raft cluster has a leader and every orderer sees all three
# nodes active (an orderer refuses transactions with "no Raft leader" until then).
wait_leader() {
  local i
  for ((i = 0; i < FABRIC_START_TIMEOUT * 4; i++)); do
    raft_leader "$1" >/dev/null && [ "$(raft_active "$1")" = "3 3 3" ] && return 0
    sleep 0.25
  done
  die "channel $1 has no Raft leader after ${FABRIC_START_TIMEOUT}s; see $LOG_DIR/orderer{0,1,2}.log"
}

# try N CMD...: runs CMD up to N times, a second apart (the Raft cluster needs a moment to elect a leader,
# a peer a moment after joining before it serves the channel); its output goes to cli.log.
try() {
  local n=$1 i
  shift
  for ((i = 1; i <= n; i++)); do
    "$@" >>"$LOG_DIR/cli.log" 2>&1 && return 0
    sleep 1
  done
  return 1
}

# 6a. The channel, once: created through the orderers, its block kept for the peers to join with.
create_channel() {
  [ -s "$CHANNEL_BLOCK" ] && return 0
  peer_client_env 1
  log "creating channel $CHANNEL_NAME"
  if ! try 30 peer channel create -c "$CHANNEL_NAME" -f "$CHANNEL_TX" --outputBlock "$CHANNEL_BLOCK.new" \
    "${ORDERER_ARGS[@]}"; then
    # Created by an earlier run that stopped before keeping the block: fetch it instead.
    try 5 peer channel fetch 0 "$CHANNEL_BLOCK.new" -c "$CHANNEL_NAME" "${ORDERER_ARGS[@]}" ||
      die "channel $CHANNEL_NAME could not be created nor fetched; see $LOG_DIR/cli.log and the orderer logs"
  fi
  mv "$CHANNEL_BLOCK.new" "$CHANNEL_BLOCK"
}

# 6b. Peer N joins the channel and, once, sets its org's anchor peer (so gossip and discovery span orgs).
join_peer() {
  local n=$1
  peer_client_env "$n"
  if ! peer channel list 2>/dev/null | grep -qx "$CHANNEL_NAME"; then
    log "joining peer $n to channel $CHANNEL_NAME"
    try 10 peer channel join -b "$CHANNEL_BLOCK" || die "peer $n could not join $CHANNEL_NAME; see $LOG_DIR/cli.log"
  fi
  if [ ! -f "$CHANNEL_DIR/Org${n}MSP-anchors.done" ]; then
    log "setting the anchor peer of Org${n}MSP"
    try 10 peer channel update -c "$CHANNEL_NAME" -f "$CHANNEL_DIR/Org${n}MSP-anchors.tx" "${ORDERER_ARGS[@]}" ||
      die "the anchor peer update of Org${n}MSP failed; see $LOG_DIR/cli.log"
    touch "$CHANNEL_DIR/Org${n}MSP-anchors.done"
  fi
}

# 7. Org N's chaincode package, once (its ID is the package's hash): metadata.json says "ccaas", so the
#    project's external builder takes it; connection.json says where org N's chaincode service listens and
#    which TLS key pair the peer presents to it. Installed on org N's peer; the package ID is recorded.
package_and_install() {
  local n=$1 pkg=$CC_DIR/org$1.tar.gz tmp peer_tls ccaas_tls id
  if [ ! -f "$pkg" ]; then
    peer_tls=$(peer_dir "$n")/tls
    ccaas_tls=$(org_dir "$n")/peers/ccaas.org$n.tiezheng.local/tls
    tmp=$(mktemp -d)
    jq -n --arg address "$FABRIC_HOST:$(var "CCAAS${n}_PORT")" --rawfile root "$ccaas_tls/ca.crt" \
      --rawfile cert "$peer_tls/server.crt" --rawfile key "$peer_tls/server.key" \
      '{address: $address, dial_timeout: "10s", tls_required: true, client_auth_required: true,
        root_cert: $root, client_cert: $cert, client_key: $key}' >"$tmp/connection.json"
    jq -n --arg name "${CHAINCODE_NAME}_${CHAINCODE_VERSION}" '{"type": "ccaas", "label": $name}' >"$tmp/metadata.json"
    tar -C "$tmp" -czf "$tmp/code.tar.gz" connection.json
    tar -C "$tmp" -czf "$pkg" metadata.json code.tar.gz
    rm -rf "$tmp"
  fi
  peer_client_env "$n"
  id=${CHAINCODE_NAME}_${CHAINCODE_VERSION}:$(sha256sum "$pkg" | cut -d' ' -f1)  # Fabric 2.x: label:sha256
  if ! peer lifecycle chaincode queryinstalled --output json 2>/dev/null |
    jq -e --arg id "$id" '.installed_chaincodes // [] | any(.package_id == $id)' >/dev/null; then
    log "installing chaincode package $id on peer $n"
    try 3 peer lifecycle chaincode install "$pkg" || die "installing on peer $n failed; see $LOG_DIR/cli.log"
  fi
  echo "$id" >"$CC_DIR/org$n.package-id"
}

# committed_sequence: the sequence of the committed chaincode definition if its version is CHAINCODE_VERSION;
# minus that sequence if an older version is committed (the next definition takes sequence + 1); 0 if none.
committed_sequence() {
  local out
  peer_client_env 1
  if out=$(peer lifecycle chaincode querycommitted --channelID "$CHANNEL_NAME" --name "$CHAINCODE_NAME" \
    --output json 2>/dev/null) && [ -n "$out" ]; then
    jq -r --arg v "$CHAINCODE_VERSION" 'if .version == $v then .sequence else -.sequence end' <<<"$out"
  else
    echo 0
  fi
}

# 8. Both orgs approve the definition (each with its own package), then it is committed with both orgs'
#    peers endorsing; the lifecycle's MAJORITY of two orgs needs both approvals.
define_chaincode() {
  local seq n def
  seq=$(committed_sequence)
  if [ "$seq" -gt 0 ]; then
    log "chaincode $CHAINCODE_NAME $CHAINCODE_VERSION already committed on $CHANNEL_NAME (sequence $seq)"
    return 0
  fi
  seq=$((1 - seq))
  def=(--channelID "$CHANNEL_NAME" --name "$CHAINCODE_NAME" --version "$CHAINCODE_VERSION" --sequence "$seq"
    --signature-policy "$CHAINCODE_POLICY")
  for n in 1 2; do
    peer_client_env "$n"
    if peer lifecycle chaincode checkcommitreadiness "${def[@]}" --output json 2>/dev/null |
      jq -e ".approvals.Org${n}MSP" >/dev/null; then
      continue
    fi
    log "Org${n}MSP approves $CHAINCODE_NAME $CHAINCODE_VERSION (sequence $seq)"
    try 10 peer lifecycle chaincode approveformyorg "${ORDERER_ARGS[@]}" "${def[@]}" --waitForEvent \
      --package-id "$(cat "$CC_DIR/org$n.package-id")" || die "Org${n}MSP could not approve; see $LOG_DIR/cli.log"
  done
  log "committing $CHAINCODE_NAME $CHAINCODE_VERSION (sequence $seq), endorsement policy $CHAINCODE_POLICY"
  peer_client_env 1
  try 5 peer lifecycle chaincode commit "${ORDERER_ARGS[@]}" "${def[@]}" --waitForEvent \
    --peerAddresses "$(peer_address 1)" --tlsRootCertFiles "$(org_tls_ca 1)" \
    --peerAddresses "$(peer_address 2)" --tlsRootCertFiles "$(org_tls_ca 2)" ||
    die "committing the chaincode definition failed; see $LOG_DIR/cli.log"
}

# 8b. Each peer reaches its org's chaincode service over mutual TLS: a query of the contract's metadata.
check_chaincode() {
  local n
  for n in 1 2; do
    peer_client_env "$n" User1
    try 30 peer chaincode query -C "$CHANNEL_NAME" -n "$CHAINCODE_NAME" \
      -c '{"Args":["org.hyperledger.fabric:GetMetadata"]}' ||
      die "peer $n cannot reach its chaincode service; see $LOG_DIR/peer$n.log, $LOG_DIR/ccaas$n.log, cli.log"
  done
}

# 9. What a client needs: endpoints, TLS CAs, MSP IDs, the identities cryptogen made, the CLI's config dir.
network_json() {
  local n orgs=() user admin
  for n in 1 2; do
    user=$(org_dir "$n")/users/User1@org$n.tiezheng.local/msp
    admin=$(org_dir "$n")/users/Admin@org$n.tiezheng.local/msp
    orgs+=("$(jq -n --arg msp "Org${n}MSP" --arg ep "$(peer_address "$n")" --arg host "peer0.org$n.tiezheng.local" \
      --arg tls "$(org_tls_ca "$n")" --arg ca "$(org_dir "$n")/ca/ca.org$n.tiezheng.local-cert.pem" \
      --arg user "$user" --arg admin "$admin" --arg ops "http://$FABRIC_HOST:$(var "PEER${n}_OPS_PORT")" \
      --arg cc "$FABRIC_HOST:$(var "CCAAS${n}_PORT")" \
      '{msp_id: $msp, peer_endpoint: $ep, peer_host_name: $host, peer_operations: $ops, tls_ca_cert: $tls,
        ca_cert: $ca, user_msp: $user, admin_msp: $admin, chaincode_service: $cc}')")
  done
  printf '%s\n' "${orgs[@]}" | jq -s --arg ch "$CHANNEL_NAME" --arg sys "$SYSTEM_CHANNEL" --arg cc "$CHAINCODE_NAME" \
    --arg policy "$CHAINCODE_POLICY" --arg version "$FABRIC_VERSION" --arg bin "$FABRIC_BIN" \
    --arg cfg "$CONFIG_DIR" --arg data "$FABRIC_DATA" --arg logs "$LOG_DIR" \
    --arg oca "$ORDERER_TLS_CA" --arg ocacert "$ORDERER_ORG/ca/ca.orderer.tiezheng.local-cert.pem" \
    --arg o0 "$(orderer_address 0)" --arg o1 "$(orderer_address 1)" --arg o2 "$(orderer_address 2)" \
    '{fabric_version: $version, bin: $bin, config_dir: $cfg, data_dir: $data, logs: $logs,
      channel: $ch, system_channel: $sys, chaincode: $cc, endorsement_policy: $policy,
      orderer: {msp_id: "OrdererMSP", endpoints: [$o0, $o1, $o2], tls_ca_cert: $oca, ca_cert: $ocacert},
      organizations: .}' >"$FABRIC_DATA/network.json"
}

# 9b. The settings this network runs with (every fabric.config value), so that a later script or test that
#     stops or restarts one of its processes targets this network: `. fabric.env; bash down.sh orderer1`.
save_settings() {
  local name
  for name in $(grep -o '^: "\${[A-Z0-9_]*' "$REPO_ROOT/network/config/fabric.config" | cut -c6-); do
    printf 'export %s=%q\n' "$name" "${!name}"
  done >"$FABRIC_DATA/fabric.env"
}

render_config
channel_artifacts
start_nodes
wait_leader "$SYSTEM_CHANNEL"
create_channel
wait_leader "$CHANNEL_NAME"
join_peer 1
join_peer 2
for n in 1 2; do package_and_install "$n"; done
for n in 1 2; do
  restart_if_rebuilt "ccaas$n"
  start "ccaas$n" "$NODES/fabric-ccaas.sh" "$n"
  cp "$TOOLS_DIR/chaincode/build.stamp" "$RUN_DIR/ccaas$n.stamp"
done
for n in 1 2; do wait_for "ccaas$n" listening "$(var "CCAAS${n}_PORT")"; done
define_chaincode
check_chaincode
network_json
save_settings
log "network up in $(($(date +%s) - started))s; channel $CHANNEL_NAME, chaincode $CHAINCODE_NAME; data in $FABRIC_DATA"
log "clients: $FABRIC_DATA/network.json; status: bash network/fabric/status.sh; stop: bash network/fabric/down.sh"
bash "$here/status.sh" || true
