// Anchor receipts of a pack (docs/formats.md, "Anchors"; step 20), one checker per receipt kind the browser
// can check offline: `local` (the journal entry, signed with the log key), `fabric` and `evm` (chainanchors.js). Every other kind
// is listed as "not checked in the browser" and gives no assurance: the browser never claims a level it
// did not verify.
import { VerifierError, MalformedInput } from "./errors.js";
import { PackError } from "./reasons.js";
import { toHex } from "./bytes.js";
import { JournalEntry, verifyJournalEntry } from "./anchors.js";
import { checkEvm, checkFabric } from "./chainanchors.js";

function checkLocal(envelope, context) {
  const keys = new Map(context.logKeys.map((k) => [k.fingerprint, k]));
  const shown = envelope.receipts.map((receipt) => {
    const fields = Object.keys(receipt).sort();
    if (fields.join(",") !== "entry,root_hash,tree_size") throw new MalformedInput(`local receipt fields are ${fields}, want entry, root_hash, tree_size`);
    const entry = JournalEntry.fromJson(receipt.entry);
    const key = keys.get(entry.keyId);
    if (key === undefined) throw new MalformedInput(`journal entry seq ${entry.seq} is signed by ${entry.keyId.slice(0, 80)}, not a trusted log key`);
    verifyJournalEntry(entry, key.publicKey);
    if (entry.treeSize !== receipt.tree_size || toHex(entry.rootHash) !== receipt.root_hash) {
      throw new MalformedInput(`journal entry seq ${entry.seq} is for size ${entry.treeSize}, not the receipt's`);
    }
    return { tree_size: entry.treeSize, tx_id: toHex(entry.entryHash()), seq: entry.seq, anchored_at: entry.fields.anchored_at };
  });
  return { kind: "local", status: "verified", detail: `${shown.length} journal entr${shown.length === 1 ? "y" : "ies"} signed by the log key (proves nothing against the operator)`, receipts: shown };
}

/** Receipt checkers by "kind/version". */
export const CHECKERS = { "local/1": checkLocal, "fabric/1": checkFabric, "evm/1": checkEvm };

/** Why the browser does not check a kind (the Python CLI may: compare with `tiezheng verify`). */
const NOT_IN_BROWSER = {
  rfc3161: "RFC 3161 timestamp tokens (CMS, X.509 chains) are not checked in the browser; run tiezheng verify",
  witness: "witness cosignatures are not checked in the browser; run tiezheng verify",
};

/** Step 20: check every anchors/<kind>.json a checker exists for; the others are "not checked". */
export function checkAnchors(content, trustRoot, logKeys) {
  const outcomes = [];
  for (const envelope of [...content.anchors].sort((a, b) => (a.kind < b.kind ? -1 : 1))) {
    const checker = CHECKERS[`${envelope.kind}/${envelope.kindVersion}`];
    if (checker === undefined) {
      const why = NOT_IN_BROWSER[envelope.kind] ?? `this verifier does not know receipt kind ${JSON.stringify(envelope.kind)} version ${envelope.kindVersion}`;
      outcomes.push({ kind: envelope.kind, status: "not checked", detail: why, receipts: [] });
      continue;
    }
    try {
      checkCovered(content, envelope);
      outcomes.push(checker(envelope, { content, trustRoot, logKeys }));
    } catch (exc) {
      if (exc instanceof VerifierError) throw new PackError(`anchor-${envelope.kind}`, `anchors/${envelope.kind}.json: ${exc.message}`, `anchors/${envelope.kind}.json`);
      throw exc;
    }
  }
  return outcomes;
}

function checkCovered(content, envelope) {
  for (const receipt of envelope.receipts) {
    const size = receipt.tree_size, checkpoint = content.checkpoints.get(BigInt(size));
    if (size < content.manifest.treeSize || checkpoint === undefined || toHex(checkpoint.rootHash) !== receipt.root_hash) {
      throw new MalformedInput(`receipt for size ${size} does not match a checkpoint of the pack at least as large as the pack checkpoint (${content.manifest.treeSize})`);
    }
  }
}

/** The assurance level from the kinds this verifier verified: dual-chain needs one tree size and root on both chains. */
export function assuranceOf(outcomes) {
  const verified = new Set(outcomes.filter((o) => o.status === "verified").map((o) => o.kind));
  const anchored = (kind) => new Set(outcomes.filter((o) => o.kind === kind && o.status === "verified").flatMap((o) => o.receipts.map((r) => `${r.tree_size} ${r.root_hash}`)));
  const onFabric = anchored("fabric"), onBoth = [...anchored("evm")].some((pair) => onFabric.has(pair));
  let level = onBoth ? "dual-chain" : onFabric.size ? "fabric" : "signed";
  if (verified.has("rfc3161")) level += "+tsa";
  if (verified.has("witness")) level += "+witnessed";
  return level;
}

