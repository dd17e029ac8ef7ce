// Compile EvidenceRegistry.sol with the pinned solc-js into build/EvidenceRegistry.json (git-ignored).
// Usage: node build.mjs [OUT_DIR]. The EVM version is pinned here (and anvil.sh starts the node on the same
// hardfork), so the bytecode never uses an opcode the regulator chain does not have.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

export const EVM_VERSION = "prague";
const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.argv[2] ?? join(here, "build");
const name = "EvidenceRegistry";
const source = readFileSync(join(here, `${name}.sol`), "utf8");

const input = {
  language: "Solidity",
  sources: { [`${name}.sol`]: { content: source } },
  settings: {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

const contract = output.contracts[`${name}.sol`][name];
const artifact = {
  contract: name,
  compiler: `solc-js ${solc.version()}`,
  evm_version: EVM_VERSION,
  source_sha256: createHash("sha256").update(source).digest("hex"),
  abi: contract.abi,
  bytecode: `0x${contract.evm.bytecode.object}`,
  deployed_bytecode: `0x${contract.evm.deployedBytecode.object}`,
};
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
console.log(`built ${join(outDir, `${name}.json`)} (${artifact.compiler}, evm ${EVM_VERSION})`);
