// Test support: a cluster per test file, a fixture that runs each test against it with a deadline
// and checks that nothing leaked, latches to synchronise on, and checks that nothing is left running.
import { test } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { init, shutdown } from "helios";
import { runtime } from "../dist/src/api.js";
import { formatStory } from "../dist/src/core/tasks/task-states.js";
import { eventTime } from "../dist/src/core/events.js";
import { untilFile, openLatch } from "./fixtures/latch.mjs";

export { untilFile, openLatch };

/** The cluster of this test file: init() is once per process. */
let current;

/** Start a local cluster; returns a function that stops it and asserts no process was left behind. */
export async function startCluster(options = {}) {
  await init({ numCpus: 2, ...options });
  const rt = runtime();
  const cluster = {
    rt,
    agentInfo: () => rt.core.agent.call("info"),
    async stop() {
      const info = await rt.core.agent.call("info");
      const pids = info.workers.map((w) => w.pid);
      await shutdown();
      current = undefined;
      await waitFor(() => pids.every((p) => !alive(p)), 5000, `worker processes ${pids.filter(alive)} still running after shutdown`);
    },
  };
  current = cluster;
  return cluster;
}

export function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Poll a condition (for external processes, which send no events we can wait on). */
export async function waitFor(cond, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---- latches --------------------------------------------------------------------------------

let latchDir;
let latches = 0;
/**
 * A latch shared with tasks: a file path a task opens (openLatch, or held()'s `started`) or waits
 * on (held()'s `release`), and the test's side of it: `await l.opened()`, `l.open()`.
 */
export function latch(name = "latch") {
  if (!latchDir) {
    latchDir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-latch-"));
    process.once("exit", () => fs.rmSync(latchDir, { recursive: true, force: true }));
  }
  const file = path.join(latchDir, `${name}-${++latches}`);
  return {
    path: file,
    open: () => openLatch(file),
    opened: (ms = 20_000) => untilFile(file, ms, `latch ${name}`),
    isOpen: () => fs.existsSync(file),
    /** What the opener wrote (held() and spinning write their pid). */
    read: () => fs.readFileSync(file, "utf8"),
  };
}

/** A temp directory for a test file's run logs, removed when the test process exits. */
export function scratchDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (scratchDirs.length === 0) process.once("exit", () => { for (const d of scratchDirs) fs.rmSync(d, { recursive: true, force: true }); });
  scratchDirs.push(dir);
  return dir;
}
const scratchDirs = [];

// ---- the cluster fixture ----------------------------------------------------------------------

/**
 * A test against this file's cluster (startCluster() in before()), in the spirit of dask's
 * gen_cluster: it fails after `deadlineMs` with a dump of the owner's pending tasks, the agent's
 * workers and leases and the head's actors; after it passes, it checks that nothing leaked:
 * no lease held, no actor it created still alive, no worker starting or orphaned, no process of
 * the agent's that is not a worker it lists. `fn(t, cluster)`.
 * Example: clusterTest("a task runs", async () => { ... }, { deadlineMs: 10_000 });
 * The dump lists each pending task with its story (its last transitions, times relative to its
 * submission), actor calls not answered, the leases this owner holds with the tasks pushed on
 * each, the agent's leases and other workers, and the head's actors (the dead of earlier tests counted).
 */
export function clusterTest(name, fn, { deadlineMs = 30_000, leaks = true } = {}) {
  // node:test's own timeout (npm test's --test-timeout) is a backstop: ours fires first, with a dump.
  return test(name, { timeout: deadlineMs + 30_000 }, async (t) => {
    const c = current;
    if (!c) throw new Error("clusterTest needs startCluster() first (in before())");
    const before = c.before = await snapshot(c);
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => dumpCluster(c).then((dump) =>
        reject(new Error(`no end after ${deadlineMs} ms: ${name}\n${dump}`))), deadlineMs);
    });
    try {
      await Promise.race([fn(t, c), deadline]);
    } finally {
      clearTimeout(timer);
    }
    if (leaks) await assertNoLeaks(c, before);
  });
}

/** What the owner (this driver) has pending: the runtime's own dump if it has one, else its task table. */
export function ownerState(rt = current.rt) {
  if (typeof rt.debugDump === "function") return rt.debugDump();
  // Read for diagnosis only: fields of the runtime of today, not an interface.
  const tasks = [...(rt.tasks?.values() ?? [])].map((task) => {
    const place = rt.submitter?.placeOf?.(task);
    return { taskId: task.spec.taskId, name: task.spec.name, state: task.state, attempts: task.attempts,
      cancelled: !!task.cancelled, worker: place?.grant.workerId, running: place?.running, story: rt.tasks.story?.(task) };
  });
  const actorCalls = [...(rt.actors?.actors?.entries() ?? [])]
    .filter(([, s]) => s.inflight.size || s.lostCalls.length || s.pending || s.dead)
    .map(([actorId, s]) => ({ actorId, connection: s.state, inflight: [...s.inflight].map((c) => c.spec.name), lost: s.lostCalls.length, pending: s.pending,
      dead: s.dead?.message }));
  const sub = rt.submitter;
  // The leases this owner holds, per shape of task, and what each has pushed (the running one first).
  const queues = [...(sub?.queues?.entries() ?? [])].map(([shape, q]) => ({ shape, rtt: q.rtt, queued: q.tasks.length,
    requesting: q.requesting, failures: q.failures, pipelines: sub.depth?.(q) > 1,
    leases: [...q.leases].map((l) => ({ leaseId: l.grant.leaseId, nodeId: l.grant.nodeId, workerId: l.grant.workerId, blocked: !!l.blocked,
      idle: !!l.idle, inflight: l.inflight.map((t) => t.spec.taskId) })) }));
  return { tasks, actorCalls, queues };
}

/** The owner's pending task that makes `ref`, as ownerState() lists it (undefined once it is done). */
export function pendingTask(ref, rt = current.rt) {
  return ownerState(rt).tasks.find((t) => ref.id.startsWith(`${t.taskId}.`));
}

/** A readable dump of the owner's pending work, the agent's workers and leases and the head's actors. */
export async function dumpCluster(c = current) {
  const rt = c.rt;
  const [info, actors] = await Promise.all([
    rt.core.agent.call("info", {}, 3000).catch((e) => ({ error: e.message })),
    rt.core.head.call("listActors", {}, 3000).catch((e) => ({ error: e.message })),
  ]);
  const out = [];
  let owner;
  try { owner = ownerState(rt); } catch (e) { owner = { error: e.message }; }
  out.push(`owner ${rt.core.address}: ${owner.tasks?.length ?? "?"} pending task(s)`);
  const now = eventTime();
  for (const t of owner.tasks ?? []) {
    const since = t.story?.length ? ` since ${(now - t.story.at(-1).time).toFixed(0)} ms, submitted ${(now - t.story[0].time).toFixed(0)} ms ago` : "";
    out.push(`  ${t.taskId} ${t.name} ${t.state}${t.running ? " (running)" : ""}${t.worker ? ` on ${t.worker}` : ""} attempt ${t.attempts}${t.cancelled ? " cancelled" : ""}${since}`);
    if (t.story) out.push(formatStory(t.story).replace(/^/gm, "  "));
  }
  for (const a of owner.actorCalls ?? []) {
    out.push(`  actor ${a.actorId}: ${a.pending} call(s) not answered, in flight [${a.inflight.join(", ")}], lost ${a.lost}` +
      `${a.connection ? `, connection ${a.connection}` : ""}${a.dead ? `, dead: ${a.dead}` : ""}`);
  }
  for (const q of owner.queues ?? []) {
    if (!q.queued && !q.requesting && !q.leases.length) continue;
    out.push(`  leases for ${q.shape}: ${q.leases.length} held, ${q.requesting} requested, ${q.queued} task(s) queued` +
      `${q.failures ? `, ${q.failures} failed request(s)` : ""}${q.pipelines ? ", pipelining" : ""}`);
    for (const l of q.leases) {
      out.push(`    lease ${l.leaseId} worker ${l.workerId} on ${l.nodeId}${l.blocked ? " (blocked in get)" : ""}${l.idle ? " (idle)" : ""}: pushed [${l.inflight.join(", ")}]`);
    }
  }
  if (owner.error) out.push(`  (${owner.error})`);
  if (info.error) out.push(`agent: ${info.error}`);
  else {
    out.push(`agent ${info.nodeId}: available ${JSON.stringify(info.available)} of ${JSON.stringify(info.total)}`);
    const leased = info.workers.filter((w) => w.leaseId);
    out.push(`  ${leased.length} lease(s)${leased.length ? ":" : ""}`);
    for (const w of leased) out.push(`    ${w.leaseId} to ${w.leaseOwner === rt.core.address ? "this owner" : w.leaseOwner}: worker ${w.workerId} pid ${w.pid} ${w.state}`);
    out.push(`  ${info.workers.length - leased.length} other worker(s)`);
    for (const w of info.workers) {
      if (!w.leaseId) out.push(`    worker ${w.workerId} pid ${w.pid} ${w.state}${w.actorId ? ` actor ${w.actorId}` : ""}${alive(w.pid) ? "" : " (its process is gone)"}`);
    }
  }
  if (actors.error) out.push(`head: ${actors.error}`);
  else {
    out.push(`head: ${actors.length} actor(s)`);
    // The dead ones of earlier tests are counted, not listed: they are history, not what hangs.
    const dead = actors.filter((a) => a.state === "DEAD" && c.before?.actors.has(a.actorId));
    for (const a of actors) {
      if (dead.includes(a)) continue;
      out.push(`  ${a.actorId} ${a.className}${a.name ? ` "${a.name}"` : ""} ${a.state}${a.workerId ? ` on ${a.workerId}` : ""}` +
        `${a.nodeId ? ` (node ${a.nodeId})` : ""}${a.numRestarts ? `, ${a.numRestarts} restart(s)` : ""}${a.death ? `: ${a.death.message}` : ""}`);
    }
    if (dead.length) out.push(`  and ${dead.length} dead actor(s) of earlier tests`);
  }
  return out.join("\n");
}

async function snapshot(c) {
  const [info, actors] = await Promise.all([c.rt.core.agent.call("info"), c.rt.core.head.call("listActors")]);
  return { pids: new Map(info.workers.map((w) => [w.workerId, w.pid])), actors: new Set(actors.map((a) => a.actorId)) };
}

/** The pids of a process's children (from /proc; a zombie counts as gone). */
function childrenOf(ppid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(parent) === ppid && state !== "Z") out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** What leaked since `before`: leases held, actors of this test alive, workers starting or gone but running, stray processes. */
async function leaksSince(c, before) {
  const [info, actors] = await Promise.all([c.rt.core.agent.call("info"), c.rt.core.head.call("listActors")]);
  const problems = [];
  for (const w of info.workers) {
    if (w.leaseId) problems.push(`worker ${w.workerId} (pid ${w.pid}) still leased (${w.leaseId} to ${w.leaseOwner})`);
    else if (w.state !== "idle" && w.state !== "actor") problems.push(`worker ${w.workerId} (pid ${w.pid}) is ${w.state}`);
    if (!alive(w.pid)) problems.push(`worker ${w.workerId} is listed but its process ${w.pid} is gone`);
  }
  const listed = new Set(info.workers.map((w) => w.pid));
  for (const [id, pid] of before.pids) if (!listed.has(pid) && alive(pid)) problems.push(`worker ${id} left the agent's list but its process ${pid} runs`);
  const agentPid = globalThis[Symbol.for("helios.runtime")]?.cluster?.pids.at(-1);
  if (agentPid) for (const pid of childrenOf(agentPid)) if (!listed.has(pid)) problems.push(`process ${pid}, a child of the agent, is no worker it lists`);
  for (const a of actors) {
    if (!before.actors.has(a.actorId) && a.state !== "DEAD") problems.push(`actor ${a.actorId} (${a.className}) made by this test is ${a.state}: kill it, or it outlives the test`);
  }
  return problems;
}

export async function assertNoLeaks(c = current, before = c.before, ms = 5000) {
  let problems = [];
  // Leases go back after a short idle time and killed workers take a moment to exit: wait for it.
  await waitFor(async () => (problems = await leaksSince(c, before)).length === 0, ms, "no leaks").catch(() => {});
  if (problems.length) throw new Error(`the test left things behind:\n  ${problems.join("\n  ")}\n${await dumpCluster(c)}`);
}
