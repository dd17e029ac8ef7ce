// X.509 certificates (RFC 5280) as far as a timestamp token's signer needs them: the fields, the extensions
// that decide what a certificate may do, and the path from the TSA's certificate to a root the trust root
// names, valid at the token's genTime (docs/formats.md, "RFC 3161 timestamp receipt").
import { MalformedInput, VerificationFailed } from "./errors.js";
import { childrenOf, expectTag, oidOf, parseDer } from "./der.js";
import { equal, toHex } from "./bytes.js";
import { verifySignature } from "./sigverify.js";

const MAX_PATH = 8;
const EXT = { basic: "2.5.29.19", keyUsage: "2.5.29.15", eku: "2.5.29.37" };
/** Extensions a certificate may mark critical (others critical: refused, RFC 5280 §4.2). */
const UNDERSTOOD = new Set([EXT.basic, EXT.keyUsage, EXT.eku, "2.5.29.17", "2.5.29.14", "2.5.29.35", "2.5.29.32", "2.5.29.30", "2.5.29.36"]);
export const TIME_STAMPING = "1.3.6.1.5.5.7.3.8";
const KEY_CERT_SIGN = 5, DIGITAL_SIGNATURE = 0, NON_REPUDIATION = 1;

/** A parsed certificate: its DER node and the fields the checks read. */
export class Certificate {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** Parse a Certificate DerNode (or DER bytes); MalformedInput for anything that is not one. */
  static from(nodeOrBytes, what = "certificate") {
    const node = nodeOrBytes instanceof Uint8Array ? parseDer(nodeOrBytes, what) : nodeOrBytes;
    const [tbs, algorithm, signature] = childrenOf(node, 0x30, what, 3, 3);
    expectTag(signature, 0x03, `${what} signature`);
    const fields = childrenOf(tbs, 0x30, `${what} tbs`, 6, 10);
    let i = 0;
    if (fields[0].tag === 0xa0) i = 1;
    const [serial, innerAlgorithm, issuer, validity, subject, spki] = fields.slice(i, i + 6);
    expectTag(serial, 0x02, `${what} serial`);
    [issuer, subject].forEach((n) => expectTag(n, 0x30, `${what} name`));
    expectTag(spki, 0x30, `${what} public key`);
    const [notBefore, notAfter] = childrenOf(validity, 0x30, `${what} validity`, 2, 2).map((t) => timeOf(t, `${what} validity`));
    const extNode = fields.slice(i + 6).find((f) => f.tag === 0xa3);
    return new Certificate({
      node, der: node.raw, tbs, algorithm, innerAlgorithm, signature: bitString(signature), serial: serial.raw, issuer: issuer.raw,
      subject: subject.raw, spki, notBefore, notAfter, extensions: extensionsOf(extNode, what),
    });
  }

  /** The extension `oid` as {critical, value: DerNode} or undefined. */
  extension(oid) {
    return this.extensions.get(oid);
  }

  /** Whether the certificate is a CA (basicConstraints cA true). */
  get isCa() {
    const basic = this.extension(EXT.basic);
    const first = basic?.value.children?.[0];
    return first !== undefined && first.tag === 0x01 && first.value[0] === 0xff;
  }

  /** Key usage bit `bit` (true when the extension is absent: no restriction). */
  keyUsage(bit) {
    const ku = this.extension(EXT.keyUsage);
    if (!ku) return true;
    const bits = bitString(expectTag(ku.value, 0x03, "key usage"));
    return bit >> 3 < bits.length && (bits[bit >> 3] & (0x80 >> (bit & 7))) !== 0;
  }
}

function bitString(node) {
  return node.value.subarray(1);
}

function extensionsOf(node, what) {
  const out = new Map();
  if (!node) return out;
  for (const ext of childrenOf(childrenOf(node, 0xa3, `${what} extensions`, 1, 1)[0], 0x30, `${what} extensions`, 1)) {
    const parts = childrenOf(ext, 0x30, `${what} extension`, 2, 3);
    const oid = oidOf(parts[0], `${what} extension`);
    const critical = parts.length === 3;
    if (critical && (parts[1].tag !== 0x01 || parts[1].value[0] !== 0xff)) throw new MalformedInput(`${what} extension ${oid}: critical must be TRUE or absent`);
    if (out.has(oid)) throw new MalformedInput(`${what} repeats extension ${oid}`);
    out.set(oid, { critical, value: parseDer(expectTag(parts[parts.length - 1], 0x04, `${what} extension`).value, `${what} extension ${oid}`) });
  }
  return out;
}

/** A UTCTime or GeneralizedTime node (the DER forms, ending in Z) as milliseconds since 1970. */
export function timeOf(node, what) {
  if (node.value.length > 32) throw new MalformedInput(`${what}: a time of ${node.value.length} bytes`);
  const text = String.fromCharCode(...node.value);
  const m = node.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : node.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d*[1-9])?Z$/.exec(text) : null;
  if (!m) throw new MalformedInput(`${what}: ${JSON.stringify(text.slice(0, 32))} is not a der utc or generalized time`);
  let year = Number(m[1]);
  if (node.tag === 0x17) year += year < 50 ? 2000 : 1900;
  const [mo, d, h, mi, s] = m.slice(2, 7).map(Number);
  const ms = Date.UTC(year, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (mo < 1 || mo > 12 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw new MalformedInput(`${what}: ${text} is not a valid time`);
  return { ms, fraction: m[7] ? m[7].slice(1) : "", text };
}

/** Check that `leaf` (the TSA's certificate) chains, through `pool` (the token's other certificates), to
 * one of `roots` (DER of trusted certificates), every certificate valid at `at` (ms); that each issuer is a
 * CA allowed to sign certificates; that `leaf` may time-stamp (critical EKU timeStamping only, key usage
 * digitalSignature or nonRepudiation). VerificationFailed naming what fails. */
export async function verifyTsaPath(leaf, pool, roots, at) {
  checkTimeStamping(leaf);
  const anchors = roots.map((der) => Certificate.from(der, "trust root certificate"));
  let current = leaf;
  for (let depth = 0; depth < MAX_PATH; depth++) {
    checkValid(current, at);
    if (anchors.some((a) => equal(a.der, current.der))) return;
    const issuer = await findIssuer(current, [...anchors, ...pool]);
    if (issuer === null) throw new VerificationFailed(`certificate ${describe(current)} is not issued by a trusted root or a certificate in the token`);
    current = issuer;
  }
  throw new VerificationFailed(`no path to a trusted root within ${MAX_PATH} certificates`);
}

async function findIssuer(cert, candidates) {
  for (const candidate of candidates) {
    if (!equal(candidate.subject, cert.issuer) || equal(candidate.der, cert.der)) continue;
    if (!candidate.isCa || !candidate.keyUsage(KEY_CERT_SIGN)) continue;
    try {
      await verifyCertificateSignature(cert, candidate);
      return candidate;
    } catch (exc) {
      if (!(exc instanceof VerificationFailed || exc instanceof MalformedInput)) throw exc;
    }
  }
  return null;
}

/** Check `cert`'s signature with `issuer`'s key (the outer algorithm must be the one the signed part names). */
export async function verifyCertificateSignature(cert, issuer) {
  if (!equal(cert.algorithm.raw, cert.innerAlgorithm.raw)) throw new VerificationFailed(`certificate ${describe(cert)} names two signature algorithms`);
  await verifySignature(issuer.spki, cert.algorithm, cert.signature, cert.tbs.raw, null, `signature on certificate ${describe(cert)}`);
}

function checkValid(cert, at) {
  for (const [oid, ext] of cert.extensions) {
    if (ext.critical && !UNDERSTOOD.has(oid)) throw new VerificationFailed(`certificate ${describe(cert)} has unknown critical extension ${oid}`);
  }
  if (at < cert.notBefore.ms || at > cert.notAfter.ms) {
    throw new VerificationFailed(`certificate ${describe(cert)} is not valid at the token's time (valid ${cert.notBefore.text} to ${cert.notAfter.text})`);
  }
}

function checkTimeStamping(cert) {
  const eku = cert.extension(EXT.eku);
  if (!eku || !eku.critical) throw new VerificationFailed("the tsa certificate has no critical extended key usage");
  const purposes = childrenOf(eku.value, 0x30, "extended key usage", 1).map((n) => oidOf(n, "extended key usage"));
  if (purposes.length !== 1 || purposes[0] !== TIME_STAMPING) throw new VerificationFailed(`the tsa certificate's extended key usage is ${purposes.join(", ")}, want timeStamping only`);
  if (!cert.keyUsage(DIGITAL_SIGNATURE) && !cert.keyUsage(NON_REPUDIATION)) throw new VerificationFailed("the tsa certificate's key usage allows no signatures");
}

function describe(cert) {
  return `serial ${toHex(cert.serial.subarray(2)).slice(0, 40)}`;
}
