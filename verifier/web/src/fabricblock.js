// Checks of a Fabric block on its own (docs/formats.md, "Fabric anchor receipt"), as Fabric 2.x defines
// them (protoutil/blockutils.go; the same through 3.x):
// - the header's data hash is SHA-256 over the concatenated envelopes of block.data.data;
// - the orderer signs value || signature_header || DER SEQUENCE {INTEGER number, OCTET STRING previous_hash,
//   OCTET STRING data_hash} (metadata SIGNATURES), with a certificate of an orderer org of the trust root;
// - the block is in the one form Fabric writes (canonical protobuf, five metadata entries, LAST_CONFIG the
//   signed index, ORDERER empty, COMMIT_HASH one 32-byte value: the peer's hash over its state updates,
//   which only a live peer can confirm, and the one part of the block no offline check covers);
// - TRANSACTIONS_FILTER byte i is transaction i's validation code (0 = VALID), written by the peer.
// Every Fabric signature is low-S ECDSA P-256 with SHA-256 by a certificate that chains to its MSP's CA.
import { sha256 } from "@noble/hashes/sha2.js";
import { AnchorMismatch, BadSignature, KeyMismatch, MalformedInput } from "./errors.js";
import { concat, equal, toHex } from "./bytes.js";
import { checkCanonical, decode } from "./protowire.js";
import * as pb from "./fabricpb.js";
import { X509, hasHighS, verifyEcdsa } from "./x509.js";

export const MAX_BLOCK_BYTES = 16 * 1024 * 1024;
const SIGNATURES = 0, LAST_CONFIG = 1, FILTER = 2, ORDERER = 3, COMMIT_HASH = 4;

/** `data` read as the Fabric message `schema`; MalformedInput naming `what` when it is not one. */
export function parse(data, schema, what) {
  try {
    return decode(data, schema, what);
  } catch (exc) {
    if (exc instanceof MalformedInput) throw new MalformedInput(`fabric ${what} does not parse: ${exc.message}`);
    throw exc;
  }
}

function derLength(n) {
  if (n < 0x80) return Uint8Array.of(n);
  const body = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) body.unshift(v % 256);
  return Uint8Array.of(0x80 | body.length, ...body);
}

const der = (tag, body) => concat(Uint8Array.of(tag), derLength(body.length), body);

/** BlockHeaderBytes: the DER orderers sign, as Go's asn1.Marshal writes it (minimal two's-complement number). */
export function blockHeaderBytes(header) {
  const number = [];
  for (let v = header.number; v > 0n; v >>= 8n) number.unshift(Number(v & 0xffn));
  if (!number.length || number[0] & 0x80) number.unshift(0);
  return der(0x30, concat(der(0x02, Uint8Array.from(number)), der(0x04, header.previousHash), der(0x04, header.dataHash)));
}

/** The header's data hash is SHA-256 over the block's envelopes (AnchorMismatch). */
export function checkDataHash(block) {
  const calculated = sha256(concat(...block.data.data));
  if (!equal(calculated, block.header.dataHash)) {
    throw new AnchorMismatch(`fabric block ${block.header.number} data hash mismatch: calculated ${toHex(calculated)}, header has ${toHex(block.header.dataHash)}`);
  }
}

/** A SIGNATURES signature verifies, by an orderer of an orderer org of the trust root; returns who signed. */
export function checkOrdererSignature(block, network) {
  const entries = block.metadata.metadata;
  if (entries.length <= SIGNATURES) throw new BadSignature(`fabric block ${block.header.number} has no orderer signature metadata`);
  const metadata = parse(entries[SIGNATURES], pb.Metadata, "block signature metadata");
  const orgs = orgsOf(network, network.orderers), reasons = [];
  for (const sig of metadata.signatures) {
    const header = parse(sig.signatureHeader, pb.SignatureHeader, "block signature header");
    const signed = concat(metadata.value, sig.signatureHeader, blockHeaderBytes(block.header));
    try {
      return checkIdentitySignature(header.creator, signed, sig.signature, orgs, "orderer");
    } catch (exc) {
      if (!(exc instanceof BadSignature || exc instanceof KeyMismatch)) throw exc;
      reasons.push(exc.message);
    }
  }
  throw new BadSignature(`fabric block ${block.header.number} has no valid orderer signature: ${reasons.join("; ") || "no signatures"}`);
}

/** The block is in the one form Fabric 2.x writes, every metadata entry accounted for (AnchorMismatch). */
export function checkBlockForm(block, raw) {
  const where = `fabric block ${block.header.number}`;
  try {
    checkCanonical(raw, pb.Block, "block");
  } catch (exc) {
    if (exc instanceof MalformedInput) throw new AnchorMismatch(`${where} is not in canonical protobuf form (extra, repeated or reordered fields): ${exc.message}`);
    throw exc;
  }
  const entries = block.metadata.metadata;
  if (entries.length !== 5) throw new AnchorMismatch(`${where} has ${entries.length} metadata entries, want 5 (fabric 2.x)`);
  const signed = parse(entries[SIGNATURES], pb.Metadata, "block signature metadata");
  const orderer = parse(signed.value, pb.OrdererBlockMetadata, "orderer block metadata");
  const index = orderer.lastConfig.index;
  if (!equal(entries[LAST_CONFIG], metadataOf(index > 0n ? concat(Uint8Array.of(0x08), varint(index)) : new Uint8Array(0)))) {
    throw new AnchorMismatch(`${where} LAST_CONFIG metadata differs from the signed last config index ${index}`);
  }
  if (entries[ORDERER].length) throw new AnchorMismatch(`${where} ORDERER metadata must be empty in fabric 2.x, got ${entries[ORDERER].length} bytes`);
  const commit = parse(entries[COMMIT_HASH], pb.Metadata, "commit hash metadata");
  if (commit.value.length !== 32 || !equal(entries[COMMIT_HASH], metadataOf(commit.value))) {
    throw new AnchorMismatch(`${where} COMMIT_HASH metadata is not one 32-byte hash`);
  }
}

// The canonical common.Metadata holding only `value` (field 1, omitted when empty).
function metadataOf(value) {
  return value.length ? field(1, value) : new Uint8Array(0);
}

function field(number, body) {
  return concat(varint(BigInt(number << 3 | 2)), varint(BigInt(body.length)), body);
}

function varint(value) {
  const out = [];
  for (let v = value; ; v >>= 7n) {
    if (v < 0x80n) {
      out.push(Number(v));
      return Uint8Array.from(out);
    }
    out.push(Number(v & 0x7fn) | 0x80);
  }
}

/** The TRANSACTIONS_FILTER byte of transaction `txIndex` (AnchorMismatch if there is none). */
export function validationCode(block, txIndex) {
  const codes = block.metadata.metadata.length > FILTER ? block.metadata.metadata[FILTER] : new Uint8Array(0);
  if (codes.length !== block.data.data.length) {
    throw new AnchorMismatch(`fabric block ${block.header.number} validation codes cover ${codes.length} transactions, the block has ${block.data.data.length}`);
  }
  return codes[txIndex];
}

/** The trust root's orgs among `names`, by MSP id. */
export function orgsOf(network, names) {
  return new Map(network.orgs.filter((o) => names.includes(o.mspId)).map((o) => [o.mspId, o]));
}

/**
 * Check a Fabric signature: `serialized` (msp.SerializedIdentity) names one of `orgs`, its certificate is
 * issued by a CA of that org and carries the node OU `role` (KeyMismatch), and `signature` is a low-S ECDSA
 * P-256/SHA-256 signature over `data` by it (BadSignature). Returns {mspId, subject}.
 */
export function checkIdentitySignature(serialized, data, signature, orgs, role) {
  const identity = parse(serialized, pb.SerializedIdentity, "serialized identity");
  const org = orgs.get(identity.mspid);
  if (org === undefined) {
    throw new KeyMismatch(`${role} identity of msp ${JSON.stringify(identity.mspid.slice(0, 80))} is not one the trust root names for that role (want one of ${[...orgs.keys()].sort().join(", ")})`);
  }
  let cert;
  try {
    cert = X509.fromPem(identity.idBytes, `the identity of msp ${identity.mspid}`);
  } catch (exc) {
    if (exc instanceof MalformedInput) throw new KeyMismatch(`the identity of msp ${JSON.stringify(identity.mspid.slice(0, 80))} carries no usable x.509 pem certificate`);
    throw exc;
  }
  if (cert.key === null || cert.key.name !== "P-256") throw new KeyMismatch(`the certificate of msp ${org.mspId} (${cert.subject}) has no ecdsa p-256 key`);
  if (!caCertificates(org).some((ca) => cert.issuedBy(ca))) {
    throw new KeyMismatch(`${role} certificate ${cert.subject} is not issued by a ca of ${org.mspId} in the trust root`);
  }
  if (!cert.units.includes(role)) throw new KeyMismatch(`${role} certificate ${cert.subject} of ${org.mspId} is not a ${role} (its organizational units: ${cert.units.join(", ")})`);
  if (!verifyEcdsa(cert.key.curve, signature, sha256(data), cert.key.point, false)) {
    throw new BadSignature(`${role} signature by ${org.mspId} (${cert.subject}) does not verify`);
  }
  if (hasHighS(cert.key.curve, signature)) throw new BadSignature(`${role} signature by ${org.mspId} has a high s value (fabric refuses those)`);
  return { mspId: org.mspId, subject: cert.subject };
}

// The org's CA certificates, parsed once per trust root (the trust root only checked each to be DER).
const PARSED = new WeakMap();

function caCertificates(org) {
  let certs = PARSED.get(org);
  if (certs === undefined) {
    certs = org.caCertificates.map((der, i) => X509.fromDer(der, `trust root fabric org ${org.mspId} ca_certificates[${i}]`));
    PARSED.set(org, certs);
  }
  return certs;
}
