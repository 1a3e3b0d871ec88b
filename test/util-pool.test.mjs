// helios/util Pool and Process: multiprocessing's shapes over Helios tasks.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, GetTimeoutError, TaskError, TaskCancelledError, IllegalStateError } from "helios";
import { Pool, PoolItemError, Process, Queue } from "helios/util";
import { countWords } from "../examples/lib/words.mjs";
import { startCluster } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

const square = (x) => x * x;
const failOnThree = (x) => { if (x === 3) throw new RangeError(`no threes (${x})`); return x; };
/** Runs on a worker: waits for an item on the queue (given as its plain state) and returns it. */
const takeFrom = async (state) => { const { Queue } = await import("helios/util"); return new Queue(state).get(); };

test("map returns the results in input order", async () => {
  const pool = new Pool({ processes: 4 });
  assert.deepEqual(await pool.map(square, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]);
});

test("the pool defaults to the cluster's CPU count", async () => {
  assert.equal(await new Pool().processes(), 2);
});

test("map with a chunksize keeps the order, and an empty input gives an empty list", async () => {
  const pool = new Pool({ processes: 2 });
  const xs = Array.from({ length: 25 }, (_, i) => i);
  assert.deepEqual(await pool.map(square, xs, { chunksize: 4 }), xs.map(square));
  assert.deepEqual(await pool.map(square, []), []);
});

test("a function exported by a module runs with that module's imports and helpers", async () => {
  const pool = new Pool({ processes: 2 });
  const counts = await pool.map(countWords, ["The cat and the hat", "a cat"]);
  assert.equal(counts[0].the, 2);
  assert.equal(counts[1].cat, 1);
});

test("an error in one item rejects map with a PoolItemError naming the item, the TaskError as cause", async () => {
  const pool = new Pool({ processes: 2 });
  for (const chunksize of [1, 2]) {
    const err = await pool.map(failOnThree, [0, 1, 2, 3, 4], { chunksize }).then(() => assert.fail("map resolved"), (e) => e);
    assert.ok(err instanceof PoolItemError, String(err));
    assert.equal(err.index, 3);
    assert.match(err.message, /failOnThree\(\) failed on item 3: RangeError: no threes \(3\)/);
    assert.ok(err.cause instanceof TaskError);
    assert.equal(err.cause.originalName, "RangeError");
  }
});

test("map rejects as soon as one item fails, while another item is still running", async () => {
  const pool = new Pool({ processes: 2 });
  const gate = new Queue();
  /** Item 0 fails at once; item 1 waits on the gate, which opens only after map has rejected. */
  const failFirst = async (x, gateState) => {
    if (x === 0) throw new RangeError("item zero");
    const { Queue } = await import("helios/util");
    return new Queue(gateState).get();
  };
  const remoteFailFirst = remote(failFirst);
  for (const fn of [failFirst, remoteFailFirst]) {
    const err = await pool.starmap(fn, [[0, gate], [1, gate]], { chunksize: 1 }).then(() => assert.fail("starmap resolved"), (e) => e);
    assert.ok(err instanceof PoolItemError, String(err));
    assert.equal(err.index, 0);
    await gate.put("open");   // now item 1 may finish
  }
  pool.close();
  await pool.join();
  await gate.shutdown();
});

test("a closure over a local of the test script is refused, naming the variable", async () => {
  const k = 3;
  await assert.rejects(new Pool({ processes: 1 }).map((x) => x * k, [1]), (e) => e instanceof TypeError && /'k'/.test(e.message));
});

test("a remote function works in a pool too", async () => {
  const cube = remote((x) => x ** 3);
  assert.deepEqual(await new Pool({ processes: 2 }).map(cube, [1, 2, 3]), [1, 8, 27]);
});

test("imap yields the results in input order with for await", async () => {
  const pool = new Pool({ processes: 3 });
  const seen = [];
  for await (const y of pool.imap(square, [5, 4, 3, 2, 1])) seen.push(y);
  assert.deepEqual(seen, [25, 16, 9, 4, 1]);
});

test("imapUnordered yields every result exactly once", async () => {
  const pool = new Pool({ processes: 3 });
  const seen = [];
  for await (const y of pool.imapUnordered(square, [1, 2, 3, 4, 5, 6], { chunksize: 2 })) seen.push(y);
  assert.deepEqual(seen.sort((a, b) => a - b), [1, 4, 9, 16, 25, 36]);
});

test("starmap and apply spread argument lists over the function's parameters", async () => {
  const pool = new Pool({ processes: 2 });
  const power = (a, b) => a ** b;
  assert.deepEqual(await pool.starmap(power, [[2, 3], [3, 2], [10, 0]]), [8, 9, 1]);
  assert.equal(await pool.apply(power, [2, 10]), 1024);
  await assert.rejects(pool.apply(failOnThree, [3]), (e) => e instanceof TaskError && e.originalName === "RangeError");
});

test("applyAsync returns an AsyncResult that times out, then reports ready and successful", async () => {
  const pool = new Pool({ processes: 2 });
  const q = new Queue();
  const r = pool.applyAsync(takeFrom, [q]);
  assert.equal(r.ready(), false);
  assert.throws(() => r.successful(), IllegalStateError);
  await assert.rejects(r.get({ timeout: 200 }), GetTimeoutError);
  await r.wait({ timeout: 50 });
  assert.equal(r.ready(), false);
  await q.put("released");
  assert.equal(await r.get(), "released");
  assert.equal(r.ready(), true);
  assert.equal(r.successful(), true);
  const bad = pool.applyAsync(failOnThree, [3]);
  await bad.wait();
  assert.equal(bad.successful(), false);
  await q.shutdown();
});

test("no more than `processes` items run at once", async () => {
  const pool = new Pool({ processes: 1 });
  const gate = new Queue();
  const events = new Queue();
  const step = async (gateState, eventState, i) => {
    const { Queue } = await import("helios/util");
    const events = new Queue(eventState);
    await events.put(`start ${i}`);
    await new Queue(gateState).get();
    await events.put(`end ${i}`);
    return i;
  };
  const done = pool.starmap(step, [0, 1, 2].map((i) => [gate, events, i]), { chunksize: 1 });
  const log = [];
  for (let i = 0; i < 3; i++) {
    log.push(await events.get());   // an item started; the next one must not start before it ends
    await gate.put("go");
    log.push(await events.get());
  }
  assert.deepEqual(log, ["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]);
  assert.deepEqual(await done, [0, 1, 2]);
  await Promise.all([gate.shutdown(), events.shutdown()]);
});

test("close() refuses new work and join() waits for what was submitted", async () => {
  const pool = new Pool({ processes: 2 });
  await assert.rejects(pool.join(), IllegalStateError);
  const results = [1, 2, 3].map((x) => pool.applyAsync(square, [x]));
  pool.close();
  assert.throws(() => pool.applyAsync(square, [4]), IllegalStateError);
  await pool.join();
  assert.deepEqual(results.map((r) => r.ready()), [true, true, true]);
  assert.deepEqual(await Promise.all(results.map((r) => r.get())), [1, 4, 9]);
});

test("terminate() cancels the running item and fails the queued ones", async () => {
  const pool = new Pool({ processes: 1 });
  const started = new Queue();
  const never = new Queue();
  const hang = async (startedState, neverState) => {
    const { Queue } = await import("helios/util");
    await new Queue(startedState).put("started");
    return new Queue(neverState).get();   // nobody ever puts here
  };
  const running = pool.applyAsync(hang, [started, never]);
  const queued = pool.mapAsync(square, [1, 2]);   // an AsyncResult: no rejection goes unhandled meanwhile
  assert.equal(await started.get(), "started");
  await pool.terminate();
  await assert.rejects(running.get(), TaskCancelledError);
  await assert.rejects(queued.get(), (e) => e instanceof PoolItemError && e.cause instanceof TaskCancelledError);
  await pool.join();
  await Promise.all([started.shutdown(), never.shutdown()]);
});

test("a Process runs its target, and join() waits for it", async () => {
  const p = new Process({ target: (a, b) => a + b, args: [20, 22] });
  assert.equal(p.isAlive(), false);
  p.start();
  assert.throws(() => p.start(), IllegalStateError);
  await p.join();
  assert.equal(p.exitCode, 0);
  assert.equal(p.result, 42);
  assert.equal(p.isAlive(), false);
});

test("a Process whose target throws ends with exitCode 1 and keeps the error", async () => {
  const p = new Process({ target: failOnThree, args: [3], name: "three" });
  p.start();
  await p.join();
  assert.equal(p.exitCode, 1);
  assert.ok(p.error instanceof TaskError);
});

test("a terminated Process ends with exitCode -15", async () => {
  const started = new Queue();
  const never = new Queue();
  const p = new Process({ target: async (startedState, neverState) => {
    const { Queue } = await import("helios/util");
    await new Queue(startedState).put("started");
    await new Queue(neverState).get();
  }, args: [started, never] });
  p.start();
  assert.equal(await started.get(), "started");
  assert.equal(p.isAlive(), true);
  await p.terminate();
  await p.join();
  assert.equal(p.exitCode, -15);
  await Promise.all([started.shutdown(), never.shutdown()]);
});
