// The pack's chain receipts (docs/formats.md, "Anchors"): `anchors/fabric.json` (the business chain) and
// `anchors/evm.json` (the regulator chain), checked offline as `tiezheng verify` checks them. Each checker
// takes the envelope and the context of packanchors.js and returns an outcome, or raises a verifier error
// (reason anchor-fabric or anchor-evm). Without the trust-root section a kind needs, it is "not checked".
import { AnchorMismatch, KeyMismatch, MalformedInput } from "./errors.js";
import { equal, toHex } from "./bytes.js";
import { Checkpoint, keyHash, verifyCheckpoint } from "./checkpoint.js";
import { parseFabricReceipt, verifyFabricReceipt } from "./fabric.js";
import { parseEvmReceipt, verifyEvmAnchor } from "./evm.js";

const FABRIC_OFFLINE = "not checked offline: that the block is on the channel's ledger, and its validation code VALID, which the serving peer writes and no orderer signs";
const EVM_OFFLINE = "not checked offline: that the block is on the regulator chain and final";
const EVM_NO_TRANSACTIONS = "and, for receipts without the block's raw transactions, the transaction's hash and signer";

/** `fabric/1`: each receipt's block against the trust root's Fabric orgs; the stored checkpoint is the pack's. */
export function checkFabric(envelope, context) {
  const network = context.trustRoot.fabric;
  if (network === null) return { kind: "fabric", status: "not checked", detail: "the trust root names no Fabric network", receipts: [] };
  const orderers = new Set();
  const shown = envelope.receipts.map((value) => {
    const receipt = parseFabricReceipt(value);
    const found = verifyFabricReceipt(receipt, network);
    const stored = Checkpoint.fromText(found.checkpointText);
    if (stored.origin !== found.origin || stored.treeSize !== BigInt(receipt.treeSize) || !equal(stored.rootHash, receipt.rootHash)) {
      throw new AnchorMismatch("fabric anchor: the stored checkpoint text does not match the stored record");
    }
    if (stored.origin !== context.content.manifest.origin) {
      throw new AnchorMismatch(`fabric anchor stores a checkpoint of log ${JSON.stringify(stored.origin.slice(0, 80))}, not of ${JSON.stringify(context.content.manifest.origin)}`);
    }
    signedByTrustedKey(stored, context.logKeys);
    orderers.add(found.orderer.mspId);
    return { tree_size: receipt.treeSize, root_hash: toHex(receipt.rootHash), tx_id: receipt.txId, block_number: receipt.blockNumber, endorsed_by: found.endorsedBy.join(", ") };
  });
  const orgs = [...new Set(shown.flatMap((r) => r.endorsed_by.split(", ")))].sort();
  return {
    kind: "fabric", status: "verified", receipts: shown,
    detail: `${shown.length} Fabric transaction(s) on channel ${network.channel}, endorsed by ${orgs.join(", ")}, block signed by ${[...orderers].sort().join(", ")} (${FABRIC_OFFLINE})`,
  };
}

// The stored checkpoint is signed by a key the trust root names for the log (KeyMismatch without one).
function signedByTrustedKey(note, logKeys) {
  const keys = logKeys.filter((k) => note.signatures.some((s) => s.name === note.origin && equal(s.keyHash, keyHash(note.origin, k.publicKey))));
  if (!keys.length) throw new KeyMismatch(`receipt checkpoint of size ${note.treeSize} has no signature by a trusted log key`);
  for (const key of keys) verifyCheckpoint(note, key.publicKey);
}

/** `evm/1`: each receipt's block commits to a trusted registry's log of exactly the pack's checkpoint. */
export function checkEvm(envelope, context) {
  const trustRoot = context.trustRoot;
  if (!trustRoot.regulatorChains.length) return { kind: "evm", status: "not checked", detail: "the trust root names no regulator chain", receipts: [] };
  let bare = false;
  const shown = envelope.receipts.map((value) => {
    const receipt = parseEvmReceipt(value);
    const checkpoint = context.content.checkpoints.get(BigInt(receipt.treeSize));
    if (checkpoint === undefined) throw new MalformedInput(`evm receipt for size ${receipt.treeSize} has no checkpoint in the pack`);
    const chain = verifyEvmAnchor(receipt, checkpoint, trustRoot);
    bare ||= receipt.evidence.transactions === null;
    return { tree_size: receipt.treeSize, root_hash: toHex(receipt.rootHash), tx_id: toHex(receipt.evidence.txHash), block_number: receipt.evidence.blockNumber, chain_id: chain.chainId, contract: chain.contract };
  });
  return {
    kind: "evm", status: "verified", receipts: shown,
    detail: `${shown.length} regulator-chain transaction(s) logging the checkpoint (${EVM_OFFLINE}${bare ? `, ${EVM_NO_TRANSACTIONS}` : ""})`,
  };
}
