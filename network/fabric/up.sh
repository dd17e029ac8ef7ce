#!/usr/bin/env bash
# Brings up the native Fabric network for Tiezheng anchors, and is safe to run again: every step checks
# what is already there and does only what is missing.
#
#   network/fabric/up.sh
#
# 1. render config from Fabric's sampleconfig   5. join the orderer (osnadmin) and both peers to the channel
# 2. crypto material (cryptogen)                 6. build the chaincode, package it per org (ccaas), install
# 3. channel genesis block (configtxgen)         7. start the chaincode services, approve, commit
# 4. start orderer and peers (network/nodes/)    8. write gateway.json (what clients need) and print it
# Everything lives under .tiezheng/fabric (TIEZHENG_FABRIC_DATA); processes log to its logs/ and record
# their pids in its run/, which network/fabric/down.sh reads.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
use_fabric
NODES=$REPO_ROOT/network/nodes
mkdir -p "$CONFIG_DIR" "$CHANNEL_DIR" "$CC_DIR" "$RUN_DIR" "$LOG_DIR"

# python_yaml: a Python 3 that has PyYAML.
python_yaml() {
  local py
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import yaml' 2>/dev/null; then echo "$py"; return 0; fi
  done
  die "no python3 with PyYAML (Debian: apt-get install python3-yaml)"
}

# 1. core.yaml and orderer.yaml are the sample's, with the ccaas builder's path filled in; configtx.yaml is
#    rendered from the sample's. Always re-rendered: cheap, and follows network.config.
render_config() {
  sed "s#/opt/hyperledger/ccaas_builder#$CCAAS_BUILDER#" "$FABRIC_SAMPLECONFIG/core.yaml" >"$CONFIG_DIR/core.yaml"
  grep -q "path: $CCAAS_BUILDER\$" "$CONFIG_DIR/core.yaml" || die "no ccaas_builder entry in the sample core.yaml"
  cp "$FABRIC_SAMPLECONFIG/orderer.yaml" "$CONFIG_DIR/orderer.yaml"
  FABRIC_HOST=$FABRIC_HOST ORDERER_PORT=$ORDERER_PORT ORDERER_CLUSTER_PORT=$ORDERER_CLUSTER_PORT \
    PEER1_PORT=$PEER1_PORT PEER2_PORT=$PEER2_PORT FABRIC_BATCH_TIMEOUT=$FABRIC_BATCH_TIMEOUT \
    "$(python_yaml)" "$REPO_ROOT/network/fabric/render_configtx.py" \
    "$FABRIC_SAMPLECONFIG/configtx.yaml" "$CRYPTO" "$CONFIG_DIR/configtx.yaml"
}

# 2. Crypto material, once.
crypto() {
  if [ -f "$ORDERER_TLS_CA" ]; then return 0; fi
  log "generating crypto material in $CRYPTO"
  cryptogen generate --config="$REPO_ROOT/network/config/crypto-config.yaml" --output="$CRYPTO" >/dev/null
}

# 3. The channel's genesis block, once.
genesis() {
  if [ -f "$GENESIS_BLOCK" ]; then return 0; fi
  log "creating the genesis block of channel $CHANNEL_NAME"
  configtxgen -configPath "$CONFIG_DIR" -profile TiezhengChannel -channelID "$CHANNEL_NAME" \
    -outputBlock "$GENESIS_BLOCK" 2>>"$LOG_DIR/configtxgen.log"
}

# start NAME SCRIPT ARGS...: starts a node script in the background unless NAME already runs.
start() {
  local name=$1
  shift
  if pid_alive "$name"; then
    log "$name already running (pid $(cat "$RUN_DIR/$name.pid"))"
    return 0
  fi
  log "starting $name (log: $LOG_DIR/$name.log)"
  nohup "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
}

# 5a. The orderer joins the channel through the channel participation API.
orderer_join() {
  local admin=$ORDERER_ORG/users/Admin@example.com/tls
  local args=(-o "$FABRIC_HOST:$ORDERER_ADMIN_PORT" --ca-file "$ORDERER_TLS_CA"
    --client-cert "$admin/client.crt" --client-key "$admin/client.key")
  if osnadmin channel list --channelID "$CHANNEL_NAME" "${args[@]}" 2>/dev/null | grep -q '"status": *"active"'; then
    return 0
  fi
  log "joining the orderer to channel $CHANNEL_NAME"
  retry 10 osnadmin channel join --channelID "$CHANNEL_NAME" --config-block "$GENESIS_BLOCK" "${args[@]}" \
    >>"$LOG_DIR/cli.log" 2>&1 || die "the orderer could not join channel $CHANNEL_NAME; see $LOG_DIR/cli.log"
}

# 5b. Peer N joins the channel. A peer that has just started may not list its channels yet, so a join
#     refused with "already exists" counts as joined.
peer_join() {
  local i out
  peer_client_env "$1"
  if peer channel list 2>/dev/null | grep -qx "$CHANNEL_NAME"; then return 0; fi
  log "joining peer $1 to channel $CHANNEL_NAME"
  for ((i = 0; i < 10; i++)); do
    out=$(peer channel join -b "$GENESIS_BLOCK" 2>&1) && return 0
    grep -q "already exists" <<<"$out" && return 0
    echo "$out" >>"$LOG_DIR/cli.log"
    sleep 1
  done
  die "peer $1 could not join channel $CHANNEL_NAME; see $LOG_DIR/cli.log"
}

# 6a. The chaincode binary, rebuilt when a source file is newer; a running chaincode service is then
#     stopped so that step 7 starts it on the new binary.
chaincode_binary() {
  local bin=$CC_DIR/checkpoints n
  if [ -x "$bin" ] && [ -z "$(find "$REPO_ROOT/chaincode" \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$bin")" ]; then
    return 0
  fi
  log "building the chaincode (nice, -p 1)"
  (cd "$REPO_ROOT/chaincode" && GOFLAGS="${GOFLAGS:-} -p=1" nice -n 19 go build -trimpath -o "$bin.new" .)
  mv "$bin.new" "$bin"
  for n in 1 2; do
    if pid_alive "ccaas$n"; then
      log "stopping ccaas$n to restart it on the new binary"
      kill "$(cat "$RUN_DIR/ccaas$n.pid")"
      rm -f "$RUN_DIR/ccaas$n.pid"
    fi
  done
}

# 6b. The ccaas package of org N: connection.json tells its peer where that org's chaincode service
#     listens and how to reach it over mutual TLS. Built once (tar output is not reproducible, and the
#     package ID is its hash).
package() {
  local n=$1 pkg=$CC_DIR/org$1.tar.gz tmp port_var="CCAAS$1_PORT" node ccaas
  [ -f "$pkg" ] && return 0
  node=$(org_dir "$n")/peers/peer0.org$n.example.com/tls
  ccaas=$(org_dir "$n")/peers/ccaas.org$n.example.com/tls
  tmp=$(mktemp -d)
  jq -n --arg address "$FABRIC_HOST:${!port_var}" --rawfile root "$ccaas/ca.crt" \
    --rawfile cert "$node/server.crt" --rawfile key "$node/server.key" \
    '{address: $address, dial_timeout: "10s", tls_required: true, client_auth_required: true,
      root_cert: $root, client_cert: $cert, client_key: $key}' >"$tmp/connection.json"
  jq -n --arg l "${CHAINCODE_NAME}_${CHAINCODE_VERSION}" '{"type": "ccaas", "label": $l}' >"$tmp/metadata.json"
  tar -C "$tmp" -czf "$tmp/code.tar.gz" connection.json
  tar -C "$tmp" -czf "$pkg" metadata.json code.tar.gz
  rm -rf "$tmp"
}

# 6c. Install org N's package on its peer; records the package ID.
install() {
  local n=$1 id
  peer_client_env "$n"
  id=$(peer lifecycle chaincode calculatepackageid "$CC_DIR/org$n.tar.gz")
  if ! peer lifecycle chaincode queryinstalled --output json 2>/dev/null |
    jq -e --arg id "$id" '.installed_chaincodes // [] | any(.package_id == $id)' >/dev/null; then
    log "installing chaincode package $id on peer $n"
    peer lifecycle chaincode install "$CC_DIR/org$n.tar.gz" 2>>"$LOG_DIR/cli.log"
  fi
  echo "$id" >"$CC_DIR/org$n.package-id"
}

# committed: "SEQUENCE STATE" of the committed chaincode definition: "0 none" when there is none; STATE is
# "current" when it has CHAINCODE_VERSION, else "old".
committed() {
  local out
  peer_client_env 1
  if out=$(peer lifecycle chaincode querycommitted --channelID "$CHANNEL_NAME" --name "$CHAINCODE_NAME" \
    --output json 2>/dev/null) && [ -n "$out" ]; then
    jq -r --arg v "$CHAINCODE_VERSION" '"\(.sequence) \(if .version == $v then "current" else "old" end)"' <<<"$out"
  else
    echo "0 none"
  fi
}

# 7. Approve the definition for each org that has not, then commit it with both orgs' peers endorsing.
define() {
  local state seq n
  read -r seq state <<<"$(committed)"
  if [ "$state" = current ]; then
    log "chaincode $CHAINCODE_NAME $CHAINCODE_VERSION already committed (sequence $seq)"
    return 0
  fi
  seq=$((seq + 1))
  local def=(--channelID "$CHANNEL_NAME" --name "$CHAINCODE_NAME" --version "$CHAINCODE_VERSION"
    --sequence "$seq" --signature-policy "$CHAINCODE_POLICY")
  for n in 1 2; do
    peer_client_env "$n"
    if peer lifecycle chaincode checkcommitreadiness "${def[@]}" --output json 2>/dev/null |
      jq -e ".approvals.Org${n}MSP" >/dev/null; then
      continue
    fi
    log "approving $CHAINCODE_NAME $CHAINCODE_VERSION (sequence $seq) for Org${n}MSP"
    retry 10 peer lifecycle chaincode approveformyorg "${ORDERER_ARGS[@]}" "${def[@]}" \
      --package-id "$(cat "$CC_DIR/org$n.package-id")" 2>>"$LOG_DIR/cli.log"
  done
  log "committing $CHAINCODE_NAME $CHAINCODE_VERSION (sequence $seq), policy $CHAINCODE_POLICY"
  peer_client_env 1
  retry 5 peer lifecycle chaincode commit "${ORDERER_ARGS[@]}" "${def[@]}" \
    --peerAddresses "$(peer_address 1)" --tlsRootCertFiles "$(org_tls_ca 1)" \
    --peerAddresses "$(peer_address 2)" --tlsRootCertFiles "$(org_tls_ca 2)" 2>>"$LOG_DIR/cli.log"
}

# 7b. Wait until each peer sees the other organisation's peer through gossip: the Gateway's discovery
#     needs it to find endorsers for AND('Org1MSP.peer','Org2MSP.peer'); a submit fails before that.
wait_discovery() {
  local n i port_var known
  for n in 1 2; do
    port_var="PEER${n}_OPS_PORT"
    for ((i = 0; i < FABRIC_START_TIMEOUT * 4; i++)); do
      known=$(curl -fsS "http://$FABRIC_HOST:${!port_var}/metrics" 2>/dev/null |
        sed -n "s/^gossip_membership_total_peers_known{channel=\"$CHANNEL_NAME\"} //p")
      [ "${known:-0}" -ge 1 ] 2>/dev/null && break
      [ "$i" -eq 0 ] && log "waiting for peer $n to see the other organisation's peer (gossip)"
      sleep 0.25
    done
    [ "${known:-0}" -ge 1 ] 2>/dev/null || die "peer $n sees no peer of the other organisation; see $LOG_DIR/peer$n.log"
  done
}

# 8. What a client needs: endpoints, TLS CAs, MSP IDs and the identities cryptogen made.
gateway_json() {
  local n orgs=() user admin
  for n in 1 2; do
    user=$(org_dir "$n")/users/User1@org$n.example.com/msp
    admin=$(org_dir "$n")/users/Admin@org$n.example.com/msp
    orgs+=("$(jq -n --arg msp "Org${n}MSP" --arg ep "$(peer_address "$n")" --arg host "peer0.org$n.example.com" \
      --arg ca "$(org_tls_ca "$n")" --arg uc "$user/signcerts/User1@org$n.example.com-cert.pem" \
      --arg uk "$user/keystore/priv_sk" --arg ac "$admin/signcerts/Admin@org$n.example.com-cert.pem" \
      --arg ak "$admin/keystore/priv_sk" --arg cacert "$(org_dir "$n")/ca/ca.org$n.example.com-cert.pem" \
      '{msp_id: $msp, peer_endpoint: $ep, peer_host_name: $host, tls_ca_cert: $ca, ca_cert: $cacert,
        user: {cert: $uc, key: $uk}, admin: {cert: $ac, key: $ak}}')")
  done
  printf '%s\n' "${orgs[@]}" | jq -s --arg ch "$CHANNEL_NAME" --arg cc "$CHAINCODE_NAME" \
    --arg oe "$ORDERER_ADDRESS" --arg oca "$ORDERER_TLS_CA" --arg ocacert "$ORDERER_ORG/ca/ca.example.com-cert.pem" \
    --arg policy "$CHAINCODE_POLICY" \
    '{channel: $ch, chaincode: $cc, endorsement_policy: $policy,
      orderer: {msp_id: "OrdererMSP", endpoint: $oe, tls_ca_cert: $oca, ca_cert: $ocacert}, organizations: .}' \
    >"$FABRIC_DATA/gateway.json"
}

started=$(date +%s)
log "Fabric from $FABRIC_HOME; data in $FABRIC_DATA"
crypto
render_config
genesis
start orderer "$NODES/fabric-orderer.sh"
wait_healthy "http://$FABRIC_HOST:$ORDERER_OPS_PORT/healthz" orderer
orderer_join
start peer1 "$NODES/fabric-peer.sh" 1
start peer2 "$NODES/fabric-peer.sh" 2
wait_healthy "http://$FABRIC_HOST:$PEER1_OPS_PORT/healthz" peer1
wait_healthy "http://$FABRIC_HOST:$PEER2_OPS_PORT/healthz" peer2
peer_join 1
peer_join 2
chaincode_binary
for n in 1 2; do
  package "$n"
  install "$n"
  port_var="CCAAS${n}_PORT"
  start "ccaas$n" "$NODES/fabric-ccaas.sh" "$n"
  wait_port "${!port_var}" "ccaas$n"
done
define
wait_discovery
gateway_json
log "network up in $(($(date +%s) - started))s; clients: $FABRIC_DATA/gateway.json"
cat "$FABRIC_DATA/gateway.json"
