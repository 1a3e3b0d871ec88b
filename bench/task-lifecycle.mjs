// The owner's per-task bookkeeping alone, without sockets: `node bench/task-lifecycle.mjs`
// (after npm run build). N tasks go submitted → queued → pushed → finished through the task
// manager with a fake core and submitter, with events into the process's ring as in the
// runtime, with a ring that keeps nothing, and with no events at all (the manager's record()
// replaced by a no-op, as if it had none): the differences are what events and stories cost.
import { TaskManager } from "../dist/src/core/tasks/task-manager.js";
import { EventRing } from "../dist/src/core/events.js";
import { Lineage } from "../dist/src/core/lineage.js";

const N = Number(process.argv[2] ?? 300_000);
const core = { address: "o", pin() {}, unpin() {}, resolve() {}, isOwned: () => false, reset() {}, relocate: async () => ({}), locate: async () => ({}), exported: (v) => v, revive() {} };
const lease = { grant: { leaseId: "l", workerId: "w", address: "a", nodeId: "n" } };
const reply = { returns: [{ v: new Uint8Array(1) }] };
const fn = { id: "f", name: "f" };
const resources = { CPU: 1 };

class NoRing extends EventRing { task() { return -1; } }

function run(ring, noEvents = false) {
  const tm = new TaskManager(core, new Lineage(core), () => ({ submit() {}, dequeue: () => true, async cancelPushed() {} }), ring);
  if (noEvents) tm.record = () => {};
  const t0 = process.cpuUsage();   // CPU time, not wall time: the machine is shared
  for (let i = 0; i < N; i++) {
    const taskId = "t" + i;
    const task = tm.submit({ spec: { taskId, name: "f", jobId: "j", fnId: "f", args: [], numReturns: 1, owner: "o" }, num: i, fn, resources, shape: "s",
      returnIds: [taskId + ".0"], pinned: [], retriesLeft: 3 });
    task.lease = lease;
    tm.pushed(task);
    tm.replied(task, reply);
  }
  const used = process.cpuUsage(t0);
  return (used.user + used.system) * 1000 / N;
}

const ROUNDS = 7;
const rows = { events: [], unkept: [], none: [] };
for (let round = 0; round <= ROUNDS; round++) {   // alternated; the first round warms up
  const a = run(new EventRing());
  const b = run(new NoRing(1));
  const c = run(new NoRing(1), true);
  if (round > 0) { rows.events.push(a); rows.unkept.push(b); rows.none.push(c); }
}
const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1];
console.log(`task lifecycle on the owner, ${N} tasks x ${ROUNDS} rounds (median CPU ns per task, 4 transitions each):`);
console.log(`  events into the process's ring and stories:  ${median(rows.events).toFixed(0)} ns`);
console.log(`  no events kept (ring discards):              ${median(rows.unkept).toFixed(0)} ns`);
console.log(`  no events, no stories:                       ${median(rows.none).toFixed(0)} ns`);
