// Lost objects (issue: fault tolerance, objects): a task's stored return lost with its node is
// made again by re-running the task, recursively through its inputs, counted exactly; a put()
// whose only copy is gone raises ObjectLostError.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startNetworkCluster } from "./cluster.mjs";
import { waitFor, scratchDir } from "./helpers.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
let c;
before(async () => { c = await startNetworkCluster({ agents: { a: {}, b: {} }, healthTimeoutMs: 1500 }); });
after(() => c?.stop());

/** A driver scenario that prints READY and waits; `act` runs then, and the driver goes on. */
async function withDriver(scenario, args, host, act) {
  const proc = c.net.spawn(host, process.execPath, [path.join(root, "test/fixtures/cluster-driver.mjs"), scenario, JSON.stringify(args)],
    { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  await new Promise((resolve, reject) => {
    proc.stdout.on("data", (d) => { out += d; if (out.includes("READY")) resolve(); });
    exited.then(() => reject(new Error(`driver exited before READY:\n${out}`)));
  });
  await act();
  proc.stdin.end("go\n");
  const code = await exited;
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line && code === 0, `driver exited ${code}:\n${out}`);
  return JSON.parse(line.slice(7));
}

async function nodeState(nodeId) {
  const r = await c.net.exec("head", process.execPath, [path.join(root, "dist/src/cli.js"), "status", "--address", c.headAddress, "--token", c.token]);
  return new RegExp(`${nodeId}.*DEAD`).test(r.stdout) ? "DEAD" : "ALIVE";
}

async function killAgent(host) {
  const { nodeId, pid } = c.nodes[host];
  process.kill(pid, "SIGKILL");
  await waitFor(async () => (await nodeState(nodeId)) === "DEAD", 10_000, `node ${host} to be declared dead`);
}

const lines = (file) => fs.readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(" "));

test("objects lost with their node are rebuilt from lineage: the task and, recursively, its input run again once each", async () => {
  const log = path.join(scratchDir("helios-lineage-"), "runs.log");
  const b = c.nodes.b.nodeId;
  const r = await withDriver("lineage", { on: b, log, bytes: 4 * 1024 * 1024 }, "driver", () => killAgent("b"));
  assert.deepEqual(r.y, { length: 512 * 1024, first: 3, last: 3 }, JSON.stringify(r));
  assert.equal(r.x, 2, JSON.stringify(r));
  assert.deepEqual(r.small, [2, 3, 4]);
  const runs = lines(log);
  // First runs on B, in order; then y's re-run finds x lost too, so x runs again before y — on A.
  assert.deepEqual(runs.map(([name]) => name).slice(0, 3).sort(), ["small", "x", "y"]);
  assert.deepEqual(runs.slice(3), [["x", c.nodes.a.nodeId], ["y", c.nodes.a.nodeId]], fs.readFileSync(log, "utf8"));
  c.nodes.b = await c.startAgent("b");
});

test("lineage keeps recipes, not values: a chain's freed intermediates are made again, oldest first, when its last object is lost", async () => {
  const log = path.join(scratchDir("helios-lineage-"), "runs.log");
  const { nodeId, storeDir } = c.nodes.b;
  const n = 12;
  const r = await withDriver("chain", { on: nodeId, log, bytes: 1024 * 1024, n, store: storeDir }, "driver", async () => {
    // Only the last value of the chain is still stored on B: keeping the recipes kept no values.
    const objects = fs.readdirSync(storeDir).filter((f) => !f.startsWith("."));
    assert.equal(objects.length, 1, `objects in B's store: ${objects}`);
    await killAgent("b");
  });
  assert.deepEqual(r, { length: 128 * 1024, first: n, last: n });
  const names = lines(log).map(([name]) => name);
  const chain = Array.from({ length: n + 1 }, (_, i) => `c${i}`);
  assert.deepEqual(names, [...chain, ...chain], "every link ran once more, in order");
  assert.ok(lines(log).slice(n + 1).every(([, node]) => node === c.nodes.a.nodeId));
  c.nodes.b = await c.startAgent("b");
});

test("a lost object whose task has no retries left raises ObjectLostError, and so does what depends on it", async () => {
  const log = path.join(scratchDir("helios-lineage-"), "runs.log");
  const r = await withDriver("lineage", { on: c.nodes.b.nodeId, log, bytes: 4 * 1024 * 1024, maxRetries: 0 }, "driver", () => killAgent("b"));
  assert.equal(r.y.error, "ObjectLostError", JSON.stringify(r));
  assert.match(r.y.message, /maxRetries/);
  assert.equal(r.x.error, "ObjectLostError", JSON.stringify(r));
  assert.deepEqual(r.small, [2, 3, 4]);
  assert.equal(lines(log).length, 3, "nothing ran again");
  c.nodes.b = await c.startAgent("b");
});

test("a put() whose only copy was in a store that is gone raises ObjectLostError", async () => {
  const r = await withDriver("putLost", { bytes: 4 * 1024 * 1024 }, "b", async () => {
    await killAgent("b");
    c.nodes.b = await c.startAgent("b");   // the new agent clears the dead one's store, as a rebooted machine would be
  });
  assert.equal(r.len, 512 * 1024);
  assert.equal(r.get.error, "ObjectLostError", JSON.stringify(r));
  assert.match(r.get.message, /put\(\)/);
});
