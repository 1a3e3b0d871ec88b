// Cluster membership: nodes register, heartbeat their free resources, and are declared
// dead when heartbeats stop for longer than the health-check window. Every change is an
// event with a sequence number, so core workers can long-poll for node deaths.
// Registrations and deaths are kept in the head's storage: a restarted head knows its nodes.
import { GRPC_OPTIONS, RpcClient, type AgentClient } from "../src/rpc/grpc.js";
import type { HeartbeatReply, NodeEvent, NodeInfo, NodeRegistration } from "../src/protocol.js";
import type { NodeId } from "../src/ids.js";
import type { HeadStore } from "./store.js";

/*  Node lifecycle:  ALIVE ──no heartbeat within the window──▶ DEAD   (a restarted agent joins as a new node)
    A restarted head loads its nodes as they were and gives each ALIVE one a fresh window to heartbeat;
    the first heartbeat is answered "reregister", and the agent registers again under the same id.   */

export type { NodeEvent } from "../src/protocol.js";

/** A node as the storage keeps it: its registration, state, and the number of its last event. */
type StoredNode = NodeInfo & { seq: number };
interface Member extends StoredNode { client: AgentClient; lastHeartbeat: number; restored?: boolean }

/** After a head restart, agents' channels may still be backing off (up to this long) before they reconnect. */
const REJOIN_GRACE_MS = 2 * GRPC_OPTIONS["grpc.max_reconnect_backoff_ms"];

export class NodeTable {
  private members = new Map<NodeId, Member>();
  private events: NodeEvent[] = [];
  private seq = 0;
  private watchers: Array<() => void> = [];
  private timer: NodeJS.Timeout;
  onDeath: (nodeId: NodeId) => void = () => {};

  constructor(private token: string, private healthTimeoutMs: number, private store: HeadStore) {
    this.restore();
    this.timer = setInterval(() => this.check(), Math.max(50, healthTimeoutMs / 4));
    this.timer.unref();
  }

  private restore(): void {
    const stored = [...this.store.table<StoredNode>("nodes").values()].sort((a, b) => a.seq - b.seq);
    const deadline = Date.now() + REJOIN_GRACE_MS;   // a fresh health window, counted from now
    for (const n of stored) {
      this.members.set(n.nodeId, { ...n, lastHeartbeat: deadline, restored: n.state === "ALIVE", client: this.agentClient(n) });
      this.events.push({ seq: n.seq, nodeId: n.nodeId, state: n.state });
      this.seq = n.seq;
    }
  }

  /** A new node, or a known one registering again after a head restart. A node declared dead stays dead. */
  register(r: NodeRegistration): { ok: boolean } {
    const { actors: _a, ...n } = r;
    const known = this.members.get(n.nodeId);
    if (known?.state === "DEAD") return { ok: false };
    // The same agent registering again keeps its client: calls to it may be in flight (startActor).
    const client = known?.agentAddress === n.agentAddress ? known.client : this.agentClient(n);
    if (known && client !== known.client) known.client.close();
    const m: Member = { ...n, state: "ALIVE", seq: known?.seq ?? 0, lastHeartbeat: Date.now(), client };
    this.members.set(n.nodeId, m);
    if (known) this.save(m); else this.emit(n.nodeId, "ALIVE");
    return { ok: true };
  }

  /** A heartbeat from a node the head declared dead is refused: that agent must exit and rejoin. */
  heartbeat(nodeId: NodeId, available: NodeInfo["available"]): HeartbeatReply {
    const m = this.members.get(nodeId);
    if (!m || m.state === "DEAD") return { ok: false };
    m.available = available;
    m.lastHeartbeat = Date.now();
    return m.restored ? { ok: true, reregister: true } : { ok: true };
  }

  get(nodeId: NodeId): Member | undefined { return this.members.get(nodeId); }
  client(nodeId: NodeId): AgentClient | undefined { return this.members.get(nodeId)?.client; }
  list(): NodeInfo[] { return [...this.members.values()].map(info); }

  /**
   * The nodes as placement should see them: one silent for a quarter of the health window may be
   * dead already (killed, or cut off), so it counts as having nothing free until it is heard from
   * again. Work then goes to nodes known to be there instead of to one that may never answer.
   */
  placementView(): NodeInfo[] {
    const now = Date.now();
    return [...this.members.values()].map((m) => m.state === "ALIVE" && now - m.lastHeartbeat > this.healthTimeoutMs / 4 ? { ...info(m), available: {} } : info(m));
  }

  /** Events after `since`; waits up to `waitMs` for one when there is none yet. */
  async watch(since: number, waitMs: number): Promise<NodeEvent[]> {
    const pending = () => this.events.filter((e) => e.seq > since);
    if (pending().length === 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        this.watchers.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return pending();
  }

  private check(): void {
    const now = Date.now();
    for (const m of this.members.values()) {
      if (m.state === "ALIVE" && now - m.lastHeartbeat > this.healthTimeoutMs) {
        m.state = "DEAD";
        this.emit(m.nodeId, "DEAD");
        this.onDeath(m.nodeId);
      }
    }
  }

  private emit(nodeId: NodeId, state: NodeEvent["state"]): void {
    const seq = ++this.seq;
    this.events.push({ seq, nodeId, state });
    this.members.get(nodeId)!.seq = seq;
    this.save(this.members.get(nodeId)!);
    const w = this.watchers;
    this.watchers = [];
    for (const f of w) f();
  }

  private save(m: Member): void { this.store.put("nodes", m.nodeId, { ...info(m), seq: m.seq }); }

  private agentClient(n: Pick<NodeInfo, "agentAddress">): AgentClient { return new RpcClient(n.agentAddress, "NodeAgent", this.token); }

  close(): void {
    clearInterval(this.timer);
    for (const f of this.watchers) f();
    for (const m of this.members.values()) m.client.close();
  }
}

function info(m: Member): NodeInfo {
  const { client: _c, lastHeartbeat: _h, restored: _r, seq: _s, ...n } = m;
  return n;
}
