"""``tiezheng evm deploy``: put the registry contract on a regulator chain and print what to configure.

Thin (STYLE.md item 3): load the operator key and the compiled artifact, call ``Registry.deploy``, print
the contract address, the trust root's ``regulator_chains`` entry and the settings that enable the ``evm``
anchor backend; ``LedgerError`` becomes exit 1 (the chain refused) or 2 (unusable input).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from ledger.errors import EvmError, KeyMaterialError, LedgerError, MalformedInput
from ledger.evm import DEFAULT_ARTIFACT, Artifact, OperatorKey, Registry

__all__ = ["deploy_command"]


def deploy_command(*, rpc: str, operator_key: Path, operators: list[str], artifact: Path | None,
                   timeout: float) -> int:
    """Deploy the registry on the chain at ``rpc`` with the transaction signed by ``operator_key``.

    ``operators`` are the accounts that may write (default: the key's own address); ``artifact`` the
    compiled contract (default: ``contracts/build/EvidenceRegistry.json``). Prints the result and returns
    0, 1 (the chain is unreachable or refused the deployment) or 2 (bad key, artifact or address).
    """
    out = Console(highlight=False, soft_wrap=True)
    try:
        key = OperatorKey.from_file(operator_key)
        compiled = Artifact.load(artifact or DEFAULT_ARTIFACT)
        _, deployed = Registry.deploy(rpc, key, bytecode=compiled.bytecode, operators=operators or None,
                                      timeout=timeout)
    except (KeyMaterialError, MalformedInput, ValueError) as exc:
        out.print(f"[red]UNUSABLE INPUT: {exc}[/red]")
        return 2
    except (EvmError, LedgerError) as exc:
        out.print(f"[red]FAILED: {exc}[/red]")
        return 1
    snippet = {"regulator_chains": [deployed.trust_root_entry()]}
    print(f"registry deployed at {deployed.contract} on chain {deployed.chain_id} "
          f"(block {deployed.block_number}, tx {deployed.tx_hash}; {compiled.compiler}, evm {compiled.evm_version})")
    print(f"operators: {', '.join(deployed.operators)}")
    print("\ntrust root: add this entry to the regulator_chains section of the verifiers' trust-root.json:")
    print(json.dumps(snippet, indent=2))
    print("\nservice: anchor to it with these settings (environment or .env):")
    for name, value in (("ANCHOR_BACKENDS", "local,evm"), ("EVM_RPC_URL", rpc), ("EVM_CONTRACT", deployed.contract),
                        ("EVM_OPERATOR_KEY", str(operator_key.resolve())), ("EVM_FROM_BLOCK", deployed.block_number)):
        print(f"TIEZHENG_{name}={value}")
    return 0
