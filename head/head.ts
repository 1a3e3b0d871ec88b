// The head: cluster membership, the actor directory (actors.ts: placement, lifecycle, names)
// and jobs. Control plane only: no task or object bytes pass through here.
import { TaskUnschedulableError, type ErrorInfo } from "../src/errors.js";
import type { ActorCreateRequest, JobInfo, NodeRegistration, Resources, Strategy } from "../src/protocol.js";
import type { ActorId, JobId, NodeId, WorkerId } from "../src/ids.js";
import { NodeTable } from "./nodes.js";
import { Scheduler } from "./scheduling.js";
import { PackageStore } from "./packages.js";
import { OwnerTable } from "./owners.js";
import { KvTable } from "./kv.js";
import { ActorTable } from "./actors.js";
import type { HeadStore } from "./store.js";
import { headRequests } from "./requests.js";
import { validated } from "../src/rpc/schema.js";
import * as path from "node:path";

/** `store`: the tables on disk, loaded at construction and kept up to date (head/store.ts). */
export interface HeadConfig { token: string; healthTimeoutMs: number; store: HeadStore }

export class Head {
  readonly nodes: NodeTable;
  readonly scheduler = new Scheduler();
  readonly jobs = new Map<JobId, JobInfo>();
  readonly actors: ActorTable;

  private packages: PackageStore;
  private kv: KvTable;
  private store: HeadStore;
  private owners: OwnerTable;

  constructor(config: HeadConfig) {
    this.store = config.store;
    this.nodes = new NodeTable(config.token, config.healthTimeoutMs, config.store);
    this.packages = new PackageStore(path.join(config.store.dir, "packages"));
    this.kv = new KvTable(config.store);
    this.owners = new OwnerTable(config.token, { underDetached: (w) => this.actors.underDetached(w), ownerDied: (ids, why) => this.ownerDied(ids, why),
      jobEnded: (jobId) => this.jobEnded(jobId) });
    this.actors = new ActorTable({ nodes: this.nodes, scheduler: this.scheduler, store: this.store, owners: this.owners });
    this.nodes.onDeath = (nodeId) => {
      this.owners.nodeDied(nodeId);
      this.actors.nodeDied(nodeId);
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
        if (r.ok && n.actors) this.actors.reconcile(n.nodeId, n.actors);
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
      createActor: (r: ActorCreateRequest) => this.actors.create(r),
      waitActor: (r: { actorId: ActorId }) => this.actors.wait(r.actorId),
      // A caller lost its connection to the actor: wait (briefly) for the head to hear of it too.
      waitActorSettled: (r: { actorId: ActorId }) => this.actors.settled(r.actorId),
      getActor: (r: { actorId: ActorId }) => this.actors.info(r.actorId),
      getNamedActor: (r: { name: string; namespace: string }) => this.actors.named(r.namespace, r.name),
      killActor: (r: { actorId: ActorId }) => this.actors.kill(r.actorId),
      // An agent saw one of its workers exit: the actor in it is lost, and the actors it owned die with it.
      workerDied: (r: { workerId: WorkerId; nodeId: NodeId; actorId?: ActorId; death: ErrorInfo }) => {
        this.actors.workerDied(r.workerId, r.actorId, r.death);
        this.owners.workerDied(r.workerId, r.nodeId);
        return {};
      },
      listActors: () => this.actors.list(),
      // The head's storage, and what loading it found (records skipped as corrupt): helios status warns about those.
      headInfo: () => ({ storage: this.store.dir, ...this.store.loadReport }),
    });
  }

  /** Their owner is gone: these actors die for good (no restart), and their workers stop. */
  private ownerDied(ids: ActorId[], why: string): void {
    for (const id of ids) void this.actors.kill(id, "owner-died", { name: "ActorDiedError", message: why });
  }

  /** Agents stop the ended job's workers (as Ray's raylets do when a job finishes). */
  private jobEnded(jobId: JobId): void {
    for (const n of this.nodes.list()) {
      if (n.state === "ALIVE") this.nodes.client(n.nodeId)?.call("jobEnded", { jobId }).catch(() => {});
    }
  }

  /** Load the tables a previous head kept; actors it was still placing are placed again. */
  private restore(): void {
    for (const j of this.store.table<JobInfo>("jobs").values()) this.jobs.set(j.jobId, j);
    this.actors.restore();
    // Fate sharing carries on: owners are known again and drivers watched again (one that ended meanwhile is found gone).
    for (const a of this.actors.values()) {
      if (a.state === "DEAD" || a.detached || !a.req.owner) continue;
      this.owners.add(a.actorId, a.req.owner);
      const job = this.jobs.get(a.req.owner.jobId);
      if (job) this.owners.watchDriver(job);
    }
  }

  close(): void { this.nodes.close(); this.owners.close(); }
}
