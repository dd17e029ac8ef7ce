#!/usr/bin/env bash
# Runs the checkpoint chaincode as a service for the peer of organisation N, in the foreground, bound to
# 127.0.0.1 with TLS (the peer must present a certificate of organisation N's TLS CA).
#
#   network/nodes/fabric-ccaas.sh 1|2
#
# Needs the chaincode binary and the package ID that network/fabric/up.sh writes to
# .tiezheng/fabric/chaincode/ (the peer installs the package, whose connection.json points here).
set -euo pipefail
# shellcheck source=../fabric/lib.sh
. "$(dirname "$0")/../fabric/lib.sh"
n=${1:?usage: fabric-ccaas.sh 1|2}
case "$n" in 1 | 2) ;; *) die "no peer organisation $n (1 or 2)" ;; esac

port_var="CCAAS${n}_PORT"
tls=$(org_dir "$n")/peers/ccaas.org$n.example.com/tls
[ -x "$CC_DIR/checkpoints" ] || die "no chaincode binary in $CC_DIR; run network/fabric/up.sh"
[ -s "$CC_DIR/org$n.package-id" ] || die "chaincode not installed on peer $n; run network/fabric/up.sh"
CHAINCODE_ID=$(cat "$CC_DIR/org$n.package-id")
export CHAINCODE_ID
export CHAINCODE_SERVER_ADDRESS=$FABRIC_HOST:${!port_var}
export CHAINCODE_TLS_CERT_FILE=$tls/server.crt
export CHAINCODE_TLS_KEY_FILE=$tls/server.key
export CHAINCODE_TLS_CLIENT_CA_FILE=$tls/ca.crt
exec "$CC_DIR/checkpoints"
