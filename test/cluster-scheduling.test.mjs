import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startNetworkCluster } from "./cluster.mjs";

let c;
before(async () => {
  c = await startNetworkCluster({ agents: { a: { resources: { CPU: 2 } }, b: { resources: { CPU: 2, special: 1 }, labels: { zone: "b" } } } });
});
after(() => c?.stop());

const A = () => c.nodes.a.nodeId;
const B = () => c.nodes.b.nodeId;

test("a task needing a resource that only node B has runs on B", async () => {
  const { output, ...r } = await c.driver("tasks", { tasks: [1, 2, 3].map(() => ({ options: { resources: { special: 1 } } })) });
  assert.deepEqual(Object.values(r), [B(), B(), B()]);
});

test("SPREAD puts N tasks on N different nodes", async () => {
  const r = await c.driver("tasks", { tasks: [1, 2].map(() => ({ options: { schedulingStrategy: "SPREAD" }, ms: 300 })) });
  assert.deepEqual(new Set([r[0], r[1]]), new Set([A(), B()]));
});

test("hard node affinity runs on that node, and fails clearly when it cannot", async () => {
  const r = await c.driver("tasks", { tasks: [
    { options: { schedulingStrategy: { nodeId: A() } } },
    { options: { schedulingStrategy: { nodeId: B() } } },
    { options: { schedulingStrategy: { nodeId: "nNoSuchNode" } } },
  ] });
  assert.equal(r[0], A());
  assert.equal(r[1], B());
  assert.equal(r[2].error, "TaskUnschedulableError");
});

test("soft node affinity falls back to another node", async () => {
  const r = await c.driver("tasks", { tasks: [{ options: { schedulingStrategy: { nodeId: "nNoSuchNode", soft: true } } }] });
  assert.ok([A(), B()].includes(r[0]), JSON.stringify(r));
});

test("DEFAULT fills the local node first and spills to others when it is busy", async () => {
  const one = await c.driver("tasks", { tasks: [{}] }, "a");
  assert.equal(one[0], A());
  // Long enough that B's leases arrive before A's first two finish, even on a loaded machine
  // (with 800 ms a slow start on B had let A run a third).
  const busy = await c.driver("tasks", { tasks: [1, 2, 3, 4].map(() => ({ ms: 3000 })) }, "a");
  const counts = Object.values(busy).reduce((m, n) => ({ ...m, [n]: (m[n] ?? 0) + 1 }), {});
  assert.equal(counts[A()], 2, JSON.stringify(busy));
  assert.equal(counts[B()], 2, JSON.stringify(busy));
});

test("actors are placed by the same rules", async () => {
  const { output, ...r } = await c.driver("actors", { actors: [
    { options: { resources: { special: 1 } } },
    { options: { schedulingStrategy: { nodeId: A() } } },
    { options: { resources: { special: 5 } } },
  ] });
  assert.equal(r[0], B());
  assert.equal(r[1], A());
  assert.equal(r[2].error, "ActorDiedError");
  assert.equal(r[2].cause, "TaskUnschedulableError");
});

test("a task and an actor can ask where they run", async () => {
  const r = await c.driver("context", {});
  for (const ctx of [r.task, r.actor]) {
    assert.ok([A(), B()].includes(ctx.nodeId));
    assert.match(ctx.workerId, /^w/);
    assert.match(ctx.jobId, /^j/);
  }
  assert.ok(r.task.taskId);
  assert.match(r.actor.actorId, /^a/);
});
