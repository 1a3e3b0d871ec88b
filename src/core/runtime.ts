// The runtime of one process: the public API's operations, built on the core worker, the task
// manager (tasks/task-manager.ts: the owner's task records and their lifecycle) with its
// submitter, and the actor caller.
import { CoreWorker, INLINE_MAX, type CoreOwner, type CoreWorkerConfig, type Made } from "./core-worker.js";
import { taskContext } from "./task-context.js";
import { TaskSubmitter, MAX_LEASES, shapeKey } from "./submitter.js";
import { ActorCaller, deadError } from "./actor-caller.js";
import { Lineage } from "./lineage.js";
import { TaskManager, resolveArgs } from "./tasks/task-manager.js";
import type { TaskShape } from "./tasks/task-record.js";
import { ObjectRef, isObjectRef } from "./object-ref.js";
import { makeActorHandle, actorRecord, type ActorRecord } from "./actor-handle.js";
import { serializeScalar, concat, type Serialized } from "../serialization.js";
import { newActorId, newTaskId, newTaskNumber, returnId, taskIdOf, type ObjectId } from "../ids.js";
import { ActorDiedError, IllegalStateError } from "../errors.js";
import type { CodeDescriptor } from "../code/descriptor.js";
import type { ActorCreateRequest, ActorOwner, Resources, Strategy, TaskSpec, WireValue } from "../protocol.js";
import type { ActorOptions, CallOptions, TaskOptions } from "../types.js";

export class Runtime {
  readonly core: CoreWorker;
  readonly submitter: TaskSubmitter;
  readonly actors: ActorCaller;
  /** The owner's live tasks: the one place their state changes (dump() shows them with their stories). */
  readonly tasks: TaskManager;
  /** Recipes of finished tasks whose returns can be lost with a node (lineage.ts). */
  private lineage: Lineage;

  /** `made`: the process's wire endpoint and head client, when it has them already (a driver's embedded cluster). */
  /** `hooks.blocked`: a worker's report that its running task blocks in get() (worker/main.ts). */
  constructor(config: CoreWorkerConfig, made?: Made, hooks: Pick<CoreOwner, "blocked"> = {}) {
    // The core's lost objects are rebuilt by the task manager, made below (the calls come later).
    this.core = new CoreWorker(config, made, {
      lineage: { reconstruct: (taskId, node) => this.tasks.reconstruct(taskId, node), freed: (_id, taskId) => this.lineage.freed(taskId) },
      actorCalls: this,
      blocked: hooks.blocked,
    });
    this.lineage = new Lineage(this.core);
    this.tasks = new TaskManager(this.core, this.lineage, (reports) => new TaskSubmitter(this.core, reports));
    this.submitter = this.tasks.transport as TaskSubmitter;
    this.actors = new ActorCaller(this.core);
  }

  start(): Promise<void> { return this.core.start(); }

  async close(): Promise<void> {
    await this.submitter.returnAll();
    this.core.close();
  }

  // ---- tasks ----------------------------------------------------------------------------

  submitTask(fn: CodeDescriptor, args: unknown[], options: TaskOptions): ObjectRef<unknown>[] {
    const numReturns = options.numReturns ?? 1;
    const num = newTaskNumber();
    const taskId = taskIdOf(num);
    const name = options.name ?? fn.name;
    const { resources, strategy, shape, maxLeases, envVars } = this.shapeOf(options);
    const { values, pinned, internal } = this.serializeArgs(args, name);
    const returnIds = numReturns === 1 ? [returnId(taskId, 0)] : Array.from({ length: numReturns }, (_, i) => returnId(taskId, i));
    const refs = numReturns === 1 ? [this.core.pending(returnIds[0], taskId)] : returnIds.map((id) => this.core.pending(id, taskId));
    const spec: TaskSpec = { taskId, name, jobId: this.core.config.jobId, fnId: fn.id, args: [], numReturns, owner: this.core.address };
    let inputs: Array<ObjectRef | Serialized> | undefined;
    if (pinned.length === 0) {   // no refs among the arguments: nothing to wait for
      const wire: WireValue[] = new Array(values.length);
      for (let i = 0; i < values.length; i++) wire[i] = { v: concat(values[i] as Serialized) };
      spec.args = wire;
    } else {
      inputs = values;
    }
    this.tasks.submit({ spec, num, fn, resources, strategy, shape, maxLeases, envVars, returnIds, pinned, internal, inputs,
      retriesLeft: options.maxRetries ?? DEFAULT_MAX_RETRIES, retryExceptions: options.retryExceptions });
    return refs;
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
      let v: ObjectRef | Serialized = isObjectRef(a) ? a : serializeScalar(a) ?? this.core.serialize(a, `${name}() argument ${i}`);
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

  async cancel(ref: ObjectRef): Promise<void> {
    const taskId = this.core.taskOf(ref.id);
    if (taskId) await this.tasks.cancel(taskId);
  }

  // ---- actors ---------------------------------------------------------------------------

  createActor(cls: CodeDescriptor, methods: string[], args: unknown[], options: ActorOptions): any {
    const actorId = newActorId();
    const namespace = options.namespace ?? this.core.config.namespace;
    const { values, pinned } = this.serializeArgs(args, `${cls.name} constructor`);
    const record: ActorRecord = { actorId, className: cls.name, methods, name: options.name, namespace, maxTaskRetries: options.maxTaskRetries,
      maxPendingCalls: options.maxPendingCalls };
    const created = resolveArgs(this.core, values).then(async (wire) => {
      const spec: TaskSpec = { taskId: newTaskId(), name: `${cls.name}.constructor`, jobId: this.core.config.jobId,
        fnId: cls.id, fn: cls, args: wire, numReturns: 0, owner: this.core.address };
      const req: ActorCreateRequest = {
        actorId, jobId: this.core.config.jobId, className: cls.name, methods, name: options.name, namespace,
        getIfExists: options.getIfExists, detached: options.lifetime === "detached",
        resources: actorResources(options), strategy: checkStrategy(options.schedulingStrategy),
        maxConcurrency: options.maxConcurrency ?? 1, maxRestarts: options.maxRestarts ?? 0, maxTaskRetries: options.maxTaskRetries ?? 0, spec,
        maxPendingCalls: options.maxPendingCalls, envVars: options.runtimeEnv?.envVars, placementCpus: options.numCpus,
        owner: this.owner(),
      };
      return this.core.head.call("createActor", req);
    });
    created.finally(() => pinned.forEach((id) => this.core.unpin(id))).catch(() => {});
    this.actors.created(actorId, created);
    // With getIfExists the head may answer with an existing actor: the handle then names that one.
    created.then((info) => { if (info?.actorId) record.actorId = info.actorId; }, () => {});
    created.catch(() => {});
    return makeActorHandle(record, this);
  }

  /** This process as an owner (a driver without an agent on its machine belongs to no node). */
  private owner(): ActorOwner {
    const c = this.core.config;
    return { workerId: c.workerId, jobId: c.jobId, nodeId: c.transferAddress ? c.nodeId : undefined, driver: c.mode === "driver" };
  }

  callActor(actor: ActorRecord, method: string, args: unknown[], options: CallOptions): unknown {
    if (this.core.closed) {
      throw new IllegalStateError(`this handle to actor ${actor.className} (${actor.actorId}) belongs to a Helios session that was shut down. ` +
        "Tip: after init() again, get a new handle with getActor(name) (named actors) or create the actor again.");
    }
    this.actors.admit(actor.actorId, actor.className, actor.maxPendingCalls);
    const numReturns = options.numReturns ?? 1;
    const num = newTaskNumber();
    const taskId = taskIdOf(num);
    const name = options.name ?? `${actor.className}.${method}`;
    const { values, pinned } = this.serializeArgs(args, name);
    const returnIds = Array.from({ length: numReturns }, (_, i) => returnId(taskId, i));
    const refs = returnIds.map((id) => this.core.pending(id, taskId));
    const spec: TaskSpec = { taskId, name, jobId: this.core.config.jobId, fnId: "", args: [], numReturns, owner: this.core.address,
      actor: { actorId: actor.actorId, method, callerId: "", seq: 0 } };
    const task = this.tasks.actorCall(spec, num, returnIds, pinned);
    this.actors.call(actor.actorId, async () => {
      task.spec.args = await resolveArgs(this.core, values);
      this.tasks.sent(task);
      return task.spec;
    }, (reply) => this.tasks.settle(task, reply, task.state === "resolving" ? "args-failed" : "replied"), actor.maxTaskRetries ?? 0);
    return numReturns === 1 ? refs[0] : refs;
  }

  async kill(handle: object): Promise<void> {
    const rec = actorRecord(handle);
    if (!rec) throw new TypeError("kill() takes an actor handle");
    await this.core.hold(this.core.head.call("killActor", { actorId: rec.actorId }));   // held: it may wait for a restarting head
  }

  async getActor(name: string, namespace?: string): Promise<any> {
    const info = await this.core.hold(this.core.head.call("getNamedActor", { name, namespace: namespace ?? this.core.config.namespace }));
    if (!info) throw new ActorDiedError(`no actor named '${name}' in namespace '${namespace ?? this.core.config.namespace}'. Tip: create it with Cls.options({ name }).remote(), or check the namespace.`);
    if (info.state === "DEAD") throw deadError(info);
    return makeActorHandle({ actorId: info.actorId, className: info.className, methods: info.methods, name, namespace: info.namespace, maxTaskRetries: info.maxTaskRetries,
      maxPendingCalls: info.maxPendingCalls }, this);
  }

  context() {
    const ctx = taskContext.getStore();
    const c = this.core.config;
    return { nodeId: c.nodeId, workerId: c.workerId, jobId: c.jobId, namespace: c.namespace, taskId: ctx?.taskId, actorId: ctx?.actorId };
  }
}

/** The pins of a task with no ref arguments (shared: a task's pins are replaced, never added to). */
const NO_PINS: ObjectId[] = Object.freeze([]) as unknown as ObjectId[];

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

/** What a task's queue is worked out from (once per options object). */
type Shape = Pick<TaskShape, "resources" | "strategy" | "shape" | "maxLeases" | "envVars">;
