"""The one place ``ledger`` imports web3 and eth-account, so their import side effects are undone once.

py_ecc (imported by eth-account's dependencies) raises the interpreter's recursion limit to 100 000 when
it is first imported. The service's parsers rely on the default limit to refuse deeply nested input: with
it raised, a JSON body nested 90 000 levels deep overflows the C stack and kills the process (seen:
SIGSEGV in ``json.loads``). So the limit is put back right after the first import; nothing Tiezheng
calls in py_ecc needs it (signing uses eth-keys' secp256k1, not py_ecc's pairings).
"""

from __future__ import annotations

import sys

_limit = sys.getrecursionlimit()
try:
    import eth_account
    import web3
finally:
    sys.setrecursionlimit(_limit)

__all__ = ["eth_account", "web3"]
