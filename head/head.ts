// The head: cluster membership, the actor directory (placement, lifecycle, names) and jobs.
// Control plane only: no task or object bytes pass through here.
import { IllegalStateError, TaskUnschedulableError, toErrorInfo } from "../src/errors.js";
import type { ActorCreateRequest, ActorInfo, JobInfo, NodeInfo, Resources, Strategy } from "../src/protocol.js";
import type { ActorId, JobId, NodeId } from "../src/ids.js";
import { NodeTable } from "./nodes.js";
import { Scheduler } from "./scheduling.js";
import { PackageStore } from "./packages.js";

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
}

export interface HeadConfig { token: string; healthTimeoutMs: number; dataDir: string }

export class Head {
  readonly nodes: NodeTable;
  readonly scheduler = new Scheduler();
  readonly jobs = new Map<JobId, JobInfo>();
  readonly actors = new Map<ActorId, ActorRecord>();
  private names = new Map<string, ActorId>();
  private unknownWaiters = new Map<ActorId, Array<() => void>>();

  private packages: PackageStore;

  constructor(config: HeadConfig) {
    this.nodes = new NodeTable(config.token, config.healthTimeoutMs);
    this.packages = new PackageStore(`${config.dataDir}/packages`);
    this.nodes.onDeath = (nodeId) => {
      for (const a of this.actors.values()) {
        if (a.nodeId === nodeId && a.state === "ALIVE") this.lost(a, { name: "NodeDiedError", message: `node ${nodeId} died (no heartbeat within the health-check window)` });
      }
    };
  }

  handlers() {
    return {
      ...this.packages.handlers(),
      registerNode: (n: Omit<NodeInfo, "state">) => { this.nodes.register(n); return {}; },
      heartbeat: (h: { nodeId: NodeId; available: Resources }) => this.nodes.heartbeat(h.nodeId, h.available),
      watchNodes: (r: { since: number; waitMs?: number }) => this.nodes.watch(r.since, Math.min(r.waitMs ?? 20_000, 30_000)),
      placeLease: (r: { resources: Resources; strategy?: Strategy; local?: NodeId; localAvailable?: Resources }) => {
        // The asking agent's own numbers are exact; the rest are as of the last heartbeat.
        const view = this.nodes.list().map((n) => n.nodeId === r.local && r.localAvailable ? { ...n, available: r.localAvailable } : n);
        const p = this.scheduler.place(view, r.resources, r.strategy, r.local);
        if ("infeasible" in p) throw new TaskUnschedulableError(p.infeasible);
        return { nodeId: p.nodeId, agentAddress: this.nodes.get(p.nodeId)!.agentAddress };
      },
      registerJob: (j: JobInfo) => { this.jobs.set(j.jobId, j); return {}; },
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
      actorDied: (r: { actorId: ActorId; workerId?: string; message: string }) => {
        const a = this.actors.get(r.actorId);
        // Only the worker it runs in now: a report about a replaced worker changes nothing.
        if (a && a.state === "ALIVE" && (!r.workerId || r.workerId === a.workerId)) this.lost(a, { name: "ActorDiedError", message: r.message });
        return {};
      },
      listActors: () => [...this.actors.keys()].map((id) => this.info(id)),
    };
  }

  private info(id: ActorId): ActorInfo | null {
    const a = this.actors.get(id);
    if (!a) return null;
    const { waiters: _w, jobId: _j, detached: _d, req: _r, restartsLeft: _l, ...info } = a;
    return info;
  }

  private async createActor(r: ActorCreateRequest): Promise<ActorInfo> {
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
      restartsLeft: r.maxRestarts ?? 0, numRestarts: 0, maxTaskRetries: r.maxTaskRetries ?? 0 };
    this.actors.set(r.actorId, rec);
    if (key) this.names.set(key, r.actorId);
    for (const w of this.unknownWaiters.get(r.actorId) ?? []) w();
    this.unknownWaiters.delete(r.actorId);
    await this.place(rec);
    return this.info(r.actorId)!;
  }

  /** Place the actor on a node and run its constructor there (first start and restarts). */
  private async place(rec: ActorRecord): Promise<void> {
    const r = rec.req;
    const placement = { ...r.resources, CPU: Math.max(1, r.resources.CPU ?? 0) };
    const p = this.scheduler.place(this.nodes.list(), placement, r.strategy);
    if ("infeasible" in p) {
      this.markDead(r.actorId, toErrorInfo(new TaskUnschedulableError(`actor ${r.className}: ${p.infeasible}`)));
      return;
    }
    const node = this.nodes.get(p.nodeId)!;
    try {
      const out = await node.client.call("startActor", { actorId: r.actorId, jobId: r.jobId, spec: r.spec,
        resources: r.resources, placement, maxConcurrency: r.maxConcurrency });
      if (out.error) this.markDead(r.actorId, out.error);
      else if (rec.state === "DEAD") node.client.call("killWorker", { workerId: out.workerId }).catch(() => {});
      else { Object.assign(rec, { state: "ALIVE", address: out.address, workerId: out.workerId, nodeId: node.nodeId }); this.wake(rec); }
    } catch (e) {
      this.markDead(r.actorId, toErrorInfo(e));
    }
  }

  /** The actor's worker or node is gone: start it again while restarts are left, else it is dead. */
  private lost(a: ActorRecord, death: NonNullable<ActorInfo["death"]>): void {
    if (a.restartsLeft === 0) return this.markDead(a.actorId, death);
    if (a.restartsLeft > 0) a.restartsLeft--;
    a.numRestarts = (a.numRestarts ?? 0) + 1;
    Object.assign(a, { state: "RESTARTING", address: undefined, workerId: undefined, nodeId: undefined });
    this.wake(a);
    void this.place(a);
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

  private async killActor(id: ActorId) {
    const a = this.actors.get(id);
    if (!a || a.state === "DEAD") return {};
    const { workerId, nodeId } = a;
    this.markDead(id, { name: "ActorDiedError", message: "the actor was killed with kill()" });
    if (workerId && nodeId) await this.nodes.client(nodeId)?.call("killWorker", { workerId, reason: "actor killed" }).catch(() => {});
    return {};
  }

  private markDead(id: ActorId, death: ActorInfo["death"]): void {
    const a = this.actors.get(id);
    if (!a || a.state === "DEAD") return;
    a.state = "DEAD";
    a.death = death;
    this.wake(a);
  }

  private wake(a: ActorRecord): void {
    const w = a.waiters;
    a.waiters = [];
    for (const f of w) f();
  }

  close(): void { this.nodes.close(); }
}
