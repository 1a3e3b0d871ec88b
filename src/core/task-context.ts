// The context of the task running in this process (logs, nested submission, getRuntimeContext()).
import { AsyncLocalStorage } from "node:async_hooks";
import type { ActorId, TaskId } from "../ids.js";

/** What runs now in this process: read by logs, nested submission and getRuntimeContext(). */
export interface TaskContext { taskId?: TaskId; name: string; actorId?: ActorId }

/**
 * The running task's context. A worker runs one task at a time (an actor one call at a time,
 * unless maxConcurrency > 1), so a variable set for the task's whole run is exact and free.
 * Interleaving calls need the context to follow their own async chains: an AsyncLocalStorage,
 * switched on by concurrent() — it installs promise hooks that tax every promise of the process.
 */
class TaskContexts {
  private als?: AsyncLocalStorage<TaskContext>;
  private current?: TaskContext;

  concurrent(): void { this.als ??= new AsyncLocalStorage(); }

  getStore(): TaskContext | undefined { return this.als ? this.als.getStore() : this.current; }

  async run<R>(ctx: TaskContext, fn: () => R | Promise<R>): Promise<R> {
    if (this.als) return this.als.run(ctx, fn);
    const outer = this.current;
    this.current = ctx;
    try { return await fn(); } finally { this.current = outer; }
  }
}
export const taskContext = new TaskContexts();
