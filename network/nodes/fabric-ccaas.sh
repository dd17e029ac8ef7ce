#!/usr/bin/env bash
# Runs the checkpoint chaincode as a service for the peer of organisation N, in the foreground, bound to
# 127.0.0.1 with mutual TLS (the peer must present a certificate of organisation N's TLS CA).
#
#   network/nodes/fabric-ccaas.sh 1|2
#
# Needs the chaincode binary (network/fabric/build.sh) and the package ID that network/fabric/up.sh records
# when it installs organisation N's package (whose connection.json points here).
set -euo pipefail
# shellcheck source=../fabric/lib.sh
. "$(dirname "$0")/../fabric/lib.sh"
n=${1:?usage: fabric-ccaas.sh 1|2}
case "$n" in 1 | 2) ;; *) die "no peer organisation $n (1 or 2)" ;; esac

tls=$(org_dir "$n")/peers/ccaas.org$n.tiezheng.local/tls
[ -x "$CHAINCODE_BIN" ] || die "no chaincode binary at $CHAINCODE_BIN; run: bash network/fabric/build.sh"
[ -s "$CC_DIR/org$n.package-id" ] || die "the chaincode is not installed on peer $n; run: bash network/fabric/up.sh"
CHAINCODE_ID=$(cat "$CC_DIR/org$n.package-id")
export CHAINCODE_ID                                                         # the package ID the peer knows
export CHAINCODE_SERVER_ADDRESS=$FABRIC_HOST:$(var "CCAAS${n}_PORT")       # where the peer dials it
export CHAINCODE_TLS_CERT_FILE=$tls/server.crt
export CHAINCODE_TLS_KEY_FILE=$tls/server.key
export CHAINCODE_TLS_CLIENT_CA_FILE=$tls/ca.crt                             # the peer's client certificate
exec "$CHAINCODE_BIN"
