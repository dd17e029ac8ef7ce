// Byte helpers: strict lower-case hex, strict canonical padded base64, UTF-8, concatenation, comparison.
// Strict so that no two texts mean the same bytes (docs/formats.md, "Strictness").
import { MalformedInput } from "./errors.js";

const HEX = /^[0-9a-f]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const encoder = new TextEncoder();
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Lower-case hex of `bytes`. */
export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += (b < 16 ? "0" : "") + b.toString(16);
  return out;
}

/** Bytes of lower-case hex `text` of exactly `size` bytes (any size when `size` is null). */
export function fromHex(text, where, size = 32) {
  if (typeof text !== "string" || !HEX.test(text) || text.length % 2 || (size !== null && text.length !== 2 * size)) {
    throw new MalformedInput(`${where} must be ${size ?? "some"} bytes of lower-case hex, got ${short(text)}`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}

/** Standard padded base64 of `bytes`. */
export function toBase64(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : "=";
    out += i + 2 < bytes.length ? ALPHABET[n & 63] : "=";
  }
  return out;
}

/** Decode standard padded base64, refusing any other spelling of the same bytes (MalformedInput). */
export function fromBase64(text, where) {
  if (typeof text !== "string" || !B64.test(text) || text.length % 4) {
    throw new MalformedInput(`${where} is not standard base64`);
  }
  const body = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0, value = 0, j = 0;
  for (let i = 0; i < body.length; i++) {
    value = ((value << 6) | DECODE[body.charCodeAt(i)]) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (value >> bits) & 255;
    }
  }
  if (toBase64(out) !== text) throw new MalformedInput(`${where} is not canonical padded base64`);
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(text) {
  return encoder.encode(text);
}

/** Decode strict UTF-8 (a leading BOM is dropped, as Python's json does); MalformedInput when invalid. */
export function decodeUtf8(bytes, where) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new MalformedInput(`${where} is not utf-8 text`);
  }
}

/** Decode strict UTF-8 keeping a BOM as U+FEFF (Python's bytes.decode("utf-8")). */
export function decodeUtf8Exact(bytes, where) {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new MalformedInput(`${where} is not utf-8 text`);
  }
}

/** The concatenation of byte arrays. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Whether two byte arrays are equal. */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A value for a message, cut to 80 characters. */
export function short(value) {
  let text;
  try {
    // JSON values of the verifier's parser are objects without a prototype: String() cannot show them
    text = typeof value === "string" || (value !== null && typeof value === "object") ? JSON.stringify(value) ?? "?" : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length <= 80 ? text : text.slice(0, 80) + "...";
}

// Python's str.isspace() set (str.strip() without arguments strips these and only these).
const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Whether `c` (one character) is whitespace for Python's str.isspace(). */
export function isPySpace(c) {
  return PY_SPACE.test(c);
}

/** `text` without leading and trailing Python whitespace (str.strip()). */
export function pyStrip(text) {
  let a = 0, b = text.length;
  while (a < b && isPySpace(text[a])) a++;
  while (b > a && isPySpace(text[b - 1])) b--;
  return text.slice(a, b);
}
