// Worker side: runs pushed tasks and actor calls. Normal tasks run one at a time (the
// owner holds a lease per worker); an actor runs calls in arrival order, up to
// maxConcurrency at once, so async methods can interleave when it is above 1.
import { load, type CodeDescriptor } from "../code/descriptor.js";
import { ObjectLostError, ObjectStoreFullError, SerializationError, type ErrorInfo } from "../errors.js";
import { returnId, type ActorId } from "../ids.js";
import type { StoredValue, TaskReply, TaskSpec, WireValue } from "../protocol.js";
import type { CoreWorker } from "./core-worker.js";
import { taskContext } from "./task-context.js";

interface Queued { spec: TaskSpec; resolve: (r: TaskReply & { requeue?: boolean }) => void }

interface ActorSlot { id: ActorId; instance: any; className: string; maxConcurrency: number; running: number; queue: Array<() => void> }

export class Executor {
  private fns = new Map<string, CodeDescriptor>();
  private actor?: ActorSlot;

  /** Normal tasks pushed ahead (pipelined) and not started yet; they run one at a time. */
  private queue: Queued[] = [];
  private running = false;

  /** Pushed tasks and cancels reach it through the worker's entry (worker/main.ts), which checks them first. */
  constructor(private core: CoreWorker) {}

  /** The running task blocked in get(): hand the queued ones back to their owner to run elsewhere. */
  requeueWaiting(): void {
    for (const q of this.queue.splice(0)) q.resolve({ requeue: true });
  }

  /** Drop a queued task; false when it is not queued here (running, or never pushed). */
  cancelQueued(taskId: string): boolean {
    const i = this.queue.findIndex((q) => q.spec.taskId === taskId);
    if (i < 0) return false;
    const [q] = this.queue.splice(i, 1);
    q.resolve({ error: { name: "TaskCancelledError", message: `task ${q.spec.name} was cancelled before it started` } });
    return true;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) next.resolve(await this.run(next.spec));
    } finally { this.running = false; }
  }

  get actorId(): ActorId | undefined { return this.actor?.id; }

  /** Run an actor's constructor in this worker; the worker is the actor's from now on. */
  async createActor(spec: TaskSpec, actorId: ActorId, maxConcurrency: number): Promise<ErrorInfo | undefined> {
    try {
      if (maxConcurrency > 1) taskContext.concurrent();
      const Cls = await this.resolve(spec) as new (...a: unknown[]) => unknown;
      const args = await Promise.all(spec.args.map((a) => this.core.materialize({ value: a })));
      const instance = await taskContext.run({ name: spec.name, actorId }, async () => new Cls(...args));
      this.actor = { id: actorId, instance, className: Cls.name, maxConcurrency: Math.max(1, maxConcurrency), running: 0, queue: [] };
      return undefined;
    } catch (e) {
      return userError(e, spec, this.core);
    }
  }

  async execute(spec: TaskSpec): Promise<TaskReply> {
    // Kept on arrival: the owner sends a function once per connection, and this task may never run
    // here (handed back while another task blocks, or cancelled) while later ones come without it.
    if (spec.fn) this.fns.set(spec.fnId, spec.fn);
    if (spec.actor) return this.withActorSlot(() => this.run(spec));
    return new Promise((resolve) => {
      this.queue.push({ spec, resolve });
      void this.pump();
    });
  }

  private async withActorSlot(f: () => Promise<TaskReply>): Promise<TaskReply> {
    const a = this.actor;
    if (!a) return { error: { name: "ActorDiedError", message: "this worker holds no actor (it was restarted or killed)" } };
    if (a.running >= a.maxConcurrency) await new Promise<void>((r) => a.queue.push(r));
    a.running++;
    try { return await f(); } finally {
      a.running--;
      a.queue.shift()?.();
    }
  }

  private async run(spec: TaskSpec): Promise<TaskReply> {
    let result: unknown;
    let args: unknown[];
    try {
      args = await Promise.all(spec.args.map((a) => this.core.materialize({ value: a }).catch((e: unknown) => {
        throw e instanceof ObjectLostError && "s" in a ? new LostArgument(a, e) : e;
      })));
    } catch (e) {
      // An argument's stored copy is gone: the owner rebuilds it and sends the task again (never
      // wait for that here: rebuilding may need the CPU this worker holds).
      if (e instanceof LostArgument) {
        const { arg, error } = e;
        return { error: { name: "ObjectLostError", message: `argument ${arg.id} of ${spec.name}: ${error.message}`, lost: { id: arg.id, node: arg.node } } };
      }
      return { error: userError(e, spec, this.core) };
    }
    try {
      const ctx = { taskId: spec.taskId, name: spec.name, actorId: this.actor?.id };
      if (spec.actor) {
        const inst = this.actor!.instance;
        const method = inst[spec.actor.method];
        if (typeof method !== "function") return { error: missingMethod(this.actor!.className, spec.actor.method, inst) };
        result = await taskContext.run(ctx, () => method.apply(inst, args));
      } else {
        const fn = await this.resolve(spec);
        result = await taskContext.run(ctx, () => fn(...args));
      }
    } catch (e) {
      return { error: userError(e, spec, this.core) };
    }
    try {
      return { returns: this.returns(spec, result) };
    } catch (e) {
      if (e instanceof SerializationError) return { error: { name: "SerializationError", message: `${spec.name} returned a value that ${e.message}` } };
      if (e instanceof ObjectStoreFullError) return { error: { name: "ObjectStoreFullError", message: `${spec.name}'s return value could not be stored: ${e.message}` } };
      return { error: userError(e, spec, this.core) };
    }
  }

  private returns(spec: TaskSpec, result: unknown): WireValue[] {
    if (spec.numReturns === 1) return [this.core.toWire(returnId(spec.taskId, 0), this.core.serialize(result, `${spec.name}() return value`))];
    if (!Array.isArray(result) || result.length !== spec.numReturns) {
      throw new TypeError(`${spec.name} has numReturns ${spec.numReturns} but returned ${Array.isArray(result) ? `an array of ${result.length}` : "a non-array"}`);
    }
    return result.map((r, i) => this.core.toWire(returnId(spec.taskId, i), this.core.serialize(r, `${spec.name}() return value ${i}`)));
  }

  private async resolve(spec: TaskSpec): Promise<Function> {
    if (spec.fn) this.fns.set(spec.fnId, spec.fn);
    const d = this.fns.get(spec.fnId);
    if (!d) throw new Error(`function ${spec.fnId} was never sent to this worker`);
    return load(d);
  }
}

/** A call to a method the actor's instance does not have: the caller's handle names another class, or an older one. */
function missingMethod(className: string, name: string, inst: object): ErrorInfo {
  const methods: string[] = [];
  for (let p = Object.getPrototypeOf(inst); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) if (n !== "constructor" && typeof Object.getOwnPropertyDescriptor(p, n)!.value === "function") methods.push(n);
  }
  return { name: "ActorMethodNotFoundError", message: `actor ${className} has no method '${name}' (its methods: ${methods.join(", ") || "none"}). ` +
    "Tip: check the method's name, and that the handle is one of this class (getActor() returns the actor the name holds now)." };
}

/** A task's stored argument that could not be read: which one, and why. */
class LostArgument extends Error {
  constructor(readonly arg: StoredValue, readonly error: ObjectLostError) { super(error.message); }
}

/** The batch item an error was thrown on, as helios/util's chunk runner marks it (src/util/fn.ts). */
function itemOf(err: Error): { item?: number } {
  const item = (err as unknown as Record<symbol, unknown>)[Symbol.for("helios.item")];
  return Number.isSafeInteger(item) ? { item: item as number } : {};
}

function userError(e: unknown, spec: TaskSpec, core: CoreWorker): ErrorInfo {
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    name: "TaskError",
    message: err.message,
    task: {
      originalName: err.name, originalMessage: err.message, remoteStack: err.stack ?? `${err.name}: ${err.message}`,
      taskName: spec.name, pid: process.pid, nodeId: core.config.nodeId, ...itemOf(err),
    },
  };
}
