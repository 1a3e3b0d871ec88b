// The other processes a core worker talks to: wire connections to them (one per address, shared
// by task pushes, actor calls and object reads), clients of other nodes' agents, the agent that a
// driver without one on its machine asks for leases (re-homed when it goes), node deaths (watched
// from the head while work is in flight), and the owners of the objects this process holds refs to
// (asked for those objects; gone when their process or their node is).
import { connect, type Connection } from "../rpc/wire.js";
import type { IncomingMessage } from "../rpc/messages.js";
import { RpcClient, type AgentClient, type HeadClient } from "../rpc/grpc.js";
import { ConnectionClosedError } from "../errors.js";
import type { NodeId, ObjectId, WorkerId } from "../ids.js";
import type { Outcome } from "./objects/object-table.js";

/** What Peers needs of its core worker's configuration. */
export interface PeersConfig {
  mode: "driver" | "worker";
  token: string;
  agentAddress: string;
  /** Set when this machine has an agent (a node store): a driver then has nowhere else to go. */
  transferAddress?: string;
}

export class Peers {
  /** Wire connections by address: one per peer process. */
  readonly conns = new Map<string, Promise<Connection>>();
  private agents = new Map<string, AgentClient>();
  private home?: AgentClient;
  private closed = false;

  /**
   * `agent`: this node's agent. `self`: this process's wire address (known once it listens).
   * `serve`: answers requests that arrive on a connection this process opened.
   */
  constructor(private readonly config: PeersConfig, private readonly head: HeadClient, private readonly agent: AgentClient,
    private readonly self: () => string, private readonly serve: (msg: IncomingMessage, conn: Connection) => unknown) {
    this.onNodeDeath((nodeId) => this.ownerNodeDied(nodeId as NodeId));
  }

  /** Close the connections and the other agents' clients (the head's and this node's agent's are the core worker's). */
  close(): void {
    this.closed = true;
    for (const c of this.conns.values()) c.then((x) => x.close(), () => {});
    for (const a of this.agents.values()) a.close();
  }

  connection(address: string): Promise<Connection> {
    let c = this.conns.get(address);
    if (!c) {
      c = connect(address, this.config.token).then((conn) => {
        if (this.config.mode === "driver") conn.unref();
        conn.onRequest = (msg, x) => this.serve(msg, x);
        conn.once("close", () => { if (this.conns.get(address) === c) this.conns.delete(address); });
        return conn;
      });
      c.catch(() => this.conns.delete(address));
      this.conns.set(address, c);
    }
    return c;
  }

  // ---- agents ----------------------------------------------------------------------------

  /** A client for another node's agent (spillback, lease returns). */
  agentClient(address: string): AgentClient {
    if (address === this.config.agentAddress) return this.agent;
    let c = this.agents.get(address);
    if (!c) this.agents.set(address, c = new RpcClient(address, "NodeAgent", this.config.token));
    return c;
  }

  /** The agent leases are asked of: this node's, or for a driver on a machine without one, a live node's. */
  homeAgent(): AgentClient { return this.home ?? this.agent; }

  /** A driver without a local agent whose chosen agent went away picks another live node. */
  async rehome(): Promise<void> {
    if (this.config.transferAddress) return;   // an agent on this machine: nowhere else to go
    const nodes = await this.head.call("listNodes").catch(() => []);
    const alive = nodes.filter((n) => n.state === "ALIVE" && n.agentAddress !== this.homeAgent().address);
    if (alive.length) this.home = this.agentClient(alive[Math.floor(Math.random() * alive.length)].agentAddress);
  }

  // ---- node deaths: watched from the head while work is in flight --------------------------
  private inflight = 0;
  private watching = false;
  private nodeSeq = 0;
  private nodeListeners: Array<(nodeId: string) => void> = [];
  onNodeDeath(f: (nodeId: string) => void): void { this.nodeListeners.push(f); }

  /** Count work in flight on other processes; while there is some, watch for node deaths. */
  track(delta: number): void {
    this.inflight += delta;
    if (this.inflight > 0 && !this.watching) void this.watchNodes();
  }

  private async watchNodes(): Promise<void> {
    this.watching = true;
    while (this.inflight > 0 && !this.closed) {
      try {
        const events = await this.head.call("watchNodes", { since: this.nodeSeq, waitMs: 5000 });
        for (const e of events) {
          this.nodeSeq = Math.max(this.nodeSeq, e.seq);
          if (e.state === "DEAD") for (const f of this.nodeListeners) f(e.nodeId);
        }
      } catch {
        await new Promise((r) => setTimeout(r, 500).unref());
      }
    }
    this.watching = false;
  }

  // ---- owners of the objects this process holds refs to -----------------------------------
  /** Who is behind an owner address (learned from refs that arrived here), and which nodes died. */
  private owners = new Map<string, { node?: NodeId; worker: WorkerId }>();
  private deadNodes = new Set<NodeId>();
  private nodeWaiters = new Map<NodeId, Set<() => void>>();

  learnOwner(address: string, node: NodeId | undefined, worker: WorkerId): void {
    if (address !== this.self() && this.owners.get(address)?.worker !== worker) this.owners.set(address, { node, worker });
  }

  /** The node and worker behind an owner address, if a ref that arrived here said. */
  owner(address: string): { node?: NodeId; worker: WorkerId } | undefined { return this.owners.get(address); }

  /** Whether the head declared this node dead (while this process watched). */
  isDead(node: NodeId): boolean { return this.deadNodes.has(node); }

  /**
   * Ask the owner for an object it owns. Its process gone (refused or closed connection, or its
   * address now serving another process) or its node declared dead (a cut link leaves the
   * connection hanging) is OwnerDiedError, as in Ray: an object lives as long as its owner.
   */
  async askOwner(ref: { id: ObjectId; owner: string }, lostOn?: NodeId): Promise<Outcome> {
    const who = this.owners.get(ref.owner);
    const died = (why: string): Outcome => ({ error: { name: "OwnerDiedError", message: `the owner of ${ref.id} ` +
      `(${who ? `worker ${who.worker}` : "the process"} at ${ref.owner}${who?.node ? ` on node ${who.node}` : ""}) ${why}. ` +
      "Tip: an object lives as long as the process that made it (put() or the task's caller); keep that process alive until its objects are read." } });
    if (who?.node && this.deadNodes.has(who.node)) return died("died with its node");
    const ask = (async (): Promise<Outcome> => {
      let conn: Connection;
      try { conn = await this.connection(ref.owner); } catch { return died("is unreachable; it has exited"); }
      try { return await conn.request({ t: "getObject", id: ref.id, owner: who?.worker, lost: lostOn }); } catch (e) {
        if (e instanceof ConnectionClosedError) return died("died before the value was read");
        throw e;
      }
    })();
    if (!who?.node) return ask;
    const node = who.node;
    let wake!: () => void;
    const nodeDeath = new Promise<Outcome>((resolve) => { wake = () => resolve(died(`died with its node (node ${node} was declared dead)`)); });
    const waiters = this.nodeWaiters.get(node) ?? new Set();
    this.nodeWaiters.set(node, waiters.add(wake));
    this.track(1);   // watch node deaths while waiting
    try { return await Promise.race([ask, nodeDeath]); } finally {
      this.track(-1);
      waiters.delete(wake);
    }
  }

  private ownerNodeDied(node: NodeId): void {
    this.deadNodes.add(node);
    for (const wake of this.nodeWaiters.get(node) ?? []) wake();
    this.nodeWaiters.delete(node);
    // Connections to owners there may hang on a cut link: drop them.
    for (const [address, who] of this.owners) if (who.node === node) this.conns.get(address)?.then((c) => c.close(), () => {});
  }
}
