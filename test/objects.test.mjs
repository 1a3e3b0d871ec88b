import { before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { remote, get, put, wait, GetTimeoutError, InvalidArgumentError } from "helios";
import { startCluster, clusterTest, latch, waitFor } from "./helpers.mjs";
import { held } from "./fixtures/latch.mjs";
import { collectGarbage } from "../dist/src/core/gc.js";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

const sleep = remote(async (ms, v) => { await new Promise((r) => setTimeout(r, ms)); return v; });

clusterTest("put and get round-trip a small value", async () => {
  assert.deepEqual(await get(put({ a: [1, 2, 3] })), { a: [1, 2, 3] });
});

clusterTest("a 200 MB Float64Array comes back as an equal Float64Array", async () => {
  const a = new Float64Array(25_000_000);
  for (let i = 0; i < a.length; i += 1000) a[i] = i * 0.5;
  const back = await get(put(a));
  assert.ok(back instanceof Float64Array);
  assert.equal(back.length, a.length);
  assert.ok(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(a.buffer)));
});

clusterTest("a large value made by a task is read by the driver and by another task", async () => {
  const make = remote((n) => new Float64Array(n).fill(2));
  const total = remote((a) => a.reduce((s, x) => s + x, 0));
  const ref = make.remote(2_000_000);
  assert.equal((await get(ref)).length, 2_000_000);
  assert.equal(await get(total.remote(ref)), 4_000_000);
});

clusterTest("get of an array of refs returns the values in order", async () => {
  const refs = [sleep.remote(60, "slow"), sleep.remote(0, "fast"), put("put")];
  assert.deepEqual(await get(refs), ["slow", "fast", "put"]);
});

// A task held until the test releases it never ends within a get() or wait() that times out.
clusterTest("get with a timeout raises GetTimeoutError", async () => {
  const release = latch("release");
  const slow = held.remote(null, release.path, 1);
  await assert.rejects(get(slow, { timeout: 50 }), GetTimeoutError);
  release.open();
  assert.equal(await get(slow), 1);
});

clusterTest("wait returns numReturns ready refs and the rest pending", async () => {
  const release = latch("release");
  const fast = sleep.remote(0, "a");
  const slow = held.remote(null, release.path, "b");
  const { ready, pending } = await wait([slow, fast], { numReturns: 1 });
  assert.deepEqual(ready, [fast]);
  assert.deepEqual(pending, [slow]);
  release.open();
  assert.equal(await get(slow), "b");
});

clusterTest("wait honours its timeout", async () => {
  const release = latch("release");
  const slow = held.remote(null, release.path, "b");
  const { ready, pending } = await wait([slow], { numReturns: 1, timeout: 100 });   // returns although slow never ends by itself
  assert.deepEqual(ready, []);
  assert.deepEqual(pending, [slow]);
  release.open();
  assert.equal(await get(slow), "b");
});

clusterTest("wait's edge cases as in Ray: an empty list, a value that is not a ref, a ref twice", async () => {
  assert.deepEqual(await wait([]), { ready: [], pending: [] });
  assert.deepEqual(await wait([], { numReturns: 0 }), { ready: [], pending: [] });
  await assert.rejects(wait([], { numReturns: 1 }), RangeError);
  const x = put(1);
  await assert.rejects(wait([x, 1]), (e) => e instanceof TypeError && /item 1 is a number/.test(e.message) && /Tip: /.test(e.message));
  await assert.rejects(wait([x, x]), (e) => e instanceof InvalidArgumentError && /item 1 is .* again/.test(e.message));
  assert.deepEqual(await wait([x]), { ready: [x], pending: [] });
});

clusterTest("get rejects something that is not a ref with a hint", async () => {
  await assert.rejects(get(Promise.resolve(1)), /refs are not promises/);
});

clusterTest("objects are freed once nothing refers to them: 100 × 50 MB puts stay bounded", async () => {
  const dir = cluster.rt.core.store.dir;
  const used = () => fs.readdirSync(dir).reduce((s, f) => { try { return s + fs.statSync(path.join(dir, f)).size; } catch { return s; } }, 0);
  let peak = 0;
  for (let i = 0; i < 100; i++) {
    const ref = put(new Float64Array(50 * 1024 * 1024 / 8).fill(i));
    if (i % 10 === 0) assert.equal((await get(ref))[1], i);
    peak = Math.max(peak, used());
    if (i % 5 === 0) { globalThis.gc?.(); await new Promise((r) => setImmediate(r)); }
  }
  assert.ok(peak < 2.5 * 1024 ** 3, `store peaked at ${(peak / 1024 ** 3).toFixed(2)} GiB for 5 GiB put`);
  global.gc?.();
  await waitFor(() => { global.gc?.(); return used() < 600 * 1024 * 1024; }, 10_000, "the store to drain");
}, { deadlineMs: 120_000 });   // 3–5 GB through the store on a busy machine

clusterTest("a driver's large puts held in its memory stay bounded too, and their buffers are reused", async () => {
  const core = cluster.rt.core;
  let peak = 0;
  for (let i = 0; i < 60; i++) {
    put(new Float64Array(50 * 1024 * 1024 / 8).fill(i));
    peak = Math.max(peak, core.memoryStats().heldBytes);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(peak < 1.5 * 1024 ** 3, `held puts peaked at ${(peak / 1024 ** 3).toFixed(2)} GiB for 3 GiB put`);
  await waitFor(() => { collectGarbage(); return core.memoryStats().heldObjects === 0; }, 10_000, "held puts to be freed");
  assert.ok(core.memoryStats().pooledBytes >= 50 * 1024 * 1024, "freed buffers are kept for the next puts");
}, { deadlineMs: 120_000 });   // 3–5 GB through the store on a busy machine

clusterTest("a large put is a snapshot held by its owner, written to the node store when a task needs it", async () => {
  const store = cluster.rt.core.store.dir;
  const a = new Float64Array(1_000_000).fill(1);
  const ref = put(a);
  a.fill(7);   // changing the source after put does not change the object
  assert.equal(fs.existsSync(path.join(store, ref.id)), false, "not in the store before it leaves the driver");
  const got = await get(ref);
  assert.equal(got[0], 1);
  got[0] = 99;   // get returns a copy: the object is unchanged
  assert.equal((await get(ref))[0], 1);
  const sum = remote((x) => x.reduce((s, v) => s + v, 0));
  assert.equal(await get(sum.remote(ref)), 1_000_000);
  assert.ok(fs.existsSync(path.join(store, ref.id)), "in the store once a task took it");
  assert.equal((await get(ref))[5], 1);
});

clusterTest("a ref to a held put nested in a value is readable by a task", async () => {
  const ref = put(new Uint8Array(500_000).fill(3));
  const first = remote(async (box) => { const { get } = await import("helios"); return (await get(box.inner))[499_999]; });
  assert.equal(await get(first.remote({ inner: ref })), 3);
});

clusterTest("freed store files are kept as segments and reused by the next large value", async () => {
  const store = cluster.rt.core.store.dir;
  const pool = path.join(store, ".pool");
  const segments = () => { try { return fs.readdirSync(pool).map((n) => fs.statSync(path.join(pool, n)).ino); } catch { return []; } };
  const make = remote((n, v) => new Float64Array(n).fill(v));
  let ref = make.remote(1_000_000, 1);
  assert.equal((await get(ref))[0], 1);
  const freed = fs.statSync(path.join(store, ref.id)).ino;
  ref = undefined;
  await waitFor(() => { collectGarbage(); return segments().includes(freed); }, 10_000, "the freed file to become a segment");
  const pooled = new Set(segments());
  const again = make.remote(1_000_000, 2);
  const v = await get(again);
  assert.equal(v[999_999], 2);
  // The new value's file is one of the pooled segments (same inode), not a fresh file.
  assert.ok(pooled.has(fs.statSync(path.join(store, again.id)).ino), "the next value of that size took a segment");
});
