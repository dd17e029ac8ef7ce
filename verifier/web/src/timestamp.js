// RFC 3161 timestamp tokens over checkpoints (docs/formats.md, "RFC 3161 timestamp receipt"), checked offline:
// a TimeStampToken is a CMS ContentInfo of SignedData (RFC 5652) whose content is a TSTInfo. The token says
// that the checkpoint note existed at genTime, by the word of a TSA whose root the trust root names.
//
// Steps (verifyToken): 1. strict DER, SignedData v3 with one SignerInfo v1 and a known signature algorithm;
// 2. the imprint (SHA-256/384/512 or SM3) is that hash of the exact note bytes; 3. for some trusted TSA: the
// signer certificate (found by issuer and serial) chains to its roots at genTime and may time-stamp, the
// signed attributes name the TSTInfo content type, its digest and (ESS) the signer certificate's hash, and
// the signature over them verifies.
import { MalformedInput, VerificationFailed } from "./errors.js";
import { childrenOf, expectTag, integerOf, oidOf, parseDer } from "./der.js";
import { equal, toHex } from "./bytes.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { sm3 } from "./sm.js";
import { hashName, SIGNATURE_ALGORITHMS, verifySignature } from "./sigverify.js";
import { Certificate, timeOf, verifyTsaPath } from "./tsacert.js";

/** A token larger than this is refused before it is parsed (the same limit as the command line). */
export const MAX_TOKEN_BYTES = 64 * 1024;
const SIGNED_DATA = "1.2.840.113549.1.7.2", TST_INFO = "1.2.840.113549.1.9.16.1.4";
const ATTR = { contentType: "1.2.840.113549.1.9.3", digest: "1.2.840.113549.1.9.4", essV1: "1.2.840.113549.1.9.16.2.12", essV2: "1.2.840.113549.1.9.16.2.47" };
const IMPRINTS = {
  "2.16.840.1.101.3.4.2.1": ["sha256", sha256], "2.16.840.1.101.3.4.2.2": ["sha384", sha384],
  "2.16.840.1.101.3.4.2.3": ["sha512", sha512], "1.2.156.10197.1.401": ["sm3", sm3],
};

/** The error a token check raises when the token is well formed but does not verify. */
export class TimestampInvalid extends VerificationFailed {}

/**
 * Check that `token` (DER TimeStampToken) timestamps exactly `message` for one of `authorities`
 * ([{name, certificates: [DER]}], at least one). Returns {genTime (RFC 3339), authority, serial, policy,
 * hashAlgorithm}; raises MalformedInput (not a token) or TimestampInvalid (other data, or no trusted TSA).
 */
export async function verifyToken(token, message, authorities) {
  if (token.length > MAX_TOKEN_BYTES) throw new MalformedInput(`timestamp token is ${token.length} bytes, want at most ${MAX_TOKEN_BYTES}`);
  const parsed = parseToken(token);
  const info = parsed.info;
  const imprint = IMPRINTS[info.imprintAlgorithm];
  if (!imprint) throw new TimestampInvalid(`timestamp imprint uses hash ${info.imprintAlgorithm}, want one of sha256, sha384, sha512, sm3`);
  const want = imprint[1](message);
  if (!equal(info.imprint, want)) {
    throw new TimestampInvalid(`timestamp imprint ${toHex(info.imprint)} is not the ${imprint[0]} of the checkpoint (${toHex(want)}): the token is for other data`);
  }
  const reasons = [];
  for (const authority of authorities) {
    try {
      await verifySigner(parsed, authority.certificates);
    } catch (exc) {
      if (!(exc instanceof VerificationFailed || exc instanceof MalformedInput)) throw exc;
      reasons.push(`${authority.name}: ${exc.message}`);
      continue;
    }
    return { genTime: info.genTime, authority: authority.name, serial: info.serial.toString(), policy: info.policy, hashAlgorithm: imprint[0] };
  }
  throw new TimestampInvalid(`timestamp token does not verify against a tsa the trust root names: ${reasons.join("; ")}`);
}

/** Parse the token's structure (step 1); MalformedInput for anything that is not a v1-conforming token. */
export function parseToken(token) {
  const where = "timestamp token";
  const [type, content] = childrenOf(parseDer(token, where), 0x30, where, 2, 2);
  if (oidOf(type, where) !== SIGNED_DATA) throw new MalformedInput(`${where} is not cms signed data`);
  const signed = childrenOf(childrenOf(content, 0xa0, where, 1, 1)[0], 0x30, `${where} signed data`, 4, 6);
  const [version, digests, encap] = signed;
  const signerSet = signed[signed.length - 1];
  const optional = signed.slice(3, -1).map((n) => n.tag).join(",");
  if (!["", "160", "161", "160,161"].includes(optional)) throw new MalformedInput(`${where} signed data has unexpected fields`);
  const digestSet = childrenOf(digests, 0x31, `${where} digest algorithms`).map((n) => digestAlgorithm(n, `${where} digest algorithms`));
  const certificates = signed.find((n, i) => i > 2 && n.tag === 0xa0);
  const signers = childrenOf(signerSet, 0x31, `${where} signer infos`);
  const versions = [integerOf(version, `${where} version`), ...signers.map((s) => integerOf(childrenOf(s, 0x30, `${where} signer info`, 5, 7)[0], "signer info version"))];
  if (versions.length !== 2 || versions[0] !== 3n || versions[1] !== 1n) {
    throw new MalformedInput(`${where} must be SignedData v3 with one SignerInfo v1, got versions ${versions.join(", ")}`);
  }
  const [contentType, wrapped] = childrenOf(encap, 0x30, `${where} content`, 2, 2);
  if (oidOf(contentType, where) !== TST_INFO) throw new MalformedInput(`${where} content is not a tstinfo`);
  const tstInfo = expectTag(childrenOf(wrapped, 0xa0, `${where} content`, 1, 1)[0], 0x04, `${where} content`).value;
  const signer = parseSignerInfo(signers[0]);
  if (!digestSet.includes(signer.digest)) throw new MalformedInput(`${where} digest algorithms do not list the signer's ${signer.digest}`);
  return {
    contentType: contentType.raw, tstInfo, info: parseTstInfo(tstInfo), signer,
    certificates: certificates ? certificates.children.map((c) => Certificate.from(c, `${where} certificate`)) : [],
  };
}

function parseTstInfo(bytes) {
  const where = "tstinfo";
  const fields = childrenOf(parseDer(bytes, where), 0x30, where, 5, 10);
  const [version, policy, imprint, serial, genTime] = fields;
  if (integerOf(version, `${where} version`) !== 1n) throw new MalformedInput(`${where} version must be 1`);
  const [algorithm, value] = childrenOf(imprint, 0x30, `${where} message imprint`, 2, 2);
  const time = timeOf(expectTag(genTime, 0x18, `${where} genTime`), `${where} genTime`);
  return {
    policy: oidOf(policy, `${where} policy`),
    imprintAlgorithm: oidOf(childrenOf(algorithm, 0x30, `${where} imprint algorithm`, 1, 2)[0], `${where} imprint algorithm`),
    imprint: expectTag(value, 0x04, `${where} imprint`).value,
    serial: integerOf(serial, `${where} serial`),
    genTimeMs: time.ms,
    genTime: new Date(time.ms).toISOString().slice(0, 19) + (time.fraction ? "." + time.fraction.padEnd(6, "0").slice(0, 6) : "") + "Z",
  };
}

function parseSignerInfo(node) {
  const where = "signer info";
  const fields = node.children;
  const [, sid, digestNode, signedAttrs, signatureAlgorithm, signature] = fields;
  const [issuer, serial] = childrenOf(sid, 0x30, `${where} signer id`, 2, 2);
  expectTag(issuer, 0x30, `${where} issuer`);
  expectTag(serial, 0x02, `${where} serial`);
  expectTag(signedAttrs, 0xa0, `${where} signed attributes`);
  expectTag(signature, 0x04, `${where} signature`);
  const digest = digestAlgorithm(digestNode, `${where} digest algorithm`);
  const signatureOid = oidOf(childrenOf(signatureAlgorithm, 0x30, `${where} signature algorithm`, 1, 2)[0], `${where} signature algorithm`);
  const known = SIGNATURE_ALGORITHMS[signatureOid];
  if (!known || (known[1] !== null && known[1] !== digest)) {
    throw new MalformedInput(`timestamp token signature algorithm ${signatureOid} (digest ${digest}) is not ecdsa or rsa with the sha-2 digest the signer info names`);
  }
  return { issuer: issuer.raw, serial: serial.raw, digest, signedAttrs, signatureAlgorithm, signature: signature.value, attributes: attributesOf(signedAttrs) };
}

// A digest AlgorithmIdentifier: a hash this verifier knows, with absent or NULL parameters (RFC 5754).
function digestAlgorithm(node, what) {
  const [oid, params] = childrenOf(node, 0x30, what, 1, 2);
  const name = hashName(oidOf(oid, what));
  if (!name) throw new MalformedInput(`${what}: unknown digest algorithm ${oidOf(oid, what)}`);
  if (params !== undefined && params.tag !== 0x05) throw new MalformedInput(`${what}: digest algorithm parameters must be absent or null`);
  return name;
}

function attributesOf(node) {
  const out = new Map();
  for (const attribute of node.children) {
    const [type, values] = childrenOf(attribute, 0x30, "signed attribute", 2, 2);
    const oid = oidOf(type, "signed attribute");
    if (out.has(oid)) throw new MalformedInput(`signed attribute ${oid} appears twice`);
    out.set(oid, childrenOf(values, 0x31, `signed attribute ${oid}`, 1));
  }
  return out;
}

// Step 3 for one authority: the signer's certificate, its path to the roots, the signed attributes, the signature.
async function verifySigner(parsed, roots) {
  const { signer, certificates, info } = parsed;
  const cert = certificates.find((c) => equal(c.issuer, signer.issuer) && equal(c.serial, signer.serial));
  if (!cert) throw new TimestampInvalid("no certificate in the token matches the signer info's issuer and serial");
  await verifyTsaPath(cert, certificates.filter((c) => c !== cert), roots, info.genTimeMs);
  await checkSignedAttributes(parsed, cert);
  const signedBytes = Uint8Array.from(signer.signedAttrs.raw);
  signedBytes[0] = 0x31;  // the signature covers the attributes' DER as a SET OF (RFC 5652 §5.4)
  await verifySignature(cert.spki, signer.signatureAlgorithm, signer.signature, signedBytes, signer.digest, "timestamp token signature");
}

async function checkSignedAttributes(parsed, cert) {
  const attrs = parsed.signer.attributes;
  const single = (oid, what) => {
    const values = attrs.get(oid);
    if (!values || values.length !== 1) throw new TimestampInvalid(`the signed attributes have no single ${what}`);
    return values[0];
  };
  if (!equal(single(ATTR.contentType, "content type").raw, parsed.contentType)) throw new TimestampInvalid("the signed content type is not the token's");
  const digest = await crypto.subtle.digest(parsed.signer.digest, parsed.tstInfo);
  if (!equal(expectTag(single(ATTR.digest, "message digest"), 0x04, "message digest").value, new Uint8Array(digest))) {
    throw new TimestampInvalid("the signed message digest is not the digest of the tstinfo");
  }
  await checkEss(attrs, cert);
}

// ESS signing-certificate (RFC 2634 / RFC 5035): the signed attributes name the signer certificate's hash,
// so no other certificate with the same issuer and serial can stand in for it.
async function checkEss(attrs, cert) {
  const v2 = attrs.get(ATTR.essV2), v1 = attrs.get(ATTR.essV1);
  if ((v2 ? 1 : 0) + (v1 ? 1 : 0) !== 1 || (v2 ?? v1).length !== 1) throw new TimestampInvalid("the signed attributes have no single ess signing certificate");
  const [certs] = childrenOf((v2 ?? v1)[0], 0x30, "ess signing certificate", 1, 2);
  const first = childrenOf(childrenOf(certs, 0x30, "ess certificates", 1)[0], 0x30, "ess certificate id", 1, 3);
  let hash = v2 ? "SHA-256" : "SHA-1", at = 0;
  if (v2 && first[0].tag === 0x30) {
    hash = hashName(oidOf(childrenOf(first[0], 0x30, "ess hash algorithm", 1, 2)[0], "ess hash algorithm"));
    at = 1;
    if (!hash) throw new TimestampInvalid("the ess signing certificate uses an unknown hash");
  }
  const named = expectTag(first[at], 0x04, "ess certificate hash").value;
  if (!equal(named, new Uint8Array(await crypto.subtle.digest(hash, cert.der)))) {
    throw new TimestampInvalid("the ess signing certificate is not the certificate that signed the token");
  }
  const issuerSerial = first[at + 1];
  if (issuerSerial) {
    const [, serial] = childrenOf(issuerSerial, 0x30, "ess issuer serial", 2, 2);
    if (!equal(serial.raw, cert.serial)) throw new TimestampInvalid("the ess signing certificate names another serial number");
  }
}
