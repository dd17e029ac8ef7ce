#!/usr/bin/env bash
# Generates the network's crypto material with cryptogen (network/config/crypto-config.yaml) into
# .tiezheng/services/fabric/crypto, once, such that every CA certificate (each organisation's CA and TLS CA)
# is signed with a low-S ECDSA signature.
#
#   network/fabric/crypto.sh          generate what is missing; then check all CA certificates
#   network/fabric/crypto.sh --check  only check (exit 1 if a CA certificate is high-S or missing)
#
# Why: Fabric 2.1's MSP re-encodes certificates so that Go >= 1.19 refuses a CA whose signature has a high
# S value ("x509: certificate signed by unknown authority" at orderer and peer start; fixed upstream in
# 2.5), and cryptogen makes such a CA about half the time. Organisations are independent, so cryptogen runs
# on the whole config and each organisation whose two CAs are both low-S is kept; the rest are generated
# again (on average 4 rounds per organisation).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
use_fabric

ORG_DIRS=(ordererOrganizations/orderer.tiezheng.local peerOrganizations/org1.tiezheng.local
  peerOrganizations/org2.tiezheng.local)
MAX_ROUNDS=64

# low_s ORG_DIR: true when the org's CA and TLS CA certificates both carry low-S signatures.
low_s() { python3 "$REPO_ROOT/network/fabric/low_s.py" "$1"/ca/*-cert.pem "$1"/tlsca/*-cert.pem >/dev/null; }

# check_all: every organisation is there with low-S CAs.
check_all() {
  local org
  for org in "${ORG_DIRS[@]}"; do
    [ -d "$FABRIC_CRYPTO/$org/ca" ] || { log "no crypto material for $org in $FABRIC_CRYPTO"; return 1; }
    low_s "$FABRIC_CRYPTO/$org" || { log "a CA of $org has a high-S signature"; return 1; }
  done
}

# generate: cryptogen rounds until every organisation is in place.
generate() {
  local round tmp org missing
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  for ((round = 1; round <= MAX_ROUNDS; round++)); do
    missing=0
    for org in "${ORG_DIRS[@]}"; do [ -d "$FABRIC_CRYPTO/$org" ] || missing=$((missing + 1)); done
    [ "$missing" -eq 0 ] && { log "crypto material ready after $((round - 1)) cryptogen round(s)"; return 0; }
    rm -rf "$tmp/out"
    cryptogen generate --config="$REPO_ROOT/network/config/crypto-config.yaml" --output="$tmp/out" >/dev/null
    for org in "${ORG_DIRS[@]}"; do
      if [ ! -d "$FABRIC_CRYPTO/$org" ] && low_s "$tmp/out/$org"; then
        mkdir -p "$(dirname "$FABRIC_CRYPTO/$org")"
        mv "$tmp/out/$org" "$FABRIC_CRYPTO/$org"
      fi
    done
  done
  die "cryptogen made high-S CA certificates $MAX_ROUNDS times in a row; check network/fabric/low_s.py"
}

case "${1:-}" in
  --check) check_all ;;
  "")
    if [ ! -d "$FABRIC_CRYPTO/${ORG_DIRS[0]}" ] || [ ! -d "$FABRIC_CRYPTO/${ORG_DIRS[2]}" ] ||
      [ ! -d "$FABRIC_CRYPTO/${ORG_DIRS[1]}" ]; then
      log "generating crypto material in $FABRIC_CRYPTO"
      generate
    fi
    check_all || die "crypto material in $FABRIC_CRYPTO is unusable; delete it (down.sh --purge) and run up.sh"
    ;;
  *) die "usage: crypto.sh [--check]" ;;
esac
