// Placement policies: pure functions over the head's view of the nodes (one per strategy,
// as in Ray's spread / node-affinity / default policies). `available` is as fresh as the
// last heartbeat; the agent that gets the lease re-checks against its own exact numbers.
import type { NodeInfo, Resources, Strategy } from "../src/protocol.js";
import type { NodeId } from "../src/ids.js";
import { fits, formatResources as fmt } from "../src/resources.js";

export type Placement = { nodeId: NodeId } | { infeasible: string };

export class Scheduler {
  private spreadCursor = 0;

  /** Choose a node for `want`; `local` is the node asking (kept when it can run the work now). */
  place(nodes: NodeInfo[], want: Resources, strategy: Strategy = "DEFAULT", local?: NodeId): Placement {
    const feasible = nodes.filter((n) => n.state === "ALIVE" && fits(n.resources, want)).sort((a, b) => a.nodeId < b.nodeId ? -1 : 1);
    if (typeof strategy === "object") return this.affinity(nodes, feasible, want, strategy, local);
    if (feasible.length === 0) return { infeasible: infeasibleMessage(nodes, want) };
    if (strategy === "SPREAD") return this.spread(feasible, want);
    return defaultPolicy(feasible, want, local);
  }

  private spread(feasible: NodeInfo[], want: Resources): Placement {
    const start = this.spreadCursor++;
    for (let i = 0; i < feasible.length; i++) {
      const n = feasible[(start + i) % feasible.length];
      if (fits(n.available, want)) return { nodeId: n.nodeId };
    }
    return { nodeId: feasible[start % feasible.length].nodeId };
  }

  private affinity(nodes: NodeInfo[], feasible: NodeInfo[], want: Resources, s: { nodeId: string; soft?: boolean }, local?: NodeId): Placement {
    const target = feasible.find((n) => n.nodeId === s.nodeId);
    if (target) return { nodeId: target.nodeId };
    if (s.soft && feasible.length) return defaultPolicy(feasible, want, local);
    const node = nodes.find((n) => n.nodeId === s.nodeId);
    const why = !node ? "no such node" : node.state === "DEAD" ? "the node is dead" : `it has ${fmt(node.resources)} in total`;
    return { infeasible: `node affinity to ${s.nodeId} (hard) cannot be met for ${fmt(want)}: ${why}. Tip: use { nodeId, soft: true } to fall back to other nodes.` };
  }
}

/** DEFAULT: stay on the asking node while it has room; else the node with the most free CPU; else queue locally. */
function defaultPolicy(feasible: NodeInfo[], want: Resources, local?: NodeId): Placement {
  const here = feasible.find((n) => n.nodeId === local);
  if (here && fits(here.available, want)) return { nodeId: here.nodeId };
  const free = feasible.filter((n) => fits(n.available, want))
    .sort((a, b) => (b.available.CPU ?? 0) - (a.available.CPU ?? 0));
  if (free.length) return { nodeId: free[0].nodeId };
  return { nodeId: (here ?? feasible[0]).nodeId };
}

function infeasibleMessage(nodes: NodeInfo[], want: Resources): string {
  const alive = nodes.filter((n) => n.state === "ALIVE");
  return `the request needs ${fmt(want)} but no node has that much in total (nodes: ${alive.map((n) => `${n.nodeId} ${fmt(n.resources)}`).join("; ") || "none"}). ` +
    "Tip: lower numCpus/numGpus/resources, or start a node that has them.";
}
