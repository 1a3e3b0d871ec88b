// The head: cluster membership, the actor directory (placement, lifecycle, names) and jobs.
// Control plane only: no task or object bytes pass through here.
import { IllegalStateError, TaskUnschedulableError, WorkerCrashedError, toErrorInfo, type ErrorInfo } from "../src/errors.js";
import type { ActorCreateRequest, ActorInfo, JobInfo, NodeRegistration, Resources, Strategy } from "../src/protocol.js";
import type { ActorId, JobId, NodeId, WorkerId } from "../src/ids.js";
import { NodeTable } from "./nodes.js";
import { Scheduler } from "./scheduling.js";
import { PackageStore } from "./packages.js";
import { OwnerTable } from "./owners.js";
import { KvTable } from "./kv.js";
import type { HeadStore } from "./store.js";
import { headRequests } from "./requests.js";
import { validated } from "../src/rpc/schema.js";
import { statusOf } from "../src/rpc/grpc.js";
import * as path from "node:path";

/*  Actor lifecycle:
      PENDING ──placed & constructed──▶ ALIVE ──worker or node lost, restarts left──▶ RESTARTING ──▶ ALIVE
         │                                 │                                            │
         └── infeasible, constructor threw, killed, lost with no restarts left ──────────┴──▶ DEAD       */

interface ActorRecord extends ActorInfo {
  jobId: JobId;
  detached: boolean;
  waiters: Array<() => void>;
  req: ActorCreateRequest;
  restartsLeft: number;
  /** The node asked to construct it (kept on disk: a restarted head asks that node again). */
  placing?: NodeId;
}

/** `store`: the tables on disk, loaded at construction and kept up to date (head/store.ts). */
export interface HeadConfig { token: string; healthTimeoutMs: number; store: HeadStore }

export class Head {
  readonly nodes: NodeTable;
  readonly scheduler = new Scheduler();
  readonly jobs = new Map<JobId, JobInfo>();
  readonly actors = new Map<ActorId, ActorRecord>();
  private names = new Map<string, ActorId>();
  private unknownWaiters = new Map<ActorId, Array<() => void>>();

  private packages: PackageStore;
  private kv: KvTable;
  private store: HeadStore;
  private owners: OwnerTable;

  constructor(config: HeadConfig) {
    this.store = config.store;
    this.nodes = new NodeTable(config.token, config.healthTimeoutMs, config.store);
    this.packages = new PackageStore(path.join(config.store.dir, "packages"));
    this.kv = new KvTable(config.store);
    this.owners = new OwnerTable(config.token, { underDetached: (w) => this.underDetached(w), ownerDied: (ids, why) => this.ownerDied(ids, why),
      jobEnded: (jobId) => this.jobEnded(jobId) });
    this.nodes.onDeath = (nodeId) => {
      this.owners.nodeDied(nodeId);
      for (const a of this.actors.values()) {
        if (a.nodeId === nodeId && a.state === "ALIVE") this.lost(a, { name: "NodeDiedError", message: `node ${nodeId} died (no heartbeat within the health-check window)` });
      }
    };
    this.restore();
  }

  /** The Head service's methods, each body checked against its schema (head/requests.ts) first. */
  handlers() {
    return validated("Head", headRequests, {
      ...this.packages.handlers(),
      ...this.kv.handlers(),
      registerNode: (n: NodeRegistration) => {
        const r = this.nodes.register(n);
        if (r.ok && n.actors) this.reconcile(n.nodeId, n.actors);
        return r;
      },
      heartbeat: (h: { nodeId: NodeId; available: Resources }) => this.nodes.heartbeat(h.nodeId, h.available),
      watchNodes: (r: { since: number; waitMs?: number }) => this.nodes.watch(r.since, Math.min(r.waitMs ?? 20_000, 30_000)),
      placeLease: (r: { resources: Resources; strategy?: Strategy; local?: NodeId; localAvailable?: Resources }) => {
        // The asking agent's own numbers are exact; the rest are as of the last heartbeat.
        const view = this.nodes.placementView().map((n) => n.nodeId === r.local && r.localAvailable ? { ...n, available: r.localAvailable } : n);
        const p = this.scheduler.place(view, r.resources, r.strategy, r.local);
        if ("infeasible" in p) throw new TaskUnschedulableError(p.infeasible);
        return { nodeId: p.nodeId, agentAddress: this.nodes.get(p.nodeId)!.agentAddress };
      },
      registerJob: (j: JobInfo) => { this.jobs.set(j.jobId, j); this.store.put("jobs", j.jobId, j); this.owners.watchDriver(j); return {}; },
      getJob: (r: { jobId: JobId }) => this.jobs.get(r.jobId) ?? null,
      listNodes: () => this.nodes.list(),
      createActor: (r: ActorCreateRequest) => this.createActor(r),
      waitActor: (r: { actorId: ActorId }) => this.waitActor(r.actorId),
      // A caller lost its connection to the actor: wait (briefly) for the head to hear of it too.
      waitActorSettled: async (r: { actorId: ActorId }) => {
        const a = this.actors.get(r.actorId);
        if (a?.state === "ALIVE") await new Promise<void>((res) => { a.waiters.push(res); setTimeout(res, 3000).unref(); });
        return this.info(r.actorId);
      },
      getActor: (r: { actorId: ActorId }) => this.info(r.actorId),
      getNamedActor: (r: { name: string; namespace: string }) => {
        const id = this.names.get(`${r.namespace}/${r.name}`);
        return id ? this.info(id) : null;
      },
      killActor: (r: { actorId: ActorId }) => this.killActor(r.actorId),
      // An agent saw one of its workers exit: the actor in it is lost, and the actors it owned die with it.
      workerDied: (r: { workerId: WorkerId; nodeId: NodeId; actorId?: ActorId; death: ErrorInfo }) => {
        const a = r.actorId ? this.actors.get(r.actorId) : undefined;
        // Only the worker it runs in now: a report about a replaced worker changes nothing.
        if (a && a.state === "ALIVE" && r.workerId === a.workerId) this.lost(a, r.death);
        this.owners.workerDied(r.workerId, r.nodeId);
        return {};
      },
      listActors: () => [...this.actors.keys()].map((id) => this.info(id)!),
      // The head's storage, and what loading it found (records skipped as corrupt): helios status warns about those.
      headInfo: () => ({ storage: this.store.dir, ...this.store.loadReport }),
    });
  }

  private info(id: ActorId): ActorInfo | null {
    const a = this.actors.get(id);
    if (!a) return null;
    const { waiters: _w, jobId: _j, detached: _d, req: _r, restartsLeft: _l, placing: _p, ...info } = a;
    return info;
  }

  private async createActor(r: ActorCreateRequest): Promise<ActorInfo> {
    if (this.actors.has(r.actorId)) return this.waitActor(r.actorId);   // a retry: the head restarted while it was in flight
    const key = r.name ? `${r.namespace}/${r.name}` : undefined;
    if (key) {
      const existing = this.names.get(key);
      if (existing && this.actors.get(existing)!.state !== "DEAD") {
        if (r.getIfExists) return this.waitActor(existing);
        throw new IllegalStateError(`an actor named '${r.name}' already exists in namespace '${r.namespace}'. Tip: use getIfExists: true to reuse it, or getActor('${r.name}').`);
      }
    }
    const rec: ActorRecord = { actorId: r.actorId, className: r.className, methods: r.methods, name: r.name,
      namespace: r.namespace, state: "PENDING", jobId: r.jobId, detached: r.detached, waiters: [], req: r,
      restartsLeft: r.maxRestarts ?? 0, numRestarts: 0, maxTaskRetries: r.maxTaskRetries ?? 0, maxPendingCalls: r.maxPendingCalls };
    this.actors.set(r.actorId, rec);
    if (key) this.names.set(key, r.actorId);
    for (const w of this.unknownWaiters.get(r.actorId) ?? []) w();
    this.unknownWaiters.delete(r.actorId);
    const orphan = !r.detached && r.owner ? this.owners.add(r.actorId, r.owner) : undefined;
    if (orphan) this.markDead(r.actorId, { name: "ActorDiedError", message: orphan });
    else await this.place(rec);
    return this.info(r.actorId)!;
  }

  /**
   * Place the actor on a node and run its constructor there (first start and restarts). `avoid`:
   * a node that just failed to start it, passed over while another node can take it.
   */
  private async place(rec: ActorRecord, avoid?: NodeId): Promise<void> {
    const r = rec.req;
    const placement = { ...r.resources, CPU: Math.max(1, r.resources.CPU ?? 0) };
    const asked = rec.placing && this.nodes.get(rec.placing)?.state === "ALIVE" ? { nodeId: rec.placing } : undefined;
    const view = this.nodes.placementView();
    const others = avoid ? this.scheduler.place(view.filter((n) => n.nodeId !== avoid), placement, r.strategy) : undefined;
    const p = asked ?? (others && !("infeasible" in others) ? others : this.scheduler.place(view, placement, r.strategy));
    if ("infeasible" in p) {
      this.markDead(r.actorId, toErrorInfo(new TaskUnschedulableError(`actor ${r.className}: ${p.infeasible}`)));
      return;
    }
    if (p.nodeId === avoid) await new Promise((res) => setTimeout(res, 500).unref());   // the only node left: not in a tight loop
    if (dead(rec)) return;
    const node = this.nodes.get(p.nodeId)!;
    rec.placing = node.nodeId;
    this.save(rec);
    try {
      const out = await node.client.call("startActor", { actorId: r.actorId, jobId: r.jobId, spec: r.spec,
        resources: r.resources, placement, maxConcurrency: r.maxConcurrency, envVars: r.envVars });
      rec.placing = undefined;
      if (dead(rec)) { if (!("error" in out)) node.client.call("killWorker", { workerId: out.workerId }).catch(() => {}); }
      // The constructor threw: a user error, final. Its worker died under it: lost, like a running actor's.
      else if ("error" in out) { if (out.error.name === "TaskError") this.markDead(r.actorId, out.error); else this.lost(rec, out.error); }
      // Its agent's report of the worker's exit can overtake this reply (it was ignored then: the actor was not alive yet).
      else if (this.owners.exited(out.workerId)) this.lost(rec, { name: "ActorDiedError", message: `its worker (${out.workerId}) exited as it started` });
      else { Object.assign(rec, { state: "ALIVE", address: out.address, workerId: out.workerId, nodeId: node.nodeId }); this.wake(rec); }
    } catch (e) {
      rec.placing = undefined;
      if (dead(rec)) return;
      // The agent did not answer (it died, or the head cannot reach it), or its workers died as they started: try elsewhere.
      const transport = statusOf(e) !== undefined;
      if (transport || e instanceof WorkerCrashedError) {
        this.lost(rec, transport ? { name: "NodeDiedError", message: `node ${node.nodeId} could not be asked to start it: ${(e as Error).message}` } : toErrorInfo(e), node.nodeId);
      } else this.markDead(r.actorId, toErrorInfo(e));
    }
  }

  /** The actor's worker or node is gone: start it again while restarts are left, else it is dead. */
  private lost(a: ActorRecord, death: NonNullable<ActorInfo["death"]>, avoid?: NodeId): void {
    if (a.restartsLeft === 0) return this.markDead(a.actorId, death);
    if (a.restartsLeft > 0) a.restartsLeft--;
    a.numRestarts = (a.numRestarts ?? 0) + 1;
    Object.assign(a, { state: "RESTARTING", address: undefined, workerId: undefined, nodeId: undefined });
    this.wake(a);
    void this.place(a, avoid);
  }

  private async waitActor(id: ActorId): Promise<ActorInfo> {
    if (!this.actors.has(id)) {
      await new Promise<void>((resolve) => {
        const list = this.unknownWaiters.get(id) ?? [];
        list.push(resolve);
        this.unknownWaiters.set(id, list);
        setTimeout(resolve, 30_000).unref();
      });
      if (!this.actors.has(id)) {
        return { actorId: id, className: "unknown", methods: [], namespace: "", state: "DEAD",
          death: { name: "ActorDiedError", message: `actor ${id} is not known to the head` } };
      }
    }
    const a = this.actors.get(id)!;
    while (a.state === "PENDING" || a.state === "RESTARTING") await new Promise<void>((r) => a.waiters.push(r));
    return this.info(id)!;
  }

  private async killActor(id: ActorId, death: ErrorInfo = { name: "ActorDiedError", message: "the actor was killed with kill()" }) {
    const a = this.actors.get(id);
    if (!a || a.state === "DEAD") return {};
    const { workerId, nodeId } = a;
    this.markDead(id, death);
    if (workerId && nodeId) await this.nodes.client(nodeId)?.call("killWorker", { workerId, reason: "actor killed" }).catch(() => {});
    return {};
  }

  private markDead(id: ActorId, death: ActorInfo["death"]): void {
    const a = this.actors.get(id);
    if (!a || a.state === "DEAD") return;
    a.state = "DEAD";
    a.death = death;
    this.owners.forget(id);
    this.wake(a);
  }

  /** Their owner is gone: these actors die for good (no restart), and their workers stop. */
  private ownerDied(ids: ActorId[], why: string): void {
    for (const id of ids) void this.killActor(id, { name: "ActorDiedError", message: why });
  }

  /** Agents stop the ended job's workers (as Ray's raylets do when a job finishes). */
  private jobEnded(jobId: JobId): void {
    for (const n of this.nodes.list()) {
      if (n.state === "ALIVE") this.nodes.client(n.nodeId)?.call("jobEnded", { jobId }).catch(() => {});
    }
  }

  /** Does this worker host a detached actor, or an actor owned (through any chain of actors) by one? */
  private underDetached(workerId: WorkerId, depth = 0): boolean {
    const a = [...this.actors.values()].find((x) => x.workerId === workerId && x.state !== "DEAD");
    if (!a || depth > 100) return false;
    const owner = a.req.owner;
    return a.detached || (!!owner && !owner.driver && this.underDetached(owner.workerId, depth + 1));
  }

  /** Every change of an actor's state ends here: keep the record on disk, then wake its waiters. */
  private wake(a: ActorRecord): void {
    this.save(a);
    const w = a.waiters;
    a.waiters = [];
    for (const f of w) f();
  }

  private save(a: ActorRecord): void {
    const { waiters: _w, ...stored } = a;
    this.store.put("actors", a.actorId, stored);
  }

  /** Load the tables a previous head kept; actors it was still placing are placed again. */
  private restore(): void {
    for (const j of this.store.table<JobInfo>("jobs").values()) this.jobs.set(j.jobId, j);
    for (const a of this.store.table<Omit<ActorRecord, "waiters">>("actors").values()) {
      this.actors.set(a.actorId, { ...a, waiters: [] });
      if (a.name) this.names.set(`${a.namespace}/${a.name}`, a.actorId);   // in creation order: the latest holds the name
    }
    for (const a of this.actors.values()) if (a.state === "PENDING" || a.state === "RESTARTING") void this.place(a);
    // Fate sharing carries on: owners are known again and drivers watched again (one that ended meanwhile is found gone).
    for (const a of this.actors.values()) {
      if (a.state === "DEAD" || a.detached || !a.req.owner) continue;
      this.owners.add(a.actorId, a.req.owner);
      const job = this.jobs.get(a.req.owner.jobId);
      if (job) this.owners.watchDriver(job);
    }
  }

  /** An agent registered again after a head restart: settle what changed on it while the head was down. */
  private reconcile(nodeId: NodeId, hosted: NonNullable<NodeRegistration["actors"]>): void {
    const running = new Map(hosted.map((h) => [h.actorId, h.workerId]));
    for (const a of this.actors.values()) {
      if (a.nodeId === nodeId && a.state === "ALIVE" && running.get(a.actorId) !== a.workerId) {
        this.lost(a, { name: "ActorDiedError", message: `its worker on node ${nodeId} exited while the head was down` });
      }
    }
    for (const h of hosted) {
      const a = this.actors.get(h.actorId);
      // Killed, or started again elsewhere, while the head was down: nobody can reach this worker any more.
      if (a?.state === "DEAD" || (a?.state === "ALIVE" && a.workerId !== h.workerId)) {
        this.nodes.client(nodeId)?.call("killWorker", { workerId: h.workerId, reason: "stale actor worker" }).catch(() => {});
      }
    }
  }

  close(): void { this.nodes.close(); this.owners.close(); }
}

/** Read after an await: the record may have been killed meanwhile. */
function dead(a: ActorRecord): boolean { return a.state === "DEAD"; }
