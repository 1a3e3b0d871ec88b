// The bounded log of actor, lease, worker, driver-watch and actor-connection transitions
// (src/lifecycle-log.ts): bounded with a drop counter, and fed by the tables that own those
// lifecycles (here the head's actor table and the agent's worker lifecycle, on fakes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { LifecycleLog, lifecycleLog } from "../dist/src/lifecycle-log.js";
import { moveWorker } from "../dist/node-agent/worker-states.js";
import { ActorTable } from "../dist/head/actors.js";

test("the log is bounded: when full it drops the oldest and counts what it dropped", () => {
  const log = new LifecycleLog(3);
  for (let i = 0; i < 5; i++) log.push({ kind: "worker", id: `w${i}`, from: "idle", to: "leased", stimulus: "leased", time: i });
  assert.equal(log.size, 3);
  assert.equal(log.dropped, 2);
  assert.deepEqual(log.drain().map((e) => e.id), ["w2", "w3", "w4"]);
  assert.equal(log.size, 0);
  assert.deepEqual(log.drain(), []);
  assert.throws(() => new LifecycleLog(0), RangeError);
});

test("worker moves and actor moves are events in the process's log", async () => {
  lifecycleLog.drain();
  const w = { id: "w1", state: "starting", story: [] };
  moveWorker(w, "idle", "ready");
  const host = {
    nodes: { get: () => undefined, placementView: () => [], client: () => undefined },
    scheduler: { place: () => ({ infeasible: "nothing fits" }) },
    store: { put() {}, table: () => new Map() },
    owners: { add: () => undefined, forget() {}, exited: () => false },
  };
  const table = new ActorTable(host);
  const info = await table.create({ actorId: "a1", jobId: "j1", className: "C", methods: [], namespace: "ns", detached: false,
    resources: { CPU: 1 }, maxConcurrency: 1, maxRestarts: 0, maxTaskRetries: 0, spec: { taskId: "t" }, owner: { workerId: "d", jobId: "j1", driver: true } });
  assert.equal(info.state, "DEAD", "nothing can hold it: unschedulable");
  const got = lifecycleLog.drain().map((e) => [e.kind, e.id, e.from, e.to, e.stimulus, e.error]);
  assert.deepEqual(got, [
    ["worker", "w1", "starting", "idle", "ready", undefined],
    ["actor", "a1", undefined, "PENDING", "created", undefined],
    ["actor", "a1", "PENDING", "DEAD", "unschedulable", "TaskUnschedulableError"],
  ]);
});
