// The owner's task lifecycle without sockets: the task manager with a fake core worker and a
// fake submitter (transport), against the compiled module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TaskManager, STORY_LENGTH } from "../dist/src/core/tasks/task-manager.js";
import { TRANSITIONS, IllegalTransitionError } from "../dist/src/core/tasks/task-states.js";
import { EventRing } from "../dist/src/core/events.js";
import { Lineage } from "../dist/src/core/lineage.js";
import { ObjectRef } from "../dist/src/core/object-ref.js";

const ADDRESS = "owner:1";

/** A core worker that owns what it is told to and records what the manager does to objects. */
function fakeCore() {
  const core = {
    address: ADDRESS,
    owned: new Set(),
    outcomes: new Map(),
    pins: new Map(),
    resets: [],
    relocations: [],
    relocate: (ref, node) => { core.relocations.push([ref.id, node]); return Promise.resolve({ value: { v: new Uint8Array([1]) } }); },
    pin: (ref) => core.pins.set(ref.id, (core.pins.get(ref.id) ?? 0) + 1),
    unpin: (id) => core.pins.set(id, core.pins.get(id) - 1),
    resolve: (id, outcome) => core.outcomes.set(id, outcome),
    isOwned: (id) => core.owned.has(id),
    reset: (id, node) => { core.resets.push([id, node]); core.outcomes.delete(id); },
    locate: async (ref) => core.outcomes.get(ref.id) ?? { value: { v: new Uint8Array([7]) } },
    exported: (v) => v,
    revive: (id) => core.owned.add(id),
    ref: (id, owner) => new ObjectRef(id, owner),
  };
  return core;
}

/** A submitter that only records: the test plays its reports. */
function fakeTransport() {
  return { queued: [], cancels: [], dequeueOk: true,
    submit(t) { this.queued.push(t); },
    dequeue(t) { const i = this.queued.indexOf(t); if (i >= 0) this.queued.splice(i, 1); return this.dequeueOk && i >= 0; },
    async cancelPushed(t) { this.cancels.push(t); } };
}

function setup(capacity = 1000) {
  const core = fakeCore();
  const events = new EventRing(capacity, (num) => `t${num}`);
  const lineage = new Lineage(core);
  let transport;
  const tm = new TaskManager(core, lineage, () => (transport = fakeTransport()), events);
  return { core, events, lineage, tm, transport };
}

let n = 0;
function init(extra = {}) {
  const num = n++;
  const taskId = `t${num}`;
  return { num, spec: { taskId, name: "f", jobId: "j1", fnId: "fn", args: [{ v: new Uint8Array([1]) }], numReturns: 1, owner: ADDRESS },
    fn: { id: "fn", name: "f" }, resources: { CPU: 1 }, shape: "CPU=1", returnIds: [`${taskId}.0`], pinned: [], retriesLeft: 3, ...extra };
}
/** An actor call as the runtime makes one: its spec names the actor. */
function actorCall(tm) {
  const i = init();
  return tm.actorCall({ ...i.spec, actor: { actorId: "a1", method: "m", callerId: "", seq: 0 } }, i.num, i.returnIds, i.pinned);
}
const lease = { grant: { leaseId: "l1", workerId: "w1", address: "x", nodeId: "n1" } };
const push = (tm, task) => { task.lease = lease; tm.pushed(task); };
const stored = { s: 200_000, id: "x", node: "n1", at: "n1:1" };
const settleSoon = () => new Promise((r) => setImmediate(r));

test("a task with value arguments goes resolving → queued → pushed → finished, one event per transition", () => {
  const { tm, transport, events, core } = setup();
  const task = tm.submit(init());
  assert.equal(task.state, "queued");
  assert.deepEqual(transport.queued, [task]);
  push(tm, task);
  tm.replied(task, { returns: [{ v: new Uint8Array([42]) }] });
  assert.equal(task.state, "finished");
  assert.equal(tm.get(task.spec.taskId), undefined);
  assert.deepEqual(core.outcomes.get(task.returnIds[0]), { value: { v: new Uint8Array([42]) } });
  const evs = events.drain();
  assert.deepEqual(evs.map((e) => [e.from, e.state, e.stimulus]),
    [[undefined, "resolving", "submitted"], ["resolving", "queued", "args-ready"], ["queued", "pushed", "pushed"], ["pushed", "finished", "replied"]]);
  assert.deepEqual(evs.map((e) => e.kind + e.attempt + e.job + e.name), Array(4).fill("task1j1f"));
  assert.equal(evs[2].node, "n1");
  assert.equal(evs[2].worker, "w1");
  assert.equal(evs[0].node, undefined);
  assert.ok(evs.every((e, i) => typeof e.time === "number" && (i === 0 || e.time >= evs[i - 1].time)));
});

test("every transition in the table is reachable through the manager's stimuli", async () => {
  const seen = new Set();
  const { tm, transport, events, core, lineage } = setup();
  const record = () => { for (const e of events.drain()) if (e.from) seen.add(`${e.from}>${e.state}`); };
  const ref = () => { const id = `p${n++}`; core.owned.add(id); return new ObjectRef(id, ADDRESS); };

  // resolving → queued (refs located), pushed → finished
  let t = tm.submit(init({ inputs: [ref()] }));
  await settleSoon();
  push(tm, t); tm.replied(t, { returns: [{ v: new Uint8Array([1]) }] });
  // resolving → failed (an argument is an error), resolving → cancelled
  const bad = ref(); core.outcomes.set(bad.id, { error: { name: "ObjectLostError", message: "gone" } });
  t = tm.submit(init({ inputs: [bad] }));
  await settleSoon();
  assert.equal(t.state, "failed");
  t = tm.submit(init({ inputs: [ref()] }));
  await tm.cancel(t.spec.taskId);
  // resolving → pushed (an actor call)
  t = actorCall(tm);
  tm.sent(t); tm.settle(t, { returns: [{ v: new Uint8Array([1]) }] }, "replied");
  // queued → failed, queued → cancelled
  t = tm.submit(init()); tm.unschedulable(t, { name: "TaskUnschedulableError", message: "no" });
  t = tm.submit(init()); await tm.cancel(t.spec.taskId);
  // pushed → queued, → retrying → queued, retrying → failed, retrying → cancelled, pushed → resolving, pushed → failed, pushed → cancelled
  t = tm.submit(init()); push(tm, t); assert.equal(tm.handedBack(t, "handed-back"), true);
  push(tm, t); tm.workerLost(t, async () => ({ name: "WorkerCrashedError", message: "x" }));
  await settleSoon();
  assert.equal(t.state, "queued");
  push(tm, t); tm.workerLost(t, async () => ({ name: "Error", message: "not retried" }));
  await settleSoon();
  assert.equal(t.state, "failed");
  t = tm.submit(init()); push(tm, t); tm.workerLost(t, () => new Promise(() => {})); await tm.cancel(t.spec.taskId);
  assert.equal(t.state, "retrying");
  t = tm.submit(init()); push(tm, t); t.cancelled = true; tm.workerLost(t, async () => ({ name: "WorkerCrashedError", message: "x" }));
  assert.equal(t.state, "cancelled");
  const arg = ref();
  t = tm.submit(init({ inputs: [arg] })); await settleSoon(); push(tm, t);
  tm.replied(t, { error: { name: "ObjectLostError", message: "lost", lost: { id: arg.id, node: "n1" } } });
  assert.equal(t.state, "resolving");
  await settleSoon(); await settleSoon();
  assert.equal(t.state, "queued");
  push(tm, t); tm.replied(t, { error: { name: "TaskError", message: "boom", task: { originalName: "Error" } } });
  t = tm.submit(init()); push(tm, t); tm.replied(t, { error: { name: "TaskCancelledError", message: "dropped" } });
  // reconstructing → queued, reconstructing → resolving, reconstructing → failed: see the lineage tests below
  t = tm.submit(init()); core.owned.add(t.returnIds[0]); push(tm, t); tm.replied(t, { returns: [stored] });
  assert.ok(lineage.get(t.spec.taskId));
  assert.equal(tm.reconstruct(t.spec.taskId, "n1"), true);
  const p = tm.submit(init({ inputs: [ref()] })); await settleSoon(); core.owned.add(p.returnIds[0]); push(tm, p); tm.replied(p, { returns: [stored] });
  const c = tm.submit(init({ inputs: [new ObjectRef(p.returnIds[0], ADDRESS)] })); await settleSoon(); core.owned.add(c.returnIds[0]); push(tm, c); tm.replied(c, { returns: [stored] });
  assert.equal(tm.reconstruct(c.spec.taskId, "n1"), true);
  const orphan = tm.submit(init({ inputs: [new ObjectRef(`gone${n++}.0`, ADDRESS)] })); await settleSoon(); core.owned.add(orphan.returnIds[0]);
  push(tm, orphan); tm.replied(orphan, { returns: [stored] });
  assert.equal(tm.reconstruct(orphan.spec.taskId, "n1"), true);
  assert.equal(tm.get(orphan.spec.taskId), undefined);
  assert.equal(core.outcomes.get(orphan.returnIds[0]).error.name, "ObjectLostError");
  record();

  const table = [];
  for (const [from, tos] of Object.entries(TRANSITIONS)) for (const to of Object.keys(tos)) table.push(`${from}>${to}`);
  assert.deepEqual(table.filter((k) => !seen.has(k)), []);
  assert.equal(transport.queued.length > 0, true);
});

test("a move not in the table throws IllegalTransitionError naming the task, both states and its story", () => {
  const { tm } = setup();
  const task = tm.submit(init());
  push(tm, task);
  tm.replied(task, { returns: [{ v: new Uint8Array([1]) }] });
  assert.throws(() => tm.transition(task, "queued", "retry"), (e) => {
    assert.ok(e instanceof IllegalTransitionError);
    assert.equal(e.name, "IllegalTransitionError");
    assert.equal(e.taskId, task.spec.taskId);
    assert.equal(e.from, "finished");
    assert.equal(e.to, "queued");
    assert.deepEqual(e.story.map((s) => s.state), ["resolving", "queued", "pushed", "finished"]);
    assert.match(e.message, /cannot go from finished to queued/);
    assert.match(e.message, /queued → pushed \(pushed\) attempt 1 node n1 worker w1/);
    return true;
  });
  // A task not pushed cannot be answered.
  const other = tm.submit(init());
  assert.throws(() => tm.transition(other, "finished", "replied"), IllegalTransitionError);
});

test("a task's story keeps its last transitions; dump() lists live tasks with theirs", () => {
  const { tm } = setup();
  const task = tm.submit(init({ retriesLeft: -1 }));
  for (let i = 0; i < 6; i++) { push(tm, task); tm.handedBack(task, "handed-back"); }
  const story = tm.story(task);
  assert.equal(story.length, STORY_LENGTH);
  assert.deepEqual(story.map((e) => e.state), ["queued", "pushed", "queued", "pushed", "queued", "pushed", "queued", "pushed", "queued"].slice(-STORY_LENGTH));
  assert.ok(story.every((e, i) => i === 0 || e.time >= story[i - 1].time));
  const dump = tm.dump();
  assert.match(dump, /1 live task\(s\)/);
  assert.match(dump, new RegExp(`${task.spec.taskId} f queued attempt 1`));
  assert.match(dump, /pushed → queued \(handed-back\)/);
});

test("retries are counted: maxRetries losses are retried, the next one fails and says how many attempts ran", async () => {
  const { tm, transport, core, events } = setup();
  const task = tm.submit(init({ retriesLeft: 2 }));
  const crash = async () => ({ name: "WorkerCrashedError", message: "the worker died" });
  for (let attempt = 1; attempt <= 3; attempt++) {
    assert.equal(task.attempts, attempt);
    push(tm, task);
    tm.workerLost(task, crash);
    await settleSoon();
  }
  assert.equal(task.state, "failed");
  assert.equal(transport.queued.length, 3, "queued once, then again for each retry");
  const error = core.outcomes.get(task.returnIds[0]).error;
  assert.equal(error.name, "WorkerCrashedError");
  assert.match(error.message, /\(after 3 attempts\)$/);
  const last = events.drain().at(-1);
  assert.deepEqual([last.from, last.state, last.stimulus, last.errorType, last.attempt], ["retrying", "failed", "worker-lost", "WorkerCrashedError", 3]);
});

test("user exceptions retry only as retryExceptions says, and a lost cause that is not a crash is not retried", async () => {
  const { tm, core } = setup();
  const err = (name) => ({ error: { name: "TaskError", message: name, task: { originalName: name } } });
  const named = tm.submit(init({ retryExceptions: ["RangeError"], retriesLeft: 1 }));
  push(tm, named); tm.replied(named, err("RangeError"));
  assert.equal(named.state, "queued");
  assert.equal(named.attempts, 2);
  push(tm, named); tm.replied(named, err("RangeError"));
  assert.equal(named.state, "failed", "no retry left");
  const other = tm.submit(init({ retryExceptions: ["RangeError"] }));
  push(tm, other); tm.replied(other, err("TypeError"));
  assert.equal(other.state, "failed");
  const oomless = tm.submit(init());
  push(tm, oomless); tm.workerLost(oomless, async () => ({ name: "TaskCancelledError", message: "x" }));
  await settleSoon();
  assert.equal(oomless.state, "cancelled");
  assert.equal(core.outcomes.get(oomless.returnIds[0]).error.name, "TaskCancelledError");
});

test("cancel in every state: at once before a push, through the transport once pushed, at the decision while retrying, not at all once ended", async () => {
  const { tm, transport, core } = setup();
  const ref = () => { const id = `p${n++}`; core.owned.add(id); return new ObjectRef(id, ADDRESS); };
  const outcome = (t) => core.outcomes.get(t.returnIds[0]);

  const resolving = tm.submit(init({ inputs: [ref()] }));
  await tm.cancel(resolving.spec.taskId);
  assert.equal(resolving.state, "cancelled");
  assert.equal(outcome(resolving).error.name, "TaskCancelledError");
  await settleSoon();   // its arguments located meanwhile: nothing happens
  assert.equal(resolving.state, "cancelled");
  assert.equal(transport.queued.includes(resolving), false);

  const queued = tm.submit(init());
  await tm.cancel(queued.spec.taskId);
  assert.equal(queued.state, "cancelled");
  assert.equal(transport.queued.includes(queued), false);

  const pushed = tm.submit(init());
  push(tm, pushed);
  await tm.cancel(pushed.spec.taskId);
  assert.deepEqual(transport.cancels, [pushed]);
  assert.equal(pushed.state, "pushed", "ends when its worker answers or dies");
  tm.workerLost(pushed, () => assert.fail("a cancelled task's lost worker is not asked about"));
  assert.equal(pushed.state, "cancelled");
  assert.match(outcome(pushed).error.message, /cancelled while running/);

  const handed = tm.submit(init());
  push(tm, handed);
  await tm.cancel(handed.spec.taskId);
  assert.equal(tm.handedBack(handed, "handed-back"), false, "a cancelled task handed back is not queued again");
  assert.equal(handed.state, "cancelled");

  let answer;
  const retrying = tm.submit(init());
  push(tm, retrying);
  tm.workerLost(retrying, () => new Promise((r) => { answer = r; }));
  await tm.cancel(retrying.spec.taskId);
  assert.equal(retrying.state, "retrying");
  answer({ name: "WorkerCrashedError", message: "x" });
  await settleSoon();
  assert.equal(retrying.state, "cancelled", "not retried");

  const finished = tm.submit(init());
  push(tm, finished);
  tm.replied(finished, { returns: [{ v: new Uint8Array([1]) }] });
  await tm.cancel(finished.spec.taskId);
  assert.equal(finished.state, "finished");
  assert.deepEqual(outcome(finished), { value: { v: new Uint8Array([1]) } });

  const call = actorCall(tm);
  await tm.cancel(call.spec.taskId);
  assert.equal(call.state, "resolving", "actor calls are not cancelled");
});

test("a lost argument sends the task back to resolving, relocates the argument, and queues it again", async () => {
  const { tm, core, transport } = setup();
  const id = `p${n++}`; core.owned.add(id);
  const task = tm.submit(init({ inputs: [new ObjectRef(id, ADDRESS)] }));
  await settleSoon();
  push(tm, task);
  tm.replied(task, { error: { name: "ObjectLostError", message: "lost", lost: { id, node: "n1" } } });
  assert.equal(task.state, "resolving");
  assert.deepEqual(core.relocations, [[id, "n1"]]);
  await settleSoon(); await settleSoon();
  assert.equal(task.state, "queued");
  assert.equal(transport.queued.filter((t) => t === task).length, 2);
  assert.equal(task.attempts, 1, "a relocation is not a retry");
  // An argument that is not among its inputs cannot be relocated: the task fails with the error.
  push(tm, task);
  tm.replied(task, { error: { name: "ObjectLostError", message: "lost", lost: { id: "other", node: "n1" } } });
  assert.equal(task.state, "failed");
});

test("a lost stored return is made again: a new attempt from an immutable recipe, its freed input rebuilt first", () => {
  const { tm, core, lineage, events } = setup();
  const finish = (t) => { core.owned.add(t.returnIds[0]); push(tm, t); tm.replied(t, { returns: [stored] }); };
  const x = tm.submit(init({ retriesLeft: 1 }));
  finish(x);
  const recipe = lineage.get(x.spec.taskId);
  assert.ok(Object.isFrozen(recipe));
  assert.deepEqual(recipe.args, x.spec.args, "value arguments are kept as sent");
  const y = tm.submit(init({ inputs: [new ObjectRef(x.returnIds[0], ADDRESS)] }));
  return settleSoon().then(async () => {
    finish(y);
    assert.deepEqual(lineage.get(y.spec.taskId).inputs, [{ lineageRef: x.returnIds[0], owner: ADDRESS }], "refs by id only");
    core.owned.delete(x.returnIds[0]);   // x's value was freed: only its recipe is left
    events.drain();

    assert.equal(tm.reconstruct(y.spec.taskId, "n1"), true);
    const y2 = tm.get(y.spec.taskId);
    assert.notEqual(y2, y, "a new record, not the finished one revived");
    assert.equal(y.state, "finished");
    assert.equal(y2.attempts, 2);
    assert.deepEqual(core.resets, [[y.returnIds[0], "n1"], [x.returnIds[0], ""]]);
    assert.ok(core.owned.has(x.returnIds[0]), "the freed input is owned (pending) again");
    const x2 = tm.get(x.spec.taskId);
    assert.equal(x2.attempts, 2);
    assert.equal(x2.retriesLeft, 0);
    assert.equal(tm.reconstruct(y.spec.taskId, "n1"), true, "already running again");
    assert.deepEqual(events.drain().map((e) => `${e.id === x.spec.taskId ? "x" : "y"} ${e.from ?? ""}>${e.state} ${e.stimulus}`), [
      "y >reconstructing object-lost",
      "x >reconstructing object-lost",
      "x reconstructing>queued args-ready",
      "y reconstructing>resolving inputs-pinned",
    ]);
    finish(x2);
    await settleSoon();
    finish(y2);
    assert.equal(lineage.get(x.spec.taskId).attempts, 2, "the re-run's recipe replaced the first");
    assert.equal(lineage.get(x.spec.taskId).retriesLeft, 0);
    assert.equal(tm.reconstruct(x.spec.taskId, "n1"), false, "no retry left");
  });
});

test("the event ring is bounded: when full it overwrites the oldest and counts what it dropped", () => {
  const { tm, events } = setup(10);
  for (let i = 0; i < 5; i++) tm.submit(init());   // 2 events each
  assert.equal(events.size, 10);
  assert.equal(events.dropped, 0);
  const t = tm.submit(init());
  assert.equal(events.size, 10);
  assert.equal(events.dropped, 2);
  const held = events.drain();
  assert.equal(held.length, 10);
  assert.deepEqual(held.slice(-2).map((e) => [e.id, e.state]), [[t.spec.taskId, "resolving"], [t.spec.taskId, "queued"]]);
  assert.equal(events.size, 0);
  assert.deepEqual(events.drain(), []);
  tm.submit(init());
  assert.equal(events.drain().length, 2);
  assert.equal(events.dropped, 2, "the count stays across drains");
  assert.throws(() => new EventRing(0), RangeError);
});

test("a story is read from the ring: drained events still tell it, overwritten ones are gone from it", () => {
  const { tm, events } = setup(6);
  const task = tm.submit(init());
  push(tm, task);
  assert.equal(events.drain().length, 3);
  assert.deepEqual(tm.story(task).map((e) => e.state), ["resolving", "queued", "pushed"], "draining does not shorten a story");
  const other = tm.submit(init());   // 2 more events: 5 held
  assert.deepEqual(tm.story(other).map((e) => [e.id, e.state]), [[other.spec.taskId, "resolving"], [other.spec.taskId, "queued"]]);
  tm.submit(init());   // 7 written into 6 slots: the task's first event is overwritten
  assert.deepEqual(tm.story(task).map((e) => e.state), ["queued", "pushed"]);
  tm.replied(task, { returns: [{ v: new Uint8Array([1]) }] });
  assert.deepEqual(tm.story(task).map((e) => `${e.from}>${e.state}`), ["queued>pushed", "pushed>finished"], "its queued event went with the 8th write");
  assert.equal(events.dropped, 0, "drained events are not counted as dropped when overwritten");
});
