import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, kill, ActorDiedError, ActorUnavailableError } from "helios";
import { startCluster } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

// The 50 ms sleeps before process.exit are the workload: the call is in flight, received and
// unanswered, when the worker dies under it.
const Phoenix = remote(class Phoenix {
  constructor(tag) { this.tag = tag; this.calls = 0; this.pid = process.pid; }
  hello() { this.calls++; return { tag: this.tag, calls: this.calls, pid: this.pid }; }
  die() { process.exit(1); }
  async slowDie() { await new Promise((r) => setTimeout(r, 50)); process.exit(1); }
  async dieOnce(file) {
    const fs = await import("node:fs");
    if (fs.existsSync(file)) return "survived";
    fs.writeFileSync(file, "x");
    await new Promise((r) => setTimeout(r, 50));
    process.exit(1);
  }
  async dieTimes(file, n) {
    const fs = await import("node:fs");
    const k = fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8")) : 0;
    if (k >= n) return k;
    fs.writeFileSync(file, String(k + 1));
    await new Promise((r) => setTimeout(r, 50));
    process.exit(1);
  }
});

test("an actor with maxRestarts reruns its constructor after its worker dies", async () => {
  const a = Phoenix.options({ maxRestarts: 2 }).remote("t1");
  const first = await get(a.hello.remote());
  await get(a.hello.remote());
  await assert.rejects(get(a.die.remote()), (e) => e instanceof ActorUnavailableError || e instanceof ActorDiedError);
  const again = await get(a.hello.remote(), { timeout: 20_000 });
  assert.equal(again.tag, "t1");          // same constructor arguments
  assert.equal(again.calls, 1);           // fresh state: the constructor ran again
  assert.notEqual(again.pid, first.pid);  // in a new worker
});

test("a call in flight when the actor restarts raises ActorUnavailableError", async () => {
  const a = Phoenix.options({ maxRestarts: 1 }).remote("t2");
  await get(a.hello.remote());
  await assert.rejects(get(a.slowDie.remote()), ActorUnavailableError);
  assert.equal((await get(a.hello.remote(), { timeout: 20_000 })).tag, "t2");
});

test("when its restarts are spent the actor is dead", async () => {
  const a = Phoenix.options({ maxRestarts: 1 }).remote("t3");
  await assert.rejects(get(a.die.remote()));
  await get(a.hello.remote(), { timeout: 20_000 });      // restarted once
  await assert.rejects(get(a.die.remote()), ActorDiedError);
  await assert.rejects(get(a.hello.remote()), ActorDiedError);
});

test("an actor without maxRestarts dies with its worker", async () => {
  const a = Phoenix.remote("t4");
  await assert.rejects(get(a.die.remote()), ActorDiedError);
  await assert.rejects(get(a.hello.remote()), ActorDiedError);
});

test("kill ends an actor for good even when it has restarts left", async () => {
  const a = Phoenix.options({ maxRestarts: 5 }).remote("t5");
  await get(a.hello.remote());
  await kill(a);
  await assert.rejects(get(a.hello.remote()), ActorDiedError);
});

test("maxTaskRetries replays the calls in flight, in order, on the restarted actor", async () => {
  const fs = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "helios-replay-")), "died");
  const a = Phoenix.options({ maxRestarts: 1, maxTaskRetries: 1 }).remote("t6");
  await get(a.hello.remote());
  const refs = [a.dieOnce.remote(file), a.hello.remote(), a.hello.remote()];
  const [first, h1, h2] = await get(refs, { timeout: 30_000 });
  assert.equal(first, "survived");   // replayed after the restart
  assert.deepEqual([h1.calls, h2.calls], [1, 2]);   // in order, on the fresh instance
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test("maxTaskRetries: -1 replays a call however many times the actor dies under it", async () => {
  const fs = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "helios-replay-")), "deaths");
  const a = Phoenix.options({ maxRestarts: -1, maxTaskRetries: -1 }).remote("t7");
  await get(a.hello.remote());
  assert.equal(await get(a.dieTimes.remote(file, 3), { timeout: 30_000 }), 3);
  assert.equal((await get(a.hello.remote())).tag, "t7");
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

const Fragile = remote(class Fragile {
  constructor(file) {
    const fs = process.getBuiltinModule("node:fs");
    if (!fs.existsSync(file)) { fs.writeFileSync(file, "x"); process.exit(1); }   // its worker dies in the constructor, once
  }
  ping() { return "pong"; }
});

test("an actor whose worker dies while its constructor runs is restarted like one that dies later", async () => {
  const fs = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "helios-ctor-")), "died");
  const a = Fragile.options({ maxRestarts: 1 }).remote(file);
  assert.equal(await get(a.ping.remote(), { timeout: 20_000 }), "pong");
  await assert.rejects(get(Fragile.remote(file + ".2").ping.remote(), { timeout: 20_000 }), ActorDiedError);   // no restarts: dead
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});
