// The head's key-value table (Ray's internal KV): small values by namespace and key, kept in the
// head's store so they outlive a head restart. Values arrive serialized by the caller (bytes);
// the head never decodes them.
import { ArgumentError } from "../src/errors.js";
import type { HeadStore } from "./store.js";

/** A value is control-plane data: anything bigger belongs in the object store (put). */
export const KV_MAX_VALUE_BYTES = 1024 * 1024;
const KEY_MAX = 1024;

const invalid = (message: string) => new ArgumentError({ name: "TypeError", message });
const row = (namespace: string, key: string) => `${namespace}\0${key}`;

export class KvTable {
  private rows = new Map<string, Uint8Array>();

  constructor(private store: HeadStore) {
    for (const [k, v] of store.table<Uint8Array>("kv")) this.rows.set(k, v);
  }

  handlers() {
    return {
      kvPut: (r: { namespace: string; key: string; value: Uint8Array; overwrite?: boolean }) => {
        check(r.namespace, r.key);
        if (!(r.value instanceof Uint8Array)) throw invalid("kv value must arrive as bytes");
        if (r.value.byteLength > KV_MAX_VALUE_BYTES) {
          throw invalid(`kv.put('${r.key}'): the value is ${r.value.byteLength} bytes, over the ${KV_MAX_VALUE_BYTES}-byte limit. Tip: put() large values in the object store and keep their ref elsewhere.`);
        }
        const k = row(r.namespace, r.key);
        const existed = this.rows.has(k);
        if (existed && r.overwrite === false) return { added: false };
        this.rows.set(k, r.value);
        this.store.put("kv", k, r.value);
        return { added: !existed };
      },
      kvGet: (r: { namespace: string; key: string }) => {
        check(r.namespace, r.key);
        return { value: this.rows.get(row(r.namespace, r.key)) ?? null };
      },
      kvDelete: (r: { namespace: string; key: string; prefix?: boolean }) => {
        check(r.namespace, r.key);
        const doomed = r.prefix ? this.keys(r.namespace, r.key) : this.rows.has(row(r.namespace, r.key)) ? [r.key] : [];
        for (const key of doomed) {
          this.rows.delete(row(r.namespace, key));
          this.store.delete("kv", row(r.namespace, key));
        }
        return { deleted: doomed.length };
      },
      kvKeys: (r: { namespace: string; prefix?: string }) => {
        check(r.namespace, r.prefix ?? "");
        return this.keys(r.namespace, r.prefix ?? "");
      },
    };
  }

  private keys(namespace: string, prefix: string): string[] {
    const start = row(namespace, prefix);
    const out: string[] = [];
    for (const k of this.rows.keys()) if (k.startsWith(start)) out.push(k.slice(namespace.length + 1));
    return out.sort();
  }
}

function check(namespace: unknown, key: unknown): void {
  if (typeof namespace !== "string" || namespace.includes("\0")) throw invalid(`kv namespace must be a string without NUL characters, got ${JSON.stringify(namespace)}`);
  if (typeof key !== "string" || key.includes("\0") || key.length > KEY_MAX) throw invalid(`kv key must be a string of at most ${KEY_MAX} characters without NUL, got ${JSON.stringify(key)?.slice(0, 80)}`);
}
