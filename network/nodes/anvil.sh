#!/usr/bin/env bash
# The regulator-chain dev node, natively: one anvil on 127.0.0.1, state under ${TIEZHENG_STATE}/anvil
# (.tiezheng/services/anvil), kept across restarts (--state: loaded on start, written on stop).
# Usage: anvil.sh up|down|status|url
#   up      installs anvil (contracts/install.sh: npm ci) if needed, starts it, waits until it answers
#   down    stops it (its state is written to $STATE/anvil/state.json first)
#   status  running or stopped, and where
#   url     http://127.0.0.1:PORT, what `tiezheng evm deploy --rpc` and the evm backend take
# Defaults (ANVIL_PORT, ANVIL_CHAIN_ID, ANVIL_HARDFORK, ANVIL_BLOCK_TIME) are in network/config/anvil.config.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
# shellcheck source=../config/anvil.config
. "$here/../config/anvil.config"
# shellcheck source=native.sh
. "$here/native.sh"

BIN=$root/contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
NATIVE_NAME=anvil NATIVE_WHERE=127.0.0.1:$ANVIL_PORT NATIVE_TIMEOUT=$ANVIL_START_TIMEOUT
NATIVE_KEEPS="chain id $ANVIL_CHAIN_ID, $ANVIL_HARDFORK, state in $STATE/anvil"

install() { [ -x "$BIN" ] || bash "$root/contracts/install.sh" >&2; }

ready() {
  curl -fsS -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$ANVIL_PORT" | grep -q result
}

launch() {
  install
  [ -x "$BIN" ] || die "no anvil binary at $BIN (this platform is not linux-amd64?)"
  mkdir -p "$STATE/anvil"
  local args=(--host 127.0.0.1 --port "$ANVIL_PORT" --chain-id "$ANVIL_CHAIN_ID" --hardfork "$ANVIL_HARDFORK"
              --state "$STATE/anvil/state.json" --preserve-historical-states)
  [ -n "$ANVIL_BLOCK_TIME" ] && args+=(--block-time "$ANVIL_BLOCK_TIME")
  native_start anvil "$BIN" "${args[@]}"
}

url() { echo "http://127.0.0.1:$ANVIL_PORT"; }

native_main "$@"
