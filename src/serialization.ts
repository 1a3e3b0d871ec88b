// User values <-> bytes. msgpackr carries the structure; typed arrays and Buffers above
// OOB_THRESHOLD travel out of band: raw bytes after the msgpack body, 8-byte aligned, so a
// reader gets a view of the same type over the bytes it read (no copy through msgpack).
//
// Layout: u32 magic | u32 bodyLength | u32 bufferCount | u32 0 | f64 length × count
//         | body | (pad | buffer) × count
// Each buffer starts 8-byte aligned, and 4 KiB aligned from 64 KiB up: a large copy between
// addresses that differ mod 4 KiB runs at a third of memory speed here (4K aliasing), so
// big buffers keep the page offset they have in a freshly allocated source.
import { Packr, addExtension } from "msgpackr";
import { Binary, prepare, readValue, arrayKinds, KIND_ARRAYBUFFER, KIND_DATAVIEW } from "./values.js";

const MAGIC = 0x31564c48; // "HLV1"
const OOB_THRESHOLD = 16 * 1024;
const alignOf = (length: number) => (length >= 64 * 1024 ? 4096 : 8);

export { swapCodec, type HandleCodec } from "./values.js";

let sink: Uint8Array[] | null = null;     // out-of-band buffers of the value being packed
let sources: Uint8Array[] | null = null;  // out-of-band buffers of the value being unpacked

function bytesOf(v: ArrayBufferView | ArrayBuffer): Uint8Array {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function packBinary({ v, kind }: Binary): Buffer {
  const bytes = bytesOf(v);
  if (sink && bytes.byteLength >= OOB_THRESHOLD) {
    const out = Buffer.allocUnsafe(6);
    out[0] = kind; out[1] = 1;
    out.writeUInt32LE(sink.length, 2);
    sink.push(bytes);
    return out;
  }
  const out = Buffer.allocUnsafe(2 + bytes.byteLength);
  out[0] = kind; out[1] = 0;
  out.set(bytes, 2);
  return out;
}

function unpackBinary(b: Uint8Array): unknown {
  const kind = b[0];
  let bytes: Uint8Array;
  if (b[1] === 1) {
    bytes = sources![Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUInt32LE(2)];
    // A view over the bytes read would show, through its .buffer, the header and the other
    // values' bytes (and share them with whoever holds that read): an ArrayBuffer of its own.
    if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) bytes = new Uint8Array(bytes);
  } else {
    bytes = new Uint8Array(b.byteLength - 2);   // copy: fresh and aligned
    bytes.set(b.subarray(2));
  }
  if (kind === KIND_ARRAYBUFFER) return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer : bytes.slice().buffer;
  if (kind === KIND_DATAVIEW) return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const K = arrayKinds[kind] as any;
  if (K === Buffer) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = K.BYTES_PER_ELEMENT as number;
  if (bytes.byteOffset % size !== 0) bytes = bytes.slice();
  return new K(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
}

// Binary values inside user values (wrapped by prepare()) take this typed extension. Bytes in
// the runtime's own messages (an inline value in a task push or a reply) stay plain msgpack bin,
// which msgpackr writes and reads as a view, with no copy.
addExtension({ Class: Binary as any, type: 0x43, pack: packBinary, unpack: unpackBinary });
// Errors in the runtime's own messages (user values' errors are prepare()'s).
addExtension({ Class: Error, type: 0x45,
  write: (e: Error) => ({ name: e.name, message: e.message, stack: e.stack, cause: (e as any).cause }),
  read: (d: any) => { const e = new Error(d.message, d.cause !== undefined ? { cause: d.cause } : undefined); e.name = d.name; e.stack = d.stack; return e; } });

const packr = new Packr({ useRecords: false, moreTypes: true, encodeUndefinedAsNil: false });

export interface Serialized {
  /** Chunks to write or send in order; their total length is `size`. */
  chunks: Uint8Array[];
  size: number;
  /** ObjectRef ids found nested in the value. */
  nested: object[];
}

/** Serialize a user value; throws SerializationError naming the path of an unsupported part. */
export function serialize(value: unknown, path = "value"): Serialized {
  const scalar = serializeScalar(value);
  if (scalar) return scalar;
  const nested: object[] = [];
  const prepared = typeof value === "object" && value !== null || typeof value === "function" || typeof value === "symbol"
    ? prepare(value, path, nested) : value;
  sink = [];
  let body: Buffer;
  let buffers: Uint8Array[];
  try {
    body = packr.pack(prepared);
    buffers = sink;
  } finally { sink = null; }
  if (buffers.length === 0) {   // the common case: header and body in one buffer, from Node's pool
    const out = inlineBuffer(body.length);
    out.set(body, 16);
    return { chunks: [out], size: out.length, nested };
  }
  const header = Buffer.alloc(16 + 8 * buffers.length);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(body.length, 4);
  header.writeUInt32LE(buffers.length, 8);
  buffers.forEach((b, i) => header.writeDoubleLE(b.byteLength, 16 + 8 * i));
  const chunks: Uint8Array[] = [header, body];
  let size = header.length + body.length;
  for (const b of buffers) {
    const align = alignOf(b.byteLength);
    const pad = (align - (size % align)) % align;
    if (pad) { chunks.push(Buffer.alloc(pad)); size += pad; }
    chunks.push(b); size += b.byteLength;
  }
  return { chunks, size, nested };
}

/** serialize() of a number, string, boolean or null; undefined for anything else. */
export function serializeScalar(value: unknown): Serialized | undefined {
  const b = packScalar(value);
  return b && { chunks: [b], size: b.length, nested: NO_NESTED };
}

/** One contiguous buffer of a serialized value (for inline transport). */
export function concat(s: Serialized): Buffer {
  if (s.chunks.length === 1 && Buffer.isBuffer(s.chunks[0])) return s.chunks[0];
  return s.chunks.length === 2 ? Buffer.concat(s.chunks as Buffer[]) : Buffer.concat(s.chunks, s.size);
}

export function serializeToBuffer(value: unknown, path?: string): Buffer { return concat(serialize(value, path)); }

/**
 * The value in `buf`: one buffer holding the whole layout, or the parts readParts() read (the
 * header and body, then each out-of-band buffer in an ArrayBuffer of its own, used as it is).
 */
export function deserialize(buf: Uint8Array | Uint8Array[]): unknown {
  const first = Array.isArray(buf) ? buf[0] : buf;
  const view = Buffer.isBuffer(first) ? first : Buffer.from(first.buffer, first.byteOffset, first.byteLength);
  if (view.readUInt32LE(0) !== MAGIC) throw new Error("not a Helios value (bad magic)");
  const bodyLength = view.readUInt32LE(4);
  const count = view.readUInt32LE(8);
  if (count === 0) {
    const scalar = unpackScalar(view, bodyLength);
    if (scalar !== NOT_SCALAR) return scalar;
  }
  let offset = 16 + 8 * count;
  const body = view.subarray(offset, offset + bodyLength);
  offset += bodyLength;
  let bufs: Uint8Array[];
  if (Array.isArray(buf)) bufs = buf.slice(1);
  else {
    bufs = [];
    for (let i = 0; i < count; i++) {
      const len = view.readDoubleLE(16 + 8 * i);
      const align = alignOf(len);
      offset += (align - (offset % align)) % align;
      bufs.push(new Uint8Array(buf.buffer, buf.byteOffset + offset, len));
      offset += len;
    }
  }
  if (bufs.length !== count) throw new Error(`a Helios value of ${count} buffers came in ${bufs.length}`);
  const saved = sources;
  sources = bufs;
  try { return readValue(() => packr.unpack(body)); } finally { sources = saved; }
}

/**
 * Read a serialized value of `size` bytes through `readAt` (fill `into` from byte `position`)
 * in parts for deserialize(): the header and body in one buffer, then each out-of-band buffer
 * into an ArrayBuffer of its own, which the value's typed array then uses with no copy.
 */
export function readParts(size: number, readAt: (into: Uint8Array, position: number) => void): Uint8Array[] {
  const head = Buffer.allocUnsafe(16);
  readAt(head, 0);
  if (head.readUInt32LE(0) !== MAGIC) throw new Error("not a Helios value (bad magic)");
  const count = head.readUInt32LE(8);
  const first = Buffer.allocUnsafeSlow(count === 0 ? size : 16 + 8 * count + head.readUInt32LE(4));
  readAt(first, 0);
  const parts: Uint8Array[] = [first];
  let offset = first.length;
  for (let i = 0; i < count; i++) {
    const len = first.readDoubleLE(16 + 8 * i);
    const align = alignOf(len);
    offset += (align - (offset % align)) % align;
    const part = new Uint8Array(Buffer.allocUnsafeSlow(len).buffer, 0, len);
    readAt(part, offset);
    parts.push(part);
    offset += len;
  }
  if (offset !== size) throw new Error(`a Helios value of ${offset} bytes was read from ${size}`);
  return parts;
}

// Numbers, strings, booleans and null, the values of most small tasks, are written and read
// here, in the bytes msgpackr would write: a pack() or unpack() call of msgpackr costs more
// than the value itself.
const NO_NESTED: object[] = [];
Object.freeze(NO_NESTED);
const MAX_SCALAR_STRING = 1024;

function packScalar(v: unknown): Buffer | undefined {
  let out: Buffer;
  switch (typeof v) {
    case "number":
      if (v === 0 && 1 / v < 0) { out = inlineBuffer(9); out[16] = 0xcb; out.writeDoubleBE(v, 17); }
      else if (v >>> 0 === v) {
        if (v < 0x80) { out = inlineBuffer(1); out[16] = v; }
        else if (v < 0x100) { out = inlineBuffer(2); out[16] = 0xcc; out[17] = v; }
        else if (v < 0x10000) { out = inlineBuffer(3); out[16] = 0xcd; out.writeUInt16BE(v, 17); }
        else { out = inlineBuffer(5); out[16] = 0xce; out.writeUInt32BE(v, 17); }
      } else if (v >> 0 === v) {
        if (v >= -0x20) { out = inlineBuffer(1); out[16] = 0x100 + v; }
        else if (v >= -0x80) { out = inlineBuffer(2); out[16] = 0xd0; out[17] = v + 0x100; }
        else if (v >= -0x8000) { out = inlineBuffer(3); out[16] = 0xd1; out.writeInt16BE(v, 17); }
        else { out = inlineBuffer(5); out[16] = 0xd2; out.writeInt32BE(v, 17); }
      } else { out = inlineBuffer(9); out[16] = 0xcb; out.writeDoubleBE(v, 17); }
      return out;
    case "boolean":
      out = inlineBuffer(1); out[16] = v ? 0xc3 : 0xc2;
      return out;
    case "string": {
      if (v.length > MAX_SCALAR_STRING || !(v as unknown as { isWellFormed(): boolean }).isWellFormed()) return undefined;   // lone surrogates: msgpackr's own bytes
      const n = Buffer.byteLength(v);
      const head = n < 0x20 ? 1 : n < 0x100 ? 2 : 3;
      out = inlineBuffer(head + n);
      if (head === 1) out[16] = 0xa0 | n;
      else if (head === 2) { out[16] = 0xd9; out[17] = n; }
      else { out[16] = 0xda; out.writeUInt16BE(n, 17); }
      out.write(v, 16 + head, "utf8");
      return out;
    }
    case "object":
      if (v !== null) return undefined;
      out = inlineBuffer(1); out[16] = 0xc0;
      return out;
    default:
      return undefined;
  }
}

/** A value's buffer with no out-of-band parts: its header written, `bodyLength` bytes after it to fill. */
function inlineBuffer(bodyLength: number): Buffer {
  const out = Buffer.allocUnsafe(16 + bodyLength);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(bodyLength, 4);
  out.writeUInt32LE(0, 8);
  out.writeUInt32LE(0, 12);
  return out;
}

const NOT_SCALAR = Symbol("not a scalar");

function unpackScalar(b: Buffer, n: number): unknown {
  const t = b[16];
  if (n === 1) {
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t === 0xc0) return null;
    if (t === 0xc2) return false;
    if (t === 0xc3) return true;
    if (t === 0xa0) return "";
    return NOT_SCALAR;
  }
  switch (t) {
    case 0xcc: return n === 2 ? b[17] : NOT_SCALAR;
    case 0xcd: return n === 3 ? b.readUInt16BE(17) : NOT_SCALAR;
    case 0xce: return n === 5 ? b.readUInt32BE(17) : NOT_SCALAR;
    case 0xd0: return n === 2 ? b.readInt8(17) : NOT_SCALAR;
    case 0xd1: return n === 3 ? b.readInt16BE(17) : NOT_SCALAR;
    case 0xd2: return n === 5 ? b.readInt32BE(17) : NOT_SCALAR;
    case 0xcb: return n === 9 ? b.readDoubleBE(17) : NOT_SCALAR;
    case 0xd9: return n === 2 + b[17] ? b.toString("utf8", 18, 16 + n) : NOT_SCALAR;
    case 0xda: return n === 3 + b.readUInt16BE(17) ? b.toString("utf8", 19, 16 + n) : NOT_SCALAR;
  }
  if ((t & 0xe0) === 0xa0 && n === 1 + (t & 0x1f)) return b.toString("utf8", 17, 16 + n);
  return NOT_SCALAR;
}
