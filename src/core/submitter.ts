// Normal-task submission, as in Ray's direct task transport: tasks are queued by the shape
// of their resource demand; for each shape the owner leases workers from the local agent
// and pushes tasks straight to them, reusing a lease while work of that shape is queued.
// The head is not on this path.
//
// Pipelining: while tasks of a shape are short (EWMA of their round trip under
// PIPELINE_BELOW_MS), up to PIPELINE_DEPTH are in flight per leased worker, which runs them
// in order. A worker whose running task blocks in get() hands the not-yet-started ones back
// ({ requeue }) so a task never waits behind one that waits for it; when a worker is lost,
// only its oldest in-flight task (the one running) fails, the others are queued again.
import type { Connection } from "../rpc/wire.js";
import type { CodeDescriptor } from "../code/descriptor.js";
import type { EnvVars, LeaseGrant, LeaseReply, Resources, Strategy, TaskReply, TaskSpec } from "../protocol.js";
import type { RpcClient } from "../rpc/grpc.js";
import type { ErrorInfo } from "../errors.js";
import type { CoreWorker } from "./core-worker.js";
import type { ObjectId } from "../ids.js";
import { Deque } from "./deque.js";
import type { Input } from "./lineage.js";

export type TaskState = "resolving" | "queued" | "pushed" | "done";

/**
 * An internal task option: at most this many leased workers for these tasks, so at most this
 * many run at once while the rest wait pipelined or queued (helios/util's Pool). A symbol key,
 * so it passes through options() untouched and is not part of the public options.
 */
export const MAX_LEASES = Symbol.for("helios.maxLeases");

export interface PendingTask {
  spec: TaskSpec;
  fn: CodeDescriptor;
  resources: Resources;
  strategy?: Strategy;
  /** The queue it waits in: resources, strategy, lease limit and variables (computed once per options object). */
  shape: string;
  maxLeases?: number;
  /** runtimeEnv.envVars: leased workers were started with them. */
  envVars?: EnvVars;
  returnIds: ObjectId[];
  state: TaskState;
  /** Objects kept alive until the task ends (ref arguments, large inline arguments). */
  pinned: ObjectId[];
  cancelled?: boolean;
  lease?: Lease;
  /** Retries left after worker or node loss (-1: forever), and which user exceptions retry too. */
  retriesLeft: number;
  retryExceptions?: boolean | string[];
  attempts: number;
  /** The arguments as given (refs unresolved), kept to resolve them again when the task is re-run (lineage.ts). */
  inputs?: Input[];
  /** Internal put()s that carry its large by-value arguments: part of the task, kept with its lineage. */
  internal?: Set<ObjectId>;
  /** Times the task was sent again because an argument's stored copy was lost. */
  relocations?: number;
}

interface Lease {
  grant: LeaseGrant;
  /** The agent that granted the lease: it gets the lease back. */
  agent: RpcClient;
  conn: Connection;
  /** Pushed and not answered, oldest (the running one) first. */
  inflight: PendingTask[];
  /** Its running task blocked in get(): push nothing more until it finishes. */
  blocked?: boolean;
  idle?: NodeJS.Timeout;
  queue: ShapeQueue;
  nodeDied?: boolean;
  onClose?: () => void;
}
interface ShapeQueue {
  resources: Resources;
  strategy?: Strategy;
  envVars?: EnvVars;
  tasks: Deque<PendingTask>;
  leases: Set<Lease>;
  requesting: number;
  /** Lease requests that failed in a row for a transient reason (an unreachable agent), and since when. */
  failures: number;
  unreachableSince?: number;
  /** Moving average of a task's round trip (ms), to decide whether to pipeline. */
  rtt: number;
  maxLeases: number;
}

/** How long an idle lease is kept for more work of its shape before it goes back to the agent. */
const LEASE_IDLE_MS = 20;
const MAX_LEASE_REQUESTS = 8;
const MAX_LEASE_FAILURES = 10;
/** Past this many failures, agents out of reach for this long fail the queue even while the head lists live nodes. */
const UNREACHABLE_MS = 30_000;
const PIPELINE_DEPTH = 32;
const PIPELINE_BELOW_MS = 2;

export class TaskSubmitter {
  private queues = new Map<string, ShapeQueue>();

  constructor(private core: CoreWorker, private complete: (t: PendingTask, r: TaskReply) => void) {
    core.onNodeDeath((nodeId) => this.nodeDied(nodeId));
  }

  submit(task: PendingTask): void {
    let q = this.queues.get(task.shape);
    if (!q) {
      this.queues.set(task.shape, q = { resources: task.resources, strategy: task.strategy, envVars: task.envVars, tasks: new Deque(), leases: new Set(), requesting: 0,
        failures: 0, rtt: PIPELINE_BELOW_MS * 2, maxLeases: task.maxLeases ?? Infinity });
    }
    task.state = "queued";
    q.tasks.push(task);
    this.dispatch(q);
  }

  /** Remove a task that has not been pushed yet; true when it was still queued. */
  dequeue(task: PendingTask): boolean {
    const q = this.queues.get(task.shape);
    return !!q && q.tasks.remove(task);
  }

  private depth(q: ShapeQueue): number {
    return q.strategy !== "SPREAD" && q.rtt < PIPELINE_BELOW_MS ? PIPELINE_DEPTH : 1;
  }

  private dispatch(q: ShapeQueue): void {
    const depth = this.depth(q);
    // Fill leases breadth-first, so that work spreads over every leased worker.
    for (let level = 0; level < depth && q.tasks.length; level++) {
      for (const lease of q.leases) {
        if (!q.tasks.length) break;
        if (!lease.blocked && lease.inflight.length === level) this.push(lease, q.tasks.shift()!);
      }
    }
    const wanted = Math.ceil(q.tasks.length / depth);
    while (wanted > q.requesting && q.requesting < MAX_LEASE_REQUESTS && q.leases.size + q.requesting < q.maxLeases) this.requestLease(q);
  }

  /** Ask the local agent; follow one spillback to the agent the head chose. */
  private async lease(q: ShapeQueue): Promise<{ grant: LeaseGrant; agent: RpcClient }> {
    const req = { jobId: this.core.config.jobId, resources: q.resources, owner: this.core.address, strategy: q.strategy, envVars: q.envVars };
    // The agent asked is the one that gets the lease back (a driver without an agent of its own may have moved on to another).
    const home = this.core.homeAgent();
    const reply = await home.call<LeaseReply>("requestLease", req);
    if (!("spillback" in reply)) return { grant: reply, agent: home };
    const agent = this.core.agentClient(reply.spillback);
    return { grant: await agent.call<LeaseGrant>("requestLease", { ...req, spilled: true }), agent };
  }

  private requestLease(q: ShapeQueue): void {
    q.requesting++;
    this.lease(q)
      .then(async ({ grant, agent }) => {
        let conn: Connection;
        try { conn = await this.core.connection(grant.address); } catch {
          agent.call("returnLease", { leaseId: grant.leaseId, failed: true }).catch(() => {});
          return;
        }
        const lease: Lease = { grant, agent, conn, queue: q, inflight: [] };
        q.leases.add(lease);
        // Leases of one worker come and go on one connection: each takes its listener with it.
        lease.onClose = () => this.leaseLost(lease);
        conn.once("close", lease.onClose);
        // Work now, or the idle timer now: the queue may have drained before the dispatch in finally() below.
        this.dispatch(q);
        if (lease.inflight.length === 0) this.idle(lease);
        q.failures = 0;
        q.unreachableSince = undefined;
      }, async (e) => {
        // Unschedulable or refused: tell the callers. Unreachable agent: find another and try again while the head
        // lists a live node — a killed agent stays listed (and is spilled to) until its health window has passed.
        if (e?.code !== 14) return this.failQueue(q, e);
        q.unreachableSince ??= Date.now();
        if (++q.failures > MAX_LEASE_FAILURES && (Date.now() - q.unreachableSince > UNREACHABLE_MS || !(await this.anyNodeAlive()))) return this.failQueue(q, e);
        await this.core.rehome();
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * q.failures)).unref());
      })
      .finally(() => { q.requesting--; this.dispatch(q); });
  }

  private push(lease: Lease, task: PendingTask): void {
    if (lease.idle) { clearTimeout(lease.idle); lease.idle = undefined; }
    lease.inflight.push(task);
    task.lease = lease;
    task.state = "pushed";
    this.core.track(1);
    const sent: Set<string> = (lease.conn.state.fns ??= new Set());
    if (!sent.has(task.spec.fnId)) { task.spec.fn = task.fn; sent.add(task.spec.fnId); } else task.spec.fn = undefined;
    const t0 = performance.now();
    lease.conn.call({ t: "push", task: task.spec }, (e, reply: TaskReply & { requeue?: boolean }) => {
      if (e) return;   // the connection closed: leaseLost() settles the task
      const i = lease.inflight.indexOf(task);
      if (i < 0) return;   // already settled by leaseLost()
      lease.inflight.splice(i, 1);
      this.core.track(-1);
      const q = lease.queue;
      if (reply.requeue) {   // the worker blocked in get(): run this one elsewhere
        lease.blocked = true;
        task.state = "queued";
        q.tasks.unshift(task);
      } else {
        q.rtt = q.rtt * 0.8 + (performance.now() - t0) * 0.2;
        if (reply.error && this.retriesException(task, reply.error)) this.retry(task, q);
        else this.complete(task, reply);
        if (lease.inflight.length === 0) lease.blocked = false;
      }
      if (q.strategy === "SPREAD" && lease.inflight.length === 0) return this.idle(lease);   // one task per lease
      this.dispatch(q);
      if (lease.inflight.length === 0 && !lease.idle) this.idle(lease);
    });
  }

  private idle(lease: Lease): void {
    const giveBack = () => {
      lease.queue.leases.delete(lease);
      lease.conn.off("close", lease.onClose!);
      lease.agent.call("returnLease", { leaseId: lease.grant.leaseId }).catch(() => {});
    };
    if (lease.queue.strategy === "SPREAD") return giveBack();
    lease.idle = setTimeout(() => { if (lease.inflight.length === 0) giveBack(); else lease.idle = undefined; }, LEASE_IDLE_MS);
    lease.idle.unref();
  }

  /** The head declared a node dead: its leases are gone, their running tasks fail with NodeDiedError. */
  private nodeDied(nodeId: string): void {
    for (const q of this.queues.values()) {
      for (const lease of q.leases) {
        if (lease.grant.nodeId !== nodeId) continue;
        lease.nodeDied = true;
        lease.conn.close();
      }
    }
  }

  /** The leased worker's connection closed: the worker died (crash, cancel or node loss). */
  private leaseLost(lease: Lease): void {
    const q = lease.queue;
    q.leases.delete(lease);
    if (lease.idle) clearTimeout(lease.idle);
    const [running, ...notStarted] = lease.inflight;
    lease.inflight = [];
    this.core.track(-(notStarted.length + (running ? 1 : 0)));
    for (const t of notStarted.reverse()) { t.state = "queued"; q.tasks.unshift(t); }
    if (running) {
      void this.lostCause(lease, running).then((error) => {
        const retriable = error.name === "WorkerCrashedError" || error.name === "NodeDiedError" || error.name === "OutOfMemoryError";
        if (retriable && running.retriesLeft !== 0) this.retry(running, q);
        else this.complete(running, { error: withAttempts(error, running.attempts) });
      });
    }
    this.dispatch(q);
  }

  /** A user exception retries only when retryExceptions says so (true, or a list of error names). */
  private retriesException(task: PendingTask, error: ErrorInfo): boolean {
    if (task.retriesLeft === 0 || !task.retryExceptions || error.name !== "TaskError") return false;
    return task.retryExceptions === true || task.retryExceptions.includes(error.task?.originalName ?? "");
  }

  private retry(task: PendingTask, q: ShapeQueue): void {
    if (task.retriesLeft > 0) task.retriesLeft--;
    task.attempts++;
    task.state = "queued";
    task.lease = undefined;
    q.tasks.push(task);
    this.dispatch(q);
  }

  /** Tell a worker crash from an out-of-memory kill and from the loss of its whole node: ask the node's agent. */
  private async lostCause(lease: Lease, task: PendingTask): Promise<ErrorInfo> {
    const { nodeId, workerId } = lease.grant;
    if (task.cancelled) return { name: "TaskCancelledError", message: `task ${task.spec.name} was cancelled while running` };
    const fate = lease.nodeDied ? undefined : await lease.agent.call<{ oom?: ErrorInfo }>("workerFate", { workerId }, 2000).catch(() => undefined);
    if (!fate) return { name: "NodeDiedError", message: `node ${nodeId}, which ran ${task.spec.name}, died or became unreachable` };
    // The agent's record of why (its field keeps the name `oom`): killed out of memory, or an uncaught exception.
    if (fate.oom) return { ...fate.oom, message: `task ${task.spec.name} ${fate.oom.message}` };
    return { name: "WorkerCrashedError", message: `the worker running ${task.spec.name} (${workerId} on node ${nodeId}) died unexpectedly. ` +
      "Tip: look for process.exit(), a fatal signal or an out-of-memory kill in the worker's log." };
  }

  private async anyNodeAlive(): Promise<boolean> {
    const nodes = await this.core.head.call<Array<{ state: string }>>("listNodes").catch(() => []);
    return nodes.some((n) => n.state === "ALIVE");
  }

  private failQueue(q: ShapeQueue, e: unknown): void {
    // Unavailable or timed out (gRPC 14 / 4): the agent is out of reach — a typed error, never a raw gRPC one.
    const code = (e as { code?: unknown })?.code;
    const error: ErrorInfo = (code === 14 || code === 4) && (e as Error).name === "Error"
      ? { name: "NodeDiedError", message: `no node agent could be reached to run these tasks (${(e as Error).message}). Tip: check that the cluster's agents are running and reachable (helios status).` }
      : e instanceof Error ? { name: e.name, message: e.message } : { name: "Error", message: String(e) };
    for (const t of q.tasks.drain()) this.complete(t, { error });
  }

  /** Give every held lease back (at shutdown), so its resources are free at once. */
  returnAll(): Promise<unknown> {
    const calls: Promise<unknown>[] = [];
    for (const q of this.queues.values()) {
      for (const lease of q.leases) {
        if (lease.idle) clearTimeout(lease.idle);
        lease.conn.off("close", lease.onClose!);
        calls.push(lease.agent.call("returnLease", { leaseId: lease.grant.leaseId }, 2000).catch(() => {}));
      }
      q.leases.clear();
    }
    return Promise.all(calls);
  }

  /** Where a pushed task is: its worker, and whether it is the one running there (oldest in flight). */
  placeOf(task: PendingTask): { grant: LeaseGrant; running: boolean; conn: Connection; agent: RpcClient } | undefined {
    const lease = task.lease;
    if (!lease || task.state !== "pushed") return undefined;
    return { grant: lease.grant, running: lease.inflight[0] === task, conn: lease.conn, agent: lease.agent };
  }
}

function withAttempts(e: ErrorInfo, attempts: number): ErrorInfo {
  return attempts > 1 ? { ...e, message: `${e.message} (after ${attempts} attempts)` } : e;
}

export function shapeKey(r: Resources, strategy?: Strategy, maxLeases?: number, envVars?: EnvVars): string {
  return Object.keys(r).sort().map((k) => `${k}=${r[k]}`).join(",") + "|" + JSON.stringify(strategy ?? "DEFAULT") + "|" + (maxLeases ?? "") +
    (envVars ? "|" + JSON.stringify(Object.keys(envVars).sort().map((k) => [k, envVars[k]])) : "");
}
