// The structure of a user value, for msgpack: prepare() walks the value once and returns a
// tree msgpackr can write; restore() turns what msgpackr read back into the user's value.
//
// What plain msgpack cannot say (a Map, a Set, an Error, -0, a hole in an array, a null
// prototype, an own "__proto__" key, a RegExp's lastIndex, a boxed primitive, an object met
// twice, a ref or an actor handle) is an `Internal`: one msgpack extension (0x48) holding
// [kind, ...fields]. Only prepare() makes them, so nothing a user writes in a plain object can
// be read back as one. Binary values (typed arrays, DataView, ArrayBuffer) are `Binary`, the
// extension src/serialization.ts writes (in band or out of band).
//
// Identity, as structuredClone keeps it: every object prepare() meets is numbered in the order
// it is first met. Meeting one again writes a pointer to its id, and its first place gets a
// "shared" wrapper carrying that id (put there once the walk is over, so cycles need nothing
// more). restore() walks in the same order, so a pointer always comes after its object's shell.
import { addExtension } from "msgpackr";
import { inspect } from "node:util";
import { SerializationError } from "./errors.js";

/** How ObjectRefs and actor handles nested in values are written and rebuilt (each core worker has its own). */
export interface HandleCodec {
  isRef(v: object): boolean;
  encodeRef(v: object): unknown;
  decodeRef(data: any): object;
  isActor(v: object): boolean;
  encodeActor(v: object): unknown;
  decodeActor(data: any): object;
}
// The codec in use while a value is packed or unpacked (both synchronous): a core worker swaps
// its own in around each of its calls (CoreWorker.serialize/deserialize); between calls it is
// the session's (useSessionCodec), for values packed outside a core worker (kv, bound arguments).
let codec: HandleCodec | undefined;
/** Use `c` for the handles in values; returns the codec it replaces, to be swapped back. */
export function swapCodec(c: HandleCodec | undefined): HandleCodec | undefined {
  const prev = codec;
  codec = c;
  return prev;
}

export const arrayKinds = [Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, Buffer] as const;
export const KIND_ARRAYBUFFER = 100;
export const KIND_DATAVIEW = 101;
const kindByTag = new Map<string, number>(arrayKinds.map((k, i) => [k.name, i]));
kindByTag.delete("Buffer");
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;

/** A binary value inside a user value, with its kind (a subclass of Uint8Array is a Uint8Array, as structuredClone makes it). */
export class Binary { constructor(readonly v: ArrayBufferView | ArrayBuffer, readonly kind: number) {} }

const K_REF = 0, K_ACTOR = 1, K_SHARED = 2, K_POINTER = 3, K_MAP = 4, K_SET = 5, K_ERROR = 6, K_ARRAY = 7,
  K_RECORD = 8, K_REGEXP = 9, K_NEG_ZERO = 10, K_BOXED = 11;

/** An internal value: data is [kind, ...fields], then the own keys and values of `obj` if there is one. */
class Internal {
  constructor(readonly data: unknown[], readonly obj?: object) {}
}
addExtension({ Class: Internal as any, type: 0x48,
  write: (x: Internal) => {
    if (!x.obj) return x.data;
    const out = x.data.slice();
    for (const k of Object.keys(x.obj)) out.push(k, (x.obj as any)[k]);
    return out;
  },
  read: readInternal });

const errorKinds = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError] as const;

// ---- prepare ----

// The path of a part is a stack of keys, made into text only for an error.
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

interface Walk {
  root: string;
  steps: PathStep[];
  nested: object[];
  /** Object → the order it was first met in; parents[i][keys[i]] is where its prepared form sits. */
  seen: Map<object, number>;
  parents: any[];
  keys: (string | number)[];
  /** Order of first meeting → shared id, for objects met more than once. */
  shared: Map<number, number> | undefined;
}

/** A number, string, boolean, null, undefined or bigint that msgpack keeps as it is. */
const kept = (x: unknown) => typeof x !== "object" && typeof x !== "function" && typeof x !== "symbol" && (x !== 0 || 1 / x > 0);

/** The prepared tree of a non-scalar value; throws SerializationError naming the path of an unsupported part. */
export function prepare(value: unknown, root: string, nested: object[]): unknown {
  const holder = [undefined];
  const w: Walk = { root, steps: [], nested, seen: new Map(), parents: [], keys: [], shared: undefined };
  holder[0] = walk(value, w, holder, 0) as undefined;
  if (w.shared) {
    for (const [order, id] of w.shared) {
      const parent = w.parents[order], key = w.keys[order];
      parent[key] = new Internal([K_SHARED, id, parent[key]]);
    }
  }
  return holder[0];
}

/** Prepare `x`, to be put at parent[key], with its path step. */
function child(x: unknown, w: Walk, parent: object, key: string | number, step: PathStep): unknown {
  w.steps.push(step);
  const out = walk(x, w, parent, key);
  w.steps.pop();
  return out;
}

function walk(v: unknown, w: Walk, parent: object, key: string | number): unknown {
  switch (typeof v) {
    case "function":
      throw new SerializationError(pathText(w.root, w.steps), `function ${v.name || "(anonymous)"}`,
        "functions cannot be sent to another process. Tip: make it a remote function, or define it inside the task.");
    case "symbol":
      throw new SerializationError(pathText(w.root, w.steps), "symbol", "symbols cannot be sent to another process.");
    case "number": return v === 0 && 1 / v < 0 ? new Internal([K_NEG_ZERO]) : v;
    case "object": break;
    default: return v;
  }
  if (v === null) return v;
  if (codec?.isRef(v)) { w.nested.push(v); return new Internal([K_REF, codec.encodeRef(v)]); }
  if (codec?.isActor(v)) return new Internal([K_ACTOR, codec.encodeActor(v)]);
  const met = w.seen.get(v);
  if (met !== undefined) {
    w.shared ??= new Map();
    let id = w.shared.get(met);
    if (id === undefined) w.shared.set(met, id = w.shared.size);
    return new Internal([K_POINTER, id]);
  }
  w.seen.set(v, w.parents.length);
  w.parents.push(parent);
  w.keys.push(key);
  if (Array.isArray(v)) return walkArray(v, w);
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype) return walkObject(v, w, false);
  if (proto === null) return walkObject(v, w, true);
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return new Binary(v, binaryKind(v, w));
  if (v instanceof Date) return v;
  if (v instanceof RegExp) return new Internal([K_REGEXP, v.source, v.flags, v.lastIndex]);
  if (v instanceof Map) {
    const data: unknown[] = [K_MAP];
    for (const [k, x] of v) {
      data.push(undefined, undefined);
      data[data.length - 2] = child(k, w, data, data.length - 2, { map: "key" });
      data[data.length - 1] = child(x, w, data, data.length - 1, { map: "get", key: k });
    }
    return new Internal(data);
  }
  if (v instanceof Set) {
    const data: unknown[] = [K_SET];
    let i = 0;
    for (const x of v) { data.push(undefined); data[data.length - 1] = child(x, w, data, data.length - 1, { item: i++ }); }
    return new Internal(data);
  }
  if (v instanceof Error) return walkError(v, w);
  if (proto === Number.prototype || proto === String.prototype || proto === Boolean.prototype || proto === BigInt.prototype) {
    const p = (v as any).valueOf();
    return new Internal([K_BOXED, kept(p) ? p : new Internal([K_NEG_ZERO])]);
  }
  const name = proto?.constructor?.name ?? "unknown";
  throw new SerializationError(pathText(w.root, w.steps), `instance of class ${name}`,
    `class instances do not keep their class across processes. Tip: send a plain object ({ ...value }), or make ${name} an actor.`);
}

function binaryKind(v: ArrayBufferView | ArrayBuffer, w: Walk): number {
  if (v instanceof ArrayBuffer) return KIND_ARRAYBUFFER;
  if (v instanceof DataView) return KIND_DATAVIEW;
  if (Buffer.isBuffer(v)) return arrayKinds.length - 1;
  const kind = kindByTag.get(typedArrayTag.call(v));
  if (kind === undefined) {
    throw new SerializationError(pathText(w.root, w.steps), `binary ${v.constructor?.name}`,
      "only typed arrays, DataView, ArrayBuffer and Buffer can be sent. Tip: copy it into a Uint8Array.");
  }
  return kind;
}

// Object.keys() of a long array costs ~130 ns an element (a string per index, past V8's cache);
// inspect() with maxArrayLength 0 lists only the other keys, so it tells in microseconds
// whether there are any.
const LONG_ARRAY = 512;
const noOtherKeys = { maxArrayLength: 0, depth: 0, customInspect: false, getters: false } as const;

function walkArray(v: unknown[], w: Walk): unknown {
  const n = v.length;
  const out = new Array(n);
  let holes: number[] | undefined;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (kept(x)) {
      if (x === undefined && !(i in v)) (holes ??= []).push(i);
      else out[i] = x;
      continue;
    }
    w.steps.push(i);
    out[i] = walk(x, w, out, i);
    w.steps.pop();
  }
  const present = n - (holes?.length ?? 0);
  const others = n >= LONG_ARRAY && inspect(v, noOtherKeys) === `[ ... ${n} more items ]`
    ? undefined : otherKeys(v, present);
  if (!holes && !others) return out;
  let extra: Record<string, unknown> | undefined;
  if (others) {
    extra = {};
    for (const k of others) setKey(extra, k, child((v as any)[k], w, extra, k, k));
  }
  return new Internal([K_ARRAY, out, holes ?? null], extra);
}

/** The keys of an array that are not indices, if it has any. */
function otherKeys(v: unknown[], present: number): string[] | undefined {
  const keys = Object.keys(v);
  return keys.length === present ? undefined : keys.slice(present);
}

function walkObject(v: object, w: Walk, nullProto: boolean): unknown {
  const out: Record<string, unknown> = {};
  let odd = nullProto;
  for (const k of Object.keys(v)) {
    const x = (v as any)[k];
    if (k === "__proto__") { odd = true; setKey(out, k, child(x, w, out, k, k)); continue; }
    if (kept(x)) { out[k] = x; continue; }
    w.steps.push(k);
    out[k] = walk(x, w, out, k);
    w.steps.pop();
  }
  return odd ? new Internal([K_RECORD, nullProto ? 1 : 0], out) : out;
}

function walkError(e: Error, w: Walk): unknown {
  let kind = errorKinds.length - 1;
  while (kind > 0 && !(e instanceof errorKinds[kind])) kind--;
  const own = (k: string) => Object.prototype.hasOwnProperty.call(e, k);
  const name = !own("name") && e.name !== errorKinds[kind].prototype.name ? e.name : undefined;
  // [kind, class, message, stack, name, hasCause, cause, errors] then the own enumerable fields
  const stack = typeof e.stack === "string" ? e.stack : undefined;
  const data: unknown[] = [K_ERROR, kind, own("message") ? String(e.message) : undefined, stack, name, own("cause") ? 1 : 0, undefined, undefined];
  if (own("cause")) data[6] = child((e as any).cause, w, data, 6, "cause");
  if (kind === errorKinds.length - 1) data[7] = child((e as AggregateError).errors, w, data, 7, "errors");
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(e)) setKey(fields, k, child((e as any)[k], w, fields, k, k));
  return new Internal(data, fields);
}

/** o[k] = x, as an own property even when k is "__proto__" (which would set the prototype). */
function setKey(o: any, k: string | number, x: unknown): void {
  if (k === "__proto__") Object.defineProperty(o, k, { value: x, writable: true, enumerable: true, configurable: true });
  else o[k] = x;
}

// ---- restore ----

/** What msgpackr read for an Internal that needs the walk of restore(). */
class Marker { constructor(readonly data: any[]) {} }

/** Set when the value being read holds a Marker: without one, msgpackr's result is the value. */
let marked = false;

function readInternal(d: any[]): unknown {
  switch (d[0]) {
    case K_REF: return codec!.decodeRef(d[1]);
    case K_ACTOR: return codec!.decodeActor(d[1]);
    case K_NEG_ZERO: return -0;
    case K_BOXED: return Object(d[1]);
    case K_REGEXP: { const r = new RegExp(d[1], d[2]); r.lastIndex = d[3]; return r; }
  }
  marked = true;
  return new Marker(d);
}

/** Read one value with `unpack`, then rebuild what it holds that msgpack could not say. */
export function readValue(unpack: () => unknown): unknown {
  const saved = marked;
  marked = false;
  try {
    const v = unpack();
    return marked ? restore(v, []) : v;
  } finally { marked = saved; }
}

/** The user's value of `v`; `ids` holds the objects met so far that are shared, by id. */
function restore(v: unknown, ids: unknown[], id = -1): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) {
    if (id >= 0) ids[id] = v;
    for (let i = 0; i < v.length; i++) v[i] = restore(v[i], ids);
    return v;
  }
  if (!(v instanceof Marker)) {
    if (id >= 0) ids[id] = v;
    if (Object.getPrototypeOf(v) === Object.prototype) for (const k of Object.keys(v)) (v as any)[k] = restore((v as any)[k], ids);
    return v;
  }
  const d = v.data;
  switch (d[0]) {
    case K_SHARED: return restore(d[2], ids, d[1]);
    case K_POINTER: return ids[d[1]];
    case K_MAP: {
      const m = new Map();
      if (id >= 0) ids[id] = m;
      for (let i = 1; i < d.length; i += 2) { const k = restore(d[i], ids); m.set(k, restore(d[i + 1], ids)); }
      return m;
    }
    case K_SET: {
      const s = new Set();
      if (id >= 0) ids[id] = s;
      for (let i = 1; i < d.length; i++) s.add(restore(d[i], ids));
      return s;
    }
    case K_ARRAY: {
      const a: unknown[] = d[1];
      if (id >= 0) ids[id] = a;
      for (const h of d[2] ?? []) delete a[h];
      for (let i = 0; i < a.length; i++) if (i in a) a[i] = restore(a[i], ids);
      fill(a, d, 3, ids);
      return a;
    }
    case K_RECORD: {
      const o = d[1] ? Object.create(null) : {};
      if (id >= 0) ids[id] = o;
      return fill(o, d, 2, ids);
    }
    case K_ERROR: return restoreError(d, ids, id);
  }
  throw new Error(`unknown internal value ${d[0]} in a serialized value (written by a newer Helios?)`);
}

/** Set the keys and values listed in d from index `from` on `o`, restored. */
function fill(o: object, d: any[], from: number, ids: unknown[]): object {
  for (let i = from; i < d.length; i += 2) setKey(o, d[i], restore(d[i + 1], ids));
  return o;
}

function restoreError(d: any[], ids: unknown[], id: number): Error {
  const [, kind, message, stack, name, hasCause] = d;
  const K = errorKinds[kind] as any;
  const e: Error = K === AggregateError ? new AggregateError([], message) : new K(message);
  if (id >= 0) ids[id] = e;
  const hidden = (k: string, value: unknown) => Object.defineProperty(e, k, { value, writable: true, enumerable: false, configurable: true });
  if (stack === undefined) delete e.stack; else hidden("stack", stack);
  if (name !== undefined) hidden("name", name);
  if (hasCause) hidden("cause", restore(d[6], ids));
  if (K === AggregateError) hidden("errors", restore(d[7], ids));
  fill(e, d, 8, ids);
  return e;
}
