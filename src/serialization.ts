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
import { SerializationError } from "./errors.js";

const MAGIC = 0x31564c48; // "HLV1"
const OOB_THRESHOLD = 16 * 1024;
const alignOf = (length: number) => (length >= 64 * 1024 ? 4096 : 8);

/** How ObjectRefs and actor handles nested in values are written and rebuilt (set by the core worker). */
export interface HandleCodec {
  isRef(v: object): boolean;
  encodeRef(v: object): unknown;
  decodeRef(data: any): object;
  isActor(v: object): boolean;
  encodeActor(v: object): unknown;
  decodeActor(data: any): object;
}
let codec: HandleCodec | undefined;
export function setHandleCodec(c: HandleCodec): void { codec = c; }

const arrayKinds = [Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, Buffer] as const;
type ArrayKind = (typeof arrayKinds)[number];
const KIND_ARRAYBUFFER = 100;
const KIND_DATAVIEW = 101;

let sink: Uint8Array[] | null = null;     // out-of-band buffers of the value being packed
let sources: Uint8Array[] | null = null;  // out-of-band buffers of the value being unpacked

function kindOf(v: ArrayBufferView | ArrayBuffer): number {
  if (v instanceof ArrayBuffer) return KIND_ARRAYBUFFER;
  if (v instanceof DataView) return KIND_DATAVIEW;
  if (Buffer.isBuffer(v)) return arrayKinds.indexOf(Buffer);
  return arrayKinds.findIndex((k) => v.constructor === k);
}

function bytesOf(v: ArrayBufferView | ArrayBuffer): Uint8Array {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function packBinary(v: ArrayBufferView | ArrayBuffer): Buffer {
  const kind = kindOf(v);
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

/**
 * A binary value inside a user value, wrapped by prepare(): only these take the typed
 * extension below. Bytes in the runtime's own messages (an inline value in a task push or a
 * reply) stay plain msgpack bin, which msgpackr writes and reads as a view, with no copy.
 */
class Binary { constructor(readonly v: ArrayBufferView | ArrayBuffer) {} }
addExtension({ Class: Binary as any, type: 0x43, pack: (b: Binary) => packBinary(b.v), unpack: unpackBinary });
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
    ? prepare(value, path, [], nested, new Set()) : value;
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

export function deserialize(buf: Uint8Array): unknown {
  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
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
  const bufs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = view.readDoubleLE(16 + 8 * i);
    const align = alignOf(len);
    offset += (align - (offset % align)) % align;
    bufs.push(new Uint8Array(buf.buffer, buf.byteOffset + offset, len));
    offset += len;
  }
  const saved = sources;
  sources = bufs;
  try { return restore(packr.unpack(body)); } finally { sources = saved; }
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
      if (v >>> 0 === v) {
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

// Walk the value once: reject what cannot round-trip (with its path), and swap refs and
// handles for tagged records so they pass through msgpack. The path is a stack of keys, made
// into text only for an error (a string per element cost every array of numbers a copy).
type PathStep = string | number | { map: "key" | "get"; key?: unknown } | { item: number };

function pathText(root: string, steps: PathStep[]): string {
  let out = root;
  for (const s of steps) {
    if (typeof s === "number") out += `[${s}]`;
    else if (typeof s === "string") out += `.${s}`;
    else if ("item" in s) out += `.<item ${s.item}>`;
    else out += s.map === "key" ? ".<key>" : `.get(${String(s.key)})`;
  }
  return out;
}

function prepare(v: unknown, root: string, steps: PathStep[], nested: object[], seen: Set<object>): unknown {
  switch (typeof v) {
    case "function":
      throw new SerializationError(pathText(root, steps), `function ${v.name || "(anonymous)"}`,
        "functions cannot be sent to another process. Tip: make it a remote function, or define it inside the task.");
    case "symbol":
      throw new SerializationError(pathText(root, steps), "symbol", "symbols cannot be sent to another process.");
    case "object": break;
    default: return v;
  }
  if (v === null) return v;
  if (codec?.isRef(v)) { nested.push(v); return tag("ref", codec.encodeRef(v)); }
  if (codec?.isActor(v)) return tag("actor", codec.encodeActor(v));
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return new Binary(v);
  if (v instanceof Date || v instanceof RegExp) return v;
  if (seen.has(v)) throw new SerializationError(pathText(root, steps), "circular reference", "values with cycles cannot be sent. Tip: break the cycle.");
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      const out = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x !== "object" && typeof x !== "function" && typeof x !== "symbol") { out[i] = x; continue; }
        steps.push(i);
        out[i] = prepare(x, root, steps, nested, seen);
        steps.pop();
      }
      return out;
    }
    if (v instanceof Map) {   // msgpack maps decode as objects: keep Map (and its key types) with a tag
      const entries: unknown[] = [];
      for (const [k, x] of v) {
        steps.push({ map: "key" });
        const pk = prepare(k, root, steps, nested, seen);
        steps[steps.length - 1] = { map: "get", key: k };
        entries.push([pk, prepare(x, root, steps, nested, seen)]);
        steps.pop();
      }
      return tag("map", entries);
    }
    if (v instanceof Set) {
      const out = new Set();
      let i = 0;
      for (const x of v) { steps.push({ item: i++ }); out.add(prepare(x, root, steps, nested, seen)); steps.pop(); }
      return out;
    }
    if (v instanceof Error) return v;
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      const name = proto?.constructor?.name ?? "unknown";
      throw new SerializationError(pathText(root, steps), `instance of class ${name}`,
        `class instances do not keep their class across processes. Tip: send a plain object ({ ...value }), or make ${name} an actor.`);
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      const x = (v as any)[k];
      if (typeof x !== "object" && typeof x !== "function" && typeof x !== "symbol") { out[k] = x; continue; }
      steps.push(k);
      out[k] = prepare(x, root, steps, nested, seen);
      steps.pop();
    }
    return out;
  } finally { seen.delete(v); }
}

const TAG = "__helios$";
function tag(kind: string, data: unknown) { return { [TAG]: kind, d: data }; }

function restore(v: unknown): unknown {
  if (typeof v !== "object" || v === null || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp || v instanceof Error) return v;
  if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) v[i] = restore(v[i]); return v; }
  if (v instanceof Set) return new Set([...v].map(restore));
  const o = v as Record<string, unknown>;
  if (typeof o[TAG] === "string" && Object.keys(o).length === 2) {
    if (o[TAG] === "map") return new Map((o.d as [unknown, unknown][]).map(([k, x]) => [restore(k), restore(x)]));
    return o[TAG] === "ref" ? codec!.decodeRef(o.d) : codec!.decodeActor(o.d);
  }
  for (const k of Object.keys(o)) o[k] = restore(o[k]);
  return o;
}
