import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { remote, get, put, wait, GetTimeoutError } from "helios";
import { startCluster, waitFor } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

const sleep = remote(async (ms, v) => { await new Promise((r) => setTimeout(r, ms)); return v; });

test("put and get round-trip a small value", async () => {
  assert.deepEqual(await get(put({ a: [1, 2, 3] })), { a: [1, 2, 3] });
});

test("a 200 MB Float64Array comes back as an equal Float64Array", async () => {
  const a = new Float64Array(25_000_000);
  for (let i = 0; i < a.length; i += 1000) a[i] = i * 0.5;
  const back = await get(put(a));
  assert.ok(back instanceof Float64Array);
  assert.equal(back.length, a.length);
  assert.ok(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(a.buffer)));
});

test("a large value made by a task is read by the driver and by another task", async () => {
  const make = remote((n) => new Float64Array(n).fill(2));
  const total = remote((a) => a.reduce((s, x) => s + x, 0));
  const ref = make.remote(2_000_000);
  assert.equal((await get(ref)).length, 2_000_000);
  assert.equal(await get(total.remote(ref)), 4_000_000);
});

test("get of an array of refs returns the values in order", async () => {
  const refs = [sleep.remote(60, "slow"), sleep.remote(0, "fast"), put("put")];
  assert.deepEqual(await get(refs), ["slow", "fast", "put"]);
});

test("get with a timeout raises GetTimeoutError", async () => {
  await assert.rejects(get(sleep.remote(2000, 1), { timeout: 50 }), GetTimeoutError);
});

test("wait returns numReturns ready refs and the rest pending", async () => {
  const fast = sleep.remote(0, "a");
  const slow = sleep.remote(3000, "b");
  const { ready, pending } = await wait([slow, fast], { numReturns: 1 });
  assert.deepEqual(ready, [fast]);
  assert.deepEqual(pending, [slow]);
});

test("wait honours its timeout", async () => {
  const slow = sleep.remote(3000, "b");
  const t0 = Date.now();
  const { ready, pending } = await wait([slow], { numReturns: 1, timeout: 100 });
  assert.deepEqual(ready, []);
  assert.deepEqual(pending, [slow]);
  assert.ok(Date.now() - t0 < 2500);
});

test("get rejects something that is not a ref with a hint", async () => {
  await assert.rejects(get(Promise.resolve(1)), /refs are not promises/);
});

test("objects are freed once nothing refers to them: 100 × 50 MB puts stay bounded", async () => {
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
});
