// A small key-value store kept by the head (Ray's internal KV): configuration, coordination
// flags, the address of a service — anything small that many processes of a cluster read.
// Values are serialized like task arguments and survive a head restart. Large data belongs in
// the object store (put/get); a value is limited to 1 MiB.
import { runtime } from "./api.js";
import { concat } from "./serialization.js";
import type { CallArgs, ReplyOf, RequestOf } from "./rpc/services.js";

export interface KvOptions {
  /** Keys live in a namespace: by default the one given to init() (or the job's own). */
  namespace?: string;
}

const KV_MAX_VALUE_BYTES = 1024 * 1024;

function target(what: string, key: unknown, options?: KvOptions): { namespace: string; key: string } {
  if (typeof key !== "string" || key.includes("\0") || key.length > 1024) {
    throw new TypeError(`kv.${what}: the key must be a string of at most 1024 characters without NUL, got ${typeof key === "string" ? JSON.stringify(key.slice(0, 40)) : typeof key}`);
  }
  const namespace = options?.namespace ?? runtime().core.config.namespace;
  if (typeof namespace !== "string" || namespace.includes("\0")) throw new TypeError(`kv.${what}: namespace must be a string without NUL characters`);
  return { namespace, key };
}

/** A call to the head's kv methods, holding the event loop open while it waits. */
function call<M extends "kvPut" | "kvGet" | "kvDelete" | "kvKeys">(method: M, body: RequestOf<"Head", M>): Promise<ReplyOf<"Head", M>> {
  const core = runtime().core;
  return core.hold(core.head.call(method, ...[body] as CallArgs<"Head", M>));
}

export const kv = {
  /** Store `value` under `key`; true when the key is new. With `overwrite: false` an existing value is kept (and false returned). */
  async put(key: string, value: unknown, options?: KvOptions & { overwrite?: boolean }): Promise<boolean> {
    const t = target("put", key, options);
    const bytes = concat(runtime().core.serialize(value, `kv.put('${key}') value`));
    if (bytes.byteLength > KV_MAX_VALUE_BYTES) {
      throw new RangeError(`kv.put('${key}'): the value is ${bytes.byteLength} bytes serialized, over the 1 MiB limit. Tip: put() it in the object store and keep its ref in the kv instead.`);
    }
    return (await call("kvPut", { ...t, value: bytes, overwrite: options?.overwrite ?? true })).added;
  },
  /** The value under `key`, or undefined. */
  async get<T = unknown>(key: string, options?: KvOptions): Promise<T | undefined> {
    const { value } = await call("kvGet", target("get", key, options));
    return value ? runtime().core.deserialize(value) as T : undefined;
  },
  async exists(key: string, options?: KvOptions): Promise<boolean> {
    return (await call("kvGet", target("exists", key, options))).value !== null;
  },
  /** Remove `key` (with `prefix: true`, every key starting with it); resolves to how many keys went. */
  async delete(key: string, options?: KvOptions & { prefix?: boolean }): Promise<number> {
    return (await call("kvDelete", { ...target("delete", key, options), prefix: !!options?.prefix })).deleted;
  },
  /** The keys that start with `prefix`, sorted. */
  async keys(prefix = "", options?: KvOptions): Promise<string[]> {
    const t = target("keys", prefix, options);
    return call("kvKeys", { namespace: t.namespace, prefix: t.key });
  },
};
