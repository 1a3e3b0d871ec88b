// The core worker: linked into drivers and workers alike. It owns the objects and tasks
// this process created (values, reference counts, pending work), resolves and fetches
// values for get/wait, and serves the wire endpoint other processes push tasks and object
// requests to. Submission lives in submitter.ts, actor calls in actor-caller.ts, execution
// of pushed work in executor.ts, connections to other processes and to owners in peers.ts,
// the bytes of owned values in value-storage.ts, and get() of a list in get.ts.
import { ObjectRef, LocalRefCounts, isObjectRef } from "./object-ref.js";
import { LocalStore } from "../object-store/local-store.js";
import { WireServer, listenInRange, type Connection } from "../rpc/wire.js";
import { unexpected, type IncomingMessage, type RequestMessage, type WireReply } from "../rpc/messages.js";
import { HEAD_RECONNECT_MS, RpcClient, type AgentClient, type HeadClient } from "../rpc/grpc.js";
import { serialize, deserialize, swapCodec, type HandleCodec, type Serialized } from "../serialization.js";
import { ObjectLostError, fromErrorInfo } from "../errors.js";
import { newPutId, type JobId, type NodeId, type ObjectId, type TaskId, type WorkerId } from "../ids.js";
import type { WireValue } from "../protocol.js";
import { isActorHandle, encodeActorHandle, decodeActorHandle, type ActorCallSink } from "./actor-handle.js";
import { waitRefs } from "./wait.js";
import { getValues } from "./get.js";
import { ObjectTable, addWaiter, settled, type ObjectEntry, type Outcome } from "./objects/object-table.js";
import { setting } from "../config.js";
import { Peers } from "./peers.js";
import { ValueStorage } from "./value-storage.js";
export { INLINE_MAX } from "./value-storage.js";

/** How many times one get() follows a lost object to its rebuilt copy before giving up. */
const MAX_RELOCATIONS = 16;

export interface CoreWorkerConfig {
  mode: "driver" | "worker";
  workerId: WorkerId;
  nodeId: NodeId;
  jobId: JobId;
  namespace: string;
  token: string;
  headAddress: string;
  agentAddress: string;
  /** The local agent's object-transfer endpoint; unset for a driver on a machine without an agent. */
  transferAddress?: string;
  storeDir: string;
  host: string;
}

/** What a process may have made before its core worker: its wire endpoint (listening), its head client. */
export interface Made { server?: WireServer; head?: HeadClient }

/** A client of the head, which rides out the head's restarts. */
export function headClient(address: string, token: string): HeadClient {
  return new RpcClient(address, "Head", token, { reconnectMs: HEAD_RECONNECT_MS });
}

export class CoreWorker {
  readonly head: HeadClient;
  readonly agent: AgentClient;
  readonly store: LocalStore;
  readonly server: WireServer;
  address = "";
  /** The objects this process owns and their lifecycles (objects/object-table.ts). */
  readonly objects: ObjectTable;
  private refs: LocalRefCounts;
  /** Connections to other processes, other nodes' agents, node deaths, the owners of refs held here. */
  readonly peers: Peers;
  /** Where the bytes of owned values are kept. */
  readonly values: ValueStorage;
  private busy = 0;
  /** Ref'd while the user awaits cluster work (made once: a timer per get() cost 2% of a sync loop). */
  private keepAlive = setInterval(() => {}, 1 << 30).unref();
  /** The requests served beyond object requests: push and cancel in a worker (serve()), ping in a driver. */
  private served: Partial<ServedHere> = {};
  /** In a worker: tell its agent that the running task blocks in get() (CoreOwner.blocked). */
  readonly blockedHook?: (blocked: boolean) => Promise<void>;
  closed = false;
  /** How refs and actor handles in values are written and read by this process (serialize(), deserialize()). */
  readonly codec: HandleCodec;

  /**
   * `made.server`: this process's wire endpoint, when it listens already (start() then keeps its
   * address). `owner.lineage`: how lost objects are made again and freed ones forgotten (the
   * runtime's task manager and lineage; none in a process that submits no tasks).
   * `owner.actorCalls`: where calls on actor handles received in values go (the runtime).
   */
  constructor(readonly config: CoreWorkerConfig, made: Made = {}, owner: CoreOwner = {}) {
    const lineage = owner.lineage ?? NO_LINEAGE;
    const actorCalls = owner.actorCalls ?? NO_ACTOR_CALLS;
    this.blockedHook = owner.blocked;
    this.head = made.head ?? headClient(config.headAddress, config.token);
    this.agent = new RpcClient(config.agentAddress, "NodeAgent", config.token);
    this.store = new LocalStore(config.storeDir);
    this.values = new ValueStorage(this);
    this.peers = new Peers(config, this.head, this.agent, () => this.address, (msg, c) => this.handle(msg, c));
    this.refs = new LocalRefCounts((id) => this.objects.dropped(id));
    this.objects = new ObjectTable({
      hasRef: (id) => this.refs.has(id),
      discard: (_id, v) => { if ("s" in v) this.values.discard(v); },
      stored: (size) => this.values.stored(size),
      reconstruct: (task, node) => lineage.reconstruct(task, node),
      freed: (id, task) => lineage.freed(id, task),
    });
    // A driver answers the head's pings (it watches the driver, and ends its job when it is gone).
    if (config.mode === "driver") this.serve("ping", () => ({ jobId: config.jobId }));
    this.server = made.server ?? new WireServer(config.token);
    this.server.serve((conn) => {
      if (config.mode === "driver") conn.unref();
      conn.onRequest = (msg, c) => this.handle(msg, c);
    });
    this.codec = {
      isRef: isObjectRef,
      encodeRef: (r) => this.encodeRef(r as ObjectRef),
      decodeRef: (d) => { if (d[3]) this.peers.learnOwner(d[1], d[2], d[3]); return this.ref(d[0], d[1]); },
      isActor: isActorHandle,
      encodeActor: encodeActorHandle,
      decodeActor: (d) => decodeActorHandle(d, actorCalls),
    };
  }

  /** A handle to `id`, counted here (its owner is told when the last one is collected, if that is us). */
  ref<T>(id: ObjectId, owner: string = this.address): ObjectRef<T> { return new ObjectRef<T>(id, owner, this.refs); }

  /** Serialize a value with this process's refs and handles (see values.ts). */
  serialize(value: unknown, what: string): Serialized {
    const prev = swapCodec(this.codec);
    try { return serialize(value, what); } finally { swapCodec(prev); }
  }

  deserialize(bytes: Uint8Array | Uint8Array[]): unknown {
    const prev = swapCodec(this.codec);
    try { return deserialize(bytes); } finally { swapCodec(prev); }
  }

  async start(): Promise<void> {
    // Firewalled clusters give workers (and drivers) a port range: HELIOS_WORKER_PORTS / HELIOS_DRIVER_PORTS = "a-b".
    const range = setting(this.config.mode === "worker" ? "HELIOS_WORKER_PORTS" : "HELIOS_DRIVER_PORTS");
    this.address = this.server.address || (range ? await listenInRange(this.server, this.config.host, range) : await this.server.listen(this.config.host, 0));
    if (this.config.mode === "driver") this.server.unref();
  }

  close(): void {
    this.closed = true;
    this.server.close();
    this.peers.close();
    this.head.close();
    this.agent.close();
    clearInterval(this.keepAlive);
  }

  /** Hold the event loop open while the user awaits cluster work (sockets are unref'd). */
  async hold<T>(p: Promise<T>): Promise<T> {
    if (this.busy++ === 0 && this.config.mode === "driver") this.keepAlive.ref();
    try { return await p; } finally {
      if (--this.busy === 0) this.keepAlive.unref();
    }
  }

  // Peers' services, used by the submitter and the actor caller (peers.ts).
  agentClient(address: string): AgentClient { return this.peers.agentClient(address); }
  homeAgent(): AgentClient { return this.peers.homeAgent(); }
  rehome(): Promise<void> { return this.peers.rehome(); }
  onNodeDeath(f: (nodeId: string) => void): void { this.peers.onNodeDeath(f); }
  track(delta: number): void { this.peers.track(delta); }
  connection(address: string): Promise<Connection> { return this.peers.connection(address); }

  // ---- objects ----------------------------------------------------------------------

  /** Store a value owned by this process; returns its ref synchronously. */
  put<T>(value: T): ObjectRef<T> {
    const id = newPutId();
    const s = this.serialize(value, "put(value)");
    this.objects.put(id, this.values.canHold(s.size) ? this.values.hold(id, s) : this.values.toWire(id, s));
    return this.ref<T>(id);
  }

  /** Bytes of put() values held in this process, and of freed buffers kept for reuse. */
  memoryStats(): { heldBytes: number; pooledBytes: number; heldObjects: number } { return this.values.stats(); }
  /** A value is about to leave this process: make sure a held one is in the node store. */
  exported(v: WireValue): WireValue { return this.values.exported(v); }
  toWire(id: ObjectId, s: Serialized): WireValue { return this.values.toWire(id, s); }

  /** Own an already serialized value (a large task argument). */
  putSerialized(s: Serialized): ObjectRef {
    const id = newPutId();
    this.objects.put(id, this.values.toWire(id, s));
    return this.ref(id);
  }

  /** A task return that was freed is wanted again (a re-run's input): pending until its task answers. */
  revive(id: ObjectId, task: TaskId): void { this.objects.revive(id, task); }

  /** Register a pending owned object (a task return) and make its ref. */
  pending<T>(id: ObjectId, task: TaskId): ObjectRef<T> {
    this.objects.pending(id, task);
    return this.ref<T>(id);
  }

  /** A task's return value or error arrived (or a put completed). */
  resolve(id: ObjectId, outcome: Outcome): void { this.objects.resolve(id, outcome); }

  isOwned(id: ObjectId): boolean { return this.objects.has(id); }
  isReady(id: ObjectId): boolean { return this.objects.isReady(id); }
  /** Call `f` once an owned object settles (ObjectTable.whenSettled); undefined if this process does not own it. */
  whenSettled(id: ObjectId, f: () => void): (() => void) | undefined { return this.objects.whenSettled(id, f); }
  taskOf(id: ObjectId): TaskId | undefined { return this.objects.taskOf(id); }

  pin(ref: ObjectRef): void { this.objects.pin(ref.id); }
  unpin(id: ObjectId): void { this.objects.unpin(id); }

  /** A ref travels with its owner's node and worker id, so a holder can tell when that owner is gone. */
  private encodeRef(r: ObjectRef): [ObjectId, string, NodeId?, WorkerId?] {
    this.objects.escaped(r.id);
    if (r.owner === this.address) return [r.id, r.owner, this.config.transferAddress ? this.config.nodeId : undefined, this.config.workerId];
    const who = this.peers.owner(r.owner);
    return who ? [r.id, r.owner, who.node, who.worker] : [r.id, r.owner];
  }

  // ---- lost objects: rebuilt from lineage, as in Ray ---------------------------------------

  /** The task that made this object runs again: its value is pending until the new reply. */
  reset(id: ObjectId, lostNode: NodeId): void { this.objects.reset(id, lostNode); }

  /** An owned object, its copy first declared lost if that copy's node has died (get.ts reads it). */
  owned(id: ObjectId): ObjectEntry | undefined {
    const obj = this.objects.get(id);
    const v = obj?.value;
    if (v && "s" in v && this.peers.isDead(v.node)) this.objects.lost(id, v.node);
    return obj;
  }

  async locate(ref: ObjectRef): Promise<Outcome> {
    const obj = this.owned(ref.id);
    if (obj) {
      while (!settled(obj)) await new Promise<void>((r) => addWaiter(obj, () => r()));
      return obj.error ? { error: obj.error } : { value: obj.value! };
    }
    if (ref.owner === this.address) {
      return { error: { name: "ObjectLostError", message: `object ${ref.id} was freed by its owner` } };
    }
    return this.peers.askOwner(ref);
  }

  /** Turn an outcome into the user's value, or throw the typed error. */
  async materialize(o: Outcome): Promise<unknown> {
    if ("error" in o) throw fromErrorInfo(o.error);
    const v = o.value;
    return this.deserialize("v" in v ? v.v : await this.values.read(v));
  }

  /**
   * Read a located value. A stored copy that cannot be read is lost: its owner rebuilds it
   * (lineage) and says where the new copy is, or answers ObjectLostError.
   */
  async read(ref: ObjectRef, o: Outcome): Promise<unknown> {
    for (let tries = 0; ; tries++) {
      try { return await this.materialize(o); } catch (e) {
        if (!(e instanceof ObjectLostError) || "error" in o || !("s" in o.value) || tries >= MAX_RELOCATIONS) throw e;
        o = await this.relocate(ref, o.value.node);
      }
    }
  }

  /** Where an object is now, after its copy on `node` could not be read (rebuilt by its owner if it can be). */
  relocate(ref: ObjectRef, node: NodeId): Promise<Outcome> {
    if (!this.objects.has(ref.id)) return this.peers.askOwner(ref, node);
    this.objects.lost(ref.id, node);
    return this.locate(ref);
  }

  /** The values of refs in order. `failFast`: reject with FailedRef as soon as one of them fails (helios/util's Pool). */
  get(refs: ObjectRef[], timeoutMs?: number, failFast = false): Promise<unknown[]> {
    return getValues(this, refs, timeoutMs, failFast);
  }

  /** The first `numReturns` of `refs` that are ready, within `timeoutMs` (src/core/wait.ts). */
  wait(refs: ObjectRef[], numReturns: number, timeoutMs?: number): Promise<{ ready: ObjectRef[]; pending: ObjectRef[] }> {
    return waitRefs(this, refs, numReturns, timeoutMs);
  }

  // ---- serving --------------------------------------------------------------------------

  private handle(msg: IncomingMessage, conn: Connection): unknown {
    switch (msg.t) {
      case "getObject": {
        if (msg.owner && msg.owner !== this.config.workerId) {   // the owner exited and another process took its port
          return { error: { name: "OwnerDiedError", message: `the owner of ${msg.id} (worker ${msg.owner}) has exited; ${this.address} now serves worker ${this.config.workerId}` } };
        }
        const obj = this.objects.get(msg.id);
        if (!obj) return { error: { name: "ObjectLostError", message: `object ${msg.id} is not known to its owner (freed or never created)` } };
        if (msg.lost) this.objects.lost(msg.id, msg.lost);   // the asker could not read the copy it was told of
        return this.locate(new ObjectRefLike(msg.id, this.address) as unknown as ObjectRef)
          .then((o) => ("value" in o ? { value: this.exported(o.value) } : o));
      }
      case "stat": {   // the chunk protocol of node-agent/transfer.ts, for values held in memory here
        const b = this.values.inMemory(msg.id);
        if (!b) throw new ObjectLostError(`object ${msg.id} is not held here`);
        return { size: b.length };
      }
      case "read": {
        const b = this.values.inMemory(msg.id);
        if (!b) throw new ObjectLostError(`object ${msg.id} is not held here`);
        return b.subarray(msg.offset, msg.offset + msg.length);
      }
      case "logs":
        for (const l of msg.lines) (l.err ? process.stderr : process.stdout).write(l.text);
        return undefined;
      case "push": return this.dispatch("push", msg, conn);
      case "cancel": return this.dispatch("cancel", msg, conn);
      case "ping": return this.dispatch("ping", msg, conn);
      case "free": throw new Error("unknown message free");   // frees go to the agents' transfer endpoints
      default: return unexpected(msg);
    }
  }

  /** Serve requests of type `t` (once per type): a worker's tasks and cancels, a driver's pings. */
  serve<T extends keyof ServedHere>(t: T, handler: ServedHere[T]): void {
    if (this.served[t]) throw new Error(`${t} requests are served already`);
    (this.served as Record<T, ServedHere[T]>)[t] = handler;
  }

  private dispatch<T extends keyof ServedHere>(t: T, msg: RequestMessage<T>, conn: Connection): unknown {
    const h = this.served[t] as ServedHere[T] | undefined;
    if (!h) throw new Error(`unknown message ${t}`);
    return h(msg, conn);
  }
}

/** How an owner's lost objects are made again and its freed ones forgotten (the runtime's task manager and lineage). */
export interface ObjectLineage {
  reconstruct(task: TaskId, lostNode: NodeId): boolean;
  freed(id: ObjectId, task: TaskId): void;
}
const NO_LINEAGE: ObjectLineage = { reconstruct: () => false, freed: () => {} };

/** What the core worker's owner (the runtime) gives it. */
export interface CoreOwner {
  lineage?: ObjectLineage;
  actorCalls?: ActorCallSink;
  /** A worker's: the running task blocks in get() (true) or goes on (false); its agent lends its CPU meanwhile. */
  blocked?: (blocked: boolean) => Promise<void>;
}
const NO_ACTOR_CALLS: ActorCallSink = {
  callActor: () => { throw new Error("this process makes no actor calls (its core worker has no runtime)"); },
};

/** Requests a process serves only in some roles: a worker runs pushed tasks, a driver answers the head's pings. */
export type ServedHere = { [T in "push" | "cancel" | "ping"]: (msg: RequestMessage<T>, conn: Connection) => WireReply<T> | Promise<WireReply<T>> };

/** A ref-shaped record that does not count as a live handle (for serving requests). */
class ObjectRefLike { constructor(readonly id: ObjectId, readonly owner: string) {} }
