#!/usr/bin/env bash
# The test RFC 3161 TSA (network/tsa/tsa.py: openssl ts -reply behind HTTP) on 127.0.0.1, state under
# ${TIEZHENG_STATE}/tsa (.tiezheng/services/tsa): root.pem is the root a verifier trusts.
# Usage: tsa.sh up|down|status|url      (TSA_PORT, default 8318)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=native.sh
. "$here/native.sh"
TSA_PORT=${TSA_PORT:-8318}
PYTHON=${PYTHON:-$(cd "$here/../.." && pwd)/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
NATIVE_NAME=tsa NATIVE_WHERE=http://127.0.0.1:$TSA_PORT/ NATIVE_TIMEOUT=20
NATIVE_KEEPS="root certificate $STATE/tsa/root.pem"

ready() { curl -fsS -o /dev/null "http://127.0.0.1:$TSA_PORT/root.pem"; }

launch() {
  command -v openssl >/dev/null || die "openssl is not installed; the test TSA runs openssl ts -reply"
  native_start tsa "$PYTHON" "$here/../tsa/tsa.py" --state "$STATE/tsa" --port "$TSA_PORT"
}

url() { echo "http://127.0.0.1:$TSA_PORT/"; }

native_main "$@"
