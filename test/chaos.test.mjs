// Fault tolerance proved by exact counts, as Ray's chaos tests do (test/chaos/run.mjs has the
// workload, the killer and the checks; `npm run chaos -- --minutes N` repeats the round as a soak).
// Needs root for the network namespaces: without it the tests fail, they do not skip.
import { test, before, after } from "node:test";
import { scratchDir } from "./helpers.mjs";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { startChaosCluster, runRound, describe, leftBehind, probe } from "./chaos/run.mjs";
import { checkLedger, readLedger } from "./chaos/work.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
let c;
before(async () => { c = await startChaosCluster(); });
after(async () => { await c?.stop(); });

test("a 5-second partition of one agent causes no failed call: its tasks and actor calls in flight complete correctly", async () => {
  const host = "b";
  const node = c.nodes[host].nodeId;
  const dir = scratchDir("helios-partition-");
  const proc = c.net.spawn("driver", process.execPath, [path.join(here, "chaos/partition-driver.mjs"), JSON.stringify({ on: node, dir })],
    { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => { out += d; });
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  const lines = createInterface({ input: proc.stdout });
  const ready = new Promise((resolve) => lines.on("line", (l) => { out += l + "\n"; if (l === "READY") resolve(true); }));
  assert.ok(await Promise.race([ready, exited.then(() => false)]), `the driver exited before its work ran:\n${out}`);
  await c.net.cut(host);
  await new Promise((r) => setTimeout(r, 5000));   // the partition's length is the scenario
  await c.net.restore(host);
  proc.stdin.end("restored\n");
  assert.equal(await exited, 0, out);
  const { outcomes } = JSON.parse(out.split("\n").find((l) => l.startsWith("RESULT ")).slice(7));

  const failed = outcomes.filter((o) => o.error || o.got !== o.want);
  assert.deepEqual(failed, [], `calls that failed or returned the wrong value:\n${out}`);
  // The work did cross the partition: some of it was sent before the cut (before READY) and answered after the link was back.
  for (const kind of ["task", "call"]) {
    assert.ok(outcomes.some((o) => o.kind === kind && o.beforeCut && o.afterRestore), `no ${kind} was in flight across the cut`);
  }
  const calls = outcomes.filter((o) => o.kind === "call").length;
  const ledger = readLedger(path.join(dir, "p.log"));
  assert.deepEqual(checkLedger(ledger, calls), []);
  assert.equal(ledger.length, calls, "every call applied exactly once (nothing was replayed)");
  // Not declared dead: the same node is alive.
  const { nodes } = await probe(c);
  assert.equal(nodes.find((n) => n.nodeId === node)?.state, "ALIVE");
  fs.rmSync(dir, { recursive: true, force: true });
});

test("chaos: 2,000 nested tasks and 20 actors while workers, an agent and a link fail: every result and ledger exact, CPU and processes back", async () => {
  const round = await runRound(c);
  assert.deepEqual(round.failures, [], describe(round));
});

test("no head, agent or worker process is left once the cluster is torn down", async () => {
  await c.stop();
  assert.deepEqual(leftBehind(c), []);
  c = undefined;
});
