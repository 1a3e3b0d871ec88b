// helios/util Queue: a FIFO actor used from the driver, from tasks and from actors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, ActorDiedError } from "helios";
import { Queue, Full, Empty } from "helios/util";
import { startCluster } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

test("items come out in the order they went in", async () => {
  const q = new Queue();
  assert.equal(await q.empty(), true);
  for (const x of [1, "two", { three: 3 }, [4]]) await q.put(x);
  assert.equal(await q.size(), 4);
  assert.equal(await q.full(), false);
  assert.deepEqual([await q.get(), await q.get(), await q.get(), await q.get()], [1, "two", { three: 3 }, [4]]);
  assert.equal(await q.empty(), true);
  await q.shutdown();
});

test("putNowait throws Full on a full queue and getNowait throws Empty on an empty one", async () => {
  const q = new Queue({ maxsize: 2 });
  await q.putNowait("a");
  await q.put("b", { block: false });
  assert.equal(await q.full(), true);
  await assert.rejects(q.putNowait("c"), Full);
  await assert.rejects(q.putNowaitBatch(["c"]), Full);
  assert.deepEqual(await q.getNowaitBatch(2), ["a", "b"]);
  await assert.rejects(q.getNowait(), Empty);
  await assert.rejects(q.get({ block: false }), Empty);
  await assert.rejects(q.getNowaitBatch(1), Empty);
  await q.putNowaitBatch(["x", "y"]);
  assert.equal(await q.qsize(), 2);
  await q.shutdown();
});

test("a get with a timeout throws Empty when nothing arrives, a put with a timeout throws Full", async () => {
  const q = new Queue({ maxsize: 1 });
  await assert.rejects(q.get({ timeout: 100 }), (e) => e instanceof Empty && /stayed empty for 100 ms/.test(e.message));
  await q.put(1);
  await assert.rejects(q.put(2, { timeout: 100 }), (e) => e instanceof Full && /stayed full/.test(e.message));
  assert.equal(await q.get(), 1);   // the timed-out put left nothing behind
  assert.equal(await q.size(), 0);
  assert.throws(() => new Queue({ maxsize: -1 }), RangeError);
  await assert.rejects(q.get({ timeout: -5 }), RangeError);
  await q.shutdown();
});

test("a put on a full queue waits until a get makes room (back-pressure)", async () => {
  const q = new Queue({ maxsize: 2 });
  await q.put(1);
  await q.put(2);
  let putDone = false;
  const blocked = q.put(3).then(() => { putDone = true; });
  assert.equal(await q.size(), 2);   // served after the put arrived: the put is parked, not lost
  assert.equal(putDone, false);
  assert.equal(await q.get(), 1);
  await blocked;
  assert.deepEqual([await q.get(), await q.get()], [2, 3]);
  await q.shutdown();
});

test("a blocked get does not block puts, and is served by the next put", async () => {
  const q = new Queue();
  const waiting = [q.get(), q.get()];
  assert.equal(await q.size(), 0);
  await q.put("first");
  await q.put("second");
  assert.deepEqual(await Promise.all(waiting), ["first", "second"]);
  await q.shutdown();
});

test("a queue is a plain object holding its actor, and rebuilds from that state", async () => {
  const q = new Queue({ maxsize: 3 });
  assert.deepEqual(Object.keys(q), ["actor", "maxsize"]);
  assert.ok(q instanceof Queue);
  assert.ok(!({} instanceof Queue));
  const again = new Queue({ actor: q.actor, maxsize: q.maxsize });
  await again.put("shared");
  assert.equal(await q.get(), "shared");
  await q.shutdown();
});

test("four consumer tasks drain ten jobs from a queue (the thread-and-queue worker pattern)", async () => {
  const jobs = new Queue();
  const results = new Queue();
  const consumer = remote(async (jobState, resultState, name) => {
    const { Queue } = await import("helios/util");
    const jobs = new Queue(jobState);
    const results = new Queue(resultState);
    let handled = 0;
    for (;;) {
      const job = await jobs.get();
      if (job === null) return handled;   // the sentinel: no more work
      await results.put({ job, square: job * job, by: name });
      handled++;
      await jobs.taskDone();
    }
  });
  const workers = [0, 1, 2, 3].map((i) => consumer.remote(jobs, results, `worker-${i}`));
  for (let job = 1; job <= 10; job++) await jobs.put(job);
  await jobs.join();   // every job was taken and marked done
  for (let i = 0; i < 4; i++) await jobs.put(null);
  const handled = await get(workers);
  assert.equal(handled.reduce((a, b) => a + b, 0), 10);
  const done = await results.getNowaitBatch(10);
  assert.deepEqual(done.map((r) => r.job).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(done.every((r) => r.square === r.job * r.job && /^worker-[0-3]$/.test(r.by)));
  await Promise.all([jobs.shutdown(), results.shutdown()]);
});

test("actors put into and take from a queue passed to them", async () => {
  const Relay = remote(class Relay {
    constructor(state) { this.state = state; }
    async queue() { const { Queue } = await import("helios/util"); return new Queue(this.state); }
    async produce(n) { const q = await this.queue(); for (let i = 0; i < n; i++) await q.put(`item ${i}`); return n; }
    async consume(n) { const q = await this.queue(); const out = []; for (let i = 0; i < n; i++) out.push(await q.get()); return out; }
  });
  const q = new Queue({ maxsize: 2 });
  const consumer = Relay.remote(q);
  const producer = Relay.remote(q);
  const taken = consumer.consume.remote(5);   // blocks on the empty queue until the producer runs
  assert.equal(await get(producer.produce.remote(5)), 5);   // 5 items through a queue of 2: back-pressure
  assert.deepEqual(await get(taken), ["item 0", "item 1", "item 2", "item 3", "item 4"]);
  await q.put("from the driver");
  assert.deepEqual(await get(consumer.consume.remote(1)), ["from the driver"]);
  await q.shutdown();
});

test("taskDone() more often than items were put is an error", async () => {
  const q = new Queue();
  await q.put(1);
  await q.get();
  await q.taskDone();
  await assert.rejects(q.taskDone(), RangeError);
  await q.join();
  await q.shutdown();
});

test("after shutdown() the queue's calls fail with ActorDiedError", async () => {
  const q = new Queue();
  await q.put(1);
  await q.shutdown();
  await assert.rejects(q.get(), ActorDiedError);
});
