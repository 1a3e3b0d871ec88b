// Actor lifetimes: an actor that is not detached dies with the process that created it — a
// task's worker, another actor, a driver — or with that process's node; a detached one lives on.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { get, kill, ActorDiedError } from "helios";
import { Probe, Parent, spawnFromTask } from "./fixtures/lifetime.mjs";
import { startCluster, alive, waitFor } from "./helpers.mjs";
import { startNetworkCluster } from "./cluster.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const ownerDied = (e) => e instanceof ActorDiedError && /owner died/.test(e.message);

describe("on one node", () => {
  let cluster;
  before(async () => { cluster = await startCluster(); });
  after(() => cluster.stop());
  const state = async (handle) => cluster.rt.core.head.call("getActor", { actorId: handle.actorId });

  test("an actor created by a task dies when the task's worker dies; its worker and CPU are freed", async () => {
    const r = await get(spawnFromTask.remote({ numCpus: 1 }));
    await waitFor(async () => (await cluster.agentInfo()).available.CPU === 1, 5000, "the task's lease to go back (the actor holds one CPU)");
    process.kill(r.ownerPid, "SIGKILL");
    await waitFor(() => !alive(r.actorPid), 10_000, `the actor's worker ${r.actorPid} to exit`);
    const s = await state(r.child);
    assert.equal(s.state, "DEAD");
    assert.match(s.death.message, /owner died \(worker w\w+ on node n\w+ exited\)/);
    await assert.rejects(get(r.child.pid.remote()), ownerDied);
    await waitFor(async () => (await cluster.agentInfo()).available.CPU === 2, 5000, "the actor's CPU to be free again");
  });

  test("an actor created by an actor dies when its parent is killed", async () => {
    const p = Parent.remote();
    const [child, childPid] = await get(p.spawn.remote());
    await kill(p);
    await waitFor(() => !alive(childPid), 10_000, `the child's worker ${childPid} to exit`);
    await assert.rejects(get(child.pid.remote()), ownerDied);
  });

  test("an actor with restarts left still dies for good with its owner", async () => {
    const p = Parent.remote();
    const [child, childPid, parentPid] = await get(p.spawn.remote({ maxRestarts: 5 }));
    process.kill(parentPid, "SIGKILL");
    await waitFor(() => !alive(childPid), 10_000, `the child's worker ${childPid} to exit`);
    await assert.rejects(get(child.pid.remote(), { timeout: 20_000 }), ownerDied);
    assert.equal((await state(child)).numRestarts, 0);
  });

  test("a detached actor outlives the worker that created it, and a dead owned actor's name is free again", async () => {
    const kept = await get(spawnFromTask.remote({ name: "kept", lifetime: "detached" }));
    const owned = await get(spawnFromTask.remote({ name: "owned" }));
    for (const pid of new Set([kept.ownerPid, owned.ownerPid])) process.kill(pid, "SIGKILL");
    await waitFor(() => !alive(owned.actorPid), 10_000, "the owned actor's worker to exit");
    assert.equal((await get(kept.child.where.remote())).tag, "from-task");
    assert.ok(alive(kept.actorPid));
    const again = Probe.options({ name: "owned" }).remote("again");
    assert.equal((await get(again.where.remote())).tag, "again");
    await kill(kept.child);
  });
});

describe("across nodes, with drivers that come and go", () => {
  let c;
  before(async () => {
    // A driver cut off from the head counts as gone after this long without answering (default 60 s).
    process.env.HELIOS_DRIVER_TIMEOUT_MS = "4000";
    try { c = await startNetworkCluster({ agents: { a: {}, b: {} }, healthTimeoutMs: 1500 }); } finally { delete process.env.HELIOS_DRIVER_TIMEOUT_MS; }
  });
  after(() => c?.stop());

  /** Run the lifetime driver; `at(step, info, proc)` runs at each STEP line, before the driver goes on. */
  function driver(scenario, args, { at, onLine } = {}) {
    const proc = c.net.spawn("driver", process.execPath, [path.join(root, "test/fixtures/lifetime-driver.mjs"), scenario, JSON.stringify(args)],
      { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let pending = "";
    proc.stderr.on("data", (d) => { out += d; });
    proc.stdout.on("data", async (d) => {
      out += d;
      pending += d;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        onLine?.(line, proc);
        const m = /^STEP (\w+) (.*)$/.exec(line);
        if (m) { await at?.(m[1], JSON.parse(m[2]), proc); proc.stdin.write("go\n"); }
      }
    });
    return new Promise((resolve) => proc.on("exit", (code, signal) => {
      const result = out.split("\n").find((l) => l.startsWith("RESULT "));
      const pids = out.split("\n").find((l) => l.startsWith("PIDS "));
      resolve({ code, signal, out, result: result && JSON.parse(result.slice(7)), pids: pids && JSON.parse(pids.slice(5)) });
    }));
  }

  for (const [end, what] of [
    ["shutdown", "calls shutdown()"], ["exit", "exits without shutdown()"], ["crash", "crashes"], ["hang", "is SIGKILLed"],
  ]) {
    test(`when a driver ${what}, its actors die and its detached actor keeps answering a second driver`, async () => {
      const r = await driver("create", { tag: end, end }, { onLine: (line, proc) => { if (line === "READY") proc.kill("SIGKILL"); } });
      assert.ok(r.pids, r.out);
      if (end === "hang") assert.equal(r.signal, "SIGKILL");
      if (end === "crash") assert.match(r.out, /driver crashed on purpose/);
      await waitFor(() => !alive(r.pids.owned) && !alive(r.pids.viaTask), 15_000, `owned actors ${r.pids.owned}, ${r.pids.viaTask} to exit\n${r.out}`);
      assert.ok(alive(r.pids.kept), "the detached actor lives on");
      const check = await driver("check", { tag: end });
      assert.ok(check.result, check.out);
      assert.equal(check.result.kept, "kept");
      assert.equal(check.result.owned.error, "ActorDiedError", JSON.stringify(check.result));
      assert.match(check.result.owned.message, /owner died \(the driver of job j\w+ ended/);
      assert.equal(check.result.reused, "again");   // the name is free again
      assert.equal(check.result.cpuFree, true);
      await waitFor(() => !alive(r.pids.kept), 10_000, "the detached actor to be killed by the check");
    });
  }

  test("when a driver's link is cut, its actors die once it has not answered the head for HELIOS_DRIVER_TIMEOUT_MS", async () => {
    let pids, proc, ready;
    const isReady = new Promise((resolve) => { ready = resolve; });
    const done = driver("create", { tag: "cut", end: "hang" }, { onLine: (line, p) => {
      if (line.startsWith("PIDS ")) pids = JSON.parse(line.slice(5));
      if (line === "READY") { proc = p; ready(); }
    } });
    await isReady;
    await c.net.cut("driver");
    const t0 = Date.now();
    try {
      await waitFor(() => !alive(pids.owned) && !alive(pids.viaTask), 20_000, "the cut-off driver's actors to exit");
      // Its last answer came at most a ping period (1 s) before the cut: the timeout, not anything sooner, ended it.
      assert.ok(Date.now() - t0 >= 2500, `ended ${Date.now() - t0} ms after the cut`);
      assert.ok(alive(pids.kept), "the detached actor lives on");
    } finally {
      await c.net.restore("driver");
      proc.kill("SIGKILL");
      await done;
    }
    const check = await driver("check", { tag: "cut" });
    assert.ok(check.result, check.out);
    assert.equal(check.result.kept, "kept");
    assert.match(check.result.owned.message, /owner died \(the driver of job j\w+ ended: it answered nothing for 4 s/);
  });

  test("after a head restart, a driver's actors still die with it", async () => {
    let pids, proc, ready;
    const isReady = new Promise((resolve) => { ready = resolve; });
    const done = driver("create", { tag: "restart", end: "hang" }, { onLine: (line, p) => {
      if (line.startsWith("PIDS ")) pids = JSON.parse(line.slice(5));
      if (line === "READY") { proc = p; ready(); }
    } });
    await isReady;
    await c.killHead();
    await c.startHead();
    proc.kill("SIGKILL");
    await done;
    await waitFor(() => !alive(pids.owned) && !alive(pids.viaTask), 20_000, "the driver's actors to exit");
    assert.ok(alive(pids.kept), "the detached actor lives on");
    const check = await driver("check", { tag: "restart" });
    assert.ok(check.result, check.out);
    assert.equal(check.result.kept, "kept");
    assert.match(check.result.owned.message, /owner died \(the driver of job j\w+ ended: its process exited\)/);
  });

  test("an actor dies when its owner's node dies, even though the actor lives on another node", async () => {
    let spawned;
    const r = await driver("ownerNode", { owner: c.nodes.b.nodeId, actorOn: c.nodes.a.nodeId }, {
      at: async (step, info) => { spawned = info; process.kill(c.nodes.b.pid, "SIGKILL"); },
    });
    assert.ok(r.result, r.out);
    assert.equal(spawned.actorNode, c.nodes.a.nodeId);
    assert.equal(r.result.error, "ActorDiedError", JSON.stringify(r.result));
    assert.match(r.result.message, new RegExp(`owner died \\(its node ${c.nodes.b.nodeId} died\\)`));
    assert.ok(r.result.ms < 15_000, `took ${r.result.ms} ms`);
    await waitFor(() => !alive(spawned.actorPid), 5000, "the actor's worker on node a to exit");
  });
});
