// Lineage: how to make an owned object again. A finished task whose returns are stored in a
// node's store (and so can be lost with it) is kept with its arguments as given — refs by id
// only, so that keeping a task never keeps its inputs' values alive — for as long as any of its
// returns lives, or any kept task needs one of its returns as an input. Inline returns live in
// the owner and need none. As in Ray, the values of intermediate objects are freed as usual;
// only the recipe stays, and a lost object is rebuilt by re-running its task, its freed inputs
// first (recursively).
//
// What is kept is a recipe (tasks/task-record.ts): an immutable record made from the attempt
// that finished, never the task's own record. A reconstruction is a new attempt made from it by
// the task manager; when that attempt ends, its recipe replaces the old one.
import { ObjectRef } from "./object-ref.js";
import type { CoreWorker } from "./core-worker.js";
import type { ObjectId, TaskId } from "../ids.js";
import type { Input, Recipe, RefInput, TaskRecord } from "./tasks/task-record.js";
import { setting } from "../config.js";

export type { Input, RefInput } from "./tasks/task-record.js";

interface Entry {
  recipe: Recipe;
  /** Its own returns (while any is owned) plus kept tasks that take one of them as input. */
  holds: number;
  returnsAlive: boolean;
  /** Kept tasks whose returns this one takes as inputs (each holds one count of them). */
  deps: TaskId[];
}

/** Kept tasks beyond this many lose the oldest recipes that only other recipes need (Ray bounds lineage too). */
const MAX_ENTRIES = setting("HELIOS_MAX_LINEAGE");

/** The task that made an object: return ids are `<task>.<i>`; put() ids have no task. */
export function producerOf(id: ObjectId): TaskId | undefined {
  const dot = id.lastIndexOf(".");
  return dot > 0 ? id.slice(0, dot) as TaskId : undefined;
}

export class Lineage {
  private entries = new Map<TaskId, Entry>();

  constructor(private core: Pick<CoreWorker, "address" | "isOwned" | "revive">) {}

  get(taskId: TaskId): Recipe | undefined { return this.entries.get(taskId)?.recipe; }
  get size(): number { return this.entries.size; }

  /**
   * The task finished with stored returns: keep its recipe. Refs among its inputs become ids
   * (arguments it was given by value — large ones ride in internal put()s — stay as they are).
   */
  keep(task: TaskRecord): void {
    const e = this.entries.get(task.spec.taskId);
    if (e) {   // a re-run ended: its returns live again
      if (!e.returnsAlive) { e.returnsAlive = true; e.holds++; }
      e.recipe = recipeOf(task);
      return;
    }
    const deps: TaskId[] = [];
    for (const v of task.inputs ?? []) {
      if (!(v instanceof ObjectRef) || v.owner !== this.core.address) continue;
      const p = producerOf(v.id);
      const dep = p && this.entries.get(p);
      if (dep) { dep.holds++; deps.push(p); }
    }
    this.entries.set(task.spec.taskId, { recipe: recipeOf(task), holds: 1, returnsAlive: true, deps });
    if (this.entries.size > MAX_ENTRIES) this.evict();
  }

  /** One of the task's returns was freed; once none is owned, the recipe is held only by those that need it. */
  freed(taskId: TaskId): void {
    const e = this.entries.get(taskId);
    if (!e || !e.returnsAlive || e.recipe.returnIds.some((id) => this.core.isOwned(id))) return;
    e.returnsAlive = false;
    this.release(taskId, e);
  }

  /** A freed return is wanted again (as a re-run task's input): owned and pending once more. */
  revive(id: ObjectId): Recipe | undefined {
    const p = producerOf(id);
    const e = p && this.entries.get(p);
    if (!e) return undefined;
    this.core.revive(id, p);
    if (!e.returnsAlive) { e.returnsAlive = true; e.holds++; }
    return e.recipe;
  }

  private release(taskId: TaskId, e: Entry): void {
    if (--e.holds > 0) return;
    this.entries.delete(taskId);
    for (const d of e.deps) {
      const dep = this.entries.get(d);
      if (dep) this.release(d, dep);
    }
  }

  /** Drop the oldest recipes kept only for other recipes; those rebuild no further back than this. */
  private evict(): void {
    for (const [id, e] of this.entries) {
      if (this.entries.size <= MAX_ENTRIES * 0.9) break;
      if (e.returnsAlive) continue;
      this.entries.delete(id);
      for (const d of e.deps) {
        const dep = this.entries.get(d);
        if (dep) this.release(d, dep);
      }
    }
  }
}

/** The attempt that ended, as a recipe: refs among its inputs become ids (arguments given by value — large ones ride in internal put()s — stay). */
function recipeOf(task: TaskRecord): Recipe {
  const { taskId, name, jobId, fnId, numReturns, owner } = task.spec;
  const internal = task.internal;
  const inputs = task.inputs && Object.freeze(task.inputs.map((v) =>
    v instanceof ObjectRef && !internal?.has(v.id) ? { lineageRef: v.id, owner: v.owner } : v));
  return Object.freeze({
    taskId, num: task.num, spec: Object.freeze({ taskId, name, jobId, fnId, numReturns, owner }), fn: task.fn, resources: task.resources,
    strategy: task.strategy, shape: task.shape, maxLeases: task.maxLeases, envVars: task.envVars, returnIds: task.returnIds, retryExceptions: task.retryExceptions,
    inputs, args: inputs ? undefined : task.spec.args, internal, retriesLeft: task.retriesLeft, attempts: task.attempts,
  });
}

export const isRefInput = (v: Input): v is RefInput => typeof (v as RefInput).lineageRef === "string";
