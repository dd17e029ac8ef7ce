#!/usr/bin/env bash
# Install, then run the demo on the embedded default (SQLite, local files, local anchor journal).
#   --fabric       also anchor on the running Fabric network (bash network/fabric/up.sh)
#   --dual-chain   as --fabric, and on a regulator chain of its own (anvil); the day's digest verifies dual-chain
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
case " $* " in *" --dual-chain "*) bash contracts/install.sh ;; esac  # anvil and the compiled registry
exec .venv/bin/tiezheng demo "$@"
