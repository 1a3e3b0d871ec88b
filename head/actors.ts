// The head's actor table: one record per actor ever created (kept on disk), its names, and the
// placement of actors on nodes (first starts and restarts). An actor's state is moved only by
// transition(), against the lifecycle in actor-states.ts; every move is kept on disk before its
// waiters wake, and is one event of the actor's story (its last ACTOR_STORY_LENGTH moves, shown
// by dump() and in IllegalActorTransitionError). What it needs of the rest of the head (nodes,
// placement, storage, owners) comes through ActorTableHost, so that tests run it on fakes.
import { lifecycleLog } from "../src/lifecycle-log.js";
import { TaskUnschedulableError, WorkerCrashedError, IllegalStateError, toErrorInfo, type ErrorInfo } from "../src/errors.js";
import type { ActorCreateRequest, ActorInfo, NodeRegistration } from "../src/protocol.js";
import type { ActorId, JobId, NodeId, WorkerId } from "../src/ids.js";
import { statusOf } from "../src/rpc/grpc.js";
import { ACTOR_STORY_LENGTH, IllegalActorTransitionError, allowed, formatActorStory, type ActorEvent, type ActorState, type ActorStimulus } from "./actor-states.js";
import type { NodeTable } from "./nodes.js";
import type { Scheduler } from "./scheduling.js";
import type { HeadStore } from "./store.js";
import type { OwnerTable } from "./owners.js";

export interface ActorRecord extends ActorInfo {
  jobId: JobId;
  detached: boolean;
  waiters: Array<() => void>;
  req: ActorCreateRequest;
  /** Restarts it may still have; -1: no limit. */
  restartsLeft: number;
  /** The node asked to construct it (kept on disk: a restarted head asks that node again). */
  placing?: NodeId;
  /** Its last moves (in memory only: a restarted head starts a new story). */
  story: ActorEvent[];
}

/** What the table uses of the rest of the head. */
export interface ActorTableHost {
  nodes: Pick<NodeTable, "get" | "placementView" | "client">;
  scheduler: Pick<Scheduler, "place">;
  store: Pick<HeadStore, "put" | "table">;
  owners: Pick<OwnerTable, "add" | "forget" | "exited">;
}

/** What a move changes besides the state: where it now runs (ALIVE), why it died (RESTARTING, DEAD). */
export interface ActorChange {
  at?: { address: string; workerId: WorkerId; nodeId: NodeId };
  death?: ErrorInfo;
}

type Death = NonNullable<ActorInfo["death"]>;
/** Kills of actors whose creation has not arrived yet, remembered at most. */
const MAX_KILLED_EARLY = 10_000;
const KILLED: Death = { name: "ActorDiedError", message: "the actor was killed with kill()" };

export class ActorTable {
  private actors = new Map<ActorId, ActorRecord>();
  private names = new Map<string, ActorId>();
  private unknownWaiters = new Map<ActorId, Array<() => void>>();
  /**
   * Actors killed before their creation arrived (a caller sends the creation without waiting, so
   * `kill(A.remote())` can overtake it): the creation, when it comes, makes a dead actor. Bounded:
   * the oldest go first.
   */
  private killedEarly = new Set<ActorId>();

  constructor(private host: ActorTableHost) {}

  get(id: ActorId): ActorRecord | undefined { return this.actors.get(id); }
  values(): IterableIterator<ActorRecord> { return this.actors.values(); }

  /** The actor as callers see it (ActorInfo), or null when the head does not know it. */
  info(id: ActorId): ActorInfo | null {
    const a = this.actors.get(id);
    if (!a) return null;
    const { waiters: _w, jobId: _j, detached: _d, req: _r, restartsLeft: _l, placing: _p, story: _s, ...info } = a;
    return info;
  }

  list(): ActorInfo[] { return [...this.actors.keys()].map((id) => this.info(id)!); }

  named(namespace: string, name: string): ActorInfo | null {
    const id = this.names.get(`${namespace}/${name}`);
    return id ? this.info(id) : null;
  }

  // ---- the one writer of an actor's state -------------------------------------------------

  /** Move `a` to `to` on `stimulus`, or throw IllegalActorTransitionError with its story; keeps it on disk, then wakes its waiters. */
  transition(a: ActorRecord, to: ActorState, stimulus: ActorStimulus, change: ActorChange = {}): void {
    const from = a.state;
    if (!allowed(from, to, stimulus)) throw new IllegalActorTransitionError(a.actorId, from, to, stimulus, a.story);
    a.state = to;
    if (to === "ALIVE") Object.assign(a, change.at);
    else if (to === "RESTARTING") {
      if (a.restartsLeft > 0) a.restartsLeft--;
      a.numRestarts = (a.numRestarts ?? 0) + 1;
      Object.assign(a, { address: undefined, workerId: undefined, nodeId: undefined });
    } else if (to === "DEAD") {
      a.death = change.death;
      this.host.owners.forget(a.actorId);
    }
    this.remember(a, { from, to, stimulus, time: Date.now(), node: change.at?.nodeId, worker: change.at?.workerId, error: change.death?.name });
    this.wake(a);
  }

  private remember(a: ActorRecord, e: ActorEvent): void {
    if (a.story.length >= ACTOR_STORY_LENGTH) a.story.shift();
    a.story.push(e);
    lifecycleLog.push({ kind: "actor", id: a.actorId, from: e.from, to: e.to, stimulus: e.stimulus, time: e.time, node: e.node, worker: e.worker, error: e.error });
  }

  /** Every actor with its state and story, for debugging. */
  dump(): string {
    return [...this.actors.values()].map((a) => `actor ${a.actorId} (${a.className}${a.name ? ` '${a.namespace}/${a.name}'` : ""}) ${a.state}` +
      ` restarts ${a.numRestarts ?? 0}${a.death ? ` death ${a.death.name}: ${a.death.message}` : ""}\n${formatActorStory(a.story)}`).join("\n");
  }

  // ---- what moves actors ------------------------------------------------------------------

  async create(r: ActorCreateRequest): Promise<ActorInfo> {
    if (this.actors.has(r.actorId)) return this.wait(r.actorId);   // a retry: the head restarted while it was in flight
    const key = r.name ? `${r.namespace}/${r.name}` : undefined;
    if (key) {
      const existing = this.names.get(key);
      if (existing && this.actors.get(existing)!.state !== "DEAD") {
        if (r.getIfExists) return this.wait(existing);
        throw new IllegalStateError(`an actor named '${r.name}' already exists in namespace '${r.namespace}'. Tip: use getIfExists: true to reuse it, or getActor('${r.name}').`);
      }
    }
    const rec: ActorRecord = { actorId: r.actorId, className: r.className, methods: r.methods, name: r.name,
      namespace: r.namespace, state: "PENDING", jobId: r.jobId, detached: r.detached, waiters: [], req: r,
      restartsLeft: r.maxRestarts ?? 0, numRestarts: 0, maxTaskRetries: r.maxTaskRetries ?? 0, maxPendingCalls: r.maxPendingCalls, story: [] };
    this.remember(rec, { to: "PENDING", stimulus: "created", time: Date.now() });
    this.actors.set(r.actorId, rec);
    if (key) this.names.set(key, r.actorId);
    for (const w of this.unknownWaiters.get(r.actorId) ?? []) w();
    this.unknownWaiters.delete(r.actorId);
    if (this.killedEarly.delete(r.actorId)) {   // kill() overtook the creation: it never starts
      this.transition(rec, "DEAD", "killed", { death: KILLED });
      return this.info(r.actorId)!;
    }
    const orphan = !r.detached && r.owner ? this.host.owners.add(r.actorId, r.owner) : undefined;
    if (orphan) this.transition(rec, "DEAD", "owner-died", { death: { name: "ActorDiedError", message: orphan } });
    else await this.place(rec);
    return this.info(r.actorId)!;
  }

  /**
   * Place the actor on a node and run its constructor there (first start and restarts). `avoid`:
   * a node that just failed to start it, passed over while another node can take it.
   */
  private async place(rec: ActorRecord, avoid?: NodeId): Promise<void> {
    const { nodes, scheduler } = this.host;
    const r = rec.req;
    const placement = { ...r.resources, CPU: r.placementCpus ?? Math.max(1, r.resources.CPU ?? 0) };
    const asked = rec.placing && nodes.get(rec.placing)?.state === "ALIVE" ? { nodeId: rec.placing } : undefined;
    const view = nodes.placementView();
    const others = avoid ? scheduler.place(view.filter((n) => n.nodeId !== avoid), placement, r.strategy) : undefined;
    const p = asked ?? (others && !("infeasible" in others) ? others : scheduler.place(view, placement, r.strategy));
    if ("infeasible" in p) {
      return this.transition(rec, "DEAD", "unschedulable", { death: toErrorInfo(new TaskUnschedulableError(`actor ${r.className}: ${p.infeasible}`)) });
    }
    if (p.nodeId === avoid) await new Promise((res) => setTimeout(res, 500).unref());   // the only node left: not in a tight loop
    if (dead(rec)) return;
    const node = nodes.get(p.nodeId)!;
    rec.placing = node.nodeId;
    this.save(rec);
    try {
      const out = await node.client.call("startActor", { actorId: r.actorId, jobId: r.jobId, spec: r.spec,
        resources: r.resources, placement, maxConcurrency: r.maxConcurrency, envVars: r.envVars });
      rec.placing = undefined;
      if (dead(rec)) { if (!("error" in out)) node.client.call("killWorker", { workerId: out.workerId }).catch(() => {}); }
      // The constructor threw: a user error, final. Its worker died under it: lost, like a running actor's.
      else if ("error" in out) { if (out.error.name === "TaskError") this.transition(rec, "DEAD", "constructor-threw", { death: out.error }); else this.lost(rec, "worker-died", out.error); }
      // Its agent's report of the worker's exit can overtake this reply (it was ignored then: the actor was not alive yet).
      else if (this.host.owners.exited(out.workerId)) this.lost(rec, "worker-died", { name: "ActorDiedError", message: `its worker (${out.workerId}) exited as it started` });
      else this.transition(rec, "ALIVE", "placed", { at: { address: out.address, workerId: out.workerId, nodeId: node.nodeId } });
    } catch (e) {
      rec.placing = undefined;
      if (dead(rec)) return;
      // The agent did not answer (it died, or the head cannot reach it), or its workers died as they started: try elsewhere.
      const transport = statusOf(e) !== undefined;
      if (transport) this.lost(rec, "node-died", { name: "NodeDiedError", message: `node ${node.nodeId} could not be asked to start it: ${(e as Error).message}` }, node.nodeId);
      else if (e instanceof WorkerCrashedError) this.lost(rec, "worker-died", toErrorInfo(e), node.nodeId);
      else this.transition(rec, "DEAD", "start-failed", { death: toErrorInfo(e) });
    }
  }

  /** The actor's worker or node is gone: start it again while restarts are left, else it is dead. */
  private lost(a: ActorRecord, why: "worker-died" | "node-died", death: Death, avoid?: NodeId): void {
    if (a.restartsLeft === 0) return this.transition(a, "DEAD", why, { death });
    this.transition(a, "RESTARTING", why, { death });
    void this.place(a, avoid);
  }

  /** The actor once it is ALIVE or DEAD; an id the head does not learn of within 30 s is reported dead. */
  async wait(id: ActorId): Promise<ActorInfo> {
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

  /** A caller lost its connection to the actor: wait (briefly) for the head to hear of it too. */
  async settled(id: ActorId): Promise<ActorInfo | null> {
    const a = this.actors.get(id);
    if (a?.state === "ALIVE") await new Promise<void>((res) => { a.waiters.push(res); setTimeout(res, 3000).unref(); });
    return this.info(id);
  }

  /** Kill it for good (no restart) and stop its worker: kill(), or its owner died. */
  async kill(id: ActorId, stimulus: "killed" | "owner-died" = "killed", death: Death = KILLED): Promise<Record<string, never>> {
    const a = this.actors.get(id);
    if (!a && stimulus === "killed") {   // not created yet: its creation is on its way
      this.killedEarly.add(id);
      if (this.killedEarly.size > MAX_KILLED_EARLY) this.killedEarly.delete(this.killedEarly.values().next().value!);
      return {};
    }
    if (!a || a.state === "DEAD") return {};
    const { workerId, nodeId } = a;
    this.transition(a, "DEAD", stimulus, { death });
    if (workerId && nodeId) await this.host.nodes.client(nodeId)?.call("killWorker", { workerId, reason: "actor killed" }).catch(() => {});
    return {};
  }

  /** An agent saw a worker exit: the actor in it, if it runs there now, is lost (a report about a replaced worker changes nothing). */
  workerDied(workerId: WorkerId, actorId: ActorId | undefined, death: Death): void {
    const a = actorId ? this.actors.get(actorId) : undefined;
    if (a && a.state === "ALIVE" && workerId === a.workerId) this.lost(a, "worker-died", death);
  }

  nodeDied(nodeId: NodeId): void {
    for (const a of this.actors.values()) {
      if (a.nodeId === nodeId && a.state === "ALIVE") this.lost(a, "node-died", { name: "NodeDiedError", message: `node ${nodeId} died (no heartbeat within the health-check window)` });
    }
  }

  /** Does this worker host a detached actor, or an actor owned (through any chain of actors) by one? */
  underDetached(workerId: WorkerId, depth = 0): boolean {
    const a = [...this.actors.values()].find((x) => x.workerId === workerId && x.state !== "DEAD");
    if (!a || depth > 100) return false;
    const owner = a.req.owner;
    return a.detached || (!!owner && !owner.driver && this.underDetached(owner.workerId, depth + 1));
  }

  /** Load the actors a previous head kept; those it was still placing are placed again. */
  restore(): void {
    for (const a of this.host.store.table<Omit<ActorRecord, "waiters" | "story">>("actors").values()) {
      this.actors.set(a.actorId, { ...a, waiters: [], story: [] });
      if (a.name) this.names.set(`${a.namespace}/${a.name}`, a.actorId);   // in creation order: the latest holds the name
    }
    for (const a of this.actors.values()) if (a.state === "PENDING" || a.state === "RESTARTING") void this.place(a);
  }

  /** An agent registered again after a head restart: settle what changed on it while the head was down. */
  reconcile(nodeId: NodeId, hosted: NonNullable<NodeRegistration["actors"]>): void {
    const running = new Map(hosted.map((h) => [h.actorId, h.workerId]));
    for (const a of this.actors.values()) {
      if (a.nodeId === nodeId && a.state === "ALIVE" && running.get(a.actorId) !== a.workerId) {
        this.lost(a, "worker-died", { name: "ActorDiedError", message: `its worker on node ${nodeId} exited while the head was down` });
      }
    }
    for (const h of hosted) {
      const a = this.actors.get(h.actorId);
      // Killed, or started again elsewhere, while the head was down: nobody can reach this worker any more.
      if (a?.state === "DEAD" || (a?.state === "ALIVE" && a.workerId !== h.workerId)) {
        this.host.nodes.client(nodeId)?.call("killWorker", { workerId: h.workerId, reason: "stale actor worker" }).catch(() => {});
      }
    }
  }

  /** Keep the record on disk, then wake its waiters. */
  private wake(a: ActorRecord): void {
    this.save(a);
    const w = a.waiters;
    a.waiters = [];
    for (const f of w) f();
  }

  private save(a: ActorRecord): void {
    const { waiters: _w, story: _s, ...stored } = a;
    this.host.store.put("actors", a.actorId, stored);
  }
}

/** Read after an await: the record may have been killed meanwhile. */
function dead(a: ActorRecord): boolean { return a.state === "DEAD"; }
