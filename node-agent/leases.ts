// The agent's lease table: the node's free resources, the requests waiting for them, and the
// leases granted on its workers (a task owner's lease, or the worker an actor is started in).
// A lease's state is moved only by move(), against the lifecycle below; a worker's by
// moveWorker() (worker-states.ts). What it needs of the agent (its worker pool and jobs) comes
// through LeaseHost, so that tests run it on fakes.
//
//   asked      resources-free            worker-ready             returned, cancelled,
//  ──────► waiting ──────────► starting ─────────────► granted ──unclaimed, owner-gone──► returned
//            │  ▲                 │                       │
//            │  └── worker-died ──┤ (another start left)  └──worker-died──► worker-died
//            │                    └── worker-died (MAX_WORKER_STARTS reached) ──► failed
//            └── closing ──► failed
//
// `waiting`: queued until its resources fit. `starting`: its resources are taken and a worker
// claimed (idle, or started for it); granted once that worker is ready. `granted`: its owner
// holds the worker (an actor's start: the actor runs in it until it exits). The rest are ended.
import { lifecycleLog } from "../src/lifecycle-log.js";
import * as os from "node:os";
import { WorkerCrashedError, HeliosError } from "../src/errors.js";
import { fits, give, take } from "../src/resources.js";
import { newLeaseId, type JobId, type LeaseId, type NodeId, type WorkerId } from "../src/ids.js";
import type { EnvVars, JobInfo, Resources } from "../src/protocol.js";
import { envKey, type Worker, type WorkerPool } from "./worker-pool.js";
import { moveWorker } from "./worker-states.js";

export type LeaseState = "waiting" | "starting" | "granted" | "returned" | "worker-died" | "failed";
export type LeaseStimulus = "asked" | "resources-free" | "worker-ready" | "worker-died" | "closing"
  | "returned" | "cancelled" | "unclaimed" | "owner-gone";
/** Why a granted lease comes back: its owner returned it, left while it waited, never used it, or closed its connection. */
export type ReturnStimulus = "returned" | "cancelled" | "unclaimed" | "owner-gone";

export const LEASE_TRANSITIONS: Readonly<Record<LeaseState, Readonly<Partial<Record<LeaseState, readonly LeaseStimulus[]>>>>> = {
  waiting: { starting: ["resources-free"], failed: ["closing"] },
  starting: { granted: ["worker-ready"], waiting: ["worker-died"], failed: ["worker-died"] },
  granted: { returned: ["returned", "cancelled", "unclaimed", "owner-gone"], "worker-died": ["worker-died"] },
  returned: {},
  "worker-died": {},
  failed: {},
};

export interface LeaseEvent { from?: LeaseState; to: LeaseState; stimulus: LeaseStimulus; time: number; worker?: WorkerId }

/** A request for resources and a worker, from its asking to its end. */
export interface Lease {
  state: LeaseState;
  /** Must be free before it is granted (an actor's placement may ask more than it holds). */
  want: Resources;
  /** What it holds once granted. */
  alloc: Resources;
  jobId: JobId;
  envVars?: EnvVars;
  envKey: string;
  /** Workers that exited before they were ready, for this request. */
  starts: number;
  worker?: Worker;
  story: LeaseEvent[];
  grant: (w: Worker) => void;
  fail: (e: Error) => void;
}

/** Workers that may exit before they are ready, for one request, before it fails (a job whose workers cannot start). */
export const MAX_WORKER_STARTS = 5;
const STORY_LENGTH = 8;

/** The agent moved a lease in a way its lifecycle does not allow: a bug in Helios, with the lease's story. */
export class IllegalLeaseTransitionError extends HeliosError {
  constructor(readonly from: LeaseState, readonly to: LeaseState, readonly stimulus: LeaseStimulus, readonly story: readonly LeaseEvent[]) {
    super(`a lease cannot go from ${from} to ${to} on ${stimulus}: not in the lease lifecycle's table (node-agent/leases.ts). ` +
      `This is a bug in Helios. Its story:\n${story.map((e) => `  ${e.from ?? "(new)"} → ${e.to} (${e.stimulus})${e.worker ? ` worker ${e.worker}` : ""}`).join("\n")}`);
  }
}

/** What the table uses of the agent. */
export interface LeaseHost {
  nodeId: NodeId;
  logDir: string;
  pool: Pick<WorkerPool, "idleFor" | "start" | "kill" | "workers">;
  job(jobId: JobId): JobInfo;
  /** Has the job's driver ended (its idle workers are not kept)? */
  jobEnded(jobId: JobId): boolean;
}

export class LeaseTable {
  readonly total: Resources;
  readonly available: Resources;
  private waiting: Lease[] = [];
  private granted = new Map<LeaseId, Worker>();
  private byWorker = new WeakMap<Worker, Lease>();
  /** When each busy worker got its current lease or actor: the memory monitor kills the newest first. */
  private busySince = new WeakMap<Worker, number>();

  constructor(resources: Resources, private host: LeaseHost) {
    this.total = { ...resources };
    this.available = { ...resources };
  }

  get queued(): number { return this.waiting.length; }
  since(w: Worker): number { return this.busySince.get(w) ?? 0; }
  /** The lease a worker holds or was claimed for (its last one). */
  leaseOf(w: Worker): Lease | undefined { return this.byWorker.get(w); }

  /** Move `lease` to `to` on `stimulus`, or throw IllegalLeaseTransitionError; the move joins its story. */
  move(lease: Lease, to: LeaseState, stimulus: LeaseStimulus): void {
    const from = lease.state;
    if (LEASE_TRANSITIONS[from][to]?.includes(stimulus) !== true) throw new IllegalLeaseTransitionError(from, to, stimulus, lease.story);
    lease.state = to;
    remember(lease, { from, to, stimulus, time: Date.now(), worker: lease.worker?.id });
  }

  /** Wait for resources, take them, then hand out an idle (or new) worker of the job, started with these extra variables. */
  acquire(jobId: JobId, want: Resources, placement: Resources = want, envVars?: EnvVars): Promise<Worker> {
    return new Promise<Worker>((grant, fail) => {
      const lease: Lease = { state: "waiting", want: placement, alloc: want, jobId, envVars, envKey: envKey(envVars), fail, grant, starts: 0, story: [] };
      remember(lease, { to: "waiting", stimulus: "asked", time: Date.now() });
      this.waiting.push(lease);
      this.pump();
    });
  }

  /** A granted worker becomes an owner's lease. */
  lease(w: Worker, owner: string): LeaseId {
    const leaseId = newLeaseId();
    w.leaseId = leaseId;
    w.leaseOwner = owner;
    this.granted.set(leaseId, w);
    return leaseId;
  }

  pump(): void {
    for (const lease of [...this.waiting]) {
      if (!fits(this.available, lease.want)) continue;
      this.waiting.splice(this.waiting.indexOf(lease), 1);
      take(this.available, lease.alloc);
      const w = this.host.pool.idleFor(lease.jobId, lease.envKey) ?? this.host.pool.start(this.host.job(lease.jobId), undefined, lease.envVars);
      moveWorker(w, "leased", "claimed");   // claimed, even if it is still starting
      this.busySince.set(w, Date.now());
      w.allocated = lease.alloc;
      lease.worker = w;
      this.byWorker.set(w, lease);
      this.move(lease, "starting", "resources-free");
      w.ready.then(() => {
        if (w.state !== "dead") { this.move(lease, "granted", "worker-ready"); return lease.grant(w); }
        // Killed or crashed before it was ready (its resources went back as it exited): start another.
        if (++lease.starts < MAX_WORKER_STARTS) { this.move(lease, "waiting", "worker-died"); this.waiting.unshift(lease); this.pump(); return; }
        this.move(lease, "failed", "worker-died");
        lease.fail(new WorkerCrashedError(`${lease.starts} workers of job ${lease.jobId} on node ${this.host.nodeId} exited before they were ready. ` +
          `Tip: look at the worker logs in ${this.host.logDir}.`));
      });
    }
  }

  /** A lease comes back: its resources are free, its worker idle (or stopped, when its job is over or it is one too many with its own variables). */
  release(leaseId: LeaseId, why: ReturnStimulus): void {
    const w = this.granted.get(leaseId);
    if (!w) return;
    this.granted.delete(leaseId);
    const lease = this.byWorker.get(w);
    if (lease?.state === "granted") this.move(lease, "returned", why);
    this.freeResources(w);
    if (w.state === "leased") moveWorker(w, "idle", "returned");
    w.leaseId = undefined;
    w.leaseOwner = undefined;
    if (w.state === "idle" && this.host.jobEnded(w.jobId)) this.host.pool.kill(w.id);   // its job is over: nothing will lease it again
    else if (w.state === "idle" && w.envKey && this.idleWithEnv(w.jobId) > os.cpus().length) this.host.pool.kill(w.id);   // kept for one task's variables: only a few
    this.pump();
  }

  /** A worker exited: its lease ends and its resources are free (a lease still starting is retried once its ready settles). The agent pumps after. */
  workerExited(w: Worker): void {
    if (w.leaseId) this.granted.delete(w.leaseId);
    const lease = this.byWorker.get(w);
    if (lease?.state === "granted") this.move(lease, "worker-died", "worker-died");
    this.freeResources(w);
  }

  /** Lend the CPU of a leased worker blocked in get() back to the node, or take it back. */
  setBlocked(w: Worker | undefined, blocked: boolean): void {
    if (!w || w.state !== "leased" || !w.allocated?.CPU || w.blocked === blocked) return;
    w.blocked = blocked;
    this.available.CPU = (this.available.CPU ?? 0) + (blocked ? w.allocated.CPU : -w.allocated.CPU);
    if (blocked) this.pump();
  }

  /** The agent is closing: requests still waiting fail (returned). */
  close(): Lease[] {
    const failed = this.waiting.splice(0);
    for (const lease of failed) {
      this.move(lease, "failed", "closing");
      lease.fail(new Error("node agent is shutting down"));
    }
    return failed;
  }

  /** Idle workers of the job started with a task's or actor's own variables (each runs only work that asks for the same). */
  private idleWithEnv(jobId: JobId): number {
    let n = 0;
    for (const w of this.host.pool.workers.values()) if (w.jobId === jobId && w.state === "idle" && w.envKey) n++;
    return n;
  }

  private freeResources(w: Worker): void {
    if (!w.allocated) return;
    const alloc = { ...w.allocated };
    if (w.blocked) alloc.CPU = 0;   // lent back already
    give(this.available, alloc);
    w.allocated = undefined;
    w.blocked = false;
  }
}

function remember(lease: Lease, e: LeaseEvent): void {
  if (lease.story.length >= STORY_LENGTH) lease.story.shift();
  lease.story.push(e);
  lifecycleLog.push({ kind: "lease", id: lease.worker?.leaseId ?? `waiting:${lease.jobId}`, from: e.from, to: e.to, stimulus: e.stimulus, time: e.time, worker: e.worker });
}
