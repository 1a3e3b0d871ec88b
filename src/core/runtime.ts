// The runtime of one process: the public API's operations, built on the core worker,
// the task submitter and the actor caller.
import { CoreWorker, INLINE_MAX, type CoreWorkerConfig, type Made } from "./core-worker.js";
import { taskContext } from "./task-context.js";
import { TaskSubmitter, MAX_LEASES, shapeKey, type PendingTask } from "./submitter.js";
import { ActorCaller, deadError } from "./actor-caller.js";
import { Lineage, isRefInput } from "./lineage.js";
import { ObjectRef, isObjectRef } from "./object-ref.js";
import { makeActorHandle, setActorCallSink, actorRecord, type ActorRecord } from "./actor-handle.js";
import { serialize, serializeScalar, concat, type Serialized } from "../serialization.js";
import { newActorId, newTaskId, returnId, type NodeId, type ObjectId, type TaskId } from "../ids.js";
import { ActorDiedError, ArgumentError, toErrorInfo, type ErrorInfo } from "../errors.js";
import type { CodeDescriptor } from "../code/descriptor.js";
import type { ActorCreateRequest, ActorInfo, ActorOwner, Resources, Strategy, TaskReply, TaskSpec, WireValue } from "../protocol.js";
import type { ActorOptions, CallOptions, TaskOptions } from "../types.js";

export class Runtime {
  readonly core: CoreWorker;
  readonly submitter: TaskSubmitter;
  readonly actors: ActorCaller;
  private tasks = new Map<TaskId, PendingTask>();
  /** Recipes of finished tasks whose returns can be lost with a node (lineage.ts). */
  private lineage: Lineage;

  /** `made`: the process's wire endpoint and head client, when it has them already (a driver's embedded cluster). */
  constructor(config: CoreWorkerConfig, made?: Made) {
    this.core = new CoreWorker(config, made);
    this.submitter = new TaskSubmitter(this.core, (t, r) => this.complete(t, r));
    this.actors = new ActorCaller(this.core);
    this.lineage = new Lineage(this.core);
    this.core.reconstructor = (taskId, node) => this.reconstruct(taskId, node);
    this.core.onFreed = (_id, taskId) => this.lineage.freed(taskId);
    setActorCallSink(this);
  }

  start(): Promise<void> { return this.core.start(); }

  async close(): Promise<void> {
    await this.submitter.returnAll();
    this.core.close();
  }

  // ---- tasks ----------------------------------------------------------------------------

  submitTask(fn: CodeDescriptor, args: unknown[], options: TaskOptions): ObjectRef<unknown>[] {
    const numReturns = options.numReturns ?? 1;
    const taskId = newTaskId();
    const name = options.name ?? fn.name;
    const { resources, strategy, shape, maxLeases, envVars } = this.shapeOf(options);
    const { values, pinned, internal } = this.serializeArgs(args, name);
    const returnIds = numReturns === 1 ? [returnId(taskId, 0)] : Array.from({ length: numReturns }, (_, i) => returnId(taskId, i));
    const refs = numReturns === 1 ? [this.core.pending(returnIds[0], taskId)] : returnIds.map((id) => this.core.pending(id, taskId));
    const task: PendingTask = {
      internal,
      spec: { taskId, name, jobId: this.core.config.jobId, fnId: fn.id, args: [], numReturns, owner: this.core.address },
      fn, resources, strategy, shape, maxLeases, envVars, returnIds, state: "resolving", pinned,
      retriesLeft: options.maxRetries ?? DEFAULT_MAX_RETRIES, retryExceptions: options.retryExceptions, attempts: 1,
    };
    this.tasks.set(taskId, task);
    if (pinned.length === 0) {   // no refs among the arguments: nothing to wait for
      const wire: WireValue[] = new Array(values.length);
      for (let i = 0; i < values.length; i++) wire[i] = { v: concat(values[i] as Serialized) };
      task.spec.args = wire;
      this.submitter.submit(task);
      return refs;
    }
    task.inputs = values;
    this.resubmit(task);
    return refs;
  }

  /** Resolve a task's ref arguments (again) and queue it. */
  private resubmit(task: PendingTask): void {
    this.resolveArgs(task.inputs as Array<ObjectRef | Serialized>).then((wire) => {
      if (task.state === "done") return;
      task.spec.args = wire;
      this.submitter.submit(task);
    }, (e) => this.complete(task, { error: toErrorInfo(e) }));
  }

  /** A stored return of a finished task was lost with `node`: run the task again (false: it cannot be). */
  private reconstruct(taskId: TaskId, node: NodeId): boolean {
    const task = this.lineage.get(taskId);
    if (!task) return false;
    if (task.state !== "done") return true;   // running again already
    if (task.retriesLeft === 0) return false;
    if (task.retriesLeft > 0) task.retriesLeft--;
    task.attempts++;
    for (const id of task.returnIds) this.core.reset(id, node);
    task.state = "resolving";
    task.lease = undefined;
    this.tasks.set(taskId, task);
    this.rerun(task);
    return true;
  }

  /** Send a kept task again: its inputs become live refs again, freed ones made again first (recursively). */
  private rerun(task: PendingTask): void {
    if (!task.inputs) return this.submitter.submit(task);
    const live: Array<ObjectRef | Serialized> = [];
    task.pinned = [];
    for (const v of task.inputs) {
      if (!isRefInput(v)) {
        if (v instanceof ObjectRef) { this.core.pin(v); task.pinned.push(v.id); }
        live.push(v);
        continue;
      }
      const id = v.lineageRef;
      if (v.owner === this.core.address && !this.core.isOwned(id)) {
        const producer = this.lineage.revive(id);
        if (!producer) {
          return this.complete(task, { error: { name: "ObjectLostError", message: `input ${id} of ${task.spec.name} was lost and cannot be made again: ` +
            "it was freed and the task that made it is no longer known (its lineage was dropped or it was a put()). Tip: keep a ref to inputs you may need rebuilt." } });
        }
        if (producer.state === "done" && !this.reconstruct(producer.spec.taskId, "" as NodeId)) {
          this.core.resolve(id, { error: { name: "ObjectLostError", message: `input ${id} of ${task.spec.name} cannot be made again: the task that made it (${producer.spec.name}) has no retries left (maxRetries)` } });
        }
      }
      const ref = new ObjectRef(id, v.owner);
      this.core.pin(ref);
      task.pinned.push(id);
      live.push(ref);
    }
    task.inputs = live;
    this.resubmit(task);
  }

  /** The worker could not read an argument's stored copy: have it rebuilt (or relocated), then send the task again. */
  private rerunAfterLostArgument(task: PendingTask, lost: { id: string; node: string }): boolean {
    const ref = task.inputs?.find((v): v is ObjectRef => v instanceof ObjectRef && v.id === lost.id);
    if (!ref || task.cancelled || (task.relocations = (task.relocations ?? 0) + 1) > MAX_RELOCATIONS) return false;
    task.state = "resolving";
    task.lease = undefined;
    this.core.relocate(ref, lost.node as NodeId).then(() => this.resubmit(task), (e) => this.complete(task, { error: toErrorInfo(e) }));
    return true;
  }

  // A remote function's options object is fixed (options() makes a new one): its resources,
  // strategy and queue are worked out once, not on every call.
  private shapes = new WeakMap<TaskOptions, Shape>();
  private shapeOf(options: TaskOptions): Shape {
    let s = this.shapes.get(options);
    if (!s) {
      const resources = taskResources(options);
      const strategy = checkStrategy(options.schedulingStrategy);
      const maxLeases = (options as { [MAX_LEASES]?: number })[MAX_LEASES];
      const envVars = options.runtimeEnv?.envVars;
      this.shapes.set(options, s = { resources, strategy, maxLeases, envVars, shape: shapeKey(resources, strategy, maxLeases, envVars) });
    }
    return s;
  }

  /** Serialize at the call site (so a bad argument throws here); pin refs until the call ends. */
  private serializeArgs(args: unknown[], name: string): { values: Array<ObjectRef | Serialized>; pinned: ObjectId[]; internal?: Set<ObjectId> } {
    let pinned = NO_PINS;
    let internal: Set<ObjectId> | undefined;
    const values = new Array<ObjectRef | Serialized>(args.length);
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      let v: ObjectRef | Serialized = isObjectRef(a) ? a : serializeScalar(a) ?? serialize(a, `${name}() argument ${i}`);
      if (!(v instanceof ObjectRef) && v.size > INLINE_MAX) {   // large: via the store
        v = this.core.putSerialized(v);
        (internal ??= new Set()).add(v.id);
      }
      if (v instanceof ObjectRef) {
        this.core.pin(v);
        if (pinned === NO_PINS) pinned = [];
        pinned.push(v.id);
      }
      values[i] = v;
    }
    return { values, pinned, internal };
  }

  /** Top-level refs become their values (inline or stored) before the task is pushed. */
  private async resolveArgs(values: Array<ObjectRef | Serialized>): Promise<WireValue[]> {
    const out: WireValue[] = [];
    for (const v of values) {
      if (v instanceof ObjectRef) {
        const o = await this.core.locate(v);
        if ("error" in o) throw new ArgumentError(o.error);
        out.push(this.core.exported(o.value));
      } else {
        out.push({ v: concat(v) });
      }
    }
    return out;
  }

  private complete(task: PendingTask, reply: TaskReply): void {
    if (task.state === "done") return;
    if (reply.error?.lost && !task.spec.actor && this.rerunAfterLostArgument(task, reply.error.lost)) return;
    task.state = "done";
    this.tasks.delete(task.spec.taskId);
    for (const id of task.pinned) this.core.unpin(id);
    task.pinned = [];
    const keep = !task.spec.actor && !!reply.returns?.some((v) => "s" in v) && task.returnIds.some((id) => this.core.isOwned(id));
    if (keep || this.lineage.get(task.spec.taskId)) this.lineage.keep(task, task.internal ?? NO_IDS);
    else task.inputs = undefined;
    if (reply.error || !reply.returns) {
      const error = reply.error ?? { name: "Error", message: "task returned no values" };
      for (const id of task.returnIds) this.core.resolve(id, { error });
      return;
    }
    task.returnIds.forEach((id, i) => this.core.resolve(id, { value: reply.returns![i] }));
  }

  async cancel(ref: ObjectRef): Promise<void> {
    const taskId = this.core.taskOf(ref.id);
    const task = taskId && this.tasks.get(taskId);
    if (!task || task.state === "done") return;
    task.cancelled = true;
    const error: ErrorInfo = { name: "TaskCancelledError", message: `task ${task.spec.name} was cancelled` };
    if (task.state === "resolving" || (task.state === "queued" && this.submitter.dequeue(task))) {
      this.complete(task, { error });
      return;
    }
    const place = this.submitter.placeOf(task);
    if (!place) return;
    // Pipelined but not started: the worker drops it. Running: its worker is killed and replaced.
    if (!place.running && await place.conn.request<boolean>({ t: "cancel", taskId: task.spec.taskId }).catch(() => false)) return;
    await place.agent.call("killWorker", { workerId: place.grant.workerId, reason: "cancelled" });
  }

  // ---- actors ---------------------------------------------------------------------------

  createActor(cls: CodeDescriptor, methods: string[], args: unknown[], options: ActorOptions): any {
    const actorId = newActorId();
    const namespace = options.namespace ?? this.core.config.namespace;
    const { values, pinned } = this.serializeArgs(args, `${cls.name} constructor`);
    const record: ActorRecord = { actorId, className: cls.name, methods, name: options.name, namespace, maxTaskRetries: options.maxTaskRetries,
      maxPendingCalls: options.maxPendingCalls };
    const created = this.resolveArgs(values).then(async (wire) => {
      const spec: TaskSpec = { taskId: newTaskId(), name: `${cls.name}.constructor`, jobId: this.core.config.jobId,
        fnId: cls.id, fn: cls, args: wire, numReturns: 0, owner: this.core.address };
      const req: ActorCreateRequest = {
        actorId, jobId: this.core.config.jobId, className: cls.name, methods, name: options.name, namespace,
        getIfExists: options.getIfExists, detached: options.lifetime === "detached",
        resources: actorResources(options), strategy: checkStrategy(options.schedulingStrategy),
        maxConcurrency: options.maxConcurrency ?? 1, maxRestarts: options.maxRestarts ?? 0, maxTaskRetries: options.maxTaskRetries ?? 0, spec,
        maxPendingCalls: options.maxPendingCalls, envVars: options.runtimeEnv?.envVars,
        owner: this.owner(),
      };
      return this.core.head.call<ActorInfo>("createActor", req);
    });
    created.finally(() => pinned.forEach((id) => this.core.unpin(id))).catch(() => {});
    this.actors.created(actorId, created);
    // With getIfExists the head may answer with an existing actor: the handle then names that one.
    created.then((info) => { if (info?.actorId) record.actorId = info.actorId; }, () => {});
    created.catch(() => {});
    return makeActorHandle(record);
  }

  /** This process as an owner (a driver without an agent on its machine belongs to no node). */
  private owner(): ActorOwner {
    const c = this.core.config;
    return { workerId: c.workerId, jobId: c.jobId, nodeId: c.transferAddress ? c.nodeId : undefined, driver: c.mode === "driver" };
  }

  callActor(actor: ActorRecord, method: string, args: unknown[], options: CallOptions): unknown {
    this.actors.admit(actor.actorId, actor.className, actor.maxPendingCalls);
    const numReturns = options.numReturns ?? 1;
    const taskId = newTaskId();
    const name = options.name ?? `${actor.className}.${method}`;
    const { values, pinned } = this.serializeArgs(args, name);
    const returnIds = Array.from({ length: numReturns }, (_, i) => returnId(taskId, i));
    const refs = returnIds.map((id) => this.core.pending(id, taskId));
    const task: PendingTask = {
      spec: { taskId, name, jobId: this.core.config.jobId, fnId: "", args: [], numReturns, owner: this.core.address,
        actor: { actorId: actor.actorId, method, callerId: "", seq: 0 } },
      fn: undefined as any, resources: {}, shape: "", returnIds, state: "resolving", pinned, retriesLeft: 0, attempts: 1,
    };
    this.actors.call(actor.actorId, async () => {
      task.spec.args = await this.resolveArgs(values);
      task.state = "pushed";
      return task.spec;
    }, (reply) => this.complete(task, reply), actor.maxTaskRetries ?? 0);
    return numReturns === 1 ? refs[0] : refs;
  }

  async kill(handle: object): Promise<void> {
    const rec = actorRecord(handle);
    if (!rec) throw new TypeError("kill() takes an actor handle");
    await this.core.hold(this.core.head.call("killActor", { actorId: rec.actorId }));   // held: it may wait for a restarting head
  }

  async getActor(name: string, namespace?: string): Promise<any> {
    const info = await this.core.hold(this.core.head.call<ActorInfo | null>("getNamedActor", { name, namespace: namespace ?? this.core.config.namespace }));
    if (!info) throw new ActorDiedError(`no actor named '${name}' in namespace '${namespace ?? this.core.config.namespace}'. Tip: create it with Cls.options({ name }).remote(), or check the namespace.`);
    if (info.state === "DEAD") throw deadError(info);
    return makeActorHandle({ actorId: info.actorId, className: info.className, methods: info.methods, name, namespace: info.namespace, maxTaskRetries: info.maxTaskRetries,
      maxPendingCalls: info.maxPendingCalls });
  }

  context() {
    const ctx = taskContext.getStore();
    const c = this.core.config;
    return { nodeId: c.nodeId, workerId: c.workerId, jobId: c.jobId, namespace: c.namespace, taskId: ctx?.taskId, actorId: ctx?.actorId };
  }
}

/** What a task's queue is worked out from (once per options object). */
type Shape = Pick<PendingTask, "resources" | "strategy" | "shape" | "maxLeases" | "envVars">;

const NO_IDS: ReadonlySet<ObjectId> = new Set();
/** The pins of a task with no ref arguments (shared: a task's pins are replaced, never added to). */
const NO_PINS: ObjectId[] = Object.freeze([]) as unknown as ObjectId[];

/** Times a task is sent again because its arguments' copies were lost, before it fails with ObjectLostError. */
const MAX_RELOCATIONS = 16;

/** Tasks are retried after worker or node loss this many times unless maxRetries says otherwise (as in Ray). */
const DEFAULT_MAX_RETRIES = 3;

function checkStrategy(s: TaskOptions["schedulingStrategy"]): Strategy | undefined {
  if (s === undefined || s === "DEFAULT" || s === "SPREAD") return s;
  if (typeof s === "object" && s !== null && typeof s.nodeId === "string") return { nodeId: s.nodeId, soft: !!s.soft };
  throw new TypeError(`schedulingStrategy must be "DEFAULT", "SPREAD" or { nodeId, soft? }, got ${JSON.stringify(s)}`);
}

export function taskResources(o: TaskOptions): Resources {
  return withCustom({ CPU: o.numCpus ?? 1 }, o);
}

/** Actors take 1 CPU to be placed and hold none once running unless numCpus is given (as in Ray). */
export function actorResources(o: ActorOptions): Resources {
  return withCustom({ CPU: o.numCpus ?? 0 }, o);
}

function withCustom(r: Resources, o: TaskOptions | ActorOptions): Resources {
  if (o.numGpus) r.GPU = o.numGpus;
  if (o.memory) r.memory = o.memory;
  for (const [k, v] of Object.entries(o.resources ?? {})) {
    if (typeof v !== "number" || !(v >= 0)) throw new TypeError(`resources.${k} must be a non-negative number, got ${String(v)}`);
    r[k] = v;
  }
  for (const [k, v] of Object.entries(r)) if (!(v >= 0)) throw new TypeError(`${k} must be a non-negative number, got ${v}`);
  return r;
}

