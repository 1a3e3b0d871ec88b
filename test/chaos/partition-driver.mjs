// The partition test's driver: nested tasks and actor calls on node `on`, none of them ever retried
// (maxRetries 0, an actor without restarts), in flight while the test cuts that node's link. Prints
// READY once the first ones run there, keeps submitting until a line arrives on stdin (the link is
// back), then prints "RESULT <json>" with every outcome: whether it was sent before READY (so before
// the cut) and answered after that line (after the link came back).
import * as path from "node:path";
import { createInterface } from "node:readline";
import { init, shutdown, get } from "helios";
import { strictParent, expected, Ledger } from "./work.mjs";
import { untilFile } from "../fixtures/latch.mjs";

const { on, dir, ms = 1500 } = JSON.parse(process.argv[2]);
await init();
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const pin = { schedulingStrategy: { nodeId: on } };
const task = strictParent.options(pin);
const actor = Ledger.options({ ...pin, maxRestarts: 0, maxTaskRetries: 0 }).remote(dir, "p");

const outcomes = [];
let seq = 0;
let ready = false, restored = false;
const track = (kind, ref, want) => {
  const o = { kind, want, beforeCut: !ready };
  outcomes.push(o);
  return get(ref).then((v) => { o.got = v; }, (e) => { o.error = `${e.name}: ${e.message}`; }).finally(() => { o.afterRestore = restored; });
};
const pending = [];
const callActor = (t = 0) => { seq++; pending.push(track("call", actor.apply.remote(seq, t), seq)); };
let i = 0;
const runTask = (t, started) => { pending.push(track("task", task.remote(i, t, started), expected(i))); i++; };

callActor();
await Promise.all(pending);   // the actor is up on `on`
const started = Array.from({ length: 4 }, (_, k) => path.join(dir, `started-${k}`));
for (let k = 0; k < 4; k++) runTask(ms, started[k]);   // each takes 2 × ms on `on`: still running when the link goes
for (let k = 0; k < 4; k++) callActor(ms);   // one after the other: the last ends 4 × ms from now
await Promise.any(started.map((f) => untilFile(f, 60_000, "a task to start")));   // the first runs there (2 CPUs: not all at once)
ready = true;
console.log("READY");

createInterface({ input: process.stdin }).once("line", () => { restored = true; });
while (!restored) {
  runTask(50);
  callActor();
  await sleep(250);
}
await Promise.all(pending);
console.log("RESULT " + JSON.stringify({ outcomes }));
await shutdown();
