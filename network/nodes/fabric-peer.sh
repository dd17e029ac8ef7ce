#!/usr/bin/env bash
# Runs the peer of organisation N (peer0.orgN.tiezheng.local, OrgNMSP) in the foreground, bound to 127.0.0.1.
#
#   network/nodes/fabric-peer.sh 1|2
#
# Reads the core.yaml that network/fabric/up.sh rendered (Fabric's sampleconfig with the project's external
# builder for chaincode services, network/fabric/builder, and no Docker endpoint) and overrides it with CORE_* variables; ports come
# from network/config/fabric.config. up.sh starts it in the background.
set -euo pipefail
# shellcheck source=../fabric/lib.sh
. "$(dirname "$0")/../fabric/lib.sh"
n=${1:?usage: fabric-peer.sh 1|2}
case "$n" in 1 | 2) ;; *) die "no peer organisation $n (1 or 2)" ;; esac
use_fabric

node=$(peer_dir "$n")
address=$(peer_address "$n")
export FABRIC_CFG_PATH=$CONFIG_DIR
export FABRIC_LOGGING_SPEC=$TIEZHENG_FABRIC_NODE_LOG_SPEC
export CORE_PEER_ID=peer0.org$n.tiezheng.local                              # peer.id
export CORE_PEER_LOCALMSPID=Org${n}MSP                                      # peer.localMspId
export CORE_PEER_MSPCONFIGPATH=$node/msp                                    # peer.mspConfigPath
export CORE_PEER_LISTENADDRESS=$address                                     # peer.listenAddress
export CORE_PEER_ADDRESS=$address                                           # peer.address
export CORE_PEER_CHAINCODELISTENADDRESS=$FABRIC_HOST:$(var "PEER${n}_CC_PORT")  # peer.chaincodeListenAddress
export CORE_PEER_CHAINCODEADDRESS=$FABRIC_HOST:$(var "PEER${n}_CC_PORT")
export CORE_PEER_GOSSIP_BOOTSTRAP=$address                                  # peer.gossip: one peer per org,
export CORE_PEER_GOSSIP_EXTERNALENDPOINT=$address                           # seen by the other org
export CORE_PEER_GOSSIP_USELEADERELECTION=false                             # the only peer of its org pulls
export CORE_PEER_GOSSIP_ORGLEADER=true                                      # blocks from the orderers at once
export CORE_PEER_TLS_ENABLED=true                                           # peer.tls
export CORE_PEER_TLS_CERT_FILE=$node/tls/server.crt
export CORE_PEER_TLS_KEY_FILE=$node/tls/server.key
export CORE_PEER_TLS_ROOTCERT_FILE=$node/tls/ca.crt
export CORE_PEER_FILESYSTEMPATH=$FABRIC_DATA/peer$n                         # peer.fileSystemPath
export CORE_OPERATIONS_LISTENADDRESS=$FABRIC_HOST:$(var "PEER${n}_OPS_PORT") # operations: /healthz, /metrics
export CORE_METRICS_PROVIDER=prometheus
exec peer node start
