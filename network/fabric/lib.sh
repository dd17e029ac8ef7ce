# Shared helpers for the native Fabric scripts (network/fabric/*.sh, network/nodes/fabric-*.sh). Sourced.
# Loads network/config/fabric.config and derives every path the scripts share.
# shellcheck disable=SC2034  # the variables below are used by the scripts that source this file

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../config/fabric.config
. "$REPO_ROOT/network/config/fabric.config"

# abs PATH: PATH made absolute against the repository root.
abs() { case "$1" in /*) echo "$1" ;; *) echo "$REPO_ROOT/$1" ;; esac; }

TOOLS_DIR=$(abs "$TIEZHENG_TOOLS")
FABRIC_TOOLS=$TOOLS_DIR/fabric-$FABRIC_VERSION
FABRIC_BIN=$FABRIC_TOOLS/bin                  # peer, orderer, configtxgen, cryptogen, configtxlator, discover
SAMPLE_CONFIG=$FABRIC_TOOLS/config            # Fabric's sampleconfig core.yaml, orderer.yaml
CHAINCODE_BIN=$TOOLS_DIR/chaincode/checkpoints
FABRIC_DATA=$(abs "$TIEZHENG_FABRIC_DATA")
FABRIC_CRYPTO=$FABRIC_DATA/crypto             # crypto material (network/fabric/crypto.sh)
CONFIG_DIR=$FABRIC_DATA/config                # rendered core.yaml, orderer.yaml, configtx.yaml
CHANNEL_DIR=$FABRIC_DATA/channel              # system genesis block, channel creation tx, channel block
CC_DIR=$FABRIC_DATA/chaincode                 # chaincode packages and package IDs
RUN_DIR=$FABRIC_DATA/run                      # pid files of the processes up.sh started
LOG_DIR=$FABRIC_DATA/logs
BUILDER_DIR=$REPO_ROOT/network/fabric/builder # the external builder for chaincode services
ORDERER_ORG=$FABRIC_CRYPTO/ordererOrganizations/orderer.tiezheng.local
ORDERER_TLS_CA=$ORDERER_ORG/tlsca/tlsca.orderer.tiezheng.local-cert.pem
SYSTEM_GENESIS=$CHANNEL_DIR/$SYSTEM_CHANNEL.block
CHANNEL_TX=$CHANNEL_DIR/$CHANNEL_NAME.tx
CHANNEL_BLOCK=$CHANNEL_DIR/$CHANNEL_NAME.block
ORDERERS=(orderer0 orderer1 orderer2)
PEERS=(peer1 peer2)
CHAINCODE_SERVICES=(ccaas1 ccaas2)

log() { printf '[%s] fabric: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# var NAME: the value of the variable called NAME (ports are looked up as ORDERER1_PORT, PEER2_OPS_PORT...).
var() { echo "${!1}"; }

# use_fabric: puts the built binaries on PATH, or stops with what to run.
use_fabric() {
  [ -x "$FABRIC_BIN/peer" ] && [ -f "$SAMPLE_CONFIG/core.yaml" ] ||
    die "Fabric $FABRIC_VERSION is not built in $FABRIC_TOOLS; run: bash network/fabric/build.sh"
  PATH=$FABRIC_BIN:$PATH
  export PATH
}

# orderer_dir K: the crypto directory of orderer K (0, 1, 2); orderer_address K: its client address.
orderer_dir() { echo "$ORDERER_ORG/orderers/orderer$1.orderer.tiezheng.local"; }
orderer_address() { echo "$FABRIC_HOST:$(var "ORDERER$1_PORT")"; }
# org_dir N: the crypto directory of peer organisation N (1 or 2); peer_dir N: its peer's.
org_dir() { echo "$FABRIC_CRYPTO/peerOrganizations/org$1.tiezheng.local"; }
peer_dir() { echo "$(org_dir "$1")/peers/peer0.org$1.tiezheng.local"; }
# peer_address N: the address of the peer of organisation N; org_tls_ca N: the TLS CA its clients trust.
peer_address() { echo "$FABRIC_HOST:$(var "PEER$1_PORT")"; }
org_tls_ca() { echo "$(org_dir "$1")/tlsca/tlsca.org$1.tiezheng.local-cert.pem"; }

# peer_client_env N [USER]: environment for the peer CLI as USER (default Admin) of organisation N.
peer_client_env() {
  local user=${2:-Admin}
  export FABRIC_CFG_PATH=$CONFIG_DIR
  export FABRIC_LOGGING_SPEC=$TIEZHENG_FABRIC_CLI_LOG_SPEC
  export CORE_PEER_TLS_ENABLED=true
  export CORE_PEER_LOCALMSPID="Org$1MSP"
  CORE_PEER_MSPCONFIGPATH="$(org_dir "$1")/users/$user@org$1.tiezheng.local/msp"
  CORE_PEER_TLS_ROOTCERT_FILE=$(org_tls_ca "$1")
  CORE_PEER_ADDRESS=$(peer_address "$1")
  export CORE_PEER_MSPCONFIGPATH CORE_PEER_TLS_ROOTCERT_FILE CORE_PEER_ADDRESS
}

# ORDERER_ARGS: the peer CLI flags that reach orderer0 over TLS.
ORDERER_ARGS=(-o "$(orderer_address 0)" --tls --cafile "$ORDERER_TLS_CA")

# pid_alive NAME: true when the process recorded in RUN_DIR/NAME.pid runs.
pid_alive() {
  local pid
  [ -f "$RUN_DIR/$1.pid" ] || return 1
  pid=$(cat "$RUN_DIR/$1.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# healthy URL: true when URL answers 200.
healthy() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
# listening PORT: true when something accepts connections on FABRIC_HOST:PORT.
listening() { (exec 3<>"/dev/tcp/$FABRIC_HOST/$1") 2>/dev/null; }

# wait_for NAME CHECK...: waits until CHECK succeeds while NAME runs; fails after FABRIC_START_TIMEOUT s.
wait_for() {
  local name=$1 i
  shift
  for ((i = 0; i < FABRIC_START_TIMEOUT * 4; i++)); do
    "$@" && return 0
    pid_alive "$name" || die "$name exited while starting; see $LOG_DIR/$name.log"
    sleep 0.25
  done
  die "$name did not answer within ${FABRIC_START_TIMEOUT}s ($*); see $LOG_DIR/$name.log"
}

# raft_leader CHANNEL: the orderer (orderer0..2) that leads CHANNEL's Raft cluster, from the orderers'
# metrics; fails when none does (yet: after a start the cluster needs a few seconds to elect one).
raft_leader() {
  local k
  for k in 0 1 2; do
    curl -fsS --max-time 2 "http://$FABRIC_HOST:$(var "ORDERER${k}_OPS_PORT")/metrics" 2>/dev/null |
      grep -qx "consensus_etcdraft_is_leader{channel=\"$1\"} 1" && { echo "orderer$k"; return 0; }
  done
  return 1
}

# raft_active CHANNEL: how many Raft nodes of CHANNEL each orderer sees active ("3 3 3" when all is well;
# "-" for an orderer that does not answer).
raft_active() {
  local k n out=()
  for k in 0 1 2; do
    n=$(curl -fsS --max-time 2 "http://$FABRIC_HOST:$(var "ORDERER${k}_OPS_PORT")/metrics" 2>/dev/null |
      sed -n "s/^consensus_etcdraft_active_nodes{channel=\"$1\"} //p")
    out+=("${n:--}")
  done
  echo "${out[*]}"
}
