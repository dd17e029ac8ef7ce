// The receipt checkers for trusted time and witnesses (docs/formats.md, "Anchors"): `rfc3161` (RFC 3161
// tokens of a TSA the trust root names, `+tsa`) and `witness` (C2SP cosignatures, `+witnessed` when the
// trust root's quorum of witnesses cosigned). Each receipt's checkpoint note must be signed by a trusted
// log key. A kind the trust root gives no trust for (no TSA, quorum 0) is "not checked".
import { KeyMismatch, MalformedInput } from "./errors.js";
import { equal, toHex, utf8 } from "./bytes.js";
import { b64Field, intField, requireFields, strField } from "./json.js";
import { Checkpoint, keyHash, verifyCheckpoint } from "./checkpoint.js";
import { MAX_TOKEN_BYTES, verifyToken } from "./timestamp.js";
import { reachesQuorum, verifyCosignatures } from "./cosignature.js";

const TSA_FIELDS = ["tree_size", "root_hash", "kind", "tsa", "hash_algorithm", "checkpoint", "token", "gen_time"];
const WITNESS_FIELDS = ["tree_size", "root_hash", "kind", "witness", "timestamp", "checkpoint"];

/** `rfc3161`: each token timestamps its log-signed checkpoint, by a TSA the trust root names. */
export async function checkRfc3161(envelope, context) {
  const authorities = context.trustRoot.timestampAuthorities;
  if (!authorities.length) return { kind: "rfc3161", status: "not checked", detail: "the trust root names no timestamp authority", receipts: [] };
  const shown = [];
  for (const receipt of envelope.receipts) {
    requireFields(receipt, "rfc3161 receipt", TSA_FIELDS);
    const note = logSigned(receipt, context);
    const token = b64Field(receipt, "token", "rfc3161 receipt");
    if (token.length > MAX_TOKEN_BYTES) throw new MalformedInput(`rfc3161 token is ${token.length} bytes, want at most ${MAX_TOKEN_BYTES}`);
    const result = await verifyToken(token, utf8(note.text), authorities);
    shown.push({ tree_size: note.size, tsa: result.authority, serial: result.serial, gen_time: result.genTime });
  }
  const earliest = shown.map((r) => r.gen_time).sort()[0];
  return { kind: "rfc3161", status: "verified", detail: `${shown.length} timestamp token(s) of trusted tsa(s) over the log's checkpoints, the earliest at ${earliest}`, receipts: shown };
}

/** `witness`: the cosignatures of trusted witnesses on log-signed checkpoints, counted against the quorum. */
export function checkWitness(envelope, context) {
  const policy = context.trustRoot.witnesses;
  if (policy.quorum === 0) return { kind: "witness", status: "not checked", detail: "the trust root sets no witness quorum", receipts: [] };
  const cosigners = [], shown = [];
  for (const receipt of envelope.receipts) {
    requireFields(receipt, "witness receipt", WITNESS_FIELDS);
    intField(receipt, "timestamp", "witness receipt");  // the server's reading; the signed one is in the line
    const found = verifyCosignatures(logSigned(receipt, context), policy.keys);
    cosigners.push(...found);
    shown.push(...found.map((c) => ({ tree_size: receipt.tree_size, witness: c.name, timestamp: c.timestamp })));
  }
  const names = [...new Set(cosigners.map((c) => c.name))].sort();
  if (!reachesQuorum(cosigners, policy.quorum)) {
    return { kind: "witness", status: "not checked", detail: `only ${names.length} of the ${policy.quorum} trusted witnesses the quorum needs cosigned (${names.join(", ") || "none"})`, receipts: shown };
  }
  return { kind: "witness", status: "verified", detail: `cosigned by ${names.length} trusted witness(es): ${names.join(", ")}; quorum ${policy.quorum}`, receipts: shown };
}

/** The receipt's checkpoint note, for its tree and root, signed by a trusted log key (KeyMismatch without one). */
export function logSigned(receipt, context) {
  const note = Checkpoint.fromText(strField(receipt, "checkpoint", "receipt"));
  if (note.treeSize !== BigInt(receipt.tree_size) || toHex(note.rootHash) !== receipt.root_hash) {
    throw new MalformedInput(`receipt checkpoint is for size ${note.treeSize}, not the receipt's ${receipt.tree_size}`);
  }
  const keys = context.logKeys.filter((k) => note.signatures.some((s) => s.name === note.origin && equal(s.keyHash, keyHash(note.origin, k.publicKey))));
  if (!keys.length) throw new KeyMismatch(`receipt checkpoint of size ${note.treeSize} has no signature by a trusted log key`);
  for (const key of keys) verifyCheckpoint(note, key.publicKey);
  return note;
}

