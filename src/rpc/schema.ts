// Request bodies checked at the edge of the control plane. A schema is a function that takes
// a decoded msgpack value and returns a fresh, well-typed copy of it, or throws SchemaViolation
// naming the first wrong place ("body.resources.CPU: expected a finite number ≥ 0, got string").
//
// Objects keep only the keys their schema declares: a key that is not there is dropped, not
// refused, as protobuf ignores unknown fields. Handlers therefore never see (nor the head ever
// persist) anything but the declared shape. `validated()` wraps a whole handler map: every
// method needs a schema (a type error, and an error at start-up), and a body that fails its
// schema is answered with InvalidRequestError (gRPC's INVALID_ARGUMENT) before the handler runs.
import { InvalidRequestError } from "../errors.js";
import type { CallContext, Handlers, Method, RequestOf, ServiceName } from "./services.js";

export interface Schema<T> {
  (value: unknown, path: string): T;
  /** What the schema accepts, for messages: "a finite number ≥ 0". */
  readonly expected: string;
  /** Absent (undefined or null) is allowed: the key is left out of the copy. */
  readonly optional?: boolean;
}
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A value that does not fit its schema: where, what was expected, what came. */
export class SchemaViolation extends Error {
  constructor(readonly path: string, readonly expected: string, readonly got: string) {
    super(`${path}: expected ${expected}, got ${got}`);
    this.name = "SchemaViolation";
  }
}

function schema<T>(expected: string, check: (v: unknown, path: string) => T, extra: { optional?: boolean } = {}): Schema<T> {
  return Object.assign(check, { expected, ...extra });
}

const fail = (path: string, expected: string, v: unknown): never => { throw new SchemaViolation(path, expected, describe(v)); };

/** What a value is, in a few words: "string", "number -1", "an array", "bytes", "nothing". */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (typeof v === "number") return `number ${v}`;
  if (typeof v === "string") return v.length === 0 ? "an empty string" : v.length > 64 ? `a string of ${v.length} characters` : "string";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.byteLength} bytes`;
  if (v instanceof Map) return "a map with non-string keys";
  return typeof v === "object" ? "an object" : typeof v;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** A string: non-empty unless `min: 0`, at most `max` characters (1024 by default), matching `pattern`. */
export function string(o: { min?: number; max?: number; pattern?: RegExp; what?: string } = {}): Schema<string> {
  const min = o.min ?? 1;
  const max = o.max ?? 1024;
  const expected = o.what ?? `${min > 0 ? "a non-empty string" : "a string"} of at most ${max} characters`;
  return schema(expected, (v, path) => {
    if (typeof v !== "string" || v.length < min || v.length > max || (o.pattern && !o.pattern.test(v))) fail(path, expected, v);
    return v as string;
  });
}

/** A finite number in [min, max]; `integer` for whole numbers only. */
export function number(o: { min?: number; max?: number; integer?: boolean } = {}): Schema<number> {
  const kind = o.integer ? "an integer" : "a finite number";
  const range = o.min !== undefined && o.max !== undefined ? ` from ${o.min} to ${o.max}` : o.min !== undefined ? ` ≥ ${o.min}` : o.max !== undefined ? ` ≤ ${o.max}` : "";
  const expected = kind + range;
  return schema(expected, (v, path) => {
    if (typeof v !== "number" || !Number.isFinite(v) || (o.integer && !Number.isInteger(v)) ||
      (o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max)) fail(path, expected, v);
    return v as number;
  });
}

export function boolean(): Schema<boolean> {
  return schema("a boolean", (v, path) => typeof v === "boolean" ? v : fail(path, "a boolean", v));
}

/** One of the given strings: `literal("DEFAULT", "SPREAD")`. */
export function literal<const L extends string>(...values: L[]): Schema<L> {
  const expected = values.map((x) => JSON.stringify(x)).join(" or ");
  return schema(expected, (v, path) => (values as unknown[]).includes(v) ? v as L : fail(path, expected, v));
}

/** Bytes (msgpack bin), at most `max` of them. */
export function bytes(o: { max?: number } = {}): Schema<Uint8Array> {
  const expected = o.max === undefined ? "bytes" : `bytes (at most ${o.max})`;
  return schema(expected, (v, path) => {
    if (!(v instanceof Uint8Array) || (o.max !== undefined && v.byteLength > o.max)) fail(path, expected, v);
    return v as Uint8Array;
  });
}

/** `s`, or absent: undefined and null both count as absent (and leave the key out). */
export function optional<T>(s: Schema<T>): Schema<T | undefined> & { readonly optional: true } {
  return schema(`${s.expected} (optional)`, (v, path) => v === undefined || v === null ? undefined : s(v, path), { optional: true }) as
    Schema<T | undefined> & { readonly optional: true };
}

/** An array of at most `max` items (10 000 by default), each checked by `item`. */
export function array<T>(item: Schema<T>, o: { max?: number } = {}): Schema<T[]> {
  const max = o.max ?? 10_000;
  const expected = `an array of at most ${max} items`;
  return schema(expected, (v, path) => {
    if (!Array.isArray(v) || v.length > max) fail(path, expected, v);
    return (v as unknown[]).map((x, i) => item(x, `${path}[${i}]`));
  });
}

/** An object used as a map: non-empty string keys of at most `keyMax` characters, at most `maxKeys` of them. */
export function record<T>(value: Schema<T>, o: { maxKeys?: number; keyMax?: number } = {}): Schema<Record<string, T>> {
  const maxKeys = o.maxKeys ?? 256;
  const keyMax = o.keyMax ?? 256;
  const expected = `an object of at most ${maxKeys} keys (${value.expected} each)`;
  return schema(expected, (v, path) => {
    if (!isPlainObject(v)) return fail(path, expected, v);
    const keys = Object.keys(v);
    if (keys.length > maxKeys) fail(path, expected, `an object of ${keys.length} keys`);
    const out: Record<string, T> = {};
    for (const k of keys) {
      if (k.length === 0 || k.length > keyMax) throw new SchemaViolation(path, `keys of 1 to ${keyMax} characters`, `key ${JSON.stringify(k.slice(0, 40))}`);
      // defineProperty: a key named __proto__ stays a key, not the copy's prototype.
      Object.defineProperty(out, k, { value: value(v[k], `${path}.${k}`), enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}

type Shape = Record<string, Schema<unknown>>;
type Optional<S extends Shape> = { [K in keyof S]: S[K]["optional"] extends true ? K : never }[keyof S];
export type ObjectOf<S extends Shape> = { [K in Exclude<keyof S, Optional<S>>]: Infer<S[K]> } & { [K in Optional<S>]?: Infer<S[K]> };

/** An object with these keys (others are dropped): `object({ nodeId: string(), soft: optional(boolean()) })`. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const entries = Object.entries(shape);
  return schema("an object", (v, path) => {
    if (!isPlainObject(v)) return fail(path, "an object", v);
    const out: Record<string, unknown> = {};
    for (const [k, s] of entries) {
      const x = s(v[k], `${path}.${k}`);
      if (x !== undefined) out[k] = x;
    }
    return out as ObjectOf<S>;
  });
}

/**
 * `object()` held to a declared type: every key of T (optional ones too) needs its schema, and no
 * other key is allowed, so a field added to a protocol interface cannot be forgotten here.
 * `objectOf<JobInfo>()({ jobId: id<JobId>(), ... })`.
 */
export function objectOf<T>() {
  return (shape: { [K in keyof Required<T>]: Schema<T[K]> }): Schema<T> => object(shape as Shape) as Schema<T>;
}

/** `a` or `b`; when both fail where the value itself is wrong, the message names both. */
export function either<A, B>(a: Schema<A>, b: Schema<B>): Schema<A | B> {
  const expected = `${a.expected} or ${b.expected}`;
  return schema(expected, (v, path) => {
    try { return a(v, path); } catch (ea) {
      if (!(ea instanceof SchemaViolation)) throw ea;
      try { return b(v, path); } catch (eb) {
        if (!(eb instanceof SchemaViolation)) throw eb;
        if (ea.path === path && eb.path === path) fail(path, expected, v);
        throw eb.path.length > ea.path.length ? eb : ea;   // the branch that got further
      }
    }
  });
}

/** A schema defined later (recursive shapes: an error's cause is an error). */
export function lazy<T>(get: () => Schema<T>, expected = "an object"): Schema<T> {
  return schema(expected, (v, path) => get()(v, path));
}

/** The body of a method that takes nothing: any object (its keys dropped). */
export const nothing: Schema<Record<string, never>> = object({});

/** One schema per method of a service (src/rpc/services.ts), each giving that method's request type. */
export type RequestSchemas<N extends ServiceName> = { [M in Method<N>]: Schema<RequestOf<N, M>> };

/**
 * The handler map of a service with every body checked first. Throws at start-up when a method
 * has no schema (or a schema no method). `validated("Head", schemas, handlers)`.
 */
export function validated<N extends ServiceName>(service: N, schemas: RequestSchemas<N>, handlers: Handlers<N>): Handlers<N> {
  const missing = Object.keys(handlers).filter((m) => typeof (schemas as Record<string, unknown>)[m] !== "function");
  const extra = Object.keys(schemas).filter((m) => !(m in handlers));
  if (missing.length || extra.length) {
    throw new Error(`${service}: ${missing.length ? `methods without a request schema: ${missing.join(", ")}` : ""}` +
      `${missing.length && extra.length ? "; " : ""}${extra.length ? `schemas without a method: ${extra.join(", ")}` : ""}. ` +
      "Tip: declare a schema for every control-plane method, next to its handler map.");
  }
  type Untyped = (body: unknown, ctx: CallContext) => unknown;
  const out: Record<string, Untyped> = {};
  for (const [method, handler] of Object.entries(handlers as Record<string, Untyped>)) {
    const s = (schemas as Record<string, Schema<unknown>>)[method];
    out[method] = (body: unknown, ctx: CallContext) => handler(check(service, method, s, body), ctx);
  }
  return out as Handlers<N>;
}

/** `body` checked against `s`, or InvalidRequestError naming the method and the wrong place. */
export function check<T>(service: string, method: string, s: Schema<T>, body: unknown): T {
  try { return s(body, "body"); } catch (e) {
    if (!(e instanceof SchemaViolation)) throw e;
    throw new InvalidRequestError(`INVALID_ARGUMENT: ${service}.${method} refused its request: ${e.message}. ` +
      "Tip: the request was not sent by this version of Helios, or was built by hand; send the shape src/protocol.ts declares " +
      "(every process of a cluster must run the same Helios version).");
  }
}
