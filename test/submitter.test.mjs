import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get } from "helios";
import { startCluster, waitFor } from "./helpers.mjs";
import { Deque } from "../dist/src/core/deque.js";

test("Deque keeps order through push, shift, unshift, remove and drain", () => {
  const q = new Deque();
  for (let i = 0; i < 5000; i++) q.push(i);
  for (let i = 0; i < 3000; i++) assert.equal(q.shift(), i);   // compacts on the way
  q.unshift(2999);
  assert.equal(q.length, 2001);
  assert.equal(q.remove(4000), true);
  assert.equal(q.remove(4000), false);
  const rest = q.drain();
  assert.equal(rest.length, 2000);
  assert.equal(rest[0], 2999);
  assert.equal(rest.includes(4000), false);
  assert.equal(q.shift(), undefined);
  assert.equal(q.length, 0);
});

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

test("leases that come and go on one worker connection leave no listeners behind", async () => {
  const f = remote((x) => x + 1);
  for (let i = 0; i < 30; i++) {
    assert.equal(await get(f.remote(i)), i + 1);
    // Once idle the lease goes back to the agent: the next task takes a new one on the same connection.
    await waitFor(async () => (await cluster.agentInfo()).workers.every((w) => !w.leaseId), 5000, "the lease to go back");
  }
  const conns = await Promise.all([...cluster.rt.core.peers.conns.values()]);
  assert.ok(conns.length > 0);
  for (const c of conns) assert.ok(c.listenerCount("close") <= 3, `${c.listenerCount("close")} close listeners on one connection`);
});

test("100k tasks in one get() all come back, in order", async () => {
  const f = remote((x) => x);
  const items = Array.from({ length: 100_000 }, (_, i) => i);
  const out = await get(items.map((x) => f.remote(x)));
  assert.equal(out.length, 100_000);
  assert.equal(out[99_999], 99_999);
});
