# Shared helpers for the native Fabric scripts (network/fabric/*.sh, network/nodes/fabric-*.sh). Sourced.
# Loads network/config/network.config and derives every path the scripts share.
# shellcheck disable=SC2034  # the variables below are used by the scripts that source this file

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../config/network.config
. "$REPO_ROOT/network/config/network.config"

case "$TIEZHENG_FABRIC_DATA" in
  /*) FABRIC_DATA=$TIEZHENG_FABRIC_DATA ;;
  *) FABRIC_DATA=$REPO_ROOT/$TIEZHENG_FABRIC_DATA ;;
esac
FABRIC_TOOLS=$TIEZHENG_TOOLS/fabric
CONFIG_DIR=$FABRIC_DATA/config        # rendered core.yaml, orderer.yaml, configtx.yaml
CRYPTO=$FABRIC_DATA/crypto            # cryptogen output
CHANNEL_DIR=$FABRIC_DATA/channel      # genesis block
CC_DIR=$FABRIC_DATA/chaincode         # chaincode binary and packages
RUN_DIR=$FABRIC_DATA/run              # pid files of the processes up.sh started
LOG_DIR=$FABRIC_DATA/logs
ORDERER_ORG=$CRYPTO/ordererOrganizations/example.com
ORDERER_NODE=$ORDERER_ORG/orderers/orderer.example.com
ORDERER_TLS_CA=$ORDERER_ORG/tlsca/tlsca.example.com-cert.pem
ORDERER_ADDRESS=$FABRIC_HOST:$ORDERER_PORT
GENESIS_BLOCK=$CHANNEL_DIR/$CHANNEL_NAME.block

FABRIC_BINARIES=(peer orderer configtxgen cryptogen osnadmin)
CCAAS_BINARIES=(detect build release)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# fabric_complete DIR: true when DIR holds every binary the network needs and the sampleconfig pointer.
fabric_complete() {
  local name
  for name in "${FABRIC_BINARIES[@]}"; do [ -x "$1/bin/$name" ] || return 1; done
  for name in "${CCAAS_BINARIES[@]}"; do [ -x "$1/ccaas/bin/$name" ] || return 1; done
  [ -f "$1/sampleconfig.path" ]
}

# fabric_home: the Fabric to use: TIEZHENG_FABRIC_HOME if set (an existing install laid out like a build
# directory: bin/, ccaas/bin/, sampleconfig.path), else the primary commit's build, else the fallback's.
fabric_home() {
  local commit
  if [ -n "${TIEZHENG_FABRIC_HOME:-}" ]; then
    fabric_complete "$TIEZHENG_FABRIC_HOME" || die "TIEZHENG_FABRIC_HOME=$TIEZHENG_FABRIC_HOME is incomplete"
    echo "$TIEZHENG_FABRIC_HOME"
    return 0
  fi
  for commit in "$FABRIC_COMMIT" "$FABRIC_FALLBACK_COMMIT"; do
    if fabric_complete "$FABRIC_TOOLS/$commit"; then echo "$FABRIC_TOOLS/$commit"; return 0; fi
  done
  die "no Fabric binaries in $FABRIC_TOOLS; run network/fabric/build.sh (or set TIEZHENG_FABRIC_HOME)"
}

# use_fabric: puts the binaries on PATH; sets FABRIC_HOME, FABRIC_SAMPLECONFIG, CCAAS_BUILDER.
use_fabric() {
  FABRIC_HOME=$(fabric_home) || exit 1
  FABRIC_SAMPLECONFIG=$(cat "$FABRIC_HOME/sampleconfig.path")
  CCAAS_BUILDER=$FABRIC_HOME/ccaas
  [ -f "$FABRIC_SAMPLECONFIG/core.yaml" ] || die "sample config missing: $FABRIC_SAMPLECONFIG (run build.sh)"
  PATH=$FABRIC_HOME/bin:$PATH
  export PATH FABRIC_HOME FABRIC_SAMPLECONFIG CCAAS_BUILDER
}

# org_dir N: the crypto directory of peer organisation N (1 or 2).
org_dir() { echo "$CRYPTO/peerOrganizations/org$1.example.com"; }
# peer_port N, peer_address N: the listen port and address of the peer of organisation N.
peer_port() { local v="PEER$1_PORT"; echo "${!v}"; }
peer_address() { echo "$FABRIC_HOST:$(peer_port "$1")"; }
# org_tls_ca N: the TLS CA certificate of organisation N (clients trust it for that org's peer).
org_tls_ca() { echo "$(org_dir "$1")/tlsca/tlsca.org$1.example.com-cert.pem"; }

# peer_client_env N [USER]: environment for the peer CLI as USER (default Admin) of organisation N.
peer_client_env() {
  local user=${2:-Admin}
  export FABRIC_CFG_PATH=$CONFIG_DIR
  export FABRIC_LOGGING_SPEC=$TIEZHENG_FABRIC_CLI_LOG_SPEC
  export CORE_PEER_TLS_ENABLED=true
  export CORE_PEER_LOCALMSPID="Org$1MSP"
  CORE_PEER_MSPCONFIGPATH="$(org_dir "$1")/users/$user@org$1.example.com/msp"
  CORE_PEER_TLS_ROOTCERT_FILE=$(org_tls_ca "$1")
  CORE_PEER_ADDRESS=$(peer_address "$1")
  export CORE_PEER_MSPCONFIGPATH CORE_PEER_TLS_ROOTCERT_FILE CORE_PEER_ADDRESS
}

# ORDERER_ARGS: the peer CLI flags that reach the orderer over TLS.
ORDERER_ARGS=(-o "$ORDERER_ADDRESS" --tls --cafile "$ORDERER_TLS_CA")

# pid_alive NAME: true when the process recorded in RUN_DIR/NAME.pid runs.
pid_alive() {
  local pid
  [ -f "$RUN_DIR/$1.pid" ] || return 1
  pid=$(cat "$RUN_DIR/$1.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# wait_healthy URL NAME: waits until URL answers 200, or fails after FABRIC_START_TIMEOUT seconds.
wait_healthy() {
  local i
  for ((i = 0; i < FABRIC_START_TIMEOUT * 4; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    pid_alive "$2" || die "$2 exited while starting; see $LOG_DIR/$2.log"
    sleep 0.25
  done
  die "$2 not healthy after ${FABRIC_START_TIMEOUT}s ($1); see $LOG_DIR/$2.log"
}

# wait_port PORT NAME: waits until something listens on FABRIC_HOST:PORT.
wait_port() {
  local i
  for ((i = 0; i < FABRIC_START_TIMEOUT * 4; i++)); do
    (exec 3<>"/dev/tcp/$FABRIC_HOST/$1") 2>/dev/null && return 0
    pid_alive "$2" || die "$2 exited while starting; see $LOG_DIR/$2.log"
    sleep 0.25
  done
  die "$2 not listening on $FABRIC_HOST:$1 after ${FABRIC_START_TIMEOUT}s; see $LOG_DIR/$2.log"
}

# retry N CMD...: runs CMD up to N times, a second apart, until it succeeds (peers need a moment after
# joining a channel before they serve it).
retry() {
  local n=$1 i
  shift
  for ((i = 1; i < n; i++)); do
    "$@" && return 0
    sleep 1
  done
  "$@"
}
