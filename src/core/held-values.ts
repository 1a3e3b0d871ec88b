// Large put() values an owner holds in its own memory. A large put is copied into reused,
// already-touched buffers (a copy at memory speed) and written to the node store only when a
// ref leaves the process — as a task argument or when another process asks for it. Many puts
// are read back by their owner or dropped; the ones that travel pay the store write they would
// have paid anyway.
import { BufferPool } from "./buffer-pool.js";
import type { Serialized } from "../serialization.js";
import type { ObjectId } from "../ids.js";
import { setting } from "../config.js";

/** Bytes of put() values an owner keeps in its own memory before they go to the node store. */
const HELD_MAX_BYTES = setting("HELIOS_HELD_BYTES");
const BUFFER_MAX = 2 ** 32 - 1;

export class HeldValues {
  private held = new Map<ObjectId, Buffer>();
  private heldBytes = 0;
  private buffers = new BufferPool(Math.min(2 ** 31, HELD_MAX_BYTES / 4));

  /** Whether a value of `size` bytes fits in the budget. */
  fits(size: number): boolean {
    return size <= BUFFER_MAX && this.heldBytes + size <= HELD_MAX_BYTES;
  }

  /** Copy a serialized value into a pooled buffer and keep it under `id`. */
  hold(id: ObjectId, s: Serialized): void {
    const buf = this.buffers.take(s.size);
    let pos = 0;
    for (const c of s.chunks) { buf.set(c, pos); pos += c.byteLength; }
    this.held.set(id, buf.length === s.size ? buf : buf.subarray(0, s.size));
    this.heldBytes += buf.length;
  }

  get(id: ObjectId): Buffer | undefined { return this.held.get(id); }

  /** Drop a held value, its buffer back to the pool; false when `id` is not held here. */
  release(id: ObjectId): boolean {
    const b = this.held.get(id);
    if (!b) return false;
    this.held.delete(id);
    const whole = Buffer.from(b.buffer, 0, b.buffer.byteLength);
    this.heldBytes -= whole.length;
    this.buffers.give(whole);
    return true;
  }

  /** Bytes of put() values held in this process, and of freed buffers kept for reuse. */
  stats(): { heldBytes: number; pooledBytes: number; heldObjects: number } {
    return { heldBytes: this.heldBytes, pooledBytes: this.buffers.pooledBytes, heldObjects: this.held.size };
  }
}
