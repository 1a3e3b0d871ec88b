import { before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, kill, getActor, ActorDiedError, TaskError } from "helios";
import { startCluster, clusterTest } from "./helpers.mjs";
import { Counter, Recorder, Forwarder, bumpVia } from "./fixtures/actors.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

clusterTest("an actor keeps its state across calls", async () => {
  const c = Counter.remote();
  await get(c.incr.remote(2));
  await get(c.incr.remote(3));
  assert.equal(await get(c.read.remote()), 5);
  await kill(c);
});

clusterTest("calls from one caller run in submission order", async () => {
  const c = Counter.remote();
  const refs = Array.from({ length: 200 }, () => c.incr.remote(1));
  assert.deepEqual(await get(refs), Array.from({ length: 200 }, (_, i) => i + 1));
  await kill(c);
});

// Recorder's steps sleep as their workload: a long step and a short one show the order they ran in.
clusterTest("async methods run one at a time by default", async () => {
  const r = Recorder.remote();
  await get([r.step.remote("a", 50), r.step.remote("b", 0)]);
  assert.deepEqual(await get(r.log.remote()), ["start a", "end a", "start b", "end b"]);
  await kill(r);
});

clusterTest("maxConcurrency > 1 lets async methods interleave", async () => {
  const r = Recorder.options({ maxConcurrency: 2 }).remote();
  await get([r.step.remote("a", 100), r.step.remote("b", 0)]);
  assert.deepEqual(await get(r.log.remote()), ["start a", "start b", "end b", "end a"]);
  await kill(r);
});

clusterTest("an inline actor class in the test script works", async () => {
  const Acc = remote(class Acc { items = []; add(x) { this.items.push(x); return this.items.length; } all() { return this.items; } });
  const a = Acc.remote();
  a.add.remote("x"); a.add.remote("y");
  assert.deepEqual(await get(a.all.remote()), ["x", "y"]);
  await kill(a);
});

clusterTest("constructor arguments reach the actor", async () => {
  const Box = remote(class Box { constructor(v) { this.v = v; } get() { return this.v; } });
  const box = Box.remote({ k: [1] });
  assert.deepEqual(await get(box.get.remote()), { k: [1] });
  await kill(box);
});

clusterTest("a handle passed into a task works there", async () => {
  const c = Counter.remote();
  assert.equal(await get(bumpVia.remote(c, 7)), 7);
  assert.equal(await get(c.read.remote()), 7);
  await kill(c);
});

clusterTest("a handle passed into another actor works there", async () => {
  const c = Counter.remote();
  const f = Forwarder.remote(c);
  assert.equal(await get(f.bump.remote(4)), 4);
  assert.equal(await get(c.read.remote()), 4);
  await kill(f);
  await kill(c);
});

clusterTest("an exception in a method raises TaskError at the caller and the actor lives on", async () => {
  const c = Counter.remote();
  await get(c.incr.remote(1));
  await assert.rejects(get(c.fail.remote()), (e) => e instanceof TaskError && e.originalName === "RangeError" && /counter exploded/.test(e.message));
  assert.equal(await get(c.incr.remote(1)), 2);
  await kill(c);
});

clusterTest("named actors are found with getActor in their namespace", async () => {
  const c = Counter.options({ name: "tally", namespace: "app" }).remote();
  await get(c.incr.remote(5));
  const t = await getActor("tally", { namespace: "app" });
  assert.equal(await get(t.incr.remote(1)), 6);
  await assert.rejects(getActor("tally", { namespace: "other" }), /no actor named 'tally'/);
  await assert.rejects(getActor("tally"), /no actor named 'tally'/);
  await kill(c);
});

clusterTest("a second actor with a taken name is refused unless getIfExists", async () => {
  const a = Counter.options({ name: "unique", namespace: "app" }).remote();
  await get(a.incr.remote(3));
  const dup = Counter.options({ name: "unique", namespace: "app" }).remote();
  await assert.rejects(get(dup.read.remote()), /already exists/);
  const same = await Counter.options({ name: "unique", namespace: "app", getIfExists: true }).remote();
  assert.equal(await get(same.read.remote()), 3);
  await kill(a);
});

clusterTest("kill makes pending and later calls raise ActorDiedError", async () => {
  const c = Counter.remote();
  await get(c.incr.remote(1));
  const pending = c.slowIncr.remote(5000);   // slow on purpose: still running when the actor is killed
  await kill(c);
  await assert.rejects(get(pending), ActorDiedError);
  await assert.rejects(get(c.incr.remote(1)), ActorDiedError);
});

clusterTest("calling an actor method directly says to use .remote()", async () => {
  const c = Counter.remote();
  assert.throws(() => c.incr(1), /c?\.?incr\.remote|handle\.incr\.remote/);
  await kill(c);
});

clusterTest("kill() right after creation is not lost: the actor never runs its calls", async () => {
  for (let i = 0; i < 5; i++) {   // the kill may reach the head before or after the creation: both ways
    const c = Counter.remote();
    await kill(c);
    await assert.rejects(get(c.incr.remote(1)), ActorDiedError);
  }
});
