// A strict DER reader (ITU-T X.690 §10, the distinguished rules) for the timestamp tokens and certificates the
// browser checks: definite minimal lengths, low tag numbers only, the universal types' form (primitive or
// constructed) as X.690 fixes it, minimal INTEGERs, BOOLEAN 00/FF, canonical OBJECT IDENTIFIERs, BIT STRINGs
// with zero padding, SET OF in ascending order, and nothing after the value. A token that is not exactly
// DER is refused before anything is read from it, as the command line refuses one that re-encodes otherwise.
import { MalformedInput } from "./errors.js";

const MAX_DEPTH = 32;
const MAX_NODES = 20000;
const UNIVERSAL_CONSTRUCTED = new Set([16, 17]);

/** One DER value: `tag` (first byte), `number` (tag number), `cls` (0 universal … 3 private), its bytes. */
export class DerNode {
  constructor(data, start, headerEnd, end, children) {
    this.data = data;
    this.start = start;
    this.headerEnd = headerEnd;
    this.end = end;
    this.children = children;
    this.tag = data[start];
  }

  get cls() { return this.tag >> 6; }
  get constructed() { return (this.tag & 0x20) !== 0; }
  get number() { return this.tag & 0x1f; }
  /** The whole encoding (tag, length, value). */
  get raw() { return this.data.subarray(this.start, this.end); }
  /** The value bytes. */
  get value() { return this.data.subarray(this.headerEnd, this.end); }
}

/** Parse `data` as exactly one DER value; MalformedInput naming `what` and the offset otherwise. */
export function parseDer(data, what) {
  const state = { nodes: 0, what };
  const node = readNode(data, 0, data.length, 0, state);
  if (node.end !== data.length) fail(state, node.end, `${data.length - node.end} bytes after the value`);
  return node;
}

function fail(state, offset, why) {
  throw new MalformedInput(`${state.what} is not der: ${why} at byte ${offset}`);
}

function readNode(data, offset, limit, depth, state) {
  if (++state.nodes > MAX_NODES) fail(state, offset, `more than ${MAX_NODES} values`);
  if (depth > MAX_DEPTH) fail(state, offset, `nesting deeper than ${MAX_DEPTH}`);
  if (offset + 2 > limit) fail(state, offset, "truncated header");
  const tag = data[offset];
  if ((tag & 0x1f) === 0x1f) fail(state, offset, "high tag number");
  const [length, headerEnd] = readLength(data, offset + 1, limit, state);
  const end = headerEnd + length;
  if (end > limit) fail(state, offset, `length ${length} runs past its container`);
  const constructed = (tag & 0x20) !== 0, universal = tag >> 6 === 0;
  if (universal && UNIVERSAL_CONSTRUCTED.has(tag & 0x1f) !== constructed) fail(state, offset, `universal tag ${tag & 0x1f} in the wrong form`);
  let children = null;
  if (constructed) {
    children = [];
    for (let at = headerEnd; at < end; at = children[children.length - 1].end) children.push(readNode(data, at, end, depth + 1, state));
    if (tag === 0x31) checkSetOrder(children, state);
  } else if (universal) {
    checkPrimitive(tag, data.subarray(headerEnd, end), offset, state);
  }
  return new DerNode(data, offset, headerEnd, end, children);
}

function readLength(data, at, limit, state) {
  const first = data[at];
  if (first < 0x80) return [first, at + 1];
  const n = first & 0x7f;
  if (n === 0) fail(state, at, "indefinite length");
  if (n > 4 || at + 1 + n > limit) fail(state, at, "length too long");
  if (data[at + 1] === 0) fail(state, at, "length with a leading zero byte");
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + data[at + 1 + i];
  if (length < 0x80) fail(state, at, "long form for a short length");
  return [length, at + 1 + n];
}

function checkPrimitive(tag, value, offset, state) {
  switch (tag) {
    case 0x01:
      if (value.length !== 1 || (value[0] !== 0 && value[0] !== 0xff)) fail(state, offset, "boolean not 00 or ff");
      break;
    case 0x02: case 0x0a:
      if (!value.length || (value.length > 1 && ((value[0] === 0 && value[1] < 0x80) || (value[0] === 0xff && value[1] >= 0x80)))) {
        fail(state, offset, "integer not in its shortest form");
      }
      break;
    case 0x03:
      if (!value.length || value[0] > 7 || (value.length === 1 && value[0]) || (value.length > 1 && value[value.length - 1] & ((1 << value[0]) - 1))) {
        fail(state, offset, "bit string padding");
      }
      break;
    case 0x05:
      if (value.length) fail(state, offset, "null with content");
      break;
    case 0x06:
      checkOid(value, offset, state);
      break;
    default:
  }
}

function checkOid(value, offset, state) {
  if (!value.length || value[value.length - 1] & 0x80) fail(state, offset, "truncated object identifier");
  for (let i = 0; i < value.length; i++) {
    if (value[i] === 0x80 && (i === 0 || !(value[i - 1] & 0x80))) fail(state, offset, "object identifier not in its shortest form");
  }
}

function checkSetOrder(children, state) {
  for (let i = 1; i < children.length; i++) {
    if (compareBytes(children[i - 1].raw, children[i].raw) > 0) fail(state, children[i].start, "set of values not in ascending order");
  }
}

/** Compare two byte strings as DER orders SET OF (bytewise, a prefix first). */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The dotted text of an OBJECT IDENTIFIER node. */
export function oidOf(node, what) {
  expectTag(node, 0x06, what);
  const v = node.value, parts = [];
  let n = 0n;
  for (const byte of v) {
    n = (n << 7n) | BigInt(byte & 0x7f);
    if (!(byte & 0x80)) {
      if (!parts.length) parts.push(n < 80n ? n / 40n : 2n, n < 80n ? n % 40n : n - 80n);
      else parts.push(n);
      n = 0n;
    }
  }
  return parts.join(".");
}

/** The value of an INTEGER node as a BigInt. */
export function integerOf(node, what) {
  expectTag(node, 0x02, what);
  let n = 0n;
  for (const byte of node.value) n = (n << 8n) | BigInt(byte);
  if (node.value[0] & 0x80) n -= 1n << BigInt(8 * node.value.length);
  return n;
}

/** Raise MalformedInput unless `node` has tag byte `tag`. */
export function expectTag(node, tag, what) {
  if (node === undefined || node.tag !== tag) {
    const got = node === undefined ? "nothing" : `tag 0x${node.tag.toString(16)}`;
    throw new MalformedInput(`${what}: want tag 0x${tag.toString(16)}, got ${got}`);
  }
  return node;
}

/** The children of a constructed node with tag `tag`, checking there are between `min` and `max` of them. */
export function childrenOf(node, tag, what, min = 0, max = Infinity) {
  expectTag(node, tag, what);
  if (node.children.length < min || node.children.length > max) {
    throw new MalformedInput(`${what}: ${node.children.length} elements, want ${min === max ? min : `${min} to ${max}`}`);
  }
  return node.children;
}
