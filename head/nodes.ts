// Cluster membership: nodes register, heartbeat their free resources, and are declared
// dead when heartbeats stop for longer than the health-check window. Every change is an
// event with a sequence number, so core workers can long-poll for node deaths.
import { RpcClient } from "../src/rpc/grpc.js";
import type { NodeInfo } from "../src/protocol.js";
import type { NodeId } from "../src/ids.js";

/*  Node lifecycle:  ALIVE ──no heartbeat within the window──▶ DEAD   (a restarted agent joins as a new node) */

export interface NodeEvent { seq: number; nodeId: NodeId; state: "ALIVE" | "DEAD" }

interface Member extends NodeInfo { client: RpcClient; lastHeartbeat: number }

export class NodeTable {
  private members = new Map<NodeId, Member>();
  private events: NodeEvent[] = [];
  private watchers: Array<() => void> = [];
  private timer: NodeJS.Timeout;
  onDeath: (nodeId: NodeId) => void = () => {};

  constructor(private token: string, private healthTimeoutMs: number) {
    this.timer = setInterval(() => this.check(), Math.max(50, healthTimeoutMs / 4));
    this.timer.unref();
  }

  register(n: Omit<NodeInfo, "state">): void {
    this.members.set(n.nodeId, { ...n, state: "ALIVE", lastHeartbeat: Date.now(),
      client: new RpcClient(n.agentAddress, "NodeAgent", this.token) });
    this.emit(n.nodeId, "ALIVE");
  }

  /** A heartbeat from a node the head declared dead is refused: that agent must exit and rejoin. */
  heartbeat(nodeId: NodeId, available: NodeInfo["available"]): { ok: boolean } {
    const m = this.members.get(nodeId);
    if (!m || m.state === "DEAD") return { ok: false };
    m.available = available;
    m.lastHeartbeat = Date.now();
    return { ok: true };
  }

  get(nodeId: NodeId): Member | undefined { return this.members.get(nodeId); }
  client(nodeId: NodeId): RpcClient | undefined { return this.members.get(nodeId)?.client; }
  list(): NodeInfo[] { return [...this.members.values()].map(({ client: _c, lastHeartbeat: _h, ...n }) => n); }

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
    this.events.push({ seq: this.events.length + 1, nodeId, state });
    const w = this.watchers;
    this.watchers = [];
    for (const f of w) f();
  }

  close(): void {
    clearInterval(this.timer);
    for (const f of this.watchers) f();
    for (const m of this.members.values()) m.client.close();
  }
}
