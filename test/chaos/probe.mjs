// Run on a host of the test network: prints the head's node table and every live agent's
// workers as one JSON line (the test's own namespace cannot reach the cluster's addresses).
import { RpcClient } from "../../dist/src/rpc/grpc.js";

const { HELIOS_ADDRESS: address, HELIOS_TOKEN: token } = process.env;
const head = new RpcClient(address, "Head", token);
try {
  const nodes = await head.call("listNodes", {}, 5000);
  const agents = await Promise.all(nodes.filter((n) => n.state === "ALIVE").map(async (n) => {
    const agent = new RpcClient(n.agentAddress, "NodeAgent", token);
    try { return await agent.call("info", {}, 5000); } catch (e) { return { nodeId: n.nodeId, error: e.message }; } finally { agent.close(); }
  }));
  console.log(JSON.stringify({ nodes, agents }));
} finally { head.close(); }
