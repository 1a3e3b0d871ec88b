import { before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, put, kill } from "helios";
import { runtime } from "../dist/src/api.js";
import { startCluster, clusterTest, latch, pendingTask, ownerState, waitFor } from "./helpers.mjs";
import { busyAfter } from "./fixtures/latch.mjs";
import { parent, fanOut, Spawner } from "./fixtures/math.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

const echo = remote((x) => x);
const add = remote((a, b) => a + b);

clusterTest("a sync remote function returns its value through get", async () => {
  assert.equal(await get(add.remote(2, 3)), 5);
});

clusterTest("an async remote function is awaited on the worker", async () => {
  // The sleep is the workload: a body that awaits before it returns.
  const slowDouble = remote(async (x) => { await new Promise((r) => setTimeout(r, 10)); return 2 * x; });
  assert.equal(await get(slowDouble.remote(21)), 42);
});

clusterTest("arguments of every supported type round-trip", async () => {
  const values = [
    0, -1.5, 2 ** 53 - 1, NaN, "héllo ✓", "", true, null, undefined, 12345678901234567890n,
    new Date(1700000000000), new Map([["a", 1], [2, { b: [3] }]]), new Set([1, "two"]),
    [1, [2, [3]]], { nested: { deep: { list: [1, 2] } } },
    new Uint8Array([1, 2, 3]), new Int32Array([-1, 7]), new Float64Array([1.5, 2.5]), new BigInt64Array([5n]),
    Buffer.from("bytes"), new Float32Array(10_000).fill(0.5), new Uint8Array(200_000).fill(7),
  ];
  for (const v of values) {
    const back = await get(echo.remote(v));
    assert.deepEqual(back, v);
    if (v !== null && typeof v === "object") assert.equal(back.constructor, v.constructor);
  }
});

clusterTest("an Error argument arrives as an Error with its name and message", async () => {
  const e = new RangeError("out of range");
  const back = await get(echo.remote(e));
  assert.ok(back instanceof Error);
  assert.equal(back.name, "RangeError");
  assert.equal(back.message, "out of range");
});

clusterTest("a top-level ref argument is resolved to its value before the call", async () => {
  const isNumber = remote((x) => typeof x === "number" ? x : "not resolved");
  assert.equal(await get(isNumber.remote(put(7))), 7);
  assert.equal(await get(add.remote(add.remote(1, 2), put(10))), 13);
});

clusterTest("a ref nested inside an argument arrives as a ref", async () => {
  const inner = remote(async ({ ref }) => {
    const { get, ObjectRef } = await import("helios");
    return [ref instanceof ObjectRef, await get(ref)];
  });
  assert.deepEqual(await get(inner.remote({ ref: put("nested") })), [true, "nested"]);
});

clusterTest("numReturns > 1 gives one ref per returned element", async () => {
  const split = remote((s) => [s.length, s.toUpperCase(), s]);
  const refs = split.options({ numReturns: 3 }).remote("abc");
  assert.equal(refs.length, 3);
  assert.deepEqual(await get(refs), [3, "ABC", "abc"]);
});

clusterTest("options() keeps the function and sets a name used in errors", async () => {
  const named = remote(() => { throw new Error("x"); }).options({ name: "custom-name", numCpus: 1 });
  await assert.rejects(get(named.remote()), (e) => e.taskName === "custom-name");
});

clusterTest("refs pass through promises untouched because they are not thenable", async () => {
  const ref = echo.remote(1);
  assert.equal(ref.then, undefined);
  const same = await Promise.resolve(ref);
  assert.equal(same, ref);
  const all = await Promise.all([ref, echo.remote(2)]);
  assert.deepEqual(await get(all), [1, 2]);
});

clusterTest("a task can submit tasks and wait on them", async () => {
  assert.equal(await get(parent.remote(4)), 50);
});

clusterTest("an actor method can submit tasks and wait on them", async () => {
  const s = Spawner.remote();
  assert.equal(await get(s.viaTask.remote(1)), 2);
  await kill(s);   // the actor is this test's: it does not outlive it
});

clusterTest("tasks that block in get on nested tasks do not deadlock a full pool", async () => {
  // 2 CPUs: four parents block at once; each blocked worker lends its CPU to the children.
  const results = await get([fanOut.remote(3), fanOut.remote(3), fanOut.remote(2), fanOut.remote(2)], { timeout: 60_000 });
  assert.deepEqual(results, [[10, 20, 30], [10, 20, 30], [10, 20], [10, 20]]);
}, { deadlineMs: 90_000 });

clusterTest("many tasks submitted at once all complete", async () => {
  const square = remote((x) => x * x);
  const refs = Array.from({ length: 500 }, (_, i) => square.remote(i));
  const out = await get(refs);
  assert.equal(out.reduce((a, b) => a + b, 0), Array.from({ length: 500 }, (_, i) => i * i).reduce((a, b) => a + b, 0));
});

clusterTest("pipelined tasks that block on work queued behind them do not deadlock", async () => {
  const quick = remote((x) => x);
  await get(Array.from({ length: 300 }, (_, i) => quick.remote(i)));   // short tasks: the owner now pipelines
  const slow = remote(async (ms) => { await new Promise((r) => setTimeout(r, ms)); return ms; });
  const waitOn = remote(async ({ ref }) => { const { get } = await import("helios"); return (await get(ref)) + 1; });
  const waiters = [];
  for (let i = 0; i < 20; i++) {
    const dep = quick.remote(slow.remote(50));     // queued only once `slow` (slow on purpose) finishes: behind the waiter
    waiters.push(waitOn.remote({ ref: dep }));
  }
  assert.deepEqual(await get(waiters, { timeout: 30_000 }), Array(20).fill(51));
}, { deadlineMs: 60_000 });

clusterTest("cancelling a task that waits in a worker's pipeline drops it there and spares the others", async () => {
  const { cancel, TaskCancelledError } = await import("helios");
  const busy = remote((ms) => { const end = performance.now() + ms; while (performance.now() < end); return ms; });
  // The owner pipelines while a task's measured round trip is short (under 2 ms); a loaded machine
  // pushes it past that. Start this queue from a short one, so the test always meets a pipeline.
  await get(busy.remote(0));
  for (const q of runtime().submitter.queues.values()) q.rtt = 0;
  // None ends before the release: refs[40] waits behind the running one on its worker.
  const release = latch("release");
  const refs = Array.from({ length: 200 }, () => busyAfter.remote(release.path, 1));
  await waitFor(() => { const t = pendingTask(refs[40]); return t?.state === "pushed" && !t.running; }, 20_000, "refs[40] to wait in a worker's pipeline");
  await cancel(refs[40]);
  release.open();
  const results = await Promise.allSettled(refs.map((r) => get(r)));
  assert.ok(results[40].status === "rejected" && results[40].reason instanceof TaskCancelledError);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 199);
});
