// Where the bytes of an owner's values are kept: small ones inline in messages, large put() values
// held in this process until a ref leaves it (held-values.ts), others in the node's object store,
// or, for a driver on a machine without an agent, in this process's memory, served to whoever pulls
// them. The core worker (core-worker.ts) keeps which objects it owns; this keeps their bytes.
import type { Connection } from "../rpc/wire.js";
import type { AgentClient } from "../rpc/grpc.js";
import { pullChunks } from "../rpc/chunks.js";
import { concat, readParts, type Serialized } from "../serialization.js";
import { ObjectLostError } from "../errors.js";
import type { NodeId, ObjectId, WorkerId } from "../ids.js";
import type { StoredValue, WireValue } from "../protocol.js";
import type { LocalStore } from "../object-store/local-store.js";
import { HeldValues } from "./held-values.js";
import { collectGarbage, STORE_GC_BYTES } from "./gc.js";

/** Values up to this size travel inline; larger ones go to the node's object store. */
export const INLINE_MAX = 100 * 1024;

/** What ValueStorage needs of its core worker. */
export interface ValueStorageHost {
  readonly config: { nodeId: NodeId; workerId: WorkerId; transferAddress?: string };
  readonly store: LocalStore;
  readonly agent: AgentClient;
  /** This process's wire address (known once it listens). */
  readonly address: string;
  connection(address: string): Promise<Connection>;
}

export class ValueStorage {
  /** Large put() values kept in this process until a ref leaves it (held-values.ts). */
  private held = new HeldValues();
  /** Values kept in memory by a process without a node store. */
  private memStore = new Map<ObjectId, Buffer>();
  private storedSinceGc = 0;

  constructor(private readonly host: ValueStorageHost) {}

  /** Whether a put() value of `size` bytes is held in this process (hold()) rather than stored. */
  canHold(size: number): boolean {
    return size > INLINE_MAX && !!this.host.config.transferAddress && this.held.fits(size);
  }

  hold(id: ObjectId, s: Serialized): WireValue {
    this.held.hold(id, s);
    return { s: s.size, id, node: this.host.config.nodeId, at: this.host.config.transferAddress! };
  }

  /** Let a held value go (true if it was held here). */
  release(id: ObjectId): boolean { return this.held.release(id); }

  /** Bytes of put() values held in this process, and of freed buffers kept for reuse. */
  stats(): { heldBytes: number; pooledBytes: number; heldObjects: number } { return this.held.stats(); }

  /** A value is about to leave this process: make sure a held one is in the node store. */
  exported(v: WireValue): WireValue {
    if ("s" in v) {
      const b = this.held.get(v.id);
      if (b) {
        this.host.store.write(v.id, { chunks: [b], size: b.length, nested: [] });
        this.release(v.id);
      }
    }
    return v;
  }

  toWire(id: ObjectId, s: Serialized): WireValue {
    const { config } = this.host;
    if (s.size <= INLINE_MAX) return { v: concat(s) };
    if (config.transferAddress) {
      this.host.store.write(id, s);
      return { s: s.size, id, node: config.nodeId, at: config.transferAddress };
    }
    // No node store on this machine: keep the bytes here and serve them to whoever pulls.
    this.memStore.set(id, concat(s));
    return { s: s.size, id, node: `${config.workerId}` as NodeId, at: this.host.address };
  }

  /** A value kept in this process's memory (served by the chunk protocol's stat and read). */
  inMemory(id: ObjectId): Buffer | undefined { return this.memStore.get(id); }

  /** The bytes of a stored value: local file, a copy pulled to this node, or pulled into memory. */
  async read(v: StoredValue): Promise<Uint8Array | Uint8Array[]> {
    // deserialize() copies what it would otherwise share with a buffer it reads, so the caller
    // never changes the bytes kept here. A held buffer goes back to a pool when released: it is
    // copied now, in the parts deserialize() uses as they are.
    const mem = this.memStore.get(v.id);
    if (mem) return mem;
    const held = this.held.get(v.id);
    if (held) return readParts(held.length, (into, at) => into.set(held.subarray(at, at + into.length)));
    try {
      if (this.host.config.transferAddress) {
        if (v.node !== this.host.config.nodeId) await this.host.agent.call("fetchObject", { id: v.id, from: v.at });
        return this.host.store.readValue(v.id);
      }
      const conn = await this.host.connection(v.at);
      const buf = Buffer.allocUnsafe(v.s);
      await pullChunks(conn, v.id, v.s, (offset, bytes) => buf.set(bytes, offset));
      return buf;
    } catch (e) {
      throw new ObjectLostError(`object ${v.id} could not be read from node ${v.node} (${v.at}): ${(e as Error).message}`, { cause: e });
    }
  }

  /** A stored value is no longer wanted: drop it here, or tell the store that has it. */
  free(v: StoredValue): void {
    if (this.memStore.delete(v.id)) return;
    this.host.connection(v.at).then((c) => c.send({ t: "free", id: v.id }), () => {});
  }

  /** An owned object got a stored value: past STORE_GC_BYTES of them, collect garbage. */
  stored(size: number): void {
    if ((this.storedSinceGc += size) > STORE_GC_BYTES) {
      this.storedSinceGc = 0;
      collectGarbage();   // let dropped refs to stored objects be finalized, so their files go
    }
  }
}
