// Where the bytes of an owner's values are kept. Small ones travel inline in messages; larger
// ones go to a backend, one implementation each:
//   HeldValuesBackend     large put() values held in this process until a ref leaves it
//                         (held-values.ts), then moved to the node store
//   NodeStoreBackend      files in the node's object store (src/object-store/), read here or
//                         fetched from another node's agent first
//   ProcessMemoryBackend  a driver on a machine without an agent: values kept in its memory
//                         and served to whoever pulls them; others' values pulled from them
// The object table (objects/object-table.ts) keeps which objects exist; this keeps their bytes.
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

/** Values up to this size travel inline; larger ones go to a backend. */
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

type Bytes = Uint8Array | Uint8Array[];

/** One place the bytes of large values are kept. */
export interface ValueBackend {
  /** Keep a serialized value under `id`; the stored value that names where it is. */
  write(id: ObjectId, s: Serialized): StoredValue;
  /** Its bytes, or undefined when this backend does not have them (and cannot get them). */
  read(v: StoredValue): Promise<Bytes> | Bytes | undefined;
  /** Let its bytes go; false when this backend does not have them. */
  free(v: StoredValue): boolean;
}

/** Large put() values held in this process (a copy at memory speed into reused buffers). */
class HeldValuesBackend implements ValueBackend {
  readonly held = new HeldValues();
  constructor(private host: ValueStorageHost) {}
  write(id: ObjectId, s: Serialized): StoredValue {
    this.held.hold(id, s);
    return { s: s.size, id, node: this.host.config.nodeId, at: this.host.config.transferAddress! };
  }
  read(v: StoredValue): Bytes | undefined {
    // A held buffer goes back to a pool when released: it is copied now, in the parts
    // deserialize() uses as they are.
    const held = this.held.get(v.id);
    return held && readParts(held.length, (into, at) => into.set(held.subarray(at, at + into.length)));
  }
  free(v: StoredValue): boolean { return this.held.release(v.id); }
}

/** The node's object store: a file per value, fetched from another node's agent first when it is there. */
class NodeStoreBackend implements ValueBackend {
  constructor(private host: ValueStorageHost) {}
  write(id: ObjectId, s: Serialized): StoredValue {
    this.host.store.write(id, s);
    return { s: s.size, id, node: this.host.config.nodeId, at: this.host.config.transferAddress! };
  }
  async read(v: StoredValue): Promise<Bytes> {
    if (v.node !== this.host.config.nodeId) await this.host.agent.call("fetchObject", { id: v.id, from: v.at });
    return this.host.store.readValue(v.id);
  }
  free(v: StoredValue): boolean {
    this.host.connection(v.at).then((c) => c.send({ t: "free", id: v.id }), () => {});
    return true;
  }
}

/** No node store on this machine: values kept in this process and served to whoever pulls (the chunk protocol's stat and read). */
class ProcessMemoryBackend implements ValueBackend {
  private mem = new Map<ObjectId, Buffer>();
  constructor(private host: ValueStorageHost) {}
  write(id: ObjectId, s: Serialized): StoredValue {
    this.mem.set(id, concat(s));
    return { s: s.size, id, node: `${this.host.config.workerId}` as NodeId, at: this.host.address };
  }
  read(v: StoredValue): Promise<Bytes> | Bytes {
    const mine = this.mem.get(v.id);
    if (mine) return mine;
    return this.host.connection(v.at).then(async (conn) => {
      const buf = Buffer.allocUnsafe(v.s);
      await pullChunks(conn, v.id, v.s, (offset, bytes) => buf.set(bytes, offset));
      return buf;
    });
  }
  free(v: StoredValue): boolean {
    if (this.mem.delete(v.id)) return true;
    this.host.connection(v.at).then((c) => c.send({ t: "free", id: v.id }), () => {});
    return true;
  }
  get(id: ObjectId): Buffer | undefined { return this.mem.get(id); }
}

export class ValueStorage {
  /** Held put() values: only where there is a node store to move them to when they leave. */
  private held: HeldValuesBackend | undefined;
  private nodeStore: NodeStoreBackend | undefined;
  private memory: ProcessMemoryBackend | undefined;
  /** Where values that are not held go: the node store, or this process's memory. */
  private backend: ValueBackend;
  private storedSinceGc = 0;

  constructor(host: ValueStorageHost) {
    if (host.config.transferAddress) {
      this.held = new HeldValuesBackend(host);
      this.backend = this.nodeStore = new NodeStoreBackend(host);
    } else {
      this.backend = this.memory = new ProcessMemoryBackend(host);
    }
  }

  /** Whether a put() value of `size` bytes is held in this process (hold()) rather than stored. */
  canHold(size: number): boolean { return size > INLINE_MAX && this.held !== undefined && this.held.held.fits(size); }

  hold(id: ObjectId, s: Serialized): WireValue { return this.held!.write(id, s); }

  /** Bytes of put() values held in this process, and of freed buffers kept for reuse. */
  stats(): { heldBytes: number; pooledBytes: number; heldObjects: number } {
    return this.held?.held.stats() ?? { heldBytes: 0, pooledBytes: 0, heldObjects: 0 };
  }

  /** A value is about to leave this process: a held one moves to the node store. */
  exported(v: WireValue): WireValue {
    if ("s" in v && this.held && this.nodeStore) {
      const b = this.held.held.get(v.id);
      if (b) {
        this.nodeStore.write(v.id, { chunks: [b], size: b.length, nested: [] });
        this.held.free(v);
      }
    }
    return v;
  }

  toWire(id: ObjectId, s: Serialized): WireValue {
    return s.size <= INLINE_MAX ? { v: concat(s) } : this.backend.write(id, s);
  }

  /** A value kept in this process's memory (served by the chunk protocol's stat and read). */
  inMemory(id: ObjectId): Buffer | undefined { return this.memory?.get(id); }

  /**
   * The bytes of a stored value. deserialize() copies what it would otherwise share with a
   * buffer it reads, so the caller never changes the bytes kept here.
   */
  async read(v: StoredValue): Promise<Bytes> {
    const held = this.held?.read(v);
    if (held) return held;
    try {
      return await this.backend.read(v)!;
    } catch (e) {
      throw new ObjectLostError(`object ${v.id} could not be read from node ${v.node} (${v.at}): ${(e as Error).message}`, { cause: e });
    }
  }

  /** A stored value is no longer wanted: drop it here, or tell the store that has it. */
  discard(v: StoredValue): void {
    if (this.held?.free(v)) return;
    this.backend.free(v);
  }

  /** An owned object got a stored value: past STORE_GC_BYTES of them, collect garbage. */
  stored(size: number): void {
    if ((this.storedSinceGc += size) > STORE_GC_BYTES) {
      this.storedSinceGc = 0;
      collectGarbage();   // let dropped refs to stored objects be finalized, so their files go
    }
  }
}
