// Reading the canonical zip of an evidence pack (docs/formats.md, "Zip rules"), written from the format
// page. A v1 pack is exactly the canonical stored zip of its entries, so every byte outside file data and
// CRC-32 fields is fixed: a general zip library would accept archives the format refuses (and the two
// verifiers must refuse the same ones), and stored entries need no inflate. Any deviation is reason `zip`;
// comparing each CRC-32 with the data is the caller's (`file-hash`), so a flipped data byte names its file.
import { PackError } from "./reasons.js";
import { decodeUtf8Exact, utf8 } from "./bytes.js";

export const MAX_ENTRIES = 60000;
export const MAX_FILE_BYTES = 2 ** 30;
export const MAX_PACK_BYTES = 2 ** 31;
const SIG_LOCAL = 0x04034b50, SIG_CENTRAL = 0x02014b50, SIG_END = 0x06054b50;
const VERSION = 20, MADE_BY = 0x0314, FLAGS = 0x0800, TIME = 0, DATE = 0x0021, ATTRS = 0x81a40000;
const LOCAL_SIZE = 30, CENTRAL_SIZE = 46, END_SIZE = 22;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

const zipError = (message, path = null) => new PackError("zip", message, path);

/** Refuse (`zip`) a path outside the v1 rules: 1-255 bytes, at most 8 [A-Za-z0-9._-]+ segments, none . or .. */
export function checkPath(path) {
  const segments = path.split("/");
  const size = utf8(path).length;
  if (size < 1 || size > 255 || segments.length > 8) throw zipError(`entry name ${JSON.stringify(path.slice(0, 80))} must be 1-255 bytes with at most 8 segments`, path.slice(0, 255));
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || segment === "." || segment === "..") {
      throw zipError(`entry name ${JSON.stringify(path.slice(0, 80))} has a segment outside [A-Za-z0-9._-]+ (or '.', '..', empty)`, path.slice(0, 255));
    }
  }
}

/** The entries {path, data, crc32} of a canonical v1 pack zip, in archive order; PackError(`zip`) otherwise. */
export function readPackZip(data) {
  if (data.length > MAX_PACK_BYTES) throw new PackError("unreadable", `pack is ${data.length} bytes, want at most ${MAX_PACK_BYTES}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const { count, cdSize, cdOffset } = endRecord(data, view);
  const entries = [];
  let offset = 0, position = cdOffset;
  for (let i = 0; i < count; i++) {
    const c = central(data, view, position);
    if (c.localOffset !== offset) throw zipError(`entry ${JSON.stringify(c.path)} starts at ${c.localOffset}, want ${offset} (entries must be packed)`, c.path);
    offset = local(data, view, offset, c);
    entries.push({ path: c.path, data: data.subarray(offset - c.size, offset), crc32: c.crc });
    position = c.next;
  }
  if (offset !== cdOffset || position !== cdOffset + cdSize) throw zipError(`central directory at ${cdOffset} of ${cdSize} bytes, want at ${offset} ending at ${position}`);
  checkOrder(entries);
  return entries;
}

function endRecord(data, view) {
  if (data.length < END_SIZE) throw zipError(`pack is ${data.length} bytes: too short for a zip end record`);
  const at = data.length - END_SIZE;
  const [sig, disk, cdDisk, here, count] = [view.getUint32(at, true), view.getUint16(at + 4, true), view.getUint16(at + 6, true), view.getUint16(at + 8, true), view.getUint16(at + 10, true)];
  const cdSize = view.getUint32(at + 12, true), cdOffset = view.getUint32(at + 16, true), comment = view.getUint16(at + 20, true);
  if (sig !== SIG_END || disk !== 0 || cdDisk !== 0 || comment !== 0 || here !== count) {
    throw zipError("the last 22 bytes are not a one-disk zip end record without comment (trailing bytes, a comment or a multi-disk archive)");
  }
  if (count < 1 || count > MAX_ENTRIES) throw zipError(`zip has ${count} entries, want 1 to ${MAX_ENTRIES}`);
  if (cdOffset + cdSize !== at) throw zipError(`central directory (${cdOffset} + ${cdSize}) does not end where the end record starts`);
  return { count, cdSize, cdOffset };
}

function central(data, view, position) {
  if (position + CENTRAL_SIZE > data.length) throw zipError(`central directory entry at ${position} runs past the end of the pack`);
  const u16 = (o) => view.getUint16(position + o, true), u32 = (o) => view.getUint32(position + o, true);
  const fixed = [u32(0), u16(4), u16(6), u16(8), u16(10), u16(12), u16(14), u16(30), u16(32), u16(34), u16(36), u32(38)];
  const want = [SIG_CENTRAL, MADE_BY, VERSION, FLAGS, 0, TIME, DATE, 0, 0, 0, 0, ATTRS];
  if (fixed.some((v, i) => v !== want[i])) throw zipError(`central directory entry at ${position} is not a v1 stored entry (fixed fields differ)`);
  const crc = u32(16), csize = u32(20), usize = u32(24), nlen = u16(28);
  if (csize !== usize || usize > MAX_FILE_BYTES) throw zipError(`central directory entry at ${position}: sizes ${csize}/${usize}, want equal and <= ${MAX_FILE_BYTES}`);
  const path = entryName(data.subarray(position + CENTRAL_SIZE, position + CENTRAL_SIZE + nlen));
  return { path, crc, size: usize, localOffset: u32(42), next: position + CENTRAL_SIZE + nlen };
}

function local(data, view, offset, c) {
  if (offset + LOCAL_SIZE > data.length) throw zipError(`local header of ${JSON.stringify(c.path)} runs past the end of the pack`, c.path);
  const u16 = (o) => view.getUint16(offset + o, true), u32 = (o) => view.getUint32(offset + o, true);
  const name = utf8(c.path);
  const fields = [u32(0), u16(4), u16(6), u16(8), u16(10), u16(12), u32(14), u32(18), u32(22), u16(26), u16(28)];
  const want = [SIG_LOCAL, VERSION, FLAGS, 0, TIME, DATE, c.crc, c.size, c.size, name.length, 0];
  if (fields.some((v, i) => v !== want[i])) throw zipError(`local header of ${JSON.stringify(c.path)} differs from its central directory entry or the v1 fields`, c.path);
  const start = offset + LOCAL_SIZE;
  const stored = data.subarray(start, start + name.length);
  if (stored.length !== name.length || stored.some((b, i) => b !== name[i])) throw zipError(`local header name differs from the central directory name ${JSON.stringify(c.path)}`, c.path);
  const end = start + name.length + c.size;
  if (end > data.length) throw zipError(`data of ${JSON.stringify(c.path)} runs past the end of the pack`, c.path);
  return end;
}

function entryName(raw) {
  let path;
  try {
    path = decodeUtf8Exact(raw, "entry name");
  } catch {
    throw zipError("entry name is not UTF-8");
  }
  checkPath(path);
  return path;
}

function checkOrder(entries) {
  const folded = new Set();
  entries.forEach((entry, i) => {
    if (i > 0 && !(entry.path > entries[i - 1].path)) {
      throw zipError(`entry ${JSON.stringify(entry.path)} after ${JSON.stringify(entries[i - 1].path)}: names must ascend (bytewise), no duplicates`, entry.path);
    }
    const lower = entry.path.toLowerCase();
    if (folded.has(lower)) throw zipError(`entry ${JSON.stringify(entry.path)} equals another ignoring case`, entry.path);
    folded.add(lower);
  });
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 (ISO-HDLC, as zip uses) of `data`. */
export function crc32(data) {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
