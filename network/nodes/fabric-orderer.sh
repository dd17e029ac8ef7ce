#!/usr/bin/env bash
# Runs the Raft orderer orderer.example.com (OrdererMSP) in the foreground, bound to 127.0.0.1.
#
#   network/nodes/fabric-orderer.sh
#
# Reads orderer.yaml rendered by network/fabric/up.sh (a copy of Fabric's sampleconfig) and overrides it
# with ORDERER_* variables; ports come from network/config/network.config. up.sh starts it in the
# background; run it by hand to watch its log.
set -euo pipefail
# shellcheck source=../fabric/lib.sh
. "$(dirname "$0")/../fabric/lib.sh"
use_fabric

tls=$ORDERER_NODE/tls
export FABRIC_CFG_PATH=$CONFIG_DIR
export FABRIC_LOGGING_SPEC=$TIEZHENG_FABRIC_NODE_LOG_SPEC
export ORDERER_GENERAL_LISTENADDRESS=$FABRIC_HOST                        # General.ListenAddress
export ORDERER_GENERAL_LISTENPORT=$ORDERER_PORT                          # General.ListenPort
export ORDERER_GENERAL_LOCALMSPID=OrdererMSP                             # General.LocalMSPID
export ORDERER_GENERAL_LOCALMSPDIR=$ORDERER_NODE/msp                     # General.LocalMSPDir
export ORDERER_GENERAL_BOOTSTRAPMETHOD=none                              # channels join via osnadmin
export ORDERER_GENERAL_TLS_ENABLED=true                                  # General.TLS
export ORDERER_GENERAL_TLS_PRIVATEKEY=$tls/server.key
export ORDERER_GENERAL_TLS_CERTIFICATE=$tls/server.crt
export ORDERER_GENERAL_TLS_ROOTCAS="[$tls/ca.crt]"
export ORDERER_GENERAL_CLUSTER_LISTENADDRESS=$FABRIC_HOST                # General.Cluster: Raft, mutual TLS
export ORDERER_GENERAL_CLUSTER_LISTENPORT=$ORDERER_CLUSTER_PORT
export ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE=$tls/server.crt
export ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY=$tls/server.key
export ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE=$tls/server.crt
export ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY=$tls/server.key
export ORDERER_GENERAL_CLUSTER_ROOTCAS="[$tls/ca.crt]"
export ORDERER_ADMIN_LISTENADDRESS=$FABRIC_HOST:$ORDERER_ADMIN_PORT      # Admin: osnadmin, mutual TLS
export ORDERER_ADMIN_TLS_ENABLED=true
export ORDERER_ADMIN_TLS_CERTIFICATE=$tls/server.crt
export ORDERER_ADMIN_TLS_PRIVATEKEY=$tls/server.key
export ORDERER_ADMIN_TLS_ROOTCAS="[$tls/ca.crt]"
export ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true
export ORDERER_ADMIN_TLS_CLIENTROOTCAS="[$ORDERER_TLS_CA]"
export ORDERER_CHANNELPARTICIPATION_ENABLED=true
export ORDERER_OPERATIONS_LISTENADDRESS=$FABRIC_HOST:$ORDERER_OPS_PORT   # Operations: /healthz, /metrics
export ORDERER_METRICS_PROVIDER=prometheus
export ORDERER_FILELEDGER_LOCATION=$FABRIC_DATA/orderer/ledger           # FileLedger.Location
export ORDERER_CONSENSUS_WALDIR=$FABRIC_DATA/orderer/etcdraft/wal        # Consensus.WALDir
export ORDERER_CONSENSUS_SNAPDIR=$FABRIC_DATA/orderer/etcdraft/snapshot  # Consensus.SnapDir
exec orderer
