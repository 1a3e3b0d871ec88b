// The node agent: grants worker leases against the node's resources (the lease table is
// leases.ts), starts actors in dedicated workers, lends a CPU back while a worker blocks in
// get(), and streams worker logs to the drivers that own them.
import type { StoreStats } from "./store-monitor.js";
import * as os from "node:os";
import type { ChildProcess } from "node:child_process";
import { WorkerPool, type Worker } from "./worker-pool.js";
import { LeaseTable } from "./leases.js";
import { moveWorker } from "./worker-states.js";
import { connect, type Connection } from "../src/rpc/wire.js";
import { HEAD_RECONNECT_MS, RpcClient, type CallContext, type HeadClient } from "../src/rpc/grpc.js";
import { TaskUnschedulableError, foreignName, type ErrorInfo } from "../src/errors.js";
import { fits, formatResources as fmt } from "../src/resources.js";
import type { ActorId, JobId, LeaseId, NodeId, ObjectId, WorkerId } from "../src/ids.js";
import type { JobInfo, LeaseReply, LeaseRequest, NodeRegistration, Resources, StartActorReply, StartActorRequest } from "../src/protocol.js";
import type { ObjectTransfer } from "./transfer.js";
import { fetchPackage } from "../src/cluster/package.js";
import * as path from "node:path";
import { MemoryMonitor, memoryConfigFromEnv, type MemoryConfig } from "./memory-monitor.js";
import { agentRequests } from "./requests.js";
import { validated } from "../src/rpc/schema.js";
import type { AgentToWorker, WorkerToAgent } from "../src/rpc/messages.js";

/**
 * A granted lease whose owner has not pushed to the worker by then is taken back if the owner has
 * exited; one whose owner is still there (a partition held up the grant) is kept, up to the maximum.
 */
const UNCLAIMED_LEASE_MS = 5000;
const UNCLAIMED_LEASE_MAX_MS = 60_000;

/** What the head asks of an agent to start an actor (head.ts place()). */

export interface AgentConfig {
  nodeId: NodeId;
  token: string;
  host: string;
  headAddress: string;
  agentAddress: string;
  transferAddress: string;
  storeDir: string;
  logDir: string;
  resources: Resources;
  prestart?: number;
  /** Memory limits of this node (default: from HELIOS_MEMORY_* in the environment). */
  memory?: MemoryConfig;
  /** The object store's capacity, use and spilled objects (store-monitor.ts). */
  storeStats?: () => StoreStats;
}

export class NodeAgent {
  readonly pool: WorkerPool;
  readonly total: Resources;
  readonly available: Resources;
  private jobs = new Map<JobId, JobInfo & { logs?: Promise<Connection> }>();
  readonly leases: LeaseTable;
  readonly head: HeadClient;
  private closing = false;
  readonly memory: MemoryMonitor;
  /** Why workers died, when known (killed out of memory, an uncaught exception), for their owners to ask (`workerFate`). */
  private fates = new Map<WorkerId, ErrorInfo>();
  /** Jobs whose driver ended (the head says so): their workers stop once they hold no lease. */
  private ended = new Set<JobId>();
  /** Jobs whose first worker is starting alone; the rest of their workers follow once it is up. */
  private firstStarts = new Set<JobId>();

  constructor(private config: AgentConfig, private transfer: ObjectTransfer) {
    this.pool = new WorkerPool({ ...config,
      onLines: (jobId, lines) => this.forwardLogs(jobId, lines),
      onExit: (w) => this.onWorkerExit(w),
      onOwnersGone: (w, gone) => this.ownersGone(w, gone),
      onUncaught: (w, e) => this.remember(w, uncaughtFate(w, e, config.nodeId)) });
    this.leases = new LeaseTable(config.resources, { nodeId: config.nodeId, logDir: config.logDir, pool: this.pool,
      job: (jobId) => this.job(jobId), jobEnded: (jobId) => this.ended.has(jobId) });
    this.total = this.leases.total;
    this.available = this.leases.available;
    this.head = new RpcClient(config.headAddress, "Head", config.token, { reconnectMs: HEAD_RECONNECT_MS });
    this.memory = new MemoryMonitor(config.memory ?? memoryConfigFromEnv(), {
      nodeId: config.nodeId,
      workerPids: () => [...this.pool.workers.values()].map((w) => w.pid),
      candidates: () => [...this.pool.workers.values()].filter((w) => w.state === "leased" || w.state === "actor")
        .map((w) => ({ pid: w.pid, kind: w.state === "actor" ? "actor" : "task", since: this.leases.since(w) })),
      kill: (pid, fate) => this.killForMemory(pid, fate),
    });
    this.memory.start();
  }

  /** The NodeAgent service's methods, each body checked against its schema (node-agent/requests.ts) first. */
  handlers() {
    return validated("NodeAgent", agentRequests, {
      registerDriver: (j: JobInfo) => this.registerDriver(j),
      requestLease: (r: LeaseRequest, ctx: CallContext) => this.requestLease(r, ctx),
      fetchObject: (r: { id: ObjectId; from: string }) => this.transfer.fetch(r.id, r.from).then(() => ({})),
      returnLease: (r: { leaseId: LeaseId }) => { this.leases.release(r.leaseId, "returned"); return {}; },
      startActor: (r) => this.startActor(r),
      killWorker: (r: { workerId: WorkerId }) => ({ killed: this.pool.kill(r.workerId) }),
      // Asked by an owner whose worker's connection closed; answering also shows this node is alive.
      workerFate: (r: { workerId: WorkerId }) => ({ oom: this.fates.get(r.workerId) }),
      workerBlocked: (r: { workerId: WorkerId }) => { this.leases.setBlocked(this.pool.workers.get(r.workerId), true); return {}; },
      workerUnblocked: (r: { workerId: WorkerId }) => { this.leases.setBlocked(this.pool.workers.get(r.workerId), false); return {}; },
      jobEnded: (r: { jobId: JobId }) => this.jobEnded(r.jobId),
      info: () => ({ nodeId: this.config.nodeId, total: this.total, available: this.available, transfer: this.transfer.stats,
        workers: [...this.pool.workers.values()].map((w) => ({ workerId: w.id, pid: w.pid, state: w.state, jobId: w.jobId, actorId: w.actorId, address: w.address,
          leaseId: w.leaseId, leaseOwner: w.leaseOwner })),
        transferAddress: this.config.transferAddress, store: this.config.storeStats?.() }),
    });
  }

  /** A driver on this machine: keep its job, and have its workers warm (also called at boot for an embedded cluster). */
  registerDriver(j: JobInfo, forked?: ChildProcess) {
    this.jobs.set(j.jobId, { ...this.jobs.get(j.jobId), ...j });
    // One warm worker per CPU, but never more than the machine has cores: a node declared with a
    // million CPUs starts its workers on demand rather than a million processes at once.
    const cores = os.cpus().length;
    const n = this.config.prestart ?? Math.max(1, Math.min(Math.floor(this.total.CPU ?? cores), cores));
    const more = () => {
      this.firstStarts.delete(j.jobId);
      if (!this.closing) for (let i = this.pool.countFor(j.jobId, ["starting", "idle", "leased"]); i < n; i++) this.pool.start(j);
    };
    // A worker the agent forked for this job at boot, before it loaded its own modules.
    if (forked && (n === 0 || this.closing)) { forked.kill("SIGKILL"); forked = undefined; }
    if (this.firstStarts.has(j.jobId)) return { nodeId: this.config.nodeId };   // the driver's own registration, after the boot's
    if (forked || (n > 1 && this.pool.countFor(j.jobId, ["starting", "idle", "leased"]) === 0)) {
      // A job's first task needs one worker: start it alone, so that it does not share the CPUs
      // with its siblings' start-up while the driver waits; the rest follow once it is up.
      const first = this.pool.start(j, forked);
      this.firstStarts.add(j.jobId);
      void Promise.race([first.ready, new Promise((r) => setTimeout(r, 1000).unref())]).then(more);
    } else {
      more();
    }
    return { nodeId: this.config.nodeId };
  }

  private job(jobId: JobId): JobInfo {
    const j = this.jobs.get(jobId);
    if (!j) throw new Error(`job ${jobId} is not registered on node ${this.config.nodeId}`);
    return j;
  }

  /** Jobs whose driver is elsewhere are learned from the head on their first lease here. */
  private async learnJob(jobId: JobId): Promise<void> {
    if (this.jobs.has(jobId)) return;
    let p = this.learning.get(jobId);
    if (!p) {
      p = (async () => {
        const j = await this.head.call("getJob", { jobId });
        if (!j) throw new Error(`job ${jobId} is not known to the head`);
        if (j.package && j.workingDir) {
          // The driver's directory is on another machine: run in an unpacked copy of it.
          const dir = await fetchPackage(this.head, j.package, path.join(this.config.logDir, "..", "packages"));
          j.execArgv = j.execArgv.map((a) => a.split(j.workingDir!).join(dir));
          j.cwd = dir;
        }
        this.jobs.set(jobId, j);
      })().finally(() => this.learning.delete(jobId));
      this.learning.set(jobId, p);
    }
    await p;
  }
  private learning = new Map<JobId, Promise<void>>();

  private async requestLease(r: LeaseRequest, ctx: CallContext): Promise<LeaseReply> {
    await this.learnJob(r.jobId);
    const strategy = r.strategy ?? "DEFAULT";
    const here = this.config.nodeId;
    // Fast path without the head: DEFAULT work that fits here now, or affinity to this node.
    const local = (strategy === "DEFAULT" && fits(this.available, r.resources) && this.leases.queued === 0) ||
      (typeof strategy === "object" && strategy.nodeId === here && fits(this.total, r.resources));
    if (!r.spilled && !local) {
      const p = await this.head.call("placeLease", { resources: r.resources, strategy, local: here, localAvailable: this.available });
      if (p.nodeId !== here) return { spillback: p.agentAddress, nodeId: p.nodeId };
    }
    if (!fits(this.total, r.resources)) {
      throw new TaskUnschedulableError(`the task needs ${fmt(r.resources)} but node ${here} has ${fmt(this.total)} in total. Tip: lower numCpus/numGpus/resources, or start a node that has them.`);
    }
    const worker = await this.leases.acquire(r.jobId, r.resources, r.resources, r.envVars);
    const leaseId = this.leases.lease(worker, r.owner);
    if (ctx.cancelled()) {   // the owner left while this request waited: nobody will use or return it
      this.leases.release(leaseId, "cancelled");
      throw new Error("lease request cancelled");
    }
    this.checkClaimed(worker, leaseId, r.owner, Date.now());
    return { leaseId, workerId: worker.id, address: worker.address!, nodeId: this.config.nodeId };
  }

  /** An owner that got the grant pushes to the worker at once; one that never does left meanwhile, or has not heard yet. */
  private checkClaimed(worker: Worker, leaseId: LeaseId, owner: string, since: number): void {
    const unclaimed = () => worker.leaseId === leaseId && !worker.owners.has(owner);
    setTimeout(async () => {
      if (!unclaimed()) return;
      if (Date.now() - since < UNCLAIMED_LEASE_MAX_MS && await this.reachable(owner)) return this.checkClaimed(worker, leaseId, owner, since);
      if (unclaimed()) this.leases.release(leaseId, "unclaimed");
    }, UNCLAIMED_LEASE_MS).unref();
  }

  /** Does a process still listen at this wire address? Refused: it has exited. No answer in time (a cut link): maybe. */
  private reachable(address: string): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(true), 2000).unref();
      connect(address, this.config.token).then((c) => { c.close(); clearTimeout(timer); resolve(true); },
        (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(e.code !== "ECONNREFUSED"); });
    });
  }

  /** A job's driver ended: stop its workers that hold no lease now, and the others as their leases come back. */
  private jobEnded(jobId: JobId) {
    this.ended.add(jobId);
    if (this.ended.size > 10_000) this.ended.delete(this.ended.values().next().value!);
    // Leased workers may still serve a detached actor's tasks; actors' workers are stopped by the head.
    for (const w of this.pool.workers.values()) if (w.jobId === jobId && (w.state === "idle" || w.state === "starting")) this.pool.kill(w.id);
    return {};
  }

  /** Idempotent per actor: a head restarted in the middle of placing it asks again, and gets the same worker. */
  private startActor(r: StartActorRequest): Promise<StartActorReply> {
    let started = this.actorStarts.get(r.actorId);
    if (!started) {
      this.actorStarts.set(r.actorId, started = this.constructActor(r));
      started.catch(() => this.actorStarts.delete(r.actorId));
    }
    return started;
  }
  private actorStarts = new Map<ActorId, Promise<StartActorReply>>();

  private async constructActor(r: StartActorRequest): Promise<StartActorReply> {
    await this.learnJob(r.jobId);
    const w = await this.leases.acquire(r.jobId, r.resources, r.placement, r.envVars);
    moveWorker(w, "actor", "actor-started");
    w.actorId = r.actorId;
    w.proc.once("exit", () => this.actorStarts.delete(r.actorId));   // started again (a restart) constructs anew
    const reply = await new Promise<{ error?: ErrorInfo }>((resolve) => {
      const onMsg = (m: WorkerToAgent) => { if (m?.t === "actorCreated" && m.actorId === r.actorId) { w.proc.off("message", onMsg); resolve(m); } };
      w.proc.on("message", onMsg);
      w.proc.once("exit", () => resolve({ error: { name: "ActorDiedError", message: "the actor's worker exited during construction" } }));
      w.proc.send({ t: "createActor", actorId: r.actorId, spec: r.spec, maxConcurrency: r.maxConcurrency } satisfies AgentToWorker);
    });
    if (reply.error) { this.pool.kill(w.id); return { error: reply.error }; }
    return { address: w.address!, workerId: w.id, pid: w.pid };
  }

  /** The memory monitor chose this worker: remember why (its owner will ask), then kill it. */
  private killForMemory(pid: number, fate: ErrorInfo): void {
    const w = [...this.pool.workers.values()].find((x) => x.pid === pid);
    if (!w) return;
    this.remember(w, fate);
    console.error(`${w.actorId ? `actor ${w.actorId}'s` : "a task's"} worker ${fate.message}`);
    this.pool.kill(w.id);
  }

  private remember(w: Worker, fate: ErrorInfo): void {
    this.fates.set(w.id, fate);
    if (this.fates.size > 1000) this.fates.delete(this.fates.keys().next().value!);
  }

  /** A leased worker lost the connection from its lease's owner: the owner is gone (or gave the lease up), take it back. */
  ownersGone(w: Worker, gone: string[]): void {
    if (w.state === "leased" && w.leaseId && w.leaseOwner && gone.includes(w.leaseOwner)) this.leases.release(w.leaseId, "owner-gone");
  }

  private onWorkerExit(w: Worker): void {
    if (this.closing) return;
    this.leases.workerExited(w);
    // Every exit goes to the head: the actor in the worker is lost, and the actors it owned die with it.
    const fate = this.fates.get(w.id);
    const death: ErrorInfo = fate ? { ...fate, message: `its worker ${fate.message}` } : { name: "ActorDiedError", message: `its worker (pid ${w.pid}) exited` };
    this.head.call("workerDied", { workerId: w.id, nodeId: this.config.nodeId, actorId: w.actorId, death }).catch(() => {});
    const job = this.jobs.get(w.jobId);
    if (job && !w.actorId && !w.envKey && !this.ended.has(w.jobId) && this.pool.countFor(w.jobId, ["starting", "idle"]) === 0) this.pool.start(job);
    this.leases.pump();
  }

  private forwardLogs(jobId: JobId, lines: Array<{ err: boolean; text: string }>): void {
    const job = this.jobs.get(jobId);
    if (!job) return;
    job.logs ??= connect(job.driverAddress, this.config.token);
    job.logs.then((c) => c.send({ t: "logs", lines }), () => {});
  }

  /** Report free resources to the head; a head that declared this node dead gets no more. */
  startHeartbeat(periodMs: number, registration: Omit<NodeRegistration, "actors">, onRejected: () => void): void {
    let rejoining = false;
    // The head restarted and loaded this node from its storage: register again, same node id, with the actors hosted here.
    const rejoin = () => {
      if (rejoining) return;
      rejoining = true;
      const actors = [...this.pool.workers.values()].filter((w) => w.actorId).map((w) => ({ actorId: w.actorId!, workerId: w.id }));
      this.head.call("registerNode", { ...registration, available: this.available, actors })
        .then((r) => { if (!r.ok) onRejected(); }, () => {}).finally(() => { rejoining = false; });
    };
    const beat = () => this.head.call("heartbeat", { nodeId: this.config.nodeId, available: this.available }, periodMs * 4)
      .then((r) => { if (!r.ok) onRejected(); else if (r.reregister) rejoin(); }, () => {});
    this.heartbeat = setInterval(beat, periodMs);
  }
  private heartbeat?: NodeJS.Timeout;

  close(): void {
    this.closing = true;
    this.memory.stop();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.pool.killAll();
    this.leases.close();
    this.head.close();
  }
}

/**
 * A worker's death by an uncaught exception, worded to follow "task f " or "its worker " (as
 * the memory monitor's fates are): a WorkerCrashedError, retried like any crash, whose cause is
 * the exception.
 */
function uncaughtFate(w: Worker, e: { name: string; message: string; stack: string }, nodeId: string): ErrorInfo {
  const stack = e.stack.split("\n").slice(0, 12).join("\n");
  return { name: "WorkerCrashedError", cause: { name: foreignName(e.name), message: e.message },
    message: `died of an uncaught ${e.name}: ${e.message} (worker pid ${w.pid} on node ${nodeId}; thrown where no task awaited it, ` +
      `e.g. in a timer or an event callback).\nRemote stack:\n${stack}\n` +
      "Tip: catch errors inside callbacks, or wrap the callback in a promise that the task awaits, so that the error fails the task alone." };
}
