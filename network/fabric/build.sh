#!/usr/bin/env bash
# Builds the Hyperledger Fabric binaries from source with `go install` through the Go module proxy.
#
#   network/fabric/build.sh
#
# Result: ${TIEZHENG_TOOLS:-~/.cache/tiezheng/tools}/fabric/<commit>/
#   bin/{peer,orderer,configtxgen,cryptogen,osnadmin}   github.com/hyperledger/fabric/cmd/...
#   ccaas/bin/{detect,build,release}                    nested module github.com/hyperledger/fabric/ccaas_builder
#   sampleconfig.path                                   where the module's sampleconfig/ lies in the module
#                                                       cache; configs are rendered from it at run time
#   build.log                                           what was tried, how long it took, what failed
# Idempotent: a complete build is skipped. Builds run at the lowest priority, one package at a time
# (nice -n 19, -p 1), because they share the machine. If the primary commit (v3.1.5) fails, the fallback
# (v2.5.16) is tried, and the reason stays in the primary's build.log.
#
# Fabric's go.mod says `module github.com/hyperledger/fabric` (no /v3), so its v2/v3 tags are not module
# versions: the commit is resolved to the pseudo-version the proxy serves (v1.4.0-rc1.0.<time>-<hash>; the
# nested module has no tags of its own, so v0.0.0-<time>-<hash>; see network.config). Both the
# pseudo-version and the bare commit hash (which the proxy resolves itself) are tried.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || die "go is not installed"
export GOFLAGS="${GOFLAGS:-} -p=1"

# go_install GOBIN MODULE VERSION PKG...: go install PKG@VERSION for every PKG of MODULE into GOBIN.
go_install() {
  local gobin=$1 version=$3 pkg args=()
  shift 3
  for pkg in "$@"; do args+=("$pkg@$version"); done
  log "go install ${args[*]}"
  GOBIN=$gobin nice -n 19 go install -trimpath "${args[@]}"
}

# install_module GOBIN MODULE "VERSION..." NAMES...: installs MODULE/cmd/NAME for the missing NAMEs,
# trying each VERSION spelling in turn.
install_module() {
  local gobin=$1 module=$2 versions=$3 version name pkgs=()
  shift 3
  for name in "$@"; do [ -x "$gobin/$name" ] || pkgs+=("$module/cmd/$name"); done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  for version in $versions; do
    go_install "$gobin" "$module" "$version" "${pkgs[@]}" && return 0
  done
  return 1
}

# build_commit COMMIT FABRIC_PSEUDO CCAAS_PSEUDO: builds everything for COMMIT into FABRIC_TOOLS/COMMIT;
# returns 1 if any of it fails.
build_commit() {
  local commit=$1 fabric_pseudo=$2 ccaas_pseudo=$3 home=$FABRIC_TOOLS/$1 started dir failed=
  mkdir -p "$home/bin" "$home/ccaas/bin"
  if fabric_complete "$home"; then
    log "fabric $commit: already built in $home"
    return 0
  fi
  started=$(date +%s)
  log "fabric $commit: building into $home"
  # Both modules are tried even if the first fails, so build.log says which of them could be had.
  install_module "$home/bin" github.com/hyperledger/fabric "$fabric_pseudo $commit" \
    "${FABRIC_BINARIES[@]}" || failed="github.com/hyperledger/fabric"
  install_module "$home/ccaas/bin" github.com/hyperledger/fabric/ccaas_builder "$ccaas_pseudo $commit" \
    "${CCAAS_BINARIES[@]}" || failed="${failed:+$failed and }github.com/hyperledger/fabric/ccaas_builder"
  if [ -n "$failed" ]; then
    log "fabric $commit: $failed could not be built (after $(($(date +%s) - started))s)"
    return 1
  fi
  log "fabric $commit: binaries done after $(($(date +%s) - started))s"
  # The sample config (core.yaml, orderer.yaml, configtx.yaml) is read from the module cache at run time.
  dir=$(go mod download -json "github.com/hyperledger/fabric@$fabric_pseudo" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p') || return 1
  [ -f "$dir/sampleconfig/core.yaml" ] || { log "no sampleconfig in the module cache ($dir)"; return 1; }
  echo "$dir/sampleconfig" >"$home/sampleconfig.path"
  log "fabric $commit: complete after $(($(date +%s) - started))s: $home"
}

# build_logged COMMIT FABRIC_PSEUDO CCAAS_PSEUDO: build_commit, its output appended to .../build.log.
build_logged() {
  mkdir -p "$FABRIC_TOOLS/$1"
  build_commit "$@" 2>&1 | tee -a "$FABRIC_TOOLS/$1/build.log"
  return "${PIPESTATUS[0]}"
}

if [ -n "${TIEZHENG_FABRIC_HOME:-}" ]; then
  log "TIEZHENG_FABRIC_HOME is set ($TIEZHENG_FABRIC_HOME): using that Fabric, building nothing"
  fabric_complete "$TIEZHENG_FABRIC_HOME" || die "$TIEZHENG_FABRIC_HOME lacks bin/, ccaas/bin/ or sampleconfig.path"
  exit 0
fi
build_logged "$FABRIC_COMMIT" "$FABRIC_PSEUDO_VERSION" "$CCAAS_PSEUDO_VERSION" && exit 0
log "fabric $FABRIC_COMMIT failed (see $FABRIC_TOOLS/$FABRIC_COMMIT/build.log); trying $FABRIC_FALLBACK_COMMIT" |
  tee -a "$FABRIC_TOOLS/$FABRIC_COMMIT/build.log"
build_logged "$FABRIC_FALLBACK_COMMIT" "$FABRIC_FALLBACK_PSEUDO_VERSION" "$CCAAS_FALLBACK_PSEUDO_VERSION" && exit 0
die "no Fabric could be built; see the build.log files under $FABRIC_TOOLS (an existing install can be used with TIEZHENG_FABRIC_HOME=DIR holding bin/, ccaas/bin/ and sampleconfig.path)"
