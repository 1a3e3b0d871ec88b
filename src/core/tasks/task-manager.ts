// The owner's tasks: one record per live attempt, moved only by transition() (the lifecycle in
// task-states.ts). The submitter is transport: it queues, leases, pushes and pipelines, and
// reports what happened (pushed, replied, handed back, worker lost, unschedulable); whether a
// task is retried, cancelled, sent again after a lost argument or reconstructed from its
// lineage recipe is decided here. Each transition is one event in the process's event ring
// (events.ts), linked to the task's previous one: a task's story (its last STORY_LENGTH
// transitions, shown by dump() and in IllegalTransitionError) is read from there.
import { ObjectRef } from "../object-ref.js";
import { isRefInput, type Lineage } from "../lineage.js";
import { eventTime, processEvents, NO_EVENT, type EventRing, type TaskEvent } from "../events.js";
import { concat, type Serialized } from "../../serialization.js";
import { ArgumentError, toErrorInfo, type ErrorInfo } from "../../errors.js";
import { TERMINAL, TRANSITIONS, IllegalTransitionError, formatStory, type Stimulus, type TaskState } from "./task-states.js";
import type { CoreWorker } from "../core-worker.js";
import type { SubmitterReports } from "../submitter.js";
import type { Input, TaskRecord, TaskShape } from "./task-record.js";
import type { NodeId, ObjectId, TaskId } from "../../ids.js";
import type { Resources, TaskReply, TaskSpec, WireValue } from "../../protocol.js";
import type { CodeDescriptor } from "../../code/descriptor.js";

/** What the manager asks of the transport (the submitter; a fake in tests). */
export interface TaskTransport {
  /** Queue at the back of its shape's queue and push when a worker is free. */
  submit(task: TaskRecord): void;
  /** Take a queued task out of its queue; false when it is no longer there. */
  dequeue(task: TaskRecord): boolean;
  /** Stop a pushed task: the worker drops it if it has not started, else the worker is killed. */
  cancelPushed(task: TaskRecord): Promise<void>;
}

/** The parts of the core worker the manager uses. */
export type TaskCore = Pick<CoreWorker, "address" | "pin" | "unpin" | "resolve" | "isOwned" | "reset" | "relocate" | "locate" | "exported" | "ref">;

/** A new task as the runtime builds it (the manager adds its state, attempt and story). */
export interface TaskInit extends TaskShape {
  spec: TaskSpec;
  /** spec.taskId is taskIdOf(num) (ids.ts). */
  num: number;
  pinned: ObjectId[];
  retriesLeft: number;
  /** Arguments as given when some are refs (resolved before it is queued); spec.args is filled otherwise. */
  inputs?: Input[];
  internal?: Set<ObjectId>;
  attempts?: number;
}

/** Transitions a task's story keeps. */
export const STORY_LENGTH = 8;
/** Times a task is sent again because its arguments' copies were lost, before it fails with ObjectLostError. */
const MAX_RELOCATIONS = 16;
const RETRIED_LOSSES: Record<string, true> = { WorkerCrashedError: true, NodeDiedError: true, OutOfMemoryError: true };
const NO_VALUES: ErrorInfo = { name: "Error", message: "task returned no values" };
/** What an actor call's record holds where a task's has its function and resources (an actor call uses the actor's). */
const NO_CODE: CodeDescriptor = Object.freeze({ id: "", name: "" }) as CodeDescriptor;
const NO_RESOURCES: Resources = Object.freeze({});
/** An ended task's pins: none (shared, never written). */
const NO_PINS: ObjectId[] = Object.freeze([]) as unknown as ObjectId[];

export class TaskManager implements SubmitterReports {
  private live = new Map<TaskId, TaskRecord>();
  readonly transport: TaskTransport;

  constructor(private core: TaskCore, private lineage: Lineage, transport: (reports: SubmitterReports) => TaskTransport,
    private events: EventRing = processEvents) {
    this.transport = transport(this);
  }

  /** The live attempt of a task (undefined once it ended). */
  get(taskId: TaskId): TaskRecord | undefined { return this.live.get(taskId); }
  /** The live tasks (for debugging and tests). */
  values(): IterableIterator<TaskRecord> { return this.live.values(); }
  get size(): number { return this.live.size; }

  // ---- the one writer of a task's state ---------------------------------------------------

  /** Move `task` to `to`, or throw IllegalTransitionError with its story; records the event. */
  transition(task: TaskRecord, to: TaskState, stimulus: Stimulus, errorType?: string): void {
    const from = task.state;
    if (TRANSITIONS[from][to] !== true) throw new IllegalTransitionError(task.spec.taskId, from, to, this.story(task));
    (task as { state: TaskState }).state = to;
    this.record(task, from, to, stimulus, errorType);
  }

  private record(task: TaskRecord, from: TaskState | undefined, to: TaskState, stimulus: Stimulus, errorType: string | undefined): void {
    // Node and worker: those of the push, on the transitions into and out of `pushed`.
    const grant = from === "pushed" || to === "pushed" ? task.lease?.grant : undefined;
    const spec = task.spec;
    task.lastEvent = this.events.task(task.num, task.attempts, to, from, stimulus, eventTime(), spec.jobId, spec.name,
      grant?.nodeId, grant?.workerId, errorType, task.lastEvent);
  }

  /** A task's last transitions still held in the event ring (at most STORY_LENGTH), oldest first. */
  story(task: TaskRecord): TaskEvent[] { return this.events.chain(task.lastEvent, STORY_LENGTH) as TaskEvent[]; }

  /** Every live task with its story, for debugging: e.g. console.error(runtime.tasks.dump()). */
  dump(): string {
    const lines = [`${this.live.size} live task(s); events held ${this.events.size}, dropped ${this.events.dropped}`];
    for (const t of this.live.values()) {
      lines.push(`${t.spec.taskId} ${t.spec.name} ${t.state} attempt ${t.attempts}${t.cancelled ? " (cancel requested)" : ""}`);
      lines.push(formatStory(this.story(t)));
    }
    return lines.join("\n");
  }

  private create(init: TaskInit, state: "resolving" | "reconstructing", stimulus: Stimulus): TaskRecord {
    const task: TaskRecord = {
      spec: init.spec, num: init.num, fn: init.fn, resources: init.resources, strategy: init.strategy, shape: init.shape, maxLeases: init.maxLeases, envVars: init.envVars,
      returnIds: init.returnIds, retryExceptions: init.retryExceptions, state, pinned: init.pinned, cancelled: false, lease: undefined,
      retriesLeft: init.retriesLeft, attempts: init.attempts ?? 1, inputs: init.inputs, internal: init.internal, relocations: 0,
      lastEvent: NO_EVENT,
    };
    this.live.set(init.spec.taskId, task);
    this.record(task, undefined, state, stimulus, undefined);
    return task;
  }

  // ---- the runtime's requests -------------------------------------------------------------

  /** A new task: queued at once when its arguments are values, else once its ref arguments are located. */
  submit(init: TaskInit): TaskRecord {
    const task = this.create(init, "resolving", "submitted");
    if (task.inputs) this.resolveAndQueue(task);
    else this.queue(task, "args-ready");
    return task;
  }

  /** An actor call: resolving until its arguments are located, then `sent()`; `settle()` ends it. */
  actorCall(spec: TaskSpec, num: number, returnIds: ObjectId[], pinned: ObjectId[]): TaskRecord {
    const task: TaskRecord = {
      spec, num, fn: NO_CODE, resources: NO_RESOURCES, strategy: undefined, shape: "", maxLeases: undefined, envVars: undefined,
      returnIds, retryExceptions: undefined, state: "resolving", pinned, cancelled: false, lease: undefined,
      retriesLeft: 0, attempts: 1, inputs: undefined, internal: undefined, relocations: 0, lastEvent: NO_EVENT,
    };
    this.live.set(spec.taskId, task);
    this.record(task, undefined, "resolving", "submitted", undefined);
    return task;
  }
  sent(task: TaskRecord): void { this.transition(task, "pushed", "actor-call-sent"); }

  /** Ask to stop a task: at once before it is pushed; a pushed one ends when its worker answers or dies. Actor calls are not cancelled. */
  async cancel(taskId: TaskId): Promise<void> {
    const task = this.live.get(taskId);
    if (!task || task.spec.actor || TERMINAL[task.state]) return;
    task.cancelled = true;
    switch (task.state) {
      case "resolving":
        return this.settle(task, { error: cancelled(task, "") }, "cancel");
      case "queued":
        if (this.transport.dequeue(task)) this.settle(task, { error: cancelled(task, "") }, "cancel");
        return;
      case "pushed":
        return this.transport.cancelPushed(task);
      case "retrying":   // its worker is gone: the cancel is seen when the next attempt is decided
      case "reconstructing":   // never seen here: it is left in the call that entered it
        return;
    }
  }

  /**
   * A stored return of a finished task was lost with `node`: run a new attempt from its lineage
   * recipe (false: there is none, or no retry is left). True while an attempt is live already.
   */
  reconstruct(taskId: TaskId, node: NodeId): boolean {
    const recipe = this.lineage.get(taskId);
    if (!recipe) return false;
    if (this.live.has(taskId)) return true;   // running again already
    if (recipe.retriesLeft === 0) return false;
    for (const id of recipe.returnIds) this.core.reset(id, node);
    const task = this.create({
      spec: { ...recipe.spec, args: recipe.args ?? [] }, num: recipe.num, fn: recipe.fn, resources: recipe.resources, strategy: recipe.strategy, shape: recipe.shape,
      maxLeases: recipe.maxLeases, envVars: recipe.envVars, returnIds: recipe.returnIds, retryExceptions: recipe.retryExceptions, pinned: [],
      retriesLeft: recipe.retriesLeft > 0 ? recipe.retriesLeft - 1 : recipe.retriesLeft, attempts: recipe.attempts + 1,
      inputs: recipe.inputs?.slice(), internal: recipe.internal as Set<ObjectId> | undefined,
    }, "reconstructing", "object-lost");
    this.rerun(task);
    return true;
  }

  // ---- what the submitter reports ---------------------------------------------------------

  pushed(task: TaskRecord): void { this.transition(task, "pushed", "pushed"); }

  replied(task: TaskRecord, reply: TaskReply): void {
    const error = reply.error;
    if (error) {
      if (this.retriesException(task, error)) {
        this.transition(task, "retrying", "exception-retried", error.name);
        return this.retry(task);
      }
      if (error.lost && !task.spec.actor && this.relocateArgument(task, error.lost)) return;
    }
    this.settle(task, reply, "replied");
  }

  /** Its worker gave it back unstarted (blocked in get(), or gone): true to queue it again in front. */
  handedBack(task: TaskRecord, why: "handed-back" | "lease-lost"): boolean {
    if (task.cancelled) {
      this.settle(task, { error: cancelled(task, " before it started") }, "cancel");
      return false;
    }
    this.transition(task, "queued", why);
    return true;
  }

  /** The worker running it died; `cause()` asks its agent why (a crash, memory, or the whole node). */
  workerLost(task: TaskRecord, cause: () => Promise<ErrorInfo>): void {
    this.transition(task, "retrying", "worker-lost");
    if (task.cancelled) return this.settle(task, { error: cancelled(task, " while running") }, "cancel");
    void cause().then((error) => {
      if (task.cancelled) return this.settle(task, { error: cancelled(task, " while running") }, "cancel");
      if (RETRIED_LOSSES[error.name] === true && task.retriesLeft !== 0) return this.retry(task);
      this.settle(task, { error: withAttempts(error, task.attempts) }, "worker-lost");
    });
  }

  /** No worker can be leased for its queue (unschedulable, refused, or no agent reachable). */
  unschedulable(task: TaskRecord, error: ErrorInfo): void { this.settle(task, { error }, "unschedulable"); }

  // ---- decisions ----------------------------------------------------------------------------

  private queue(task: TaskRecord, stimulus: Stimulus): void {
    this.transition(task, "queued", stimulus);
    this.transport.submit(task);
  }

  /** Resolve a task's ref arguments (again) and queue it. */
  private resolveAndQueue(task: TaskRecord): void {
    resolveArgs(this.core, task.inputs as Array<ObjectRef | Serialized>).then((wire) => {
      if (TERMINAL[task.state]) return;   // cancelled meanwhile
      task.spec.args = wire;
      this.queue(task, "args-ready");
    }, (e) => this.settle(task, { error: toErrorInfo(e) }, "args-failed"));
  }

  /** A user exception retries only when retryExceptions says so (true, or a list of error names). */
  private retriesException(task: TaskRecord, error: ErrorInfo): boolean {
    if (task.retriesLeft === 0 || !task.retryExceptions || error.name !== "TaskError") return false;
    return task.retryExceptions === true || task.retryExceptions.includes(error.task?.originalName ?? "");
  }

  private retry(task: TaskRecord): void {
    if (task.retriesLeft > 0) task.retriesLeft--;
    task.attempts++;
    task.lease = undefined;
    this.queue(task, "retry");
  }

  /** The worker could not read an argument's stored copy: have it rebuilt (or relocated), then send the task again. */
  private relocateArgument(task: TaskRecord, lost: { id: string; node: string }): boolean {
    const ref = task.inputs?.find((v): v is ObjectRef => v instanceof ObjectRef && v.id === lost.id);
    if (!ref || task.cancelled || (task.relocations = (task.relocations ?? 0) + 1) > MAX_RELOCATIONS) return false;
    this.transition(task, "resolving", "argument-lost", "ObjectLostError");
    task.lease = undefined;
    this.core.relocate(ref, lost.node as NodeId).then(() => this.resolveAndQueue(task), (e) => this.settle(task, { error: toErrorInfo(e) }, "args-failed"));
    return true;
  }

  /** A reconstruction's inputs become live refs again, freed ones made again first (recursively). */
  private rerun(task: TaskRecord): void {
    if (!task.inputs) return this.queue(task, "args-ready");
    const live: Array<ObjectRef | Serialized> = [];
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
          return this.settle(task, { error: { name: "ObjectLostError", message: `input ${id} of ${task.spec.name} was lost and cannot be made again: ` +
            "it was freed and the task that made it is no longer known (its lineage was dropped or it was a put()). Tip: keep a ref to inputs you may need rebuilt." } }, "input-lost");
        }
        if (!this.reconstruct(producer.taskId, "" as NodeId)) {
          this.core.resolve(id, { error: { name: "ObjectLostError", message: `input ${id} of ${task.spec.name} cannot be made again: the task that made it (${producer.spec.name}) has no retries left (maxRetries)` } });
        }
      }
      const ref = this.core.ref(id, v.owner);
      this.core.pin(ref);
      task.pinned.push(id);
      live.push(ref);
    }
    task.inputs = live;
    this.transition(task, "resolving", "inputs-pinned");
    this.resolveAndQueue(task);
  }

  private keepsLineage(task: TaskRecord, reply: TaskReply): boolean {
    if (!storedReturn(reply)) return false;
    for (const id of task.returnIds) if (this.core.isOwned(id)) return true;
    return false;
  }

  /** End a task: its refs settle, its pins go, and a recipe is kept when its returns can be lost with a node. A late answer for an ended task is dropped. */
  settle(task: TaskRecord, reply: TaskReply, stimulus: Stimulus): void {
    if (TERMINAL[task.state]) return;
    const error = reply.error ?? (reply.returns ? undefined : NO_VALUES);
    this.transition(task, error === undefined ? "finished" : error.name === "TaskCancelledError" ? "cancelled" : "failed", stimulus, error?.name);
    this.live.delete(task.spec.taskId);
    if (task.pinned.length > 0) {
      for (const id of task.pinned) this.core.unpin(id);
      task.pinned = NO_PINS;
    }
    if (!task.spec.actor) {   // an actor call's returns are not made again from lineage
      if (this.keepsLineage(task, reply) || this.lineage.get(task.spec.taskId)) this.lineage.keep(task);
      task.inputs = undefined;
    }
    if (error) {
      for (const id of task.returnIds) this.core.resolve(id, { error });
      return;
    }
    const returns = reply.returns!;
    for (let i = 0; i < task.returnIds.length; i++) this.core.resolve(task.returnIds[i], { value: returns[i] });
  }
}

/** Whether a finished task's returns can be lost with a node (some stored, some still owned): its recipe is kept. */
function storedReturn(reply: TaskReply): boolean {
  const returns = reply.returns;
  if (!returns) return false;
  for (let i = 0; i < returns.length; i++) if ("s" in returns[i]) return true;
  return false;
}

/** Top-level refs become their values (inline or stored) before a task is pushed. */
export async function resolveArgs(core: Pick<TaskCore, "locate" | "exported">, values: Array<ObjectRef | Serialized>): Promise<WireValue[]> {
  const out: WireValue[] = [];
  for (const v of values) {
    if (v instanceof ObjectRef) {
      const o = await core.locate(v);
      if ("error" in o) throw new ArgumentError(o.error);
      out.push(core.exported(o.value));
    } else {
      out.push({ v: concat(v) });
    }
  }
  return out;
}

function cancelled(task: TaskRecord, when: string): ErrorInfo {
  return { name: "TaskCancelledError", message: `task ${task.spec.name} was cancelled${when}` };
}

function withAttempts(e: ErrorInfo, attempts: number): ErrorInfo {
  return attempts > 1 ? { ...e, message: `${e.message} (after ${attempts} attempts)` } : e;
}
