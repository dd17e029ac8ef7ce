"""Importing the regulator-chain client keeps the interpreter's recursion limit (py_ecc raises it to 100 000
on import, and the service's JSON parser relies on the default to refuse deep nesting instead of crashing)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_ledger_evm_keeps_the_recursion_limit_and_deep_json_is_refused() -> None:
    code = (
        "import sys; before = sys.getrecursionlimit()\n"
        "import ledger.anchors.evm, ledger.evm, web3\n"
        "assert sys.getrecursionlimit() == before, sys.getrecursionlimit()\n"
        "from ledger.errors import MalformedInput\n"
        "from ledger.strict_json import loads\n"
        "try:\n"
        "    loads(b'[' * 90000 + b']' * 90000)\n"
        "except MalformedInput as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]  # -11 (SIGSEGV) with py_ecc's limit
    assert done.stdout.strip() == "body nests too deeply"
