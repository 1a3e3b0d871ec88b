// ObjectRef: a handle to a value that exists, or will, somewhere in the cluster.
// Not thenable on purpose: refs pass through async functions and Promise.all untouched.
import type { ObjectId } from "../ids.js";

/** Counts live ObjectRef handles per id in this process; tells the core worker when one drops to zero. */
export class LocalRefCounts {
  private counts = new Map<ObjectId, number>();
  private registry = new FinalizationRegistry<ObjectId>((id) => this.remove(id));
  constructor(private onZero: (id: ObjectId) => void) {}

  add(ref: ObjectRef<unknown>): void {
    this.counts.set(ref.id, (this.counts.get(ref.id) ?? 0) + 1);
    this.registry.register(ref, ref.id);
  }

  has(id: ObjectId): boolean { return this.counts.has(id); }

  private remove(id: ObjectId): void {
    const n = (this.counts.get(id) ?? 1) - 1;
    if (n > 0) { this.counts.set(id, n); return; }
    this.counts.delete(id);
    this.onZero(id);
  }
}

const REF = Symbol.for("helios.ref");

export class ObjectRef<T = unknown> {
  /** Phantom: the type of the value this ref resolves to. */
  declare readonly __value: T;
  /** `counts`: the handle counts of the core worker that made it (CoreWorker.ref()); a ref made elsewhere holds nothing alive. */
  constructor(readonly id: ObjectId, readonly owner: string, counts?: LocalRefCounts) {
    counts?.add(this);
  }
  /** Recognised by brand, so refs from another copy of the library still count. */
  static [Symbol.hasInstance](v: unknown): boolean { return typeof v === "object" && v !== null && (v as any)[REF] === true; }
  get [REF](): true { return true; }
  toString(): string { return `ObjectRef(${this.id})`; }
  [Symbol.for("nodejs.util.inspect.custom")](): string { return this.toString(); }
}

export const isObjectRef = (v: unknown): v is ObjectRef<unknown> => typeof v === "object" && v !== null && (v as any)[REF] === true;
