#!/usr/bin/env bash
# Runs the peer of organisation N (peer0.orgN.example.com, OrgNMSP) in the foreground, bound to 127.0.0.1.
#
#   network/nodes/fabric-peer.sh 1|2
#
# Reads core.yaml rendered by network/fabric/up.sh (Fabric's sampleconfig with the ccaas builder's path
# filled in) and overrides it with CORE_* variables; ports come from network/config/network.config.
# The peer serves the Fabric Gateway on its listen address. up.sh starts it in the background.
set -euo pipefail
# shellcheck source=../fabric/lib.sh
. "$(dirname "$0")/../fabric/lib.sh"
n=${1:?usage: fabric-peer.sh 1|2}
case "$n" in 1 | 2) ;; *) die "no peer organisation $n (1 or 2)" ;; esac
use_fabric

cc_port_var="PEER${n}_CC_PORT" ops_port_var="PEER${n}_OPS_PORT"
node=$(org_dir "$n")/peers/peer0.org$n.example.com
address=$(peer_address "$n")
export FABRIC_CFG_PATH=$CONFIG_DIR
export FABRIC_LOGGING_SPEC=$TIEZHENG_FABRIC_NODE_LOG_SPEC
export CORE_PEER_ID=peer0.org$n.example.com                                 # peer.id
export CORE_PEER_LOCALMSPID=Org${n}MSP                                      # peer.localMspId
export CORE_PEER_MSPCONFIGPATH=$node/msp                                    # peer.mspConfigPath
export CORE_PEER_LISTENADDRESS=$address                                     # peer.listenAddress (+ Gateway)
export CORE_PEER_ADDRESS=$address                                           # peer.address
export CORE_PEER_CHAINCODELISTENADDRESS=$FABRIC_HOST:${!cc_port_var}       # peer.chaincodeListenAddress
export CORE_PEER_CHAINCODEADDRESS=$FABRIC_HOST:${!cc_port_var}
export CORE_PEER_GOSSIP_BOOTSTRAP=$address                                  # peer.gossip: one peer per org
export CORE_PEER_GOSSIP_EXTERNALENDPOINT=$address                           # seen by the other org
export CORE_PEER_GOSSIP_RECONNECTINTERVAL=2s                                # sample: 25s; the peers join the
                                                                            # channel a moment apart
export CORE_PEER_TLS_ENABLED=true                                           # peer.tls
export CORE_PEER_TLS_CERT_FILE=$node/tls/server.crt
export CORE_PEER_TLS_KEY_FILE=$node/tls/server.key
export CORE_PEER_TLS_ROOTCERT_FILE=$node/tls/ca.crt
export CORE_PEER_GATEWAY_ENABLED=true                                       # peer.gateway
export CORE_PEER_FILESYSTEMPATH=$FABRIC_DATA/peer$n/production              # peer.fileSystemPath
export CORE_LEDGER_SNAPSHOTS_ROOTDIR=$FABRIC_DATA/peer$n/snapshots          # ledger.snapshots.rootDir
export CORE_OPERATIONS_LISTENADDRESS=$FABRIC_HOST:${!ops_port_var}         # operations: /healthz, /metrics
export CORE_METRICS_PROVIDER=prometheus                                     # up.sh reads gossip membership
export CORE_VM_ENDPOINT=                                                    # vm.endpoint: no Docker here
exec peer node start
