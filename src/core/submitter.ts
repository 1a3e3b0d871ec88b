// Normal-task submission, as in Ray's direct task transport: tasks are queued by the shape
// of their resource demand; for each shape the owner leases workers from the local agent
// and pushes tasks straight to them, reusing a lease while work of that shape is queued.
// The head is not on this path.
//
// Pipelining: while tasks of a shape are short (EWMA of their round trip under
// PIPELINE_BELOW_MS), up to PIPELINE_DEPTH are in flight per leased worker, which runs them
// in order. A worker whose running task blocks in get() hands the not-yet-started ones back
// ({ requeue }) so a task never waits behind one that waits for it; when a worker is lost,
// only its oldest in-flight task (the one running) is lost with it, the others are handed back.
//
// The submitter is transport only: it never writes a task's state. It reports what happened
// (SubmitterReports: pushed, replied, handed back, worker lost, unschedulable) to the task
// manager (tasks/task-manager.ts), which decides what comes next and queues retries here again.
import type { Connection } from "../rpc/wire.js";
import type { EnvVars, LeaseGrant, Resources, Strategy, TaskReply } from "../protocol.js";
import { isStatus, type AgentClient } from "../rpc/grpc.js";
import { foreignName, type ErrorInfo } from "../errors.js";
import type { CoreWorker } from "./core-worker.js";
import { Deque } from "./deque.js";
import type { LeaseRef, TaskRecord } from "./tasks/task-record.js";

/** What the submitter tells the task manager; the manager moves the task and decides what comes next. */
export interface SubmitterReports {
  /** It was sent to a leased worker (task.lease says which). */
  pushed(task: TaskRecord): void;
  /** Its worker answered (not a hand-back). */
  replied(task: TaskRecord, reply: TaskReply): void;
  /** Its worker gave it back unstarted: blocked in get() ("handed-back") or gone ("lease-lost"). True: queue it again, in front. */
  handedBack(task: TaskRecord, why: "handed-back" | "lease-lost"): boolean;
  /** The worker running it died; `cause()` asks the worker's agent why. */
  workerLost(task: TaskRecord, cause: () => Promise<ErrorInfo>): void;
  /** No worker can be leased for its queue. */
  unschedulable(task: TaskRecord, error: ErrorInfo): void;
}

/**
 * An internal task option: at most this many leased workers for these tasks, so at most this
 * many run at once while the rest wait pipelined or queued (helios/util's Pool). A symbol key,
 * so it passes through options() untouched and is not part of the public options.
 */
export const MAX_LEASES = Symbol.for("helios.maxLeases");

type PendingTask = TaskRecord;

interface Lease extends LeaseRef {
  grant: LeaseGrant;
  /** The agent that granted the lease: it gets the lease back. */
  agent: AgentClient;
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

  constructor(private core: CoreWorker, private reports: SubmitterReports) {
    core.onNodeDeath((nodeId) => this.nodeDied(nodeId));
  }

  /** Queue a task (the manager moved it to `queued`) and push it when a worker is free. */
  submit(task: PendingTask): void {
    let q = this.queues.get(task.shape);
    if (!q) {
      this.queues.set(task.shape, q = { resources: task.resources, strategy: task.strategy, envVars: task.envVars, tasks: new Deque(), leases: new Set(), requesting: 0,
        failures: 0, rtt: PIPELINE_BELOW_MS * 2, maxLeases: task.maxLeases ?? Infinity });
    }
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
  private async lease(q: ShapeQueue): Promise<{ grant: LeaseGrant; agent: AgentClient }> {
    const req = { jobId: this.core.config.jobId, resources: q.resources, owner: this.core.address, strategy: q.strategy, envVars: q.envVars };
    // The agent asked is the one that gets the lease back (a driver without an agent of its own may have moved on to another).
    const home = this.core.homeAgent();
    const reply = await home.call("requestLease", req);
    if (!("spillback" in reply)) return { grant: reply, agent: home };
    const agent = this.core.agentClient(reply.spillback);
    return { grant: await agent.call("requestLease", { ...req, spilled: true }) as LeaseGrant, agent };
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
        if (!isStatus(e, "UNAVAILABLE")) return this.failQueue(q, e);
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
    this.reports.pushed(task);
    this.core.track(1);
    const sent: Set<string> = (lease.conn.state.fns ??= new Set());
    if (!sent.has(task.spec.fnId)) { task.spec.fn = task.fn; sent.add(task.spec.fnId); } else task.spec.fn = undefined;
    const t0 = performance.now();
    lease.conn.call({ t: "push", task: task.spec }, (e, reply) => {
      if (e) return;   // the connection closed: leaseLost() settles the task
      const i = lease.inflight.indexOf(task);
      if (i < 0) return;   // already settled by leaseLost()
      lease.inflight.splice(i, 1);
      this.core.track(-1);
      const q = lease.queue;
      if (reply.requeue) {   // the worker blocked in get(): run this one elsewhere
        lease.blocked = true;
        if (this.reports.handedBack(task, "handed-back")) q.tasks.unshift(task);
      } else {
        q.rtt = q.rtt * 0.8 + (performance.now() - t0) * 0.2;
        this.reports.replied(task, reply);
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
    for (const t of notStarted.reverse()) if (this.reports.handedBack(t, "lease-lost")) q.tasks.unshift(t);
    if (running) this.reports.workerLost(running, () => this.lostCause(lease, running));
    this.dispatch(q);
  }

  /** Tell a worker crash from an out-of-memory kill and from the loss of its whole node: ask the node's agent. */
  private async lostCause(lease: Lease, task: PendingTask): Promise<ErrorInfo> {
    const { nodeId, workerId } = lease.grant;
    const fate = lease.nodeDied ? undefined : await lease.agent.call("workerFate", { workerId }, 2000).catch(() => undefined);
    if (!fate) return { name: "NodeDiedError", message: `node ${nodeId}, which ran ${task.spec.name}, died or became unreachable` };
    // The agent's record of why (its field keeps the name `oom`): killed out of memory, or an uncaught exception.
    if (fate.oom) return { ...fate.oom, message: `task ${task.spec.name} ${fate.oom.message}` };
    return { name: "WorkerCrashedError", message: `the worker running ${task.spec.name} (${workerId} on node ${nodeId}) died unexpectedly. ` +
      "Tip: look for process.exit(), a fatal signal or an out-of-memory kill in the worker's log." };
  }

  private async anyNodeAlive(): Promise<boolean> {
    const nodes = await this.core.head.call("listNodes").catch(() => []);
    return nodes.some((n) => n.state === "ALIVE");
  }

  private failQueue(q: ShapeQueue, e: unknown): void {
    // Unavailable or timed out: the agent is out of reach — a typed error, never a raw gRPC one.
    const error: ErrorInfo = isStatus(e, "UNAVAILABLE", "DEADLINE_EXCEEDED") && (e as Error).name === "Error"
      ? { name: "NodeDiedError", message: `no node agent could be reached to run these tasks (${(e as Error).message}). Tip: check that the cluster's agents are running and reachable (helios status).` }
      : e instanceof Error ? { name: foreignName(e.name), message: e.message } : { name: "Error", message: String(e) };
    for (const t of q.tasks.drain()) this.reports.unschedulable(t, error);
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

  /** Where a pushed task is, for debugging and tests: its worker, and whether it is the one running there. */
  placeOf(task: PendingTask): { grant: LeaseGrant; running: boolean } | undefined {
    const lease = task.lease as Lease | undefined;
    if (!lease || task.state !== "pushed") return undefined;
    return { grant: lease.grant, running: lease.inflight[0] === task };
  }

  /**
   * Stop a pushed task. Pipelined but not started: its worker drops it (and answers it as
   * cancelled). Running: its worker is killed and replaced (the lost lease reports it).
   */
  async cancelPushed(task: PendingTask): Promise<void> {
    const lease = task.lease as Lease | undefined;
    if (!lease || task.state !== "pushed") return;
    if (lease.inflight[0] !== task && await lease.conn.request({ t: "cancel", taskId: task.spec.taskId }).catch(() => false)) return;
    // Handed back meanwhile (and so ended as cancelled): the worker runs another task, leave it be.
    if (task.state !== "pushed" || task.lease !== lease) return;
    await lease.agent.call("killWorker", { workerId: lease.grant.workerId, reason: "cancelled" });
  }
}

export function shapeKey(r: Resources, strategy?: Strategy, maxLeases?: number, envVars?: EnvVars): string {
  return Object.keys(r).sort().map((k) => `${k}=${r[k]}`).join(",") + "|" + JSON.stringify(strategy ?? "DEFAULT") + "|" + (maxLeases ?? "") +
    (envVars ? "|" + JSON.stringify(Object.keys(envVars).sort().map((k) => [k, envVars[k]])) : "");
}
