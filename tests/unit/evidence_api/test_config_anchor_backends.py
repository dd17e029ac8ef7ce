"""``TIEZHENG_ANCHOR_BACKENDS`` and the evm settings: what the service refuses to start with."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from evidence_api.config import Settings

EVM = {"evm_rpc_url": "http://127.0.0.1:38545", "evm_contract": "0x" + "ab" * 20, "evm_operator_key": Path("op.key")}


def test_anchor_backends_default_is_the_local_journal() -> None:
    assert Settings(_env_file=None).backends() == ["local"]  # type: ignore[call-arg]


def test_anchor_backends_local_and_evm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEZHENG_ANCHOR_BACKENDS", "local, evm")
    settings = Settings(_env_file=None, **EVM)  # type: ignore[call-arg]
    assert settings.backends() == ["local", "evm"]


@pytest.mark.parametrize(("backends", "extra", "match"), [
    ("local,chain", EVM, "lists one or more of local, fabric, evm"),
    (",", EVM, "lists one or more of local, fabric, evm"),
    ("evm", {}, "needs TIEZHENG_EVM_RPC_URL, TIEZHENG_EVM_CONTRACT, TIEZHENG_EVM_OPERATOR_KEY"),
    ("evm", {**EVM, "evm_confirmations": 0}, "TIEZHENG_EVM_CONFIRMATIONS must be at least 1"),
])
def test_anchor_backends_refused(backends: str, extra: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Settings(_env_file=None, anchor_backends=backends, **extra)  # type: ignore[arg-type]
