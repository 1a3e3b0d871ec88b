import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { startNetworkCluster } from "./cluster.mjs";
import { waitFor } from "./helpers.mjs";

let c;
before(async () => { c = await startNetworkCluster({ agents: { a: {}, b: {} }, healthTimeoutMs: 1500 }); });
after(() => c?.stop());

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

/** `helios status` as a user runs it, from the head's host. */
async function status() {
  const r = await c.net.exec("head", process.execPath, [path.join(root, "dist/src/cli.js"), "status", "--address", c.headAddress, "--token", c.token]);
  return r.stdout + r.stderr;
}

/** Start the longTask scenario; call `during` once its task and actor run on `host`; resolve its result. */
async function whileRunning(host, during, scenario = "longTask", ms = 60_000) {
  const proc = c.net.spawn("driver", process.execPath, [path.join(root, "test/fixtures/cluster-driver.mjs"), scenario,
    JSON.stringify({ on: c.nodes[host].nodeId, ms })],
    { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const done = new Promise((resolve) => proc.on("exit", resolve));
  await new Promise((resolve) => proc.stdout.on("data", (d) => { out += d; if (out.includes("RUNNING")) resolve(); }));
  const t0 = Date.now();
  await during();
  await done;
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line, out);
  const parsed = JSON.parse(line.slice(7));
  return typeof parsed === "object" ? { ...parsed, sinceFailure: Date.now() - t0 } : { result: parsed, sinceFailure: Date.now() - t0 };
}

test("status shows every node alive with its resources", async () => {
  const s = await status();
  assert.match(s, new RegExp(`${c.nodes.a.nodeId}.*ALIVE`));
  assert.match(s, new RegExp(`${c.nodes.b.nodeId}.*ALIVE`));
});

test("a killed agent is declared dead and its task and actor fail with NodeDiedError / ActorDiedError", async () => {
  const r = await whileRunning("b", async () => { process.kill(c.nodes.b.pid, "SIGKILL"); });
  assert.equal(r.task.error, "NodeDiedError", JSON.stringify(r));
  assert.equal(r.actor.error, "ActorDiedError", JSON.stringify(r));
  assert.ok(r.sinceFailure < 15_000, `took ${r.sinceFailure} ms`);
  const dead = new RegExp(`${c.nodes.b.nodeId}.*DEAD`);
  await waitFor(async () => dead.test(await status()), 5000, "status to show node b dead");
});

test("a restarted agent rejoins as a new node", async () => {
  const old = c.nodes.b.nodeId;
  const fresh = await c.startAgent("b");
  assert.notEqual(fresh.nodeId, old);
  const s = await status();
  assert.match(s, new RegExp(`${fresh.nodeId}.*ALIVE`));
  assert.match(s, new RegExp(`${old}.*DEAD`));
  const { output, ...r } = await c.driver("tasks", { tasks: [{ options: { schedulingStrategy: { nodeId: fresh.nodeId } } }] });
  assert.equal(r[0], fresh.nodeId);
});

test("a task whose node dies under it is retried on another node", async () => {
  const r = await whileRunning("b", async () => { process.kill(c.nodes.b.pid, "SIGKILL"); }, "retried", 3000);
  assert.equal(r.result, c.nodes.a.nodeId, JSON.stringify(r));
});

test("an agent whose link is cut is declared dead within the health-check window", async () => {
  const r = await whileRunning("a", async () => { await c.net.cut("a"); });
  assert.equal(r.task.error, "NodeDiedError", JSON.stringify(r));
  assert.equal(r.actor.error, "ActorDiedError", JSON.stringify(r));
  assert.ok(r.sinceFailure < 15_000, `took ${r.sinceFailure} ms`);
  const dead = new RegExp(`${c.nodes.a.nodeId}.*DEAD`);
  await waitFor(async () => dead.test(await status()), 5000, "status to show node a dead");
  await c.net.restore("a");
});
