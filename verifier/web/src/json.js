// Strict JSON reading and RFC 8785 (JCS) canonical bytes, with the rules of the Python verifier
// (verifier/_json.py, docs/formats.md "Strictness"): no duplicate keys, no NaN or infinities (an overflowing
// number such as 1e400 is refused), integers within ±(2^53 − 1), nesting at most 64 levels, no lone
// surrogates. Integers and other numbers stay apart: a literal with a fraction or exponent is a JFloat,
// so `1.0` is not accepted where an integer is required (as Python's json keeps int and float apart).
import { MalformedInput } from "./errors.js";
import { decodeUtf8, fromBase64, fromHex, short, utf8 } from "./bytes.js";

export const MAX_INT = 2 ** 53 - 1;
export const MAX_DEPTH = 64;
const HARD_DEPTH = 900; // Python's recursive parser gives up (RecursionError) near 1000 levels
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A JSON number written with a fraction or an exponent (Python's float). */
export class JFloat {
  constructor(value) {
    this.value = value;
  }
}

/** Parse JSON bytes (UTF-8) or text strictly; `what` names the input in messages. Raises MalformedInput. */
export function loads(data, what) {
  const text = typeof data === "string" ? data : decodeUtf8(data, what);
  let value;
  try {
    value = new Parser(text).document();
  } catch (exc) {
    if (exc instanceof MalformedInput) throw new MalformedInput(`${what} is not valid json: ${exc.message}`);
    throw exc;
  }
  checkTree(value, what);
  return value;
}

class Parser {
  constructor(text) {
    this.s = text;
    this.i = 0;
  }

  fail(why) {
    throw new MalformedInput(`${why} at character ${this.i}`);
  }

  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      this.i++;
    }
  }

  document() {
    this.ws();
    const value = this.value(1);
    this.ws();
    if (this.i !== this.s.length) this.fail("extra data");
    return value;
  }

  value(depth) {
    if (depth > HARD_DEPTH) this.fail("nesting too deep");
    const c = this.s[this.i];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    if (this.s.startsWith("NaN", this.i) || this.s.startsWith("Infinity", this.i)) this.fail("nan and infinity are not allowed in json");
    return this.fail("expecting value");
  }

  object(depth) {
    const obj = Object.create(null);
    this.i++;
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return obj;
    }
    for (;;) {
      if (this.s[this.i] !== '"') this.fail("expecting property name enclosed in double quotes");
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.fail("expecting ':' delimiter");
      this.i++;
      this.ws();
      const value = this.value(depth + 1);
      if (Object.prototype.hasOwnProperty.call(obj, key)) this.fail(`duplicate key ${short(key)}`);
      obj[key] = value;
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") return obj;
      if (c !== ",") this.fail("expecting ',' delimiter");
      this.ws();
    }
  }

  array(depth) {
    const out = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expecting ',' delimiter");
      this.ws();
    }
  }

  string() {
    const s = this.s;
    let out = "";
    let start = ++this.i;
    for (;;) {
      if (this.i >= s.length) this.fail("unterminated string");
      const c = s.charCodeAt(this.i);
      if (c === 34) {
        out += s.slice(start, this.i++);
        return out;
      }
      if (c < 32) this.fail("invalid control character in string");
      if (c === 92) {
        out += s.slice(start, this.i);
        out += this.escape();
        start = this.i;
      } else {
        this.i++;
      }
    }
  }

  escape() {
    const e = this.s[this.i + 1];
    const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
    if (e in simple) {
      this.i += 2;
      return simple[e];
    }
    if (e !== "u") this.fail("invalid \\escape");
    const hex = this.s.slice(this.i + 2, this.i + 6);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail("invalid \\uXXXX escape");
    this.i += 6;
    return String.fromCharCode(parseInt(hex, 16));
  }

  number() {
    const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    m.lastIndex = this.i;
    const match = m.exec(this.s);
    if (!match) this.fail("expecting value");
    const literal = match[0];
    this.i += literal.length;
    if (match[1] === undefined && match[2] === undefined) {
      const value = literal.length <= 17 ? Number(literal) : MAX_INT + 1;
      if (Math.abs(value) > MAX_INT) this.fail(`integer ${literal.slice(0, 40)} is outside ±(2^53 - 1)`);
      return value === 0 ? 0 : value; // -0 is the integer 0
    }
    const value = Number(literal);
    if (!Number.isFinite(value)) this.fail(`number ${literal.slice(0, 40)} is too large for a double`);
    return new JFloat(value);
  }
}

function checkTree(value, what) {
  const stack = [[value, 1]];
  while (stack.length) {
    const [item, depth] = stack.pop();
    if (typeof item === "string") {
      if (LONE_SURROGATE.test(item)) throw new MalformedInput(`${what} has a string with a lone surrogate (not unicode text)`);
    } else if (Array.isArray(item) || isObject(item)) {
      if (depth > MAX_DEPTH) throw new MalformedInput(`${what} nests deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(item)) for (const v of item) stack.push([v, depth + 1]);
      else for (const [k, v] of Object.entries(item)) stack.push([k, depth], [v, depth + 1]);
    }
  }
}

/** Whether `value` is a parsed JSON object (not an array, null or a JFloat). */
export function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof JFloat);
}

/** RFC 8785 canonical text of a parsed JSON value (keys sorted by UTF-16 code units). */
export function canonicalText(value) {
  if (value === null || value === true || value === false) return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return numberText(value, true);
  if (value instanceof JFloat) return numberText(value.value, false);
  if (Array.isArray(value)) return "[" + value.map(canonicalText).join(",") + "]";
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalText(value[k])).join(",") + "}";
  }
  throw new MalformedInput(`value cannot be canonicalized (rfc 8785): ${typeof value}`);
}

function numberText(n, integer) {
  if (!Number.isFinite(n)) throw new MalformedInput("value cannot be canonicalized (rfc 8785): not finite");
  if (integer && Math.abs(n) > MAX_INT) throw new MalformedInput("value cannot be canonicalized (rfc 8785): integer out of range");
  return JSON.stringify(n); // ECMAScript Number::toString is the serialization RFC 8785 §3.2.2.3 requires
}

/** RFC 8785 canonical UTF-8 bytes of a parsed JSON value. */
export function canonical(value) {
  return utf8(canonicalText(value));
}

/** `obj` without the named keys (a shallow copy). */
export function without(obj, ...names) {
  const out = Object.create(null);
  for (const [k, v] of Object.entries(obj)) if (!names.includes(k)) out[k] = v;
  return out;
}

// Typed field access, each raising MalformedInput that names `where.key`.

function kind(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value instanceof JFloat) return "float";
  if (typeof value === "number") return "int";
  if (typeof value === "boolean") return "boolean";
  return typeof value === "object" ? "object" : typeof value;
}

function get(obj, key, where) {
  if (!Object.prototype.hasOwnProperty.call(obj, key)) throw new MalformedInput(`${where} is missing field '${key}'`);
  return obj[key];
}

/** Return `value` if it is a JSON object. */
export function requireObject(value, where) {
  if (!isObject(value)) throw new MalformedInput(`${where} must be a json object, got ${kind(value)}`);
  return value;
}

/** Refuse an object lacking one of `required` or with a field in neither list. */
export function requireFields(obj, where, required, optional = []) {
  for (const key of required) get(obj, key, where);
  const unknown = Object.keys(obj).filter((k) => !required.includes(k) && !optional.includes(k)).sort();
  if (unknown.length) throw new MalformedInput(`${where} has unknown field ${short(unknown[0])}`);
}

/** The object under `key`. */
export function objectField(obj, key, where) {
  return requireObject(get(obj, key, where), `${where}.${key}`);
}

/** The string under `key`. */
export function strField(obj, key, where) {
  const value = get(obj, key, where);
  if (typeof value !== "string") throw new MalformedInput(`${where}.${key} must be a string, got ${kind(value)}`);
  return value;
}

/** The integer in [0, maximum] under `key` (booleans and floats refused). */
export function intField(obj, key, where, maximum = MAX_INT) {
  const value = get(obj, key, where);
  if (typeof value !== "number" || !(value >= 0 && value <= maximum)) {
    throw new MalformedInput(`${where}.${key} must be an integer in [0, ${maximum}], got ${short(value)}`);
  }
  return value;
}

/** The non-negative integer under `key`, or null. */
export function optionalIntField(obj, key, where) {
  return get(obj, key, where) === null ? null : intField(obj, key, where);
}

/** The list of at most `maxItems` under `key`. */
export function listField(obj, key, where, maxItems) {
  const value = get(obj, key, where);
  if (!Array.isArray(value)) throw new MalformedInput(`${where}.${key} must be a list, got ${kind(value)}`);
  if (value.length > maxItems) throw new MalformedInput(`${where}.${key} has ${value.length} items, want at most ${maxItems}`);
  return value;
}

/** The `size` bytes of lower-case hex under `key`. */
export function hexField(obj, key, where, size = 32) {
  return fromHex(strField(obj, key, where), `${where}.${key}`, size);
}

/** Like hexField, or null when the value is null. */
export function optionalHexField(obj, key, where, size = 32) {
  return get(obj, key, where) === null ? null : hexField(obj, key, where, size);
}

/** The list of at most `maxItems` 32-byte hex hashes under `key`. */
export function hexListField(obj, key, where, maxItems) {
  const values = get(obj, key, where);
  if (!Array.isArray(values)) throw new MalformedInput(`${where}.${key} must be a list of hex hashes, got ${kind(values)}`);
  if (values.length > maxItems) throw new MalformedInput(`${where}.${key} has ${values.length} hashes, want at most ${maxItems}`);
  values.forEach((v, i) => {
    if (typeof v !== "string") throw new MalformedInput(`${where}.${key}[${i}] must be a string, got ${kind(v)}`);
  });
  return values.map((v, i) => fromHex(v, `${where}.${key}[${i}]`, 32));
}

/** The bytes of standard padded base64 under `key`. */
export function b64Field(obj, key, where) {
  return fromBase64(strField(obj, key, where), `${where}.${key}`);
}
