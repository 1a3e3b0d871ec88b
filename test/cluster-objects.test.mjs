import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startNetworkCluster } from "./cluster.mjs";
import { RpcClient } from "../dist/src/rpc/grpc.js";

let c;
// Moving 1 GB takes the two cores for seconds: a generous health window keeps a starved heartbeat from
// declaring a busy node dead (this file tests transfers, not membership).
before(async () => { c = await startNetworkCluster({ agents: { a: {}, b: {} }, healthTimeoutMs: 10_000 }); });
after(() => c?.stop());

/** Ask an agent for its info from inside its own host (the test process is outside the network). */
async function agentInfo(host) {
  const script = `import("${new URL("../dist/src/rpc/grpc.js", import.meta.url).pathname}").then(async ({ RpcClient }) => {
    const c = new RpcClient(${JSON.stringify(c.nodes[host].address)}, "NodeAgent", ${JSON.stringify(c.token)});
    console.log(JSON.stringify(await c.call("info"))); c.close(); })`;
  const r = await c.net.exec(host, process.execPath, ["-e", script]);
  return JSON.parse(r.stdout);
}

test("values of 1 KB, 10 MB and 1 GB made on node A are read on node B and by a driver on another host", async () => {
  const before = await agentInfo("a");
  const sizes = [1024, 10 * 1024 * 1024, 1024 * 1024 * 1024];
  const r = await c.driver("objects", { sizes, from: c.nodes.a.nodeId, to: c.nodes.b.nodeId });
  for (const o of r.out) {
    const n = Math.floor(o.bytes / 8);
    const expectedSum = Array.from({ length: Math.ceil(n / 4096) }, (_, k) => k * 4096).reduce((x, y) => x + y, 0);
    assert.deepEqual(o.remote, [n, expectedSum], `read on B, ${o.bytes} bytes`);
    assert.deepEqual(o.driver, [n, expectedSum], `read by the driver, ${o.bytes} bytes`);
    assert.equal(o.node, c.nodes.b.nodeId);
  }
  assert.deepEqual(r.put, { len: 300_000, node: c.nodes.b.nodeId });
  // The stored values (10 MB, 1 GB) crossed agent to agent: A served at least their bytes.
  const after = await agentInfo("a");
  assert.ok(after.transfer.servedBytes - before.transfer.servedBytes >= (10 + 1024) * 1024 * 1024);
});

test("an object wanted by several tasks on one node crosses the network once", async () => {
  const beforeA = await agentInfo("a");
  const beforeB = await agentInfo("b");
  const bytes = 20 * 1024 * 1024;
  const r = await c.driver("fanIn", { from: c.nodes.a.nodeId, to: c.nodes.b.nodeId, n: 4, bytes });
  assert.equal(r.length ?? Object.keys(r).filter((k) => k !== "output").length, 4);
  const afterA = await agentInfo("a");
  const afterB = await agentInfo("b");
  assert.equal(afterB.transfer.pulls - beforeB.transfer.pulls, 1);
  // Served: once to B, once to the driver? No: the driver did not read it. Exactly one copy's bytes.
  const served = afterA.transfer.servedBytes - beforeA.transfer.servedBytes;
  assert.ok(served >= bytes && served < 2 * bytes, `A served ${served} bytes for one ${bytes}-byte object`);
});
