// Witness cosignatures (C2SP tlog-cosignature `cosignature/v1`, Ed25519; docs/formats.md, "Witness
// cosignature"): a witness adds a note signature line to the log's checkpoint,
//   — <name> base64( key id[4] || timestamp u64 big-endian || Ed25519 signature[64] )
// with key id = SHA-256(name || "\n" || 0x04 || 32-byte key)[:4], signed over
//   "cosignature/v1\ntime <timestamp>\n" || checkpoint body.
// Only witnesses the trust root names count; lines by other keys are ignored, as C2SP requires; a line that
// names a trusted witness and its key id but does not verify is an error, not an absence.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { VerificationFailed } from "./errors.js";
import { concat, equal, utf8 } from "./bytes.js";

const MAX_TIMESTAMP = 2n ** 63n - 1n;

/** A cosignature that names a trusted witness but does not verify. */
export class CosignatureInvalid extends VerificationFailed {}

/** The 4-byte key id of witness `name` with the raw 32-byte Ed25519 key `raw`. */
export function cosignerKeyId(name, raw) {
  return sha256(concat(utf8(name), Uint8Array.of(10, 4), raw)).slice(0, 4);
}

/** What a cosignature/v1 signs: the header line, the time line and the checkpoint `body`. */
export function cosignedMessage(body, timestamp) {
  return concat(utf8(`cosignature/v1\ntime ${timestamp}\n`), body);
}

/**
 * The trusted witnesses whose cosignature lines on `checkpoint` (a parsed note) verify, as
 * [{name, timestamp}] (timestamp: POSIX seconds, a Number). `witnesses` is the trust root's list
 * ({name, algorithm, spkiDer}); SM2 keys never count (C2SP defines no SM2 cosignature). Raises
 * CosignatureInvalid for a trusted witness's line that does not verify.
 */
export function verifyCosignatures(checkpoint, witnesses) {
  const found = new Map();
  for (const witness of witnesses) {
    if (witness.algorithm !== "ed25519") continue;
    const raw = witness.spkiDer.subarray(12);
    const id = cosignerKeyId(witness.name, raw);
    for (const line of checkpoint.signatures) {
      if (line.name === witness.name && equal(line.keyHash, id)) {
        found.set(witness.name, { name: witness.name, timestamp: verifyLine(checkpoint, witness.name, raw, line.signature) });
      }
    }
  }
  return [...found.values()];
}

function verifyLine(checkpoint, name, raw, blob) {
  if (blob.length !== 8 + 64) throw new CosignatureInvalid(`cosignature by ${name} is ${blob.length} bytes after its key id, want 72`);
  let timestamp = 0n;
  for (const byte of blob.subarray(0, 8)) timestamp = (timestamp << 8n) | BigInt(byte);
  if (timestamp > MAX_TIMESTAMP) throw new CosignatureInvalid(`cosignature by ${name} has timestamp ${timestamp} beyond 2^63 - 1`);
  let valid = false;
  try {
    valid = ed25519.verify(blob.subarray(8), cosignedMessage(checkpoint.body, timestamp), raw, { zip215: false });
  } catch {
    valid = false;  // a signature or key noble cannot even decode does not verify
  }
  if (!valid) throw new CosignatureInvalid(`cosignature by ${name} does not verify over checkpoint ${checkpoint.origin} size ${checkpoint.treeSize}`);
  return Number(timestamp) <= Number.MAX_SAFE_INTEGER ? Number(timestamp) : timestamp.toString();
}

/** Whether distinct trusted witnesses among `cosigners` reach `quorum` (0 never does: it claims nothing). */
export function reachesQuorum(cosigners, quorum) {
  return quorum > 0 && new Set(cosigners.map((c) => c.name)).size >= quorum;
}
