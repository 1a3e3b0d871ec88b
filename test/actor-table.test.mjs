// The head's actor lifecycle without sockets or processes: the actor table (head/actors.ts) on
// fake nodes (whose agents' startActor answers are played by the test), a fake scheduler, a
// fake store and a fake owner table, against the compiled module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ActorTable } from "../dist/head/actors.js";
import { ACTOR_TRANSITIONS, ACTOR_STORY_LENGTH, IllegalActorTransitionError } from "../dist/head/actor-states.js";

/** Two nodes whose agents hold every startActor call until the test answers it. */
function setup(nodeIds = ["n1", "n2"]) {
  const starts = [];
  const killed = [];
  const client = (nodeId) => ({
    call(method, args) {
      if (method === "startActor") return new Promise((resolve, reject) => starts.push({ nodeId, args, resolve, reject }));
      if (method === "killWorker") { killed.push(args.workerId); return Promise.resolve({ killed: true }); }
      throw new Error(`unexpected call ${method}`);
    },
  });
  const members = new Map(nodeIds.map((id) => [id, { nodeId: id, state: "ALIVE", client: client(id), resources: { CPU: 4 }, available: { CPU: 4 } }]));
  const host = {
    nodes: { get: (id) => members.get(id), placementView: () => [...members.values()], client: (id) => members.get(id)?.client },
    // The first node of the view, unless told that nothing fits.
    scheduler: { infeasible: false, place(view) { return this.infeasible || view.length === 0 ? { infeasible: "nothing fits" } : { nodeId: view[0].nodeId }; } },
    store: { rows: new Map(), writes: 0, put(table, key, value) { this.writes++; this.rows.set(`${table}/${key}`, structuredClone(value)); },
      table(name) { return new Map([...this.rows].filter(([k]) => k.startsWith(`${name}/`)).map(([k, v]) => [k.slice(name.length + 1), v])); } },
    owners: { deadOwners: new Set(), exitedWorkers: new Set(), forgotten: [],
      add(_id, owner) { return this.deadOwners.has(owner.workerId) ? "its owner died before it was created" : undefined; },
      forget(id) { this.forgotten.push(id); },
      exited(workerId) { return this.exitedWorkers.has(workerId); } },
  };
  const table = new ActorTable(host);
  /** The one startActor call waiting for an answer. */
  const start = () => { assert.equal(starts.length, 1, "one startActor call waiting"); return starts.shift(); };
  let workers = 0;
  /** Answer the waiting startActor as a constructed actor. */
  const construct = () => { const s = start(); const workerId = `w${workers++}`; s.resolve({ address: `${s.nodeId}:${workerId}`, workerId, pid: 1 }); return workerId; };
  return { table, host, starts, killed, members, start, construct };
}

let n = 0;
function request(extra = {}) {
  return { actorId: `a${n++}`, jobId: "j1", className: "Counter", methods: ["inc"], namespace: "ns", detached: false,
    resources: { CPU: 1 }, maxConcurrency: 1, maxRestarts: 0, maxTaskRetries: 0, spec: { taskId: "t" },
    owner: { workerId: "driver", jobId: "j1", driver: true }, ...extra };
}
/** Let the table's continuations after an answered call run. */
const settle = () => new Promise((r) => setImmediate(r));
const moves = (a) => a.story.map((e) => `${e.from ?? "new"}>${e.to}:${e.stimulus}`);
const transport = () => Object.assign(new Error("unavailable"), { code: 14 });
const workerLost = { name: "ActorDiedError", message: "its worker exited" };

test("an actor is placed, constructed and ALIVE; every move is on disk and in its story", async () => {
  const { table, host, construct } = setup();
  const r = request();
  const info = table.create(r);
  const workerId = construct();
  const a = await info;
  assert.equal(a.state, "ALIVE");
  assert.equal(a.workerId, workerId);
  assert.equal(a.nodeId, "n1");
  assert.equal(a.story, undefined, "the story is not part of ActorInfo");
  const stored = host.store.rows.get(`actors/${r.actorId}`);
  assert.equal(stored.state, "ALIVE");
  assert.equal(stored.story, undefined, "the story is not kept on disk");
  assert.equal(stored.waiters, undefined);
  assert.deepEqual(moves(table.get(r.actorId)), ["new>PENDING:created", "PENDING>ALIVE:placed"]);
  assert.match(table.dump(), new RegExp(`actor ${r.actorId} \\(Counter\\) ALIVE[^]*PENDING → ALIVE \\(placed\\) node n1 worker ${workerId}`));
});

test("every transition in the table is reachable through the table's stimuli", async () => {
  const seen = new Set();
  const all = [];
  for (const [from, tos] of Object.entries(ACTOR_TRANSITIONS)) {
    for (const [to, stimuli] of Object.entries(tos)) for (const s of stimuli) all.push(`${from}>${to}:${s}`);
  }
  /** One scenario on a table of its own; the moves of all its actors are recorded. */
  const scenario = async (extra, play) => {
    const h = setup();
    const r = request(extra);
    await play({ ...h, r, id: r.actorId, a: () => h.table.get(r.actorId) });
    for (const a of h.table.values()) for (const m of moves(a)) seen.add(m);
  };
  const alive = async ({ table, r, construct }) => { const p = table.create(r); construct(); await p; };
  const restarting = async (h) => { await alive(h); h.table.workerDied(h.a().workerId, h.id, workerLost); };
  const owner = { name: "ActorDiedError", message: "owner gone" };

  // From PENDING: placed; each way to die; a restart on a lost worker or node.
  await scenario({}, alive);
  for (const [extra, answer] of [
    [{}, (s) => s.resolve({ error: { name: "TaskError", message: "constructor threw" } })],
    [{}, (s) => s.resolve({ error: workerLost })],
    [{ maxRestarts: 1 }, (s) => s.resolve({ error: workerLost })],
    [{}, (s) => s.reject(transport())],
    [{ maxRestarts: 1 }, (s) => s.reject(transport())],
    [{}, (s) => s.reject(new Error("job j1 is not known to the head"))],
  ]) {
    await scenario(extra, async ({ table, r, start, construct }) => {
      const p = table.create(r);
      answer(start());
      if (extra.maxRestarts) { await settle(); construct(); }
      await p;
    });
  }
  await scenario({}, async ({ table, r, host }) => { host.scheduler.infeasible = true; await table.create(r); });
  await scenario({}, async ({ table, r, start }) => {
    const p = table.create(r); await table.kill(r.actorId); start().resolve({ address: "x", workerId: "late", pid: 1 }); await p;
  });
  await scenario({}, async ({ table, r, start }) => {
    const p = table.create(r); await table.kill(r.actorId, "owner-died", owner); start().reject(transport()); await p;
  });

  // From ALIVE: lost with and without a restart left, killed, its owner died.
  await scenario({}, async (h) => { await alive(h); h.table.workerDied(h.a().workerId, h.id, workerLost); });
  await scenario({}, async (h) => { await alive(h); h.table.nodeDied(h.a().nodeId); });
  await scenario({}, async (h) => { await alive(h); await h.table.kill(h.id); });
  await scenario({}, async (h) => { await alive(h); await h.table.kill(h.id, "owner-died", owner); });
  await scenario({ maxRestarts: 1 }, async (h) => { await alive(h); h.table.nodeDied(h.a().nodeId); h.construct(); await h.table.wait(h.id); });

  // From RESTARTING: placed again, lost again, and each way to die.
  const R = { maxRestarts: 5 };
  await scenario(R, async (h) => { await restarting(h); h.construct(); await h.table.wait(h.id); });
  await scenario(R, async (h) => { await restarting(h); h.start().resolve({ error: workerLost }); await settle(); h.construct(); await h.table.wait(h.id); });
  await scenario(R, async (h) => { await restarting(h); h.start().reject(transport()); await settle(); h.construct(); await h.table.wait(h.id); });
  await scenario(R, async (h) => { await restarting(h); h.start().resolve({ error: { name: "TaskError", message: "threw on restart" } }); await h.table.wait(h.id); });
  await scenario(R, async (h) => { await restarting(h); h.start().reject(new Error("refused")); await h.table.wait(h.id); });
  await scenario({ maxRestarts: 1 }, async (h) => { await restarting(h); h.start().resolve({ error: workerLost }); await h.table.wait(h.id); });
  await scenario({ maxRestarts: 1 }, async (h) => { await restarting(h); h.start().reject(transport()); await h.table.wait(h.id); });
  await scenario(R, async (h) => { await restarting(h); await h.table.kill(h.id); h.start().resolve({ error: workerLost }); await settle(); });
  await scenario(R, async (h) => { await restarting(h); await h.table.kill(h.id, "owner-died", owner); h.start().reject(transport()); await settle(); });
  await scenario(R, async (h) => { await alive(h); h.host.scheduler.infeasible = true; h.table.workerDied(h.a().workerId, h.id, workerLost); });

  const missing = all.filter((t) => !seen.has(t));
  assert.deepEqual(missing, [], "every (from, to, stimulus) of the table was reached");
  for (const t of seen) if (!t.startsWith("new>")) assert.ok(all.includes(t), `${t} is in the table`);
});

test("a move not in the table throws IllegalActorTransitionError with the actor's story", async () => {
  const { table, construct } = setup();
  const r = request();
  const p = table.create(r);
  construct();
  await p;
  const a = table.get(r.actorId);
  assert.throws(() => table.transition(a, "PENDING", "created"), (e) => {
    assert.ok(e instanceof IllegalActorTransitionError);
    assert.equal(e.name, "IllegalActorTransitionError");
    assert.equal(e.actorId, r.actorId);
    assert.equal(e.from, "ALIVE");
    assert.equal(e.to, "PENDING");
    assert.deepEqual(e.story.map((x) => x.stimulus), ["created", "placed"]);
    assert.match(e.message, /ALIVE to PENDING on created[^]*head\/actor-states\.ts[^]*\(new\) → PENDING \(created\)\n[^]*PENDING → ALIVE \(placed\)/);
    return true;
  });
  // A stimulus that does not make this move is refused too, and nothing changed.
  assert.throws(() => table.transition(a, "DEAD", "unschedulable"), IllegalActorTransitionError);
  assert.equal(a.state, "ALIVE");
  await table.kill(r.actorId);
  for (const to of ["PENDING", "ALIVE", "RESTARTING", "DEAD"]) assert.throws(() => table.transition(a, to, "killed"), IllegalActorTransitionError);
});

test("restarts are counted, maxRestarts is honoured, and the death that ended it is kept", async () => {
  const { table, host, starts, construct } = setup();
  const r = request({ maxRestarts: 2 });
  const p = table.create(r);
  construct();
  await p;
  for (let i = 1; i <= 2; i++) {
    table.workerDied(table.get(r.actorId).workerId, r.actorId, workerLost);
    const a = table.info(r.actorId);
    assert.equal(a.state, "RESTARTING");
    assert.equal(a.numRestarts, i);
    assert.equal(a.workerId, undefined);
    assert.equal(host.store.rows.get(`actors/${r.actorId}`).numRestarts, i, "on disk before the restart starts");
    construct();
    assert.equal((await table.wait(r.actorId)).state, "ALIVE");
  }
  const last = { name: "NodeDiedError", message: "node n1 died" };
  table.nodeDied("n1");
  const dead = table.info(r.actorId);
  assert.equal(dead.state, "DEAD");
  assert.equal(dead.numRestarts, 2);
  assert.equal(dead.death.name, "NodeDiedError");
  assert.match(dead.death.message, /node n1 died/);
  assert.equal(host.store.rows.get(`actors/${r.actorId}`).death.name, last.name);
  assert.deepEqual(moves(table.get(r.actorId)).slice(-1), ["ALIVE>DEAD:node-died"]);
  assert.deepEqual(host.owners.forgotten, [r.actorId], "a dead actor has nothing left to fate-share");
  assert.equal(starts.length, 0, "not placed again");

  // maxRestarts -1: no limit; the story keeps only the last moves.
  const forever = request({ maxRestarts: -1 });
  const q = table.create(forever);
  construct();
  await q;
  for (let i = 0; i < 10; i++) { table.workerDied(table.get(forever.actorId).workerId, forever.actorId, workerLost); construct(); await table.wait(forever.actorId); }
  const f = table.get(forever.actorId);
  assert.equal(f.state, "ALIVE");
  assert.equal(f.numRestarts, 10);
  assert.equal(f.story.length, ACTOR_STORY_LENGTH);
});

test("each death keeps its cause: unschedulable, constructor threw, owner died at creation, killed", async () => {
  const { table, host, start, starts } = setup();
  host.scheduler.infeasible = true;
  assert.equal((await table.create(request())).death.name, "TaskUnschedulableError");
  host.scheduler.infeasible = false;
  let p = table.create(request());
  start().resolve({ error: { name: "TaskError", message: "boom", task: { originalName: "Error" } } });
  assert.deepEqual((await p).death, { name: "TaskError", message: "boom", task: { originalName: "Error" } });
  host.owners.deadOwners.add("w-gone");
  const orphan = await table.create(request({ owner: { workerId: "w-gone", jobId: "j1", driver: false } }));
  assert.equal(orphan.state, "DEAD");
  assert.match(orphan.death.message, /owner died before it was created/);
  assert.equal(starts.length, 0, "an orphan is never placed");
  const r = request();
  p = table.create(r);
  await table.kill(r.actorId);
  start().resolve({ address: "x", workerId: "w-late", pid: 1 });
  assert.equal((await p).death.message, "the actor was killed with kill()");
});

test("a kill that arrives before the actor's creation is kept: the creation makes a dead actor that never starts", async () => {
  const { table, starts } = setup();
  const r = request();
  await table.kill(r.actorId);   // not known yet
  const info = await table.create(r);
  assert.equal(info.state, "DEAD");
  assert.equal(info.death.message, "the actor was killed with kill()");
  assert.equal(starts.length, 0, "no worker is started for it");
  assert.deepEqual(moves(table.get(r.actorId)), ["new>PENDING:created", "PENDING>DEAD:killed"]);
  // Once: a second creation with another id is not affected.
  const other = request();
  const p = table.create(other);
  assert.equal(starts.length, 1);
  starts.shift().resolve({ address: "x", workerId: "w1", pid: 1 });
  assert.equal((await p).state, "ALIVE");
});

test("kill in every state: PENDING, ALIVE and RESTARTING die and their worker stops; DEAD is left as it is", async () => {
  const { table, killed, start, construct } = setup();
  // PENDING: the worker it gets afterwards is stopped.
  let r = request();
  let p = table.create(r);
  await table.kill(r.actorId);
  assert.equal(table.get(r.actorId).state, "DEAD");
  start().resolve({ address: "x", workerId: "w-pending", pid: 1 });
  await p;
  assert.deepEqual(killed, ["w-pending"]);
  // ALIVE
  r = request();
  p = table.create(r);
  const w = construct();
  await p;
  await table.kill(r.actorId);
  assert.equal(table.get(r.actorId).state, "DEAD");
  assert.deepEqual(killed, ["w-pending", w]);
  // RESTARTING: a start under way ends in a killed worker, not a revived actor.
  r = request({ maxRestarts: 1 });
  p = table.create(r);
  construct();
  await p;
  table.workerDied(table.get(r.actorId).workerId, r.actorId, workerLost);
  await table.kill(r.actorId);
  start().resolve({ address: "x", workerId: "w-restarting", pid: 1 });
  await settle();
  assert.equal(table.get(r.actorId).state, "DEAD");
  assert.equal(killed.at(-1), "w-restarting");
  // DEAD: nothing moves, the first death is kept.
  const before = table.get(r.actorId).story.length;
  await table.kill(r.actorId, "owner-died", { name: "ActorDiedError", message: "later" });
  assert.equal(table.get(r.actorId).story.length, before);
  assert.equal(table.get(r.actorId).death.message, "the actor was killed with kill()");
});

test("a report about a replaced worker changes nothing; waiters wake on every move", async () => {
  const { table, construct } = setup();
  const r = request({ maxRestarts: 1 });
  const p = table.create(r);
  const w0 = construct();
  await p;
  table.workerDied(w0, r.actorId, workerLost);
  const w1 = construct();
  await table.wait(r.actorId);
  table.workerDied(w0, r.actorId, workerLost);   // late news of the first worker
  assert.equal(table.get(r.actorId).state, "ALIVE");
  assert.equal(table.get(r.actorId).workerId, w1);
  const settled = table.settled(r.actorId);
  table.workerDied(w1, r.actorId, workerLost);
  assert.equal((await settled).state, "DEAD");
});

test("names: a live name is refused or reused (getIfExists), a dead one is taken again", async () => {
  const { table, construct } = setup();
  const first = request({ name: "svc" });
  let p = table.create(first);
  construct();
  await p;
  await assert.rejects(table.create(request({ name: "svc" })), { name: "IllegalStateError" });
  assert.equal((await table.create(request({ name: "svc", getIfExists: true }))).actorId, first.actorId);
  assert.equal(table.named("ns", "svc").actorId, first.actorId);
  await table.kill(first.actorId);
  const second = request({ name: "svc" });
  p = table.create(second);
  construct();
  await p;
  assert.equal(table.named("ns", "svc").actorId, second.actorId);
});

test("a restarted head's table loads what was on disk and places again the actors it was placing", async () => {
  const { table, host, construct, members } = setup();
  const r = request({ maxRestarts: 1 });
  const p = table.create(r);
  construct();
  await p;
  table.workerDied(table.get(r.actorId).workerId, r.actorId, workerLost);   // RESTARTING, its start asked of n1
  const starts = [];
  const again = new ActorTable({ ...host, nodes: { ...host.nodes, get: (id) => id === "n1" ? { ...members.get("n1"),
    client: { call: (m, args) => new Promise((resolve) => starts.push({ m, args, resolve })) } } : members.get(id) } });
  again.restore();
  assert.equal(again.get(r.actorId).state, "RESTARTING");
  assert.deepEqual(again.get(r.actorId).story, [], "a new story");
  assert.equal(starts.length, 1);
  assert.equal(starts[0].args.actorId, r.actorId);
  starts[0].resolve({ address: "y", workerId: "w-again", pid: 2 });
  assert.equal((await again.wait(r.actorId)).workerId, "w-again");
  assert.deepEqual(moves(again.get(r.actorId)), ["RESTARTING>ALIVE:placed"]);
});
