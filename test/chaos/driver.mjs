// The chaos workload, run as a driver on its own host: `tasks` nested tasks and `actors` actors
// each receiving calls 1..`calls`, all spread over about `spreadMs`, while the test kills
// processes and cuts links. Every result is checked against its expected value (a checksum
// ledger); afterwards the driver waits for the cluster's free CPU to return to its total.
// Prints "STARTED" once the actors answer, then "RESULT <json>".
import { init, shutdown, get, getRuntimeContext } from "helios";
import { runtime } from "../../dist/src/api.js";
import { parent, expected, Ledger } from "./work.mjs";

const args = JSON.parse(process.argv[2] ?? "{}");
const { tasks = 2000, actors = 20, calls = 40, dir, taskMs = 5, callMs = 5, spreadMs = 15_000, deadlineMs = 90_000, cpuWindowMs = 30_000 } = args;
const t0 = Date.now();
await init();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const errorName = (e) => e?.name ?? String(e);
const count = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);

// ---- actors: created first, so that kills of their workers start at once ---------------------
// SPREAD: the actors live on every node, so each kind of fault reaches some of them.
const handles = Array.from({ length: actors }, (_, k) => Ledger.options({ schedulingStrategy: "SPREAD" }).remote(dir, `a${k}`));
const answered = handles.map(() => new Set());
const actorWrong = [];
const actorErrors = new Map();
function call(k, seq) {
  return get(handles[k].apply.remote(seq, callMs)).then((r) => {
    if (r !== seq) actorWrong.push({ actor: k, seq, got: r });
    answered[k].add(seq);
  }, (e) => { count(actorErrors, errorName(e)); actorWrong.push({ actor: k, seq, error: `${errorName(e)}: ${e.message}` }); });
}
await Promise.all(handles.map((_, k) => call(k, 1)));
console.log("STARTED");

// ---- tasks and calls, paced over spreadMs -----------------------------------------------------
const results = new Array(tasks);
const taskErrors = new Map();
const pending = [];
const steps = Math.max(1, Math.floor(spreadMs / 50));
let submitted = 0, sent = actors;
const submit = (async () => {
  let seq = 1;
  for (let step = 1; step <= steps; step++) {
    for (const end = Math.round((tasks * step) / steps); submitted < end; submitted++) {
      const i = submitted;
      pending.push(get(parent.remote(i, taskMs)).then((v) => { results[i] = { v }; },
        (e) => { count(taskErrors, errorName(e)); results[i] = { error: `${errorName(e)}: ${e.message}` }; }));
    }
    // Sequence numbers go out in order per actor: each actor's calls are queued behind each other.
    for (const end = 1 + Math.round(((calls - 1) * step) / steps); seq < end;) {
      seq++;
      for (let k = 0; k < actors; k++) { pending.push(call(k, seq)); sent++; }
    }
    await sleep(50);
  }
})();

// Progress once a second (in the output of a failed round: where the workload stalled).
const progress = setInterval(() => {
  console.log(`PROGRESS ${((Date.now() - t0) / 1000).toFixed(0)}s: tasks ${results.filter(Boolean).length}/${submitted}, calls ${answered.reduce((s, a) => s + a.size, 0)}/${sent}`);
}, 1000);
const deadline = new Promise((r) => setTimeout(r, deadlineMs, false).unref());   // not what keeps the driver alive
const timedOut = !(await Promise.race([submit.then(() => Promise.all(pending)).then(() => true), deadline]));
clearInterval(progress);
await submit;
const workMs = Date.now() - t0;
console.log("DONE");

// ---- the checksum ledger -------------------------------------------------------------------
let sum = 0, expectedSum = 0, ok = 0;
const missing = [], wrong = [];
for (let i = 0; i < tasks; i++) {
  expectedSum += expected(i);
  const r = results[i];
  if (!r) missing.push(i);
  else if ("error" in r || r.v !== expected(i)) wrong.push({ i, ...r, expected: expected(i) });
  else { ok++; sum += r.v; }
}
const unanswered = [];
for (let k = 0; k < actors; k++) {
  for (let seq = 1; seq <= calls; seq++) if (!answered[k].has(seq)) unanswered.push(`a${k}#${seq}`);
}

// ---- free CPU back to its total (leases of ended work returned), as the head sees it ----------
const cpu = { ok: false, ms: 0, nodes: [] };
const c0 = Date.now();
while (!timedOut) {
  const nodes = (await runtime().core.head.call("listNodes")).filter((n) => n.state === "ALIVE");
  cpu.nodes = nodes.map((n) => ({ nodeId: n.nodeId, total: n.resources.CPU, free: n.available.CPU }));
  cpu.ms = Date.now() - c0;
  if (nodes.length && nodes.every((n) => n.available.CPU === n.resources.CPU)) { cpu.ok = true; break; }
  if (cpu.ms > cpuWindowMs) break;
  await sleep(200);
}

// What holds the CPU that did not come back (for the failure report).
if (!cpu.ok && !timedOut) {
  const nodes = (await runtime().core.head.call("listNodes")).filter((n) => n.state === "ALIVE" && n.available.CPU !== n.resources.CPU);
  cpu.held = await Promise.all(nodes.map(async (n) => {
    const info = await runtime().core.agentClient(n.agentAddress).call("info", {}, 5000).catch((e) => ({ error: e.message }));
    return { nodeId: n.nodeId, available: info.available, busy: info.workers?.filter((w) => w.state !== "idle" && !w.actorId), driver: runtime().core.address };
  }));
  // The driver's own view of the leases it holds (the submitter's internals: best effort).
  try {
    cpu.driverLeases = [...runtime().submitter.queues.values()].flatMap((q) => [...q.leases].map((l) => ({ worker: l.grant.workerId,
      node: l.grant.nodeId, inflight: l.inflight.length, idle: !!l.idle, blocked: !!l.blocked, queued: q.tasks.length, requesting: q.requesting })));
  } catch (e) { cpu.driverLeases = String(e); }
}

const result = {
  jobId: getRuntimeContext().jobId, workMs, timedOut,
  tasks: { count: ok, sum, expectedSum, missing: missing.slice(0, 20), missingCount: missing.length, wrong: wrong.slice(0, 20), wrongCount: wrong.length, errors: Object.fromEntries(taskErrors) },
  actors: { calls: actors * calls, answered: answered.reduce((s, a) => s + a.size, 0), unanswered: unanswered.slice(0, 20), unansweredCount: unanswered.length,
    wrong: actorWrong.slice(0, 20), wrongCount: actorWrong.length, errors: Object.fromEntries(actorErrors) },
  cpu,
};
console.log("RESULT " + JSON.stringify(result));
await shutdown();
// A hang must not keep the driver (and the test) waiting: what did not finish is reported above.
if (timedOut) process.exit(0);
