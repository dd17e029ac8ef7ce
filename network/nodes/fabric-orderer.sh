#!/usr/bin/env bash
# Runs Raft orderer K (orderer{K}.orderer.tiezheng.local, OrdererMSP) in the foreground, bound to 127.0.0.1.
#
#   network/nodes/fabric-orderer.sh 0|1|2
#
# Reads the orderer.yaml that network/fabric/up.sh copied from Fabric's sampleconfig and overrides it with
# ORDERER_* variables; ports come from network/config/fabric.config. It boots from the system channel's
# genesis block (Fabric 2.1 has no channel participation API). up.sh starts it in the background; run it by
# hand to watch its log.
set -euo pipefail
# shellcheck source=../fabric/lib.sh
. "$(dirname "$0")/../fabric/lib.sh"
k=${1:?usage: fabric-orderer.sh 0|1|2}
case "$k" in 0 | 1 | 2) ;; *) die "no orderer $k (0, 1 or 2)" ;; esac
use_fabric

tls=$(orderer_dir "$k")/tls
data=$FABRIC_DATA/orderer$k
export FABRIC_CFG_PATH=$CONFIG_DIR
export FABRIC_LOGGING_SPEC=$TIEZHENG_FABRIC_NODE_LOG_SPEC
export ORDERER_GENERAL_LISTENADDRESS=$FABRIC_HOST                          # General.ListenAddress
export ORDERER_GENERAL_LISTENPORT=$(var "ORDERER${k}_PORT")                # General.ListenPort
export ORDERER_GENERAL_LOCALMSPID=OrdererMSP                               # General.LocalMSPID
export ORDERER_GENERAL_LOCALMSPDIR=$(orderer_dir "$k")/msp                 # General.LocalMSPDir
export ORDERER_GENERAL_BOOTSTRAPMETHOD=file                                # General.BootstrapMethod
export ORDERER_GENERAL_BOOTSTRAPFILE=$SYSTEM_GENESIS                       # the system channel's block 0
export ORDERER_GENERAL_TLS_ENABLED=true                                    # General.TLS: clients
export ORDERER_GENERAL_TLS_PRIVATEKEY=$tls/server.key
export ORDERER_GENERAL_TLS_CERTIFICATE=$tls/server.crt
export ORDERER_GENERAL_TLS_ROOTCAS="[$tls/ca.crt]"
export ORDERER_GENERAL_CLUSTER_LISTENADDRESS=$FABRIC_HOST                  # General.Cluster: Raft, mutual TLS
export ORDERER_GENERAL_CLUSTER_LISTENPORT=$(var "ORDERER${k}_CLUSTER_PORT")
export ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE=$tls/server.crt
export ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY=$tls/server.key
export ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE=$tls/server.crt
export ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY=$tls/server.key
export ORDERER_GENERAL_CLUSTER_ROOTCAS="[$tls/ca.crt]"
export ORDERER_OPERATIONS_LISTENADDRESS=$FABRIC_HOST:$(var "ORDERER${k}_OPS_PORT")  # /healthz, /metrics
export ORDERER_METRICS_PROVIDER=prometheus
export ORDERER_FILELEDGER_LOCATION=$data/ledger                            # FileLedger.Location
export ORDERER_CONSENSUS_WALDIR=$data/etcdraft/wal                         # Consensus.WALDir
export ORDERER_CONSENSUS_SNAPDIR=$data/etcdraft/snapshot                   # Consensus.SnapDir
exec orderer
