#!/usr/bin/env bash
# Builds Hyperledger Fabric v2.1.1 (peer, orderer, configtxgen, cryptogen, configtxlator, discover) from the
# Go module proxy through the project's wrapper module (network/fabric/module: its go.mod requires
# github.com/hyperledger/fabric v2.1.1+incompatible and pins every dependency), and the checkpoint chaincode
# (chaincode/) as a chaincode-as-a-service binary.
#
#   network/fabric/build.sh
#
# Result (git-ignored, cached by version):
#   .tools/fabric-2.1.1/bin/{peer,orderer,configtxgen,cryptogen,configtxlator,discover}
#   .tools/fabric-2.1.1/config/{core,orderer,configtx}.yaml   Fabric's sampleconfig, rendered from at run time
#   .tools/fabric-2.1.1/build.stamp                          what was built from (go.mod, go.sum, Go version)
#   .tools/fabric-2.1.1/build.log                            the last build's output and timing
#   .tools/chaincode/checkpoints                             the chaincode, rebuilt when chaincode/ changes
# A second run with nothing changed only compares the stamps and takes well under a second. A cold build
# takes about 4 minutes on 2 cores; it runs at the lowest priority (nice 19) because the machine is shared.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || die "go is not installed (Fabric $FABRIC_VERSION needs Go >= 1.21 to build here)"
MODULE=$REPO_ROOT/network/fabric/module
COMMANDS=(peer orderer configtxgen cryptogen configtxlator discover)

# fabric_stamp: what the Fabric binaries are built from; a change rebuilds them.
fabric_stamp() { cat "$MODULE/go.mod" "$MODULE/go.sum" 2>/dev/null | sha256sum | cut -c1-16; go env GOVERSION; }

# chaincode_stamp: a digest of the chaincode's sources; a change rebuilds the binary.
chaincode_stamp() {
  (cd "$REPO_ROOT/chaincode" && find . -name '*.go' -o -name 'go.mod' -o -name 'go.sum' | LC_ALL=C sort |
    xargs sha256sum | sha256sum | cut -c1-16)
  go env GOVERSION
}

# fabric_built: true when every command and the sample config are there and the stamp matches.
fabric_built() {
  local name
  for name in "${COMMANDS[@]}"; do [ -x "$FABRIC_BIN/$name" ] || return 1; done
  [ -f "$FABRIC_TOOLS/config/core.yaml" ] && [ "$(cat "$FABRIC_TOOLS/build.stamp" 2>/dev/null)" = "$(fabric_stamp)" ]
}

# build_fabric: go build every command into FABRIC_BIN, then copies the sample config out of the module cache.
build_fabric() {
  local started name dir
  started=$(date +%s)
  mkdir -p "$FABRIC_BIN" "$FABRIC_TOOLS/config"
  rm -f "$FABRIC_TOOLS/build.stamp"
  for name in "${COMMANDS[@]}"; do
    log "go build github.com/hyperledger/fabric/cmd/$name ($(($(date +%s) - started))s so far)"
    (cd "$MODULE" && GOFLAGS=-mod=mod nice -n 19 go build -trimpath \
      -ldflags "-X github.com/hyperledger/fabric/common/metadata.Version=$FABRIC_VERSION" \
      -o "$FABRIC_BIN/$name" "github.com/hyperledger/fabric/cmd/$name")
  done
  dir=$(cd "$MODULE" && go list -mod=mod -m -f '{{.Dir}}' github.com/hyperledger/fabric)
  cp "$dir"/sampleconfig/{core,orderer,configtx}.yaml "$FABRIC_TOOLS/config/"
  chmod u+w "$FABRIC_TOOLS"/config/*.yaml
  fabric_stamp >"$FABRIC_TOOLS/build.stamp"
  log "fabric $FABRIC_VERSION built in $(($(date +%s) - started))s: $FABRIC_BIN"
}

# build_chaincode: the checkpoint chaincode as a static binary run as a service.
build_chaincode() {
  local out=$TOOLS_DIR/chaincode
  if [ -x "$out/checkpoints" ] && [ "$(cat "$out/build.stamp" 2>/dev/null)" = "$(chaincode_stamp)" ]; then
    return 0
  fi
  mkdir -p "$out"
  log "building the checkpoint chaincode into $out"
  (cd "$REPO_ROOT/chaincode" && CGO_ENABLED=0 nice -n 19 go build -trimpath -o "$out/checkpoints" .)
  chaincode_stamp >"$out/build.stamp"
}

if fabric_built; then
  log "fabric $FABRIC_VERSION already built in $FABRIC_TOOLS (delete build.stamp to rebuild)"
else
  mkdir -p "$FABRIC_TOOLS"
  build_fabric 2>&1 | tee "$FABRIC_TOOLS/build.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || die "the Fabric build failed; see $FABRIC_TOOLS/build.log"
fi
build_chaincode
