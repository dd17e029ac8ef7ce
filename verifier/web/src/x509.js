// X.509 certificates as Fabric identities use them (RFC 5280), read with our strict DER reader (der.js, the
// one the timestamp tokens are read with) and checked with @noble/curves, so that the Fabric checker stays a
// plain synchronous function. A general ASN.1 library was tried first: it reads BER
// too (which the Python verifier's X.509 parser refuses), it was ten times slower per certificate, and it
// tripled the size of verify.html. What is read: subject and issuer (as DER, and the subject's attributes),
// the ECDSA public key and the issuer's signature over the TBS bytes. Validity periods are not checked, as
// the Python verifier does not: the block was committed when its certificates were valid.
import { p256, p384 } from "@noble/curves/nist.js";
import { sha256, sha384 } from "@noble/hashes/sha2.js";
import { MalformedInput } from "./errors.js";
import { equal, fromBase64 } from "./bytes.js";
import { childrenOf, expectTag, oidOf, parseDer } from "./der.js";

const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const CURVES = { "1.2.840.10045.3.1.7": ["P-256", p256], "1.3.132.0.34": ["P-384", p384] };
const SIGNATURES = { "1.2.840.10045.4.3.2": sha256, "1.2.840.10045.4.3.3": sha384 };
const NAMES = { "2.5.4.3": "CN", "2.5.4.11": "OU", "2.5.4.10": "O", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.6": "C" };
const ORGANIZATIONAL_UNIT = "2.5.4.11";
const PEM = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/;
const SEQUENCE = 0x30, SET = 0x31, INTEGER = 0x02, BIT_STRING = 0x03, OID = 0x06, VERSION = 0xa0;
const STRINGS = { 0x0c: "utf-8", 0x13: "latin1", 0x16: "latin1", 0x14: "latin1", 0x1e: "utf-16be" };

/** A parsed certificate: `subject` (text, for messages), `units` (its OU values), the ECDSA key if any. */
export class X509 {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** Parse DER; MalformedInput when it is not an X.509 certificate. */
  static fromDer(der, where) {
    try {
      return parseCertificate(der);
    } catch (exc) {
      if (exc instanceof MalformedInput) throw new MalformedInput(`${where} is not an x.509 certificate: ${exc.message}`);
      throw exc;
    }
  }

  /** Parse the first CERTIFICATE block of PEM bytes (as Fabric's serialized identities carry). */
  static fromPem(bytes, where) {
    const text = new TextDecoder("latin1").decode(bytes);
    const found = PEM.exec(text);
    if (found === null) throw new MalformedInput(`${where} holds no pem certificate`);
    return X509.fromDer(fromBase64(found[1].replace(/\s+/g, ""), `${where} pem`), where);
  }

  /** Whether `issuer` (a CA certificate) issued this one: its subject is our issuer and its key signed us. */
  issuedBy(issuer) {
    if (!equal(this.issuerDer, issuer.subjectDer) || issuer.key === null) return false;
    const hash = SIGNATURES[this.signatureAlgorithm];
    if (hash === undefined) return false;
    return verifyEcdsa(issuer.key.curve, this.signature, hash(this.tbs), issuer.key.point, false);
  }
}

// A certificate that is not exactly DER is refused by parseDer before any field of it is read.
function oid(node) {
  return oidOf(node, "object identifier");
}

function bitString(node, what) {
  const b = expectTag(node, BIT_STRING, what).value;
  if (!b.length || b[0] !== 0) throw new MalformedInput(`${what} is not a whole number of bytes`);
  return b.subarray(1);
}

function parseName(node) {
  const attributes = [];
  for (const rdn of childrenOf(node, SEQUENCE, "name")) {
    for (const pair of childrenOf(rdn, SET, "relative distinguished name")) {
      const [type, value] = childrenOf(pair, SEQUENCE, "attribute", 2, 2);
      const encoding = STRINGS[value.tag];
      attributes.push([oid(type), encoding === undefined ? "" : new TextDecoder(encoding).decode(value.value)]);
    }
  }
  return attributes;
}

function parseCertificate(der) {
  const [tbs, signatureAlgorithm, signature] = childrenOf(parseDer(der, "certificate"), SEQUENCE, "certificate", 3, 3);
  const fields = childrenOf(tbs, SEQUENCE, "tbs certificate");
  const at = fields[0] && fields[0].tag === VERSION ? 1 : 0;
  expectTag(fields[at], INTEGER, "serial number");
  const [issuer, subject, spki] = [fields[at + 2], fields[at + 4], fields[at + 5]];
  const attributes = parseName(subject);
  parseName(issuer);
  return new X509({
    subject: attributes.map(([type, value]) => `${NAMES[type] ?? type}=${value}`).reverse().join(","),
    units: attributes.filter(([type]) => type === ORGANIZATIONAL_UNIT).map(([, value]) => value),
    subjectDer: subject.raw,
    issuerDer: issuer.raw,
    tbs: tbs.raw,
    signatureAlgorithm: oid(childrenOf(signatureAlgorithm, SEQUENCE, "signature algorithm", 1)[0]),
    signature: bitString(signature, "signature"),
    key: publicKey(spki),
  });
}

function publicKey(spki) {
  const [algorithm, key] = childrenOf(spki, SEQUENCE, "subject public key info", 2, 2);
  const [kind, params] = childrenOf(algorithm, SEQUENCE, "public key algorithm", 1);
  if (oid(kind) !== EC_PUBLIC_KEY || params === undefined || params.tag !== OID) return null;
  const curve = CURVES[oid(params)];
  return curve === undefined ? null : { name: curve[0], curve: curve[1], point: bitString(key, "public key") };
}

/** Whether DER ECDSA `signature` over the digest `hash` verifies under `point`; `lowS` refuses high S. */
export function verifyEcdsa(curve, signature, hash, point, lowS) {
  try {
    return curve.verify(signature, hash, point, { format: "der", prehash: false, lowS });
  } catch {
    return false; // not DER, not a point on the curve: it does not verify
  }
}

/** Whether DER ECDSA `signature` has an S in the upper half of the curve order (Fabric refuses those). */
export function hasHighS(curve, signature) {
  try {
    return curve.Signature.fromBytes(signature, "der").hasHighS();
  } catch {
    return false;
  }
}
