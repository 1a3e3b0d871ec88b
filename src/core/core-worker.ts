// The core worker: linked into drivers and workers alike. It owns the objects and tasks
// this process created (values, reference counts, pending work), resolves and fetches
// values for get/wait, and serves the wire endpoint other processes push tasks and object
// requests to. Submission lives in submitter.ts, actor calls in actor-caller.ts, and
// execution of pushed work in executor.ts.
import { ObjectRef, LocalRefCounts, setRefTracker, isObjectRef } from "./object-ref.js";
import { LocalStore } from "./store.js";
import { HeldValues } from "./held-values.js";
import { Connection, WireServer, connect, listenInRange } from "../rpc/wire.js";
import { unexpected, type IncomingMessage, type RequestMessage, type WireReply } from "../rpc/messages.js";
import { HEAD_RECONNECT_MS, RpcClient, type AgentClient, type HeadClient } from "../rpc/grpc.js";
import { serialize, deserialize, concat, readParts, setHandleCodec, type Serialized } from "../serialization.js";
import { ConnectionClosedError, GetTimeoutError, ObjectLostError, fromErrorInfo } from "../errors.js";
import { newPutId, type JobId, type NodeId, type ObjectId, type TaskId, type WorkerId } from "../ids.js";
import type { StoredValue, WireValue } from "../protocol.js";
import { pullChunks } from "../rpc/chunks.js";
import { collectGarbage, STORE_GC_BYTES } from "./gc.js";
import { isActorHandle, encodeActorHandle, decodeActorHandle } from "./actor-handle.js";
import { waitRefs } from "./wait.js";
import { locateAll, readAll } from "./get.js";
import { addWaiter, type OwnedObject, type Outcome } from "./owned.js";
import { setting } from "../config.js";

/** How many times one get() follows a lost object to its rebuilt copy before giving up. */
const MAX_RELOCATIONS = 16;

/** Values up to this size travel inline; larger ones go to the node's object store. */
export const INLINE_MAX = 100 * 1024;


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
  private conns = new Map<string, Promise<Connection>>();
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
      decodeRef: (d) => { if (d[3]) this.learnOwner(d[1], d[2], d[3]); return new ObjectRef(d[0], d[1]); },
      isActor: isActorHandle,
      encodeActor: encodeActorHandle,
      decodeActor: decodeActorHandle,
    });
    this.onNodeDeath((nodeId) => this.ownerNodeDied(nodeId as NodeId));
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
    for (const c of this.conns.values()) c.then((x) => x.close(), () => {});
    this.head.close();
    this.agent.close();
    for (const a of this.agents.values()) a.close();
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

  private agents = new Map<string, AgentClient>();
  /** A client for another node's agent (spillback, lease returns). */
  agentClient(address: string): AgentClient {
    if (address === this.config.agentAddress) return this.agent;
    let c = this.agents.get(address);
    if (!c) this.agents.set(address, c = new RpcClient(address, "NodeAgent", this.config.token));
    return c;
  }

  private home?: AgentClient;
  /** The agent leases are asked of: this node's, or for a driver on a machine without one, a live node's. */
  homeAgent(): AgentClient { return this.home ?? this.agent; }

  /** A driver without a local agent whose chosen agent went away picks another live node. */
  async rehome(): Promise<void> {
    if (this.config.transferAddress) return;   // an agent on this machine: nowhere else to go
    const nodes = await this.head.call("listNodes").catch(() => []);
    const alive = nodes.filter((n) => n.state === "ALIVE" && n.agentAddress !== this.homeAgent().address);
    if (alive.length) this.home = this.agentClient(alive[Math.floor(Math.random() * alive.length)].agentAddress);
  }

  // ---- node deaths: watched from the head while work is in flight --------------------------
  private inflight = 0;
  private watching = false;
  private nodeSeq = 0;
  private nodeListeners: Array<(nodeId: string) => void> = [];
  onNodeDeath(f: (nodeId: string) => void): void { this.nodeListeners.push(f); }

  /** Count work in flight on other processes; while there is some, watch for node deaths. */
  track(delta: number): void {
    this.inflight += delta;
    if (this.inflight > 0 && !this.watching) void this.watchNodes();
  }

  private async watchNodes(): Promise<void> {
    this.watching = true;
    while (this.inflight > 0 && !this.closed) {
      try {
        const events = await this.head.call("watchNodes", { since: this.nodeSeq, waitMs: 5000 });
        for (const e of events) {
          this.nodeSeq = Math.max(this.nodeSeq, e.seq);
          if (e.state === "DEAD") for (const f of this.nodeListeners) f(e.nodeId);
        }
      } catch {
        await new Promise((r) => setTimeout(r, 500).unref());
      }
    }
    this.watching = false;
  }

  connection(address: string): Promise<Connection> {
    let c = this.conns.get(address);
    if (!c) {
      c = connect(address, this.config.token).then((conn) => {
        if (this.config.mode === "driver") conn.unref();
        conn.onRequest = (msg, x) => this.handle(msg, x);
        conn.once("close", () => { if (this.conns.get(address) === c) this.conns.delete(address); });
        return conn;
      });
      c.catch(() => this.conns.delete(address));
      this.conns.set(address, c);
    }
    return c;
  }

  // ---- objects ----------------------------------------------------------------------

  /** Store a value owned by this process; returns its ref synchronously. */
  put<T>(value: T): ObjectRef<T> {
    const id = newPutId();
    const obj = this.newObject(id);
    const s = serialize(value, "put(value)");
    this.setValue(id, obj, this.canHold(s.size) ? this.holdValue(id, s) : this.toWire(id, s));
    return new ObjectRef<T>(id, this.address);
  }

  /** Large put() values kept in this process until a ref leaves it (held-values.ts). */
  private held = new HeldValues();

  private canHold(size: number): boolean {
    return size > INLINE_MAX && !!this.config.transferAddress && this.held.fits(size);
  }

  private holdValue(id: ObjectId, s: Serialized): WireValue {
    this.held.hold(id, s);
    return { s: s.size, id, node: this.config.nodeId, at: this.config.transferAddress! };
  }

  private release(id: ObjectId): boolean { return this.held.release(id); }

  /** Bytes of put() values held in this process, and of freed buffers kept for reuse. */
  memoryStats(): { heldBytes: number; pooledBytes: number; heldObjects: number } { return this.held.stats(); }

  /** A value is about to leave this process: make sure a held one is in the node store. */
  exported(v: WireValue): WireValue {
    if ("s" in v) {
      const b = this.held.get(v.id);
      if (b) {
        this.store.write(v.id, { chunks: [b], size: b.length, nested: [] });
        this.release(v.id);
      }
    }
    return v;
  }

  /** Own an already serialized value (a large task argument). */
  putSerialized(s: Serialized): ObjectRef {
    const id = newPutId();
    this.setValue(id, this.newObject(id), this.toWire(id, s));
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

  toWire(id: ObjectId, s: Serialized): WireValue {
    if (s.size <= INLINE_MAX) return { v: concat(s) };
    if (this.config.transferAddress) {
      this.store.write(id, s);
      return { s: s.size, id, node: this.config.nodeId, at: this.config.transferAddress };
    }
    // No node store on this machine: keep the bytes here and serve them to whoever pulls.
    this.memStore.set(id, concat(s));
    return { s: s.size, id, node: `${this.config.workerId}` as NodeId, at: this.address };
  }
  private memStore = new Map<ObjectId, Buffer>();

  /** The bytes of a stored value: local file, a copy pulled to this node, or pulled into memory. */
  private async readStored(v: StoredValue): Promise<Uint8Array | Uint8Array[]> {
    // deserialize() copies what it would otherwise share with a buffer it reads, so the caller
    // never changes the bytes kept here. A held buffer goes back to a pool when released: it is
    // copied now, in the parts deserialize() uses as they are.
    const mem = this.memStore.get(v.id);
    if (mem) return mem;
    const held = this.held.get(v.id);
    if (held) return readParts(held.length, (into, at) => into.set(held.subarray(at, at + into.length)));
    try {
      if (this.config.transferAddress) {
        if (v.node !== this.config.nodeId) await this.agent.call("fetchObject", { id: v.id, from: v.at });
        return this.store.readValue(v.id);
      }
      const conn = await this.connection(v.at);
      const buf = Buffer.allocUnsafe(v.s);
      await pullChunks(conn, v.id, v.s, (offset, bytes) => buf.set(bytes, offset));
      return buf;
    } catch (e) {
      throw new ObjectLostError(`object ${v.id} could not be read from node ${v.node} (${v.at}): ${(e as Error).message}`, { cause: e });
    }
  }

  private freeStored(v: StoredValue): void {
    if (this.memStore.delete(v.id)) return;
    this.connection(v.at).then((c) => c.send({ t: "free", id: v.id }), () => {});
  }

  /** A task's return value or error arrived (or a put completed). */
  resolve(id: ObjectId, outcome: Outcome): void {
    const obj = this.objects.get(id);
    if (!obj) {   // dropped by the user before it finished: nothing wants it
      if ("value" in outcome && "s" in outcome.value) this.freeStored(outcome.value);
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
    if ("s" in value && (this.storedSinceGc += value.s) > STORE_GC_BYTES) {
      this.storedSinceGc = 0;
      collectGarbage();   // let dropped refs to stored objects be finalized, so their files go
    }
    this.wake(obj);
  }
  private storedSinceGc = 0;

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
  /** Whether an owned object settled with an error (its task failed). */
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
    const who = this.owners.get(r.owner);
    return who ? [r.id, r.owner, who.node, who.worker] : [r.id, r.owner];
  }

  private onRefDropped(id: ObjectId): void {
    const o = this.objects.get(id);
    if (o) this.maybeFree(id, o);
  }

  private maybeFree(id: ObjectId, o: OwnedObject): void {
    if (o.pins > 0 || o.escaped || this.refs.has(id)) return;
    this.objects.delete(id);
    if (o.value && "s" in o.value && !this.release(id)) this.freeStored(o.value);
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
    if (o.value && "s" in o.value && o.value.node !== lostNode && !this.release(id)) this.freeStored(o.value);   // a sibling return's copy elsewhere
    o.value = undefined;
    o.error = undefined;
  }

  /** Wait until an object is available and return where its value is (or its error). */
  /** An owned object, its copy first declared lost if that copy's node has died (get.ts reads it). */
  owned(id: ObjectId): OwnedObject | undefined {
    const obj = this.objects.get(id);
    const v = obj?.value;
    if (v && "s" in v && this.deadNodes.has(v.node)) this.lost(id, v.node);
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
    return this.askOwner(ref);
  }

  // ---- owners of the objects this process holds refs to -----------------------------------
  /** Who is behind an owner address (learned from refs that arrived here), and which nodes died. */
  private owners = new Map<string, { node?: NodeId; worker: WorkerId }>();
  private deadNodes = new Set<NodeId>();
  private nodeWaiters = new Map<NodeId, Set<() => void>>();

  private learnOwner(address: string, node: NodeId | undefined, worker: WorkerId): void {
    if (address !== this.address && this.owners.get(address)?.worker !== worker) this.owners.set(address, { node, worker });
  }

  /**
   * Ask the owner for an object it owns. Its process gone (refused or closed connection, or its
   * address now serving another process) or its node declared dead (a cut link leaves the
   * connection hanging) is OwnerDiedError, as in Ray: an object lives as long as its owner.
   */
  private async askOwner(ref: ObjectRef, lostOn?: NodeId): Promise<Outcome> {
    const who = this.owners.get(ref.owner);
    const died = (why: string): Outcome => ({ error: { name: "OwnerDiedError", message: `the owner of ${ref.id} ` +
      `(${who ? `worker ${who.worker}` : "the process"} at ${ref.owner}${who?.node ? ` on node ${who.node}` : ""}) ${why}. ` +
      "Tip: an object lives as long as the process that made it (put() or the task's caller); keep that process alive until its objects are read." } });
    if (who?.node && this.deadNodes.has(who.node)) return died("died with its node");
    const ask = (async (): Promise<Outcome> => {
      let conn: Connection;
      try { conn = await this.connection(ref.owner); } catch { return died("is unreachable; it has exited"); }
      try { return await conn.request({ t: "getObject", id: ref.id, owner: who?.worker, lost: lostOn }); } catch (e) {
        if (e instanceof ConnectionClosedError) return died("died before the value was read");
        throw e;
      }
    })();
    if (!who?.node) return ask;
    const node = who.node;
    let wake!: () => void;
    const nodeDeath = new Promise<Outcome>((resolve) => { wake = () => resolve(died(`died with its node (node ${node} was declared dead)`)); });
    const waiters = this.nodeWaiters.get(node) ?? new Set();
    this.nodeWaiters.set(node, waiters.add(wake));
    this.track(1);   // watch node deaths while waiting
    try { return await Promise.race([ask, nodeDeath]); } finally {
      this.track(-1);
      waiters.delete(wake);
    }
  }

  private ownerNodeDied(node: NodeId): void {
    this.deadNodes.add(node);
    for (const wake of this.nodeWaiters.get(node) ?? []) wake();
    this.nodeWaiters.delete(node);
    // Connections to owners there may hang on a cut link: drop them.
    for (const [address, who] of this.owners) if (who.node === node) this.conns.get(address)?.then((c) => c.close(), () => {});
  }

  /** Turn an outcome into the user's value, or throw the typed error. */
  async materialize(o: Outcome): Promise<unknown> {
    if ("error" in o) throw fromErrorInfo(o.error);
    const v = o.value;
    return deserialize("v" in v ? v.v : await this.readStored(v));
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
    if (!this.objects.has(ref.id)) return this.askOwner(ref, node);
    this.lost(ref.id, node);
    return this.locate(ref);
  }

  /** The values of refs in order. `failFast`: reject with FailedRef as soon as one of them fails (helios/util's Pool). */
  async get(refs: ObjectRef[], timeoutMs?: number, failFast = false): Promise<unknown[]> {
    const work = locateAll(this, refs, failFast);
    const notReady = refs.some((r) => !this.isReady(r.id));
    if (notReady && this.blockedHook) await this.blockedHook(true);
    try {
      const located = timeoutMs === undefined ? work : withTimeout(work, timeoutMs, () =>
        new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${refs.filter((r) => !this.isReady(r.id)).length || "some"} of ${refs.length} object(s). Tip: raise the timeout, or use wait() to take what is ready.`));
      return await this.hold(located.then((found) => readAll(this, refs, found)));
    } finally {
      if (notReady && this.blockedHook) await this.blockedHook(false);
    }
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
        const b = this.memStore.get(msg.id);
        if (!b) throw new ObjectLostError(`object ${msg.id} is not held here`);
        return { size: b.length };
      }
      case "read": {
        const b = this.memStore.get(msg.id);
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

function withTimeout<T>(p: Promise<T>, ms: number, err: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(err()), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

