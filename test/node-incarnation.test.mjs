// A long partition (issue: fault tolerance, network): the cut-off node is declared dead, its task
// and actor carry on elsewhere; when its link comes back, the old incarnation is refused and
// exits, its late results reach nobody, and the machine rejoins only as a new node.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startNetworkCluster } from "./cluster.mjs";
import { waitFor, alive, scratchDir } from "./helpers.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
let c;
before(async () => { c = await startNetworkCluster({ agents: { a: {}, b: {} }, healthTimeoutMs: 1500 }); });
after(() => c?.stop());

async function status() {
  const r = await c.net.exec("head", process.execPath, [path.join(root, "dist/src/cli.js"), "status", "--address", c.headAddress, "--token", c.token]);
  return r.stdout;
}

test("a node cut off past the health window is replaced: its work reruns elsewhere, its late results are ignored, it rejoins as a new node", async () => {
  const log = path.join(scratchDir("helios-partition-"), "runs.log");
  const b = c.nodes.b;
  const proc = c.net.spawn("driver", process.execPath, [path.join(root, "test/fixtures/cluster-driver.mjs"), "partitioned",
    JSON.stringify({ on: b.nodeId, log, ms: 2500 })],
    { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  await new Promise((resolve) => proc.stdout.on("data", (d) => { out += d; if (out.includes("READY")) resolve(); }));
  await c.net.cut("b");
  await waitFor(async () => new RegExp(`${b.nodeId}.*DEAD`).test(await status()), 15_000, "node b to be declared dead").catch(async (e) => { console.log(await status()); throw e; });
  // The old task ends while its node is cut off; its reply is on its way to a caller that moved on.
  await waitFor(() => fs.readFileSync(log, "utf8").includes(`task ${b.nodeId} done`), 10_000, "the old task to finish");
  await c.net.restore("b");
  await waitFor(() => !alive(b.pid), 10_000, "the old agent on b to exit once it learns it was declared dead");
  proc.stdin.end("go\n");
  assert.equal(await exited, 0, out);
  const r = JSON.parse(out.split("\n").find((l) => l.startsWith("RESULT ")).slice(7));
  assert.equal(r.before, b.nodeId);
  assert.equal(r.task, c.nodes.a.nodeId, JSON.stringify(r));
  assert.equal(r.actor, c.nodes.a.nodeId, JSON.stringify(r));
  const runs = fs.readFileSync(log, "utf8").trim().split("\n");
  assert.deepEqual(runs.filter((l) => l.includes(c.nodes.a.nodeId)), [`task ${c.nodes.a.nodeId} start`, `task ${c.nodes.a.nodeId} done`]);
  // The machine comes back only as a new node.
  c.nodes.b = await c.startAgent("b");
  assert.notEqual(c.nodes.b.nodeId, b.nodeId);
  const s = await status();
  assert.match(s, new RegExp(`${c.nodes.b.nodeId}.*ALIVE`));
  assert.match(s, new RegExp(`${b.nodeId}.*DEAD`));
});

test("with every agent gone, a new task fails with NodeDiedError instead of waiting forever", async () => {
  const proc = c.net.spawn("driver", process.execPath, [path.join(root, "test/fixtures/cluster-driver.mjs"), "noNodes", "{}"],
    { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  await new Promise((resolve) => proc.stdout.on("data", (d) => { out += d; if (out.includes("READY")) resolve(); }));
  for (const host of ["a", "b"]) {
    const { pid } = c.nodes[host];
    process.kill(pid, "SIGKILL");
    await waitFor(() => !alive(pid), 5000, `agent ${host} to exit`);
  }
  proc.stdin.end("go\n");
  assert.equal(await exited, 0, out);
  const r = JSON.parse(out.split("\n").find((l) => l.startsWith("RESULT ")).slice(7));
  assert.equal(r.error, "NodeDiedError", JSON.stringify(r));
  assert.match(r.message, /helios status/);
});
