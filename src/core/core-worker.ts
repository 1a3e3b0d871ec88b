// The core worker: linked into drivers and workers alike. It owns the objects and tasks
// this process created (values, reference counts, pending work), resolves and fetches
// values for get/wait, and serves the wire endpoint other processes push tasks and object
// requests to. Submission lives in submitter.ts, actor calls in actor-caller.ts, execution
// of pushed work in executor.ts, connections to other processes and to owners in peers.ts,
// the bytes of owned values in value-storage.ts, and get() of a list in get.ts.
import { ObjectRef, LocalRefCounts, setRefTracker, isObjectRef } from "./object-ref.js";
import { LocalStore } from "./store.js";
import { WireServer, listenInRange, type Connection } from "../rpc/wire.js";
import { unexpected, type IncomingMessage, type RequestMessage, type WireReply } from "../rpc/messages.js";
import { HEAD_RECONNECT_MS, RpcClient, type AgentClient, type HeadClient } from "../rpc/grpc.js";
import { serialize, deserialize, setHandleCodec, type Serialized } from "../serialization.js";
import { ObjectLostError, fromErrorInfo } from "../errors.js";
import { newPutId, type JobId, type NodeId, type ObjectId, type TaskId, type WorkerId } from "../ids.js";
import type { WireValue } from "../protocol.js";
import { isActorHandle, encodeActorHandle, decodeActorHandle } from "./actor-handle.js";
import { waitRefs } from "./wait.js";
import { getValues } from "./get.js";
import { addWaiter, type OwnedObject, type Outcome } from "./owned.js";
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
  private objects = new Map<ObjectId, OwnedObject>();
  private refs: LocalRefCounts;
  /** Connections to other processes, other nodes' agents, node deaths, the owners of refs held here. */
  readonly peers: Peers;
  /** Where the bytes of owned values are kept. */
  readonly values: ValueStorage;
  private busy = 0;
  /** Ref'd while the user awaits cluster work (made once: a timer per get() cost 2% of a sync loop). */
  private keepAlive = setInterval(() => {}, 1 << 30).unref();
  /** Set by the executor (push, cancel) and a driver (ping): the requests served beyond object requests. */
  handlers: Partial<ServedHere> = {};
  blockedHook?: (blocked: boolean) => Promise<void>;
  /** Set by the runtime: run again the task that made a lost object (false: it cannot be rebuilt). */
  reconstructor?: (task: TaskId, lostNode: NodeId) => boolean;
  /** Set by the runtime: an owned object made by a task was freed (its lineage may go). */
  onFreed?: (id: ObjectId, task: TaskId) => void;
  closed = false;

  /** `made.server`: this process's wire endpoint, when it listens already (start() then keeps its address). */
  constructor(readonly config: CoreWorkerConfig, made: Made = {}) {
    this.head = made.head ?? headClient(config.headAddress, config.token);
    this.agent = new RpcClient(config.agentAddress, "NodeAgent", config.token);
    this.store = new LocalStore(config.storeDir);
    this.values = new ValueStorage(this);
    this.peers = new Peers(config, this.head, this.agent, () => this.address, (msg, c) => this.handle(msg, c));
    this.refs = new LocalRefCounts((id) => this.onRefDropped(id));
    // A driver answers the head's pings (it watches the driver, and ends its job when it is gone).
    if (config.mode === "driver") this.handlers.ping = () => ({ jobId: config.jobId });
    this.server = made.server ?? new WireServer(config.token);
    this.server.serve((conn) => {
      if (config.mode === "driver") conn.unref();
      conn.onRequest = (msg, c) => this.handle(msg, c);
    });
    setRefTracker(this.refs);
    setHandleCodec({
      isRef: isObjectRef,
      encodeRef: (r) => this.encodeRef(r as ObjectRef),
      decodeRef: (d) => { if (d[3]) this.peers.learnOwner(d[1], d[2], d[3]); return new ObjectRef(d[0], d[1]); },
      isActor: isActorHandle,
      encodeActor: encodeActorHandle,
      decodeActor: decodeActorHandle,
    });
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
    setRefTracker(undefined);
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
    const obj = this.newObject(id);
    const s = serialize(value, "put(value)");
    this.setValue(id, obj, this.values.canHold(s.size) ? this.values.hold(id, s) : this.values.toWire(id, s));
    return new ObjectRef<T>(id, this.address);
  }

  /** Bytes of put() values held in this process, and of freed buffers kept for reuse. */
  memoryStats(): { heldBytes: number; pooledBytes: number; heldObjects: number } { return this.values.stats(); }
  /** A value is about to leave this process: make sure a held one is in the node store. */
  exported(v: WireValue): WireValue { return this.values.exported(v); }
  toWire(id: ObjectId, s: Serialized): WireValue { return this.values.toWire(id, s); }

  /** Own an already serialized value (a large task argument). */
  putSerialized(s: Serialized): ObjectRef {
    const id = newPutId();
    this.setValue(id, this.newObject(id), this.values.toWire(id, s));
    return new ObjectRef(id, this.address);
  }

  /** A task return that was freed is wanted again (a re-run's input): pending until its task answers. */
  revive(id: ObjectId, task: TaskId): void {
    if (!this.objects.has(id)) this.newObject(id).task = task;
  }

  /** Register a pending owned object (a task return) and make its ref. */
  pending<T>(id: ObjectId, task: TaskId): ObjectRef<T> {
    this.newObject(id).task = task;
    return new ObjectRef<T>(id, this.address);
  }

  private newObject(id: ObjectId): OwnedObject {
    const obj: OwnedObject = { waiters: undefined, pins: 0, escaped: false };
    this.objects.set(id, obj);
    return obj;
  }

  /** A task's return value or error arrived (or a put completed). */
  resolve(id: ObjectId, outcome: Outcome): void {
    const obj = this.objects.get(id);
    if (!obj) {   // dropped by the user before it finished: nothing wants it
      if ("value" in outcome && "s" in outcome.value) this.values.free(outcome.value);
      return;
    }
    if ("value" in outcome) this.setValue(id, obj, outcome.value);
    else { obj.error = outcome.error; this.wake(obj); }
  }

  private setValue(_id: ObjectId, obj: OwnedObject, value: WireValue): void {
    // An inline value that arrived in a message is a view of the bytes read with it: copy a small
    // one out, so that keeping it does not keep the whole read (wire.ts decodes bin as a view).
    if ("v" in value && value.v.buffer.byteLength > 2 * value.v.byteLength + 4096) value = { v: Buffer.from(value.v) };
    obj.value = value;
    if ("s" in value) this.values.stored(value.s);
    this.wake(obj);
  }

  private wake(obj: OwnedObject): void {
    const w = obj.waiters;
    if (!w) return;
    obj.waiters = undefined;
    if (typeof w === "function") w(obj);
    else for (const f of w) f(obj);
  }

  isOwned(id: ObjectId): boolean { return this.objects.has(id); }
  isReady(id: ObjectId): boolean {
    const o = this.objects.get(id);
    return !!o && (o.value !== undefined || o.error !== undefined);
  }
  /**
   * Call `f` once an owned object has its value or error (at once if it has): a callback, not
   * a promise, so watching 100k objects costs 100k closures. Returns what stops the watch (before
   * it fired), or undefined if this process does not own the object.
   */
  whenSettled(id: ObjectId, f: () => void): (() => void) | undefined {
    const o = this.objects.get(id);
    if (!o) return undefined;
    if (o.value !== undefined || o.error !== undefined) { f(); return () => {}; }
    addWaiter(o, f);
    return () => {
      const w = o.waiters;
      if (w === f) o.waiters = undefined;
      else if (Array.isArray(w)) { const i = w.indexOf(f); if (i >= 0) w.splice(i, 1); }
    };
  }
  taskOf(id: ObjectId): TaskId | undefined { return this.objects.get(id)?.task; }

  pin(ref: ObjectRef): void { const o = this.objects.get(ref.id); if (o) o.pins++; }
  unpin(id: ObjectId): void {
    const o = this.objects.get(id);
    if (o && --o.pins === 0) this.maybeFree(id, o);
  }

  /** A ref travels with its owner's node and worker id, so a holder can tell when that owner is gone. */
  private encodeRef(r: ObjectRef): [ObjectId, string, NodeId?, WorkerId?] {
    const o = this.objects.get(r.id);
    if (o) o.escaped = true;
    if (r.owner === this.address) return [r.id, r.owner, this.config.transferAddress ? this.config.nodeId : undefined, this.config.workerId];
    const who = this.peers.owner(r.owner);
    return who ? [r.id, r.owner, who.node, who.worker] : [r.id, r.owner];
  }

  private onRefDropped(id: ObjectId): void {
    const o = this.objects.get(id);
    if (o) this.maybeFree(id, o);
  }

  private maybeFree(id: ObjectId, o: OwnedObject): void {
    if (o.pins > 0 || o.escaped || this.refs.has(id)) return;
    this.objects.delete(id);
    if (o.value && "s" in o.value && !this.values.release(id)) this.values.free(o.value);
    if (o.task) this.onFreed?.(id, o.task);
  }

  // ---- lost objects: rebuilt from lineage, as in Ray ---------------------------------------

  /**
   * The stored copy of an owned object could not be read from `node` (or that node died).
   * A task's return is made again by re-running the task (the runtime keeps its lineage while
   * the object lives); a put() has no lineage, so its loss is final: ObjectLostError.
   * True while the object is being rebuilt (callers wait for it as for any pending object).
   */
  lost(id: ObjectId, node: NodeId): boolean {
    const o = this.objects.get(id);
    if (!o) return false;
    if (o.value === undefined && o.error === undefined) return true;   // already being made again
    if (!o.value || !("s" in o.value) || o.value.node !== node) return !o.error;   // moved on since: read it again
    if (o.task && this.reconstructor?.(o.task, node)) {
      o.value = undefined;   // pending until the re-run answers (the runtime resets its other returns too)
      return true;
    }
    o.value = undefined;
    o.error = { name: "ObjectLostError", message: o.task
      ? `object ${id} was lost with node ${node} and cannot be rebuilt: the task that made it has no retries left (maxRetries). Tip: raise maxRetries on that task.`
      : `object ${id} was made by put() and its only copy was on node ${node}, which is gone; a put() value cannot be rebuilt. Tip: keep the process that put it, or make the value in a task so it can be re-run.` };
    this.wake(o);
    return false;
  }

  /** The task that made this object runs again: its value is pending until the new reply. */
  reset(id: ObjectId, lostNode: NodeId): void {
    const o = this.objects.get(id);
    if (!o) return;
    if (o.value && "s" in o.value && o.value.node !== lostNode && !this.values.release(id)) this.values.free(o.value);   // a sibling return's copy elsewhere
    o.value = undefined;
    o.error = undefined;
  }

  /** An owned object, its copy first declared lost if that copy's node has died (get.ts reads it). */
  owned(id: ObjectId): OwnedObject | undefined {
    const obj = this.objects.get(id);
    const v = obj?.value;
    if (v && "s" in v && this.peers.isDead(v.node)) this.lost(id, v.node);
    return obj;
  }

  async locate(ref: ObjectRef): Promise<Outcome> {
    const obj = this.owned(ref.id);
    if (obj) {
      while (obj.value === undefined && obj.error === undefined) await new Promise<void>((r) => addWaiter(obj, () => r()));
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
    return deserialize("v" in v ? v.v : await this.values.read(v));
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
    this.lost(ref.id, node);
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
        if (msg.lost) this.lost(msg.id, msg.lost);   // the asker could not read the copy it was told of
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
      case "push": return this.served("push", msg, conn);
      case "cancel": return this.served("cancel", msg, conn);
      case "ping": return this.served("ping", msg, conn);
      case "free": throw new Error("unknown message free");   // frees go to the agents' transfer endpoints
      default: return unexpected(msg);
    }
  }

  private served<T extends keyof ServedHere>(t: T, msg: RequestMessage<T>, conn: Connection): unknown {
    const h = this.handlers[t] as ServedHere[T] | undefined;
    if (!h) throw new Error(`unknown message ${t}`);
    return h(msg, conn);
  }
}

/** Requests a process serves only in some roles: a worker runs pushed tasks, a driver answers the head's pings. */
type ServedHere = { [T in "push" | "cancel" | "ping"]: (msg: RequestMessage<T>, conn: Connection) => WireReply<T> | Promise<WireReply<T>> };

/** A ref-shaped record that does not count as a live handle (for serving requests). */
class ObjectRefLike { constructor(readonly id: ObjectId, readonly owner: string) {} }
