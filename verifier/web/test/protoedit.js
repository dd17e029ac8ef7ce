// Test helper: change a protobuf message field by field and write it back, to build tampered Fabric blocks
// from the real one (the verifier itself never writes protobuf). `edit(bytes, fn)` hands `fn` the list of
// fields [{number, wire, value}] (protowire.js's reading) and writes what `fn` returns.
import { fields } from "../src/protowire.js";

export function varint(value) {
  const out = [];
  for (let v = BigInt(value); ; v >>= 7n) {
    if (v < 0x80n) {
      out.push(Number(v));
      return Uint8Array.from(out);
    }
    out.push(Number(v & 0x7fn) | 0x80);
  }
}

const join = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** The bytes of one field. */
export function field(number, wire, value) {
  const tag = varint((BigInt(number) << 3n) | BigInt(wire));
  if (wire === 0) return join([tag, varint(value)]);
  if (wire === 2) return join([tag, varint(value.length), value]);
  return join([tag, value]);
}

/** The message written from a field list. */
export function write(list) {
  return join(list.map((f) => field(f.number, f.wire, f.value)));
}

/** `data` with its fields replaced by fn(fields). */
export function edit(data, fn) {
  return write(fn(fields(data, "edit").map(({ number, wire, value }) => ({ number, wire, value }))));
}

/** `data` with the bytes of length-delimited field `number` (its `index`th occurrence) replaced by fn(bytes). */
export function editField(data, number, fn, index = 0) {
  let seen = -1;
  return edit(data, (list) => list.map((f) => (f.number === number && ++seen === index ? { ...f, value: fn(f.value) } : f)));
}

/** `bytes` with bit pattern `mask` xored in at `at` (negative: from the end). */
export function flip(bytes, at, mask = 1) {
  const out = Uint8Array.from(bytes);
  out[at < 0 ? out.length + at : at] ^= mask;
  return out;
}
