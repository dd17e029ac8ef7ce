"""Verify time of the captured two-chain pack (``tests/vectors/chainpack``: a Fabric block and an anvil block
besides the pack's 13 events) by the Python verifier, by verify.html's bundle in headless Chromium, and by
its core on Node; and, for scale, of the same pack with a trust root naming no chain (the chain receipts
then "not checked"), so the cost of the Fabric and EVM checks shows on its own.

Run: .venv/bin/python -m bench.web_chain_pack [rounds, default 20]
Needs the built verify.html (bash verifier/web/build.sh) and /usr/bin/chromium. The machine is shared by
several engineers: figures are noisy, compare the ratios.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.verify_html_kit import WEB, open_verifier
from tests.tamper.chain import chain_source
from verifier.pack import verify_pack
from verifier.trust import TrustRoot
from verifier.web import verify_html_path

_TIMED = """([root, pack, rounds]) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const trust = bytes(root), zip = bytes(pack);
  let last = null;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) last = window.tiezhengVerify({ zip }, trust);
  return { ms: (performance.now() - start) / rounds, reason: last.reason };
}"""

_NODE = """import { readFileSync } from "node:fs";
import { verifyPack } from "./src/index.js";
const [pack, root, rounds] = [readFileSync(process.argv[2]), readFileSync(process.argv[3]), Number(process.argv[4])];
const source = { zip: new Uint8Array(pack) }, trust = new Uint8Array(root);
let last = verifyPack(source, trust);
const start = performance.now();
for (let i = 0; i < rounds; i++) last = verifyPack(source, trust);
console.log(JSON.stringify({ ms: (performance.now() - start) / rounds, assurance: last.assurance ?? last.reason }));
"""


def _python_ms(data: bytes, root: dict[str, object], rounds: int) -> tuple[float, str]:
    trust = TrustRoot.from_bytes(json.dumps(root).encode())
    report = verify_pack(data, trust_root=trust)
    start = time.perf_counter()
    for _ in range(rounds):
        verify_pack(data, trust_root=trust)
    return 1000 * (time.perf_counter() - start) / rounds, str(report.assurance)


def _node_ms(data: bytes, root: dict[str, object], rounds: int, scratch: Path) -> tuple[float, str]:
    pack, trust, script = scratch / "pack.zip", scratch / "root.json", WEB / ".bench-chain.mjs"
    pack.write_bytes(data)
    trust.write_text(json.dumps(root), encoding="utf-8")
    script.write_text(_NODE, encoding="utf-8")
    try:
        out = subprocess.run(["node", script.name, str(pack), str(trust), str(rounds)], cwd=WEB, check=True,
                             capture_output=True, text=True).stdout
    finally:
        script.unlink()
    result = json.loads(out)
    return float(result["ms"]), str(result["assurance"])


def main(rounds: int = 20) -> int:
    """Print the figures; 0 when all three verifiers reach dual-chain on the pack."""
    source, root = chain_source()
    bare = {**root, "fabric": None, "regulator_chains": []}
    figures = {}
    with tempfile.TemporaryDirectory() as folder, open_verifier(verify_html_path()) as page:
        for name, trust in (("two chains", root), ("no chain trusted", bare)):
            py_ms, py_level = _python_ms(source.data, trust, rounds)
            page.page.evaluate(_TIMED, [base64.b64encode(json.dumps(trust).encode()).decode(),
                                        base64.b64encode(source.data).decode(), 1])  # warm the page's engine
            web = page.page.evaluate(_TIMED, [base64.b64encode(json.dumps(trust).encode()).decode(),
                                              base64.b64encode(source.data).decode(), rounds])
            node_ms, node_level = _node_ms(source.data, trust, rounds, Path(folder))
            figures[name] = (py_ms, web["ms"], node_ms)
            print(f"{name}: python {py_ms:.1f} ms ({py_level}); chromium {web['ms']:.1f} ms; node {node_ms:.1f} ms "
                  f"({node_level}); chromium/python {web['ms'] / py_ms:.2f}")
    for i, who in enumerate(("python", "chromium", "node")):
        extra = figures["two chains"][i] - figures["no chain trusted"][i]
        print(f"{who}: the Fabric and EVM checks add {extra:.1f} ms per pack")
    print(f"pack {len(source.data)} bytes, {rounds} rounds each (shared 2-core machine: noisy)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*(int(a) for a in sys.argv[1:2])))
