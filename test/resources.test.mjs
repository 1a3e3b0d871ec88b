import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, TaskUnschedulableError, ActorDiedError } from "helios";
import { startCluster, waitFor } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster({ numCpus: 4, numGpus: 1, resources: { widget: 2 } }); });
after(() => cluster.stop());

const span = remote(async (ms) => { const s = Date.now(); await new Promise((r) => setTimeout(r, ms)); return [s, Date.now()]; });

function maxOverlap(spans) {
  const events = spans.flatMap(([s, e]) => [[s, 1], [e, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0, max = 0;
  for (const [, d] of events) { cur += d; max = Math.max(max, cur); }
  return max;
}

test("tasks needing a GPU wait for the node's one GPU", async () => {
  const gpuSpan = span.options({ numGpus: 1 });
  const spans = await get([gpuSpan.remote(150), gpuSpan.remote(150), gpuSpan.remote(150)]);
  assert.equal(maxOverlap(spans), 1);
});

test("custom resources are accounted: two widgets, never three tasks at once", async () => {
  const w = span.options({ resources: { widget: 1 } });
  const spans = await get(Array.from({ length: 6 }, () => w.remote(100)));
  assert.equal(maxOverlap(spans), 2);
});

test("numCpus is accounted: 2-CPU tasks on a 4-CPU node run two at a time", async () => {
  const big = span.options({ numCpus: 2 });
  const spans = await get(Array.from({ length: 4 }, () => big.remote(150)));
  assert.equal(maxOverlap(spans), 2);
});

test("free resources return to the total once tasks finish", async () => {
  await waitFor(async () => {
    const info = await cluster.agentInfo();
    return info.available.CPU === 4 && info.available.GPU === 1 && info.available.widget === 2;
  }, 5000, "resources to be released");
});

test("a task that no node can ever fit is reported instead of hanging", async () => {
  const huge = span.options({ numCpus: 64 });
  await assert.rejects(get(huge.remote(1)), (e) => e instanceof TaskUnschedulableError && /CPU: 64/.test(e.message));
  await assert.rejects(get(span.options({ resources: { unicorn: 1 } }).remote(1)), TaskUnschedulableError);
});

test("an actor that no node can fit is reported when called", async () => {
  const A = remote(class A { ping() { return 1; } });
  const a = A.options({ numGpus: 8 }).remote();
  await assert.rejects(get(a.ping.remote()), (e) => e instanceof ActorDiedError && e.cause?.name === "TaskUnschedulableError");
});
