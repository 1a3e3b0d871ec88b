// helios/util ActorPool: Ray's ray.util.ActorPool over actor handles.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, kill, GetTimeoutError, IllegalStateError, TaskError } from "helios";
import { ActorPool, Queue } from "helios/util";
import { startCluster } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

const Worker = remote(class Worker {
  constructor(tag) { this.tag = tag; this.calls = 0; }
  double(x) { this.calls++; return { value: 2 * x, by: this.tag }; }
  fail(x) { throw new RangeError(`cannot take ${x}`); }
  /** Waits for an item on the queue whose state it is given (an event the test controls). */
  async take(state) { const { Queue } = await import("helios/util"); return new Queue(state).get(); }
});

const workers = (n) => Array.from({ length: n }, (_, i) => Worker.remote(`w${i}`));
const double = (a, v) => a.double.remote(v);

test("map yields the results in submission order", async () => {
  const actors = workers(2);
  const pool = new ActorPool(actors);
  const out = [];
  for await (const r of pool.map(double, [1, 2, 3, 4, 5, 6, 7])) out.push(r.value);
  assert.deepEqual(out, [2, 4, 6, 8, 10, 12, 14]);
  assert.equal(pool.hasNext(), false);
  await Promise.all(actors.map(kill));
});

test("mapUnordered yields every result once, using every actor", async () => {
  const actors = workers(3);
  const pool = new ActorPool(actors);
  const out = [];
  for await (const r of pool.mapUnordered(double, Array.from({ length: 12 }, (_, i) => i))) out.push(r);
  assert.deepEqual(out.map((r) => r.value).sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => 2 * i));
  assert.deepEqual([...new Set(out.map((r) => r.by))].sort(), ["w0", "w1", "w2"]);
  await Promise.all(actors.map(kill));
});

test("values beyond the idle actors wait for one, and getNext returns them in order", async () => {
  const actors = workers(2);
  const pool = new ActorPool(actors);
  assert.equal(pool.hasFree(), true);
  for (const v of [10, 20, 30]) pool.submit(double, v);
  assert.equal(pool.hasFree(), false);   // both actors busy, one value waiting
  assert.equal(pool.hasNext(), true);
  assert.equal((await pool.getNext()).value, 20);
  assert.equal((await pool.getNext()).value, 40);
  assert.equal((await pool.getNext()).value, 60);
  assert.equal(pool.hasNext(), false);
  assert.equal(pool.hasFree(), true);
  await assert.rejects(pool.getNext(), IllegalStateError);
  await Promise.all(actors.map(kill));
});

test("getNextUnordered returns whichever finishes first, and getNext may not follow it", async () => {
  const [slow, fast] = workers(2);
  const gate = new Queue();
  const pool = new ActorPool([slow, fast]);
  pool.submit((a) => a.take.remote(gate), null);   // the first idle actor is popped: `fast`, held by the gate
  pool.submit(double, 5);                          // `slow` answers at once
  assert.equal((await pool.getNextUnordered()).value, 10);
  await assert.rejects(pool.getNext(), IllegalStateError);
  await gate.put("opened");
  assert.equal(await pool.getNextUnordered(), "opened");
  await Promise.all([kill(slow), kill(fast), gate.shutdown()]);
});

test("getNext with a timeout throws GetTimeoutError and keeps the result for later", async () => {
  const actors = workers(1);
  const gate = new Queue();
  const pool = new ActorPool(actors);
  pool.submit((a, state) => a.take.remote(state), gate);
  await assert.rejects(pool.getNext({ timeout: 100 }), GetTimeoutError);
  await assert.rejects(pool.getNextUnordered({ timeout: 100 }), GetTimeoutError);
  assert.equal(pool.hasNext(), true);
  await gate.put(42);
  assert.equal(await pool.getNext({ timeout: 30_000 }), 42);
  await Promise.all([...actors.map(kill), gate.shutdown()]);
});

test("a failed call rejects getNext with its TaskError and the actor returns to the pool", async () => {
  const actors = workers(1);
  const pool = new ActorPool(actors);
  pool.submit((a, v) => a.fail.remote(v), 7);
  await assert.rejects(pool.getNext(), (e) => e instanceof TaskError && e.originalName === "RangeError" && /cannot take 7/.test(e.message));
  assert.equal(pool.hasFree(), true);
  pool.submit(double, 1);
  assert.equal((await pool.getNext()).value, 2);
  await Promise.all(actors.map(kill));
});

test("popIdle takes an idle actor out and push puts it back; an actor joins a pool once", async () => {
  const actors = workers(2);
  const pool = new ActorPool(actors);
  const a = pool.popIdle();
  assert.ok(a);
  assert.throws(() => pool.push(actors.find((x) => x.actorId !== a.actorId)), IllegalStateError);
  pool.push(a);
  assert.throws(() => pool.push(a), IllegalStateError);
  pool.submit(double, 1);
  pool.submit(double, 2);
  assert.equal(pool.popIdle(), undefined);   // none idle while both work
  const out = [];
  while (pool.hasNext()) out.push((await pool.getNextUnordered()).value);
  assert.deepEqual(out.sort(), [2, 4]);
  await Promise.all(actors.map(kill));
});

test("map after unfinished work drops the earlier results first", async () => {
  const actors = workers(2);
  const pool = new ActorPool(actors);
  pool.submit(double, 100);
  const out = [];
  for await (const r of pool.map(double, [1, 2])) out.push(r.value);
  assert.deepEqual(out, [2, 4]);
  await Promise.all(actors.map(kill));
});
