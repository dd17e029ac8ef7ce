// A small protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/) for the Fabric
// messages a receipt's block holds. Written here rather than bundling generated decoders because the
// Fabric check needs what those hide: whether the block's bytes are the one canonical encoding of what
// they say (no unknown, repeated, reordered or default-valued fields, no over-long varints), which a
// decoder that silently skips or merges fields cannot tell. Reads only; never allocates beyond its input.
//
// Two ways to read a message, both from a schema {name: [field number, type, "repeated"?]} with types
// "uint" (varint, as BigInt), "int32", "bool", "bytes", "string" (strict UTF-8) or a nested schema:
// - `decode` reads as protobuf does (unknown fields skipped, the last of a repeated singular scalar wins,
//   repeated singular messages merged), for the signed parts of a block;
// - `checkCanonical` refuses any encoding but the canonical one (what a protobuf serializer writes).
import { MalformedInput } from "./errors.js";
import { decodeUtf8Exact } from "./bytes.js";

const VARINT = 0, FIXED64 = 1, LEN = 2, FIXED32 = 5;
const MAX_DEPTH = 32;

/** One field as written: number, wire type, value (BigInt for varints, bytes otherwise), and its span. */
function readField(data, at, where) {
  const start = at;
  const [tag, afterTag] = readVarint(data, at, where);
  const number = Number(tag >> 3n), wire = Number(tag & 7n);
  if (number < 1 || number > 536870911) throw new MalformedInput(`${where}: field number ${number} is out of range`);
  let value, end;
  if (wire === VARINT) {
    [value, end] = readVarint(data, afterTag, where);
  } else if (wire === LEN) {
    const [length, body] = readVarint(data, afterTag, where);
    if (length > BigInt(data.length - body)) throw new MalformedInput(`${where}: field ${number} is longer than its message`);
    end = body + Number(length);
    value = data.subarray(body, end);
  } else if (wire === FIXED64 || wire === FIXED32) {
    end = afterTag + (wire === FIXED64 ? 8 : 4);
    if (end > data.length) throw new MalformedInput(`${where}: field ${number} is cut short`);
    value = data.subarray(afterTag, end);
  } else {
    throw new MalformedInput(`${where}: field ${number} has wire type ${wire}, which these messages never use`);
  }
  return { number, wire, value, start, tagEnd: afterTag, end };
}

function readVarint(data, at, where) {
  let value = 0n, shift = 0n, i = at;
  for (;;) {
    if (i >= data.length) throw new MalformedInput(`${where}: varint is cut short`);
    const byte = data[i++];
    value |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) break;
    shift += 7n;
    if (shift >= 70n) throw new MalformedInput(`${where}: varint is longer than 10 bytes`);
  }
  return [value & 0xffffffffffffffffn, i];
}

/** Every field of `data` in order (MalformedInput when the bytes are not a protobuf message). */
export function fields(data, where) {
  const out = [];
  for (let at = 0; at < data.length;) {
    const field = readField(data, at, where);
    out.push(field);
    at = field.end;
  }
  return out;
}

function wireOf(type) {
  return type === "uint" || type === "int32" || type === "bool" ? VARINT : LEN;
}

function scalar(type, field, where) {
  if (type === "uint") return field.value;
  if (type === "bool") return field.value !== 0n;
  if (type === "int32") return Number(BigInt.asIntN(32, field.value));
  if (type === "string") return decodeUtf8Exact(field.value, where);
  return field.value;
}

function empty(type, where, depth) {
  if (typeof type === "object") return decode(new Uint8Array(0), type, where, depth + 1); // protobuf's default instance
  return { uint: 0n, int32: 0, bool: false, string: "", bytes: new Uint8Array(0) }[type];
}

/** The message in `data` read as protobuf reads it, as an object of the schema's names. */
export function decode(data, schema, where, depth = 0) {
  if (depth > MAX_DEPTH) throw new MalformedInput(`${where}: messages nest deeper than ${MAX_DEPTH}`);
  const byNumber = new Map(Object.entries(schema).map(([name, [number, type, repeated]]) => [number, { name, type, repeated }]));
  const out = {}, parts = {};
  for (const [name, [, type, repeated]] of Object.entries(schema)) out[name] = repeated ? [] : empty(type, where, depth);
  for (const field of fields(data, where)) {
    const known = byNumber.get(field.number);
    if (known === undefined || wireOf(known.type) !== field.wire) continue; // protobuf keeps it as unknown
    const at = `${where}.${known.name}`;
    if (typeof known.type === "object") {
      if (known.repeated) out[known.name].push(decode(field.value, known.type, at, depth + 1));
      else (parts[known.name] ??= []).push(field.value);
    } else if (known.repeated) {
      out[known.name].push(scalar(known.type, field, at));
    } else {
      out[known.name] = scalar(known.type, field, at);
    }
  }
  // a singular message written more than once is the merge of its parts: their concatenation, parsed
  for (const [name, list] of Object.entries(parts)) {
    const joined = new Uint8Array(list.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of list) {
      joined.set(p, offset);
      offset += p.length;
    }
    out[name] = decode(joined, schema[name][1], `${where}.${name}`, depth + 1);
  }
  return out;
}

/**
 * Refuse `data` unless it is exactly the canonical encoding of a `schema` message: known fields only, each
 * with its wire type, in ascending number order, singular ones once, no singular scalar at its default,
 * minimal varints and lengths; nested messages likewise. Raises MalformedInput naming the first fault.
 */
export function checkCanonical(data, schema, where, depth = 0) {
  if (depth > MAX_DEPTH) throw new MalformedInput(`${where}: messages nest deeper than ${MAX_DEPTH}`);
  const byNumber = new Map(Object.entries(schema).map(([name, [number, type, repeated]]) => [number, { name, type, repeated }]));
  let previous = 0;
  for (const field of fields(data, where)) {
    const known = byNumber.get(field.number);
    if (known === undefined) throw new MalformedInput(`${where}: unknown field ${field.number}`);
    const at = `${where}.${known.name}`;
    if (wireOf(known.type) !== field.wire) throw new MalformedInput(`${at}: wire type ${field.wire}`);
    if (field.number < previous || (field.number === previous && !known.repeated)) {
      throw new MalformedInput(`${at}: field ${field.number} is out of order or repeated`);
    }
    previous = field.number;
    if (!minimalVarints(data, field)) throw new MalformedInput(`${at}: over-long varint`);
    if (typeof known.type === "object") checkCanonical(field.value, known.type, at, depth + 1);
    else if (!known.repeated && isDefault(known.type, field)) throw new MalformedInput(`${at}: default value written out`);
  }
}

function minimalVarints(data, field) {
  const minimalTag = varintSize(BigInt(field.number) << 3n | BigInt(field.wire));
  if (field.tagEnd - field.start !== minimalTag) return false;
  if (field.wire === VARINT) return field.end - field.tagEnd === varintSize(field.value);
  if (field.wire === LEN) return field.end - field.tagEnd === varintSize(BigInt(field.value.length)) + field.value.length;
  return true;
}

function varintSize(value) {
  let size = 1;
  while (value >= 0x80n) {
    value >>= 7n;
    size++;
  }
  return size;
}

function isDefault(type, field) {
  return field.wire === VARINT ? field.value === 0n : field.value.length === 0;
}
