// X.509 certificates as Fabric identities use them (RFC 5280), read with a small strict DER reader of our own
// (definite, minimal lengths; nothing after the certificate) and checked with @noble/curves, so that the
// Fabric checker stays a plain synchronous function. A general ASN.1 library was tried first: it reads BER
// too (which the Python verifier's X.509 parser refuses), it was ten times slower per certificate, and it
// tripled the size of verify.html. What is read: subject and issuer (as DER, and the subject's attributes),
// the ECDSA public key and the issuer's signature over the TBS bytes. Validity periods are not checked, as
// the Python verifier does not: the block was committed when its certificates were valid.
import { p256, p384 } from "@noble/curves/nist.js";
import { sha256, sha384 } from "@noble/hashes/sha2.js";
import { MalformedInput } from "./errors.js";
import { equal, fromBase64 } from "./bytes.js";

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

// One DER element at `at` of `data`, within `end`: {tag, body, start, end}.
function element(data, at, end) {
  if (at + 2 > end) throw new MalformedInput("der element is cut short");
  const tag = data[at];
  if ((tag & 0x1f) === 0x1f) throw new MalformedInput("der high tag numbers are not used in certificates");
  let length = data[at + 1], body = at + 2;
  if (length & 0x80) {
    const width = length & 0x7f;
    if (width < 1 || width > 4 || body + width > end || data[body] === 0) throw new MalformedInput("der length is not minimal definite");
    length = 0;
    for (let i = 0; i < width; i++) length = length * 256 + data[body + i];
    body += width;
    if (length < 0x80) throw new MalformedInput("der length is not minimal");
  }
  if (body + length > end) throw new MalformedInput("der element is longer than its container");
  return { tag, body: data.subarray(body, body + length), start: at, end: body + length, raw: data.subarray(at, body + length) };
}

// The elements inside `outer` (a constructed element), each checked to be of `tags` when given.
function children(outer) {
  const out = [];
  for (let at = 0; at < outer.body.length;) {
    const child = element(outer.body, at, outer.body.length);
    out.push(child);
    at = child.end;
  }
  return out;
}

function expect(el, tag, what) {
  if (el === undefined || el.tag !== tag) throw new MalformedInput(`${what} is missing or of another type`);
  return el;
}

function oid(el) {
  const b = expect(el, OID, "object identifier").body;
  if (!b.length || b[b.length - 1] & 0x80) throw new MalformedInput("object identifier is cut short");
  const arcs = [];
  let value = 0;
  for (const byte of b) {
    if (value === 0 && byte === 0x80) throw new MalformedInput("object identifier arc is not minimal");
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = Math.min(Math.floor(arcs[0] / 40), 2);
  return [first, arcs[0] - 40 * first, ...arcs.slice(1)].join(".");
}

function bitString(el, what) {
  const b = expect(el, BIT_STRING, what).body;
  if (!b.length || b[0] !== 0) throw new MalformedInput(`${what} is not a whole number of bytes`);
  return b.subarray(1);
}

function parseName(el) {
  const attributes = [];
  for (const rdn of children(expect(el, SEQUENCE, "name"))) {
    for (const pair of children(expect(rdn, SET, "relative distinguished name"))) {
      const [type, value] = children(expect(pair, SEQUENCE, "attribute"));
      const encoding = value === undefined ? undefined : STRINGS[value.tag];
      attributes.push([oid(type), encoding === undefined ? "" : new TextDecoder(encoding).decode(value.body)]);
    }
  }
  return attributes;
}

function parseCertificate(der) {
  const cert = element(der, 0, der.length);
  if (cert.tag !== SEQUENCE || cert.end !== der.length) throw new MalformedInput("not one der sequence");
  const [tbs, signatureAlgorithm, signature] = children(cert);
  const fields = children(expect(tbs, SEQUENCE, "tbs certificate"));
  const at = fields[0] && fields[0].tag === VERSION ? 1 : 0;
  expect(fields[at], INTEGER, "serial number");
  const [issuer, subject, spki] = [fields[at + 2], fields[at + 4], fields[at + 5]];
  const attributes = parseName(subject);
  parseName(issuer);
  return new X509({
    subject: attributes.map(([type, value]) => `${NAMES[type] ?? type}=${value}`).reverse().join(","),
    units: attributes.filter(([type]) => type === ORGANIZATIONAL_UNIT).map(([, value]) => value),
    subjectDer: subject.raw,
    issuerDer: issuer.raw,
    tbs: tbs.raw,
    signatureAlgorithm: oid(children(expect(signatureAlgorithm, SEQUENCE, "signature algorithm"))[0]),
    signature: bitString(signature, "signature"),
    key: publicKey(spki),
  });
}

function publicKey(spki) {
  const [algorithm, key] = children(expect(spki, SEQUENCE, "subject public key info"));
  const [kind, params] = children(expect(algorithm, SEQUENCE, "public key algorithm"));
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
