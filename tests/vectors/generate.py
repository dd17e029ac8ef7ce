"""Write the golden vectors under tests/vectors/ (run: python -m tests.vectors.generate).

Proofs come from ledger's Merkle code, media objects from ingest's segments (``generate_segments``).

Each file is one case with ``desc`` and ``want_error``; mutations are named like transparency-dev/merkle's
(``modified-proof@1-bit-@2``). The independent verifier (Python) and the chaincode (Go) must pass them all;
``tests/unit/ledger/test_vectors.py`` checks the committed files equal a fresh generation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ledger.hashing import leaf_hash
from ledger.merkle import Frontier, consistency_proof, inclusion_proof, root_at
from tests.vectors.generate_segments import segment_cases

HERE = Path(__file__).parent
_SIZES = (1, 2, 3, 5, 7, 8, 9, 16, 17, 100)


class _Store(dict):  # type: ignore[type-arg]
    def get_nodes(self, ids: Any) -> dict[Any, bytes]:
        return {i: self[i] for i in ids if i in self}


def _tree(n: int) -> _Store:
    store, frontier = _Store(), Frontier()
    store.update(frontier.append(leaf_hash(f"leaf {i}".encode()) for i in range(n)))
    return store


def _flip(value: str, bit: int = 0) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[0] ^= 1 << bit
    return raw.hex()


def _mutations(case: dict[str, Any], root_key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "happy-path", case
    for k in range(len(case["proof"])):
        yield f"modified-proof@1-bit-@{k}", {**case, "proof": [_flip(h) if i == k else h for i, h in enumerate(case["proof"])]}
    if case["proof"]:
        yield "truncated-proof", {**case, "proof": case["proof"][:-1]}
    yield "extended-proof", {**case, "proof": case["proof"] + [case[root_key]]}
    yield "wrong-root", {**case, root_key: _flip(case[root_key], 3)}


def inclusion_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    for size in _SIZES:
        store = _tree(size)
        for index in sorted({0, size // 2, size - 1}):
            case = {"leaf_index": index, "tree_size": size, "leaf_hash": leaf_hash(f"leaf {index}".encode()).hex(),
                    "root": root_at(store, size).hex(), "proof": [h.hex() for h in inclusion_proof(store, index, size)]}
            for name, mutated in _mutations(case, "root"):
                yield f"inclusion/{size}/{name}-leaf-{index}", mutated
            yield f"inclusion/{size}/wrong-leaf-{index}", {**case, "leaf_hash": _flip(case["leaf_hash"])}


def consistency_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    for size2 in _SIZES:
        store = _tree(size2)
        for size1 in sorted({1, size2 // 2 or 1, size2 - 1 or 1, size2}):
            case = {"size1": size1, "size2": size2, "root1": root_at(store, size1).hex(),
                    "root2": root_at(store, size2).hex(),
                    "proof": [h.hex() for h in consistency_proof(store, size1, size2)]}
            for name, mutated in _mutations(case, "root2"):
                yield f"consistency/{size2}/{name}-from-{size1}", mutated
            if size1 != size2:
                yield f"consistency/{size2}/wrong-first-root-from-{size1}", {**case, "root1": _flip(case["root1"])}


def generate(out: Path = HERE) -> list[Path]:
    """Write every case as ``<out>/<kind>/<size>/<case>.json``; returns the paths written."""
    written = []
    for name, case in [*inclusion_cases(), *consistency_cases(), *segment_cases()]:
        want_error = not name.split("/")[-1].startswith("happy-path")
        body = {"desc": name.split("/")[-1], **case, "want_error": want_error}
        path = out / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=1) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    print(f"wrote {len(generate())} vectors under {HERE}")
