// The agent's lease and worker lifecycles without processes: the lease table
// (node-agent/leases.ts) on a fake worker pool whose workers' readiness and exits are played by
// the test, against the compiled module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseTable, LEASE_TRANSITIONS, MAX_WORKER_STARTS, IllegalLeaseTransitionError } from "../dist/node-agent/leases.js";
import { WORKER_TRANSITIONS, IllegalWorkerTransitionError, moveWorker } from "../dist/node-agent/worker-states.js";

/** A pool of fake workers: start() makes one "starting"; ready(w) and exit(w) play what its process does. */
function fakePool() {
  let n = 0;
  const pool = {
    workers: new Map(),
    killed: [],
    idleFor(jobId, key = "") {
      let starting;
      for (const w of pool.workers.values()) {
        if (w.jobId !== jobId || w.envKey !== key) continue;
        if (w.state === "idle") return w;
        if (w.state === "starting") starting ??= w;
      }
      return starting;
    },
    start(job, _forked, _envVars) {
      let resolveReady;
      const w = { id: `w${n++}`, jobId: job.jobId, envKey: "", state: "starting", story: [], owners: new Set(), pid: n,
        ready: new Promise((r) => (resolveReady = r)) };
      w.resolveReady = resolveReady;
      pool.workers.set(w.id, w);
      return w;
    },
    kill(id) { pool.killed.push(id); return pool.workers.has(id); },
  };
  return pool;
}

function setup(cpus = 2) {
  const pool = fakePool();
  const ended = new Set();
  const table = new LeaseTable({ CPU: cpus }, { nodeId: "n1", logDir: "/logs", pool, job: (jobId) => ({ jobId }), jobEnded: (j) => ended.has(j) });
  const ready = (w) => { if (w.state === "starting") moveWorker(w, "idle", "ready"); w.resolveReady(); };
  /** What the pool does when a worker's process exits, then what the agent does. */
  const exit = (w) => { moveWorker(w, "dead", "exited"); pool.workers.delete(w.id); w.resolveReady(); table.workerExited(w); table.pump(); };
  return { pool, table, ready, exit, ended };
}
const settle = () => new Promise((r) => setImmediate(r));
const moves = (x) => x.story.map((e) => `${e.from ?? "new"}>${e.to}:${e.stimulus}`);

test("a lease waits for resources, claims a worker, is granted when it is ready, and comes back", async () => {
  const { table, pool, ready } = setup(1);
  const first = table.acquire("j1", { CPU: 1 });
  const second = table.acquire("j1", { CPU: 1 });
  assert.equal(table.queued, 1, "the second waits for a CPU");
  assert.equal(table.available.CPU, 0);
  const w = [...pool.workers.values()][0];
  assert.equal(w.state, "leased", "claimed while still starting");
  ready(w);
  assert.equal(await first, w);
  const id = table.lease(w, "owner:1");
  assert.equal(w.leaseId, id);
  assert.equal(w.leaseOwner, "owner:1");
  const lease = table.leaseOf(w);
  assert.equal(lease.state, "granted");
  table.release(id, "returned");
  assert.equal(lease.state, "returned");
  assert.equal(w.leaseId, undefined);
  // The CPU went to the second request, which claimed the now idle worker.
  assert.equal(await second, w);
  assert.equal(w.state, "leased");
  assert.deepEqual(moves(lease), ["new>waiting:asked", "waiting>starting:resources-free", "starting>granted:worker-ready", "granted>returned:returned"]);
  assert.deepEqual(moves(w), ["starting>leased:claimed", "leased>idle:returned", "idle>leased:claimed"]);
  table.release(w.leaseId ?? table.lease(w, "owner:2"), "owner-gone");
  assert.equal(table.available.CPU, 1);
});

test("every transition in the lease and worker tables is reachable", async () => {
  const leaseSeen = new Set();
  const workerSeen = new Set();
  const record = (table, pool, extra = []) => {
    for (const w of [...pool.workers.values(), ...extra]) {
      for (const m of moves(w)) workerSeen.add(m);
      const l = table.leaseOf(w);
      if (l) for (const m of moves(l)) leaseSeen.add(m);
    }
  };
  // Granted and returned in each way; a worker that is ready, then idle, then an actor's.
  for (const why of ["returned", "cancelled", "unclaimed", "owner-gone"]) {
    const { table, pool, ready } = setup();
    const p = table.acquire("j1", { CPU: 1 });
    const w = [...pool.workers.values()][0];
    ready(w);
    await p;
    table.release(table.lease(w, "o"), why);
    record(table, pool);
  }
  {
    const { table, pool, ready } = setup();
    const w = pool.start({ jobId: "j1" });
    ready(w);
    const p = table.acquire("j1", { CPU: 1 }, { CPU: 2 });
    assert.equal(await p, w);
    moveWorker(w, "actor", "actor-started");
    record(table, pool);
  }
  // A worker dies in every state: starting, idle, leased (its lease granted, or still starting), actor.
  const dead = [];
  {
    const { table, pool, ready, exit } = setup(4);
    const starting = pool.start({ jobId: "j1" });
    exit(starting); dead.push(starting);
    const idle = pool.start({ jobId: "j1" });
    ready(idle); exit(idle); dead.push(idle);
    const p = table.acquire("j1", { CPU: 1 });
    const leased = [...pool.workers.values()].find((w) => w.state === "leased");
    ready(leased);
    await p;
    table.lease(leased, "o");
    exit(leased); dead.push(leased);
    const actor = table.acquire("j1", { CPU: 1 });
    const aw = [...pool.workers.values()].find((w) => w.state === "leased");
    ready(aw);
    await actor;
    moveWorker(aw, "actor", "actor-started");
    exit(aw); dead.push(aw);
    assert.equal(table.available.CPU, 4, "every CPU back");
    record(table, pool, dead);
  }
  // Still starting when the worker dies: started again; failed after MAX_WORKER_STARTS; waiting when the agent closes.
  {
    const { table, pool, ready, exit } = setup(1);
    const p = table.acquire("j1", { CPU: 1 });
    const w0 = [...pool.workers.values()][0];
    exit(w0);
    await settle();
    const w1 = [...pool.workers.values()][0];
    ready(w1);
    await p;
    const q = table.acquire("j1", { CPU: 1 });
    const r = table.acquire("j1", { CPU: 1 });
    const failed = table.close();
    assert.equal(failed.length, 2);
    for (const l of failed) for (const m of moves(l)) leaseSeen.add(m);
    await assert.rejects(q, /shutting down/);
    await assert.rejects(r, /shutting down/);
    record(table, pool, [w0]);
  }
  {
    const { table, pool, exit } = setup(1);
    const failed = assert.rejects(table.acquire("j1", { CPU: 1 }),
      { name: "WorkerCrashedError", message: new RegExp(`${MAX_WORKER_STARTS} workers of job j1 on node n1 exited before they were ready`) });
    const gone = [];
    for (let i = 0; i < MAX_WORKER_STARTS; i++) {
      const w = [...pool.workers.values()][0];
      gone.push(w);
      exit(w);
      await settle();
    }
    await failed;
    assert.equal(table.available.CPU, 1);
    record(table, pool, gone);
  }
  const all = (t) => Object.entries(t).flatMap(([from, tos]) => Object.entries(tos).flatMap(([to, s]) => [s].flat().map((x) => `${from}>${to}:${x}`)));
  assert.deepEqual(all(LEASE_TRANSITIONS).filter((t) => !leaseSeen.has(t)), [], "every lease transition reached");
  assert.deepEqual(all(WORKER_TRANSITIONS).filter((t) => !workerSeen.has(t)), [], "every worker transition reached");
});

test("a granted lease's worker dying ends the lease and frees its CPU, also a CPU lent back while it blocked", async () => {
  const { table, pool, ready, exit } = setup(2);
  const p = table.acquire("j1", { CPU: 2 });
  const w = [...pool.workers.values()][0];
  ready(w);
  await p;
  const id = table.lease(w, "o");
  table.setBlocked(w, true);
  assert.equal(table.available.CPU, 2, "lent back while blocked in get()");
  exit(w);
  assert.equal(table.leaseOf(w).state, "worker-died");
  assert.equal(table.available.CPU, 2, "not given back twice");
  table.release(id, "returned");   // a late return changes nothing
  assert.equal(table.available.CPU, 2);
  assert.equal(table.leaseOf(w).state, "worker-died");
});

test("an idle worker of an ended job is stopped when its lease comes back", async () => {
  const { table, pool, ready, ended } = setup(1);
  const p = table.acquire("j1", { CPU: 1 });
  const w = [...pool.workers.values()][0];
  ready(w);
  await p;
  const id = table.lease(w, "o");
  ended.add("j1");
  table.release(id, "returned");
  assert.deepEqual(pool.killed, [w.id]);
});

test("illegal moves throw typed errors with the story", async () => {
  const { table, pool, ready } = setup(1);
  const p = table.acquire("j1", { CPU: 1 });
  const w = [...pool.workers.values()][0];
  ready(w);
  await p;
  const lease = table.leaseOf(w);
  assert.throws(() => table.move(lease, "waiting", "asked"), (e) => {
    assert.ok(e instanceof IllegalLeaseTransitionError);
    assert.equal(e.from, "granted");
    assert.match(e.message, /granted to waiting on asked[^]*node-agent\/leases\.ts[^]*starting → granted \(worker-ready\) worker w0/);
    return true;
  });
  assert.throws(() => moveWorker(w, "idle", "ready"), (e) => {
    assert.ok(e instanceof IllegalWorkerTransitionError);
    assert.equal(e.workerId, w.id);
    assert.match(e.message, /leased to idle on ready[^]*starting → leased \(claimed\)/);
    return true;
  });
  assert.equal(w.state, "leased");
  moveWorker(w, "dead", "exited");
  assert.throws(() => moveWorker(w, "dead", "exited"), IllegalWorkerTransitionError);
});
