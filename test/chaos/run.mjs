// The chaos suite: a nested-task and actor workload runs from a driver on its own host while a
// killer SIGKILLs random workers and one agent and cuts one agent's link for a few seconds.
// A round passes when every task result is present and correct (checksum ledger), every actor's
// ledger covers its calls with no gap and in order, the cluster's free CPU is back to its total
// within 30 s of the end, and Helios leaves no leased worker and no worker of the ended job.
//
//   node test/chaos/run.mjs --minutes N     rounds for N minutes on one cluster, then a summary
//   (npm run chaos -- --minutes N)          (run.mjs is also a module: test/chaos.test.mjs)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { startNetworkCluster } from "../cluster.mjs";
import { netnsAvailable } from "../netns.mjs";
import { alive } from "../helpers.mjs";
import { checkLedger, readLedger } from "./work.mjs";
import { mulberry32 } from "../../examples/lib/blocks.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const AGENTS = ["a", "b", "c"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One CI round: the full workload, with every kind of fault once. The agent killed is the one the
 * driver (on a host without an agent) leases from, the hardest case: the driver must move on to
 * another; the soak picks it at random.
 */
export const CI_ROUND = { tasks: 2000, actors: 20, calls: 40, spreadMs: 15_000, cutMs: 5000, cutAt: 2000, agentKillAt: 9000, killEveryMs: 400, killAgent: "home" };

/**
 * Head + 3 agents (2 CPUs each) + a driver host. The health-check window is twice the link cut:
 * a 5 s partition must be survived, and a killed agent is still declared dead soon after it.
 */
export async function startChaosCluster({ healthTimeoutMs = 10_000 } = {}) {
  if (!netnsAvailable()) throw new Error("the chaos suite needs root and `ip netns` (it runs the cluster in network namespaces)");
  const c = await startNetworkCluster({ agents: Object.fromEntries(AGENTS.map((h) => [h, { resources: { CPU: 2 } }])), healthTimeoutMs });
  c.seen = new Map();   // pid → its start time (so a pid reused later is not mistaken for ours)
  c.saw = (pid) => { if (!c.seen.has(pid)) { const t = startTime(pid); if (t) c.seen.set(pid, t); } };
  [c.head.pid, ...AGENTS.map((h) => c.nodes[h].pid)].forEach(c.saw);
  return c;
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22); undefined once it has exited (or is a zombie). */
function startTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch { return undefined; }
}

/** Pids of the processes in a host's namespace. */
function nsPids(c, host) {
  try {
    return execFileSync("ip", ["netns", "pids", c.net.hosts[host].ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

/** Head node table and every live agent's workers, read from the driver's host. */
export async function probe(c) {
  const r = await c.net.exec("driver", process.execPath, [path.join(here, "probe.mjs")],
    { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, timeout: 20_000 });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  if (r.code !== 0 || !line) throw new Error(`probe exited ${r.code}: ${r.stdout}${r.stderr}`);
  return JSON.parse(line);
}

/** The host of the agent a driver without an agent of its own leases from: the first live node the head lists (src/api.ts, join). */
async function homeHost(c) {
  const first = (await probe(c)).nodes.find((n) => n.state === "ALIVE");
  return AGENTS.find((h) => c.nodes[h].nodeId === first?.nodeId) ?? AGENTS[0];
}

/** Start the driver; resolves its events (STARTED, DONE) and its RESULT. */
function startDriver(c, args) {
  const proc = c.net.spawn("driver", process.execPath, [path.join(here, "driver.mjs"), JSON.stringify(args)],
    { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const marks = {};
  const waiters = {};
  const mark = (name, value = true) => { marks[name] = value; waiters[name]?.forEach((f) => f(value)); };
  createInterface({ input: proc.stdout }).on("line", (l) => {
    output += l + "\n";
    if (l === "STARTED" || l === "DONE") mark(l);
    else if (l.startsWith("RESULT ")) mark("RESULT", JSON.parse(l.slice(7)));
  });
  proc.stderr.setEncoding("utf8").on("data", (d) => { output += d; });
  const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  exited.then(() => { mark("STARTED", false); mark("DONE", false); });
  return {
    proc, exited,
    output: () => output,
    /** Resolves with the mark's value, or false once the driver has exited without it. */
    when: (name) => name in marks ? Promise.resolve(marks[name]) : new Promise((r) => (waiters[name] ??= []).push(r)),
    result: () => marks.RESULT,
  };
}

/**
 * The killer, until `stop()`: a random worker every `killEveryMs` (every third one an actor's),
 * the link of one agent cut for `cutMs` from `cutAt`, and another agent SIGKILLed at
 * `agentKillAt` and started again (as a new node) a second later.
 */
function startKiller(c, { dir, cutAt, cutMs, agentKillAt, killEveryMs, killAgent, home, rng = Math.random }) {
  const stats = { workerKills: 0, actorKills: 0, agentKills: 0, cuts: 0 };
  const log = [];
  const t0 = Date.now();
  const note = (what) => log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  const pick = (xs) => xs[Math.floor(rng() * xs.length)];
  const killHost = killAgent === "home" ? home : pick(AGENTS);
  const cutHost = pick(AGENTS.filter((h) => h !== killHost));
  let stopped = false;
  let agentDown = false;
  const actorPids = () => fs.readdirSync(dir).filter((f) => f.endsWith(".starts"))
    .map((f) => Number(fs.readFileSync(path.join(dir, f), "utf8").trim().split("\n").pop().split(" ")[2])).filter((p) => p > 0 && alive(p));

  const workers = (async () => {
    for (let n = 0; !stopped; n++) {
      await sleep(killEveryMs * (0.5 + rng()));
      if (stopped) break;
      const hosts = AGENTS.filter((h) => !(agentDown && h === killHost));
      const all = hosts.flatMap((h) => nsPids(c, h).filter((p) => p !== c.nodes[h].pid).map((pid) => ({ pid, host: h })));
      all.forEach((w) => c.saw(w.pid));
      const actors = new Set(actorPids());
      const victim = pick(all.filter((w) => actors.has(w.pid) === (n % 3 === 2)));
      if (!victim) continue;
      try { process.kill(victim.pid, "SIGKILL"); } catch { continue; }
      if (actors.has(victim.pid)) stats.actorKills++; else stats.workerKills++;
      note(`SIGKILL ${actors.has(victim.pid) ? "actor" : "task"} worker ${victim.pid} on ${victim.host}`);
    }
  })();

  const partition = (async () => {
    await sleep(cutAt);
    if (stopped) return;
    await c.net.cut(cutHost);
    stats.cuts++;
    note(`cut ${cutHost}`);
    await sleep(cutMs);
    await c.net.restore(cutHost);
    note(`restored ${cutHost}`);
  })();

  const agentKill = (async () => {
    await sleep(agentKillAt);
    if (stopped) return;
    nsPids(c, killHost).forEach(c.saw);
    agentDown = true;
    process.kill(c.nodes[killHost].pid, "SIGKILL");
    stats.agentKills++;
    note(`SIGKILL agent ${killHost} (${c.nodes[killHost].nodeId})`);
    await sleep(1000);
    const fresh = await c.startAgent(killHost);
    c.saw(fresh.pid);
    agentDown = false;
    note(`started agent ${killHost} again as ${fresh.nodeId}`);
  })();

  return {
    stats, log, cutHost, killHost,
    /** Stop killing workers; resolves once the partition is healed and the killed agent is back. */
    async stop() {
      stopped = true;
      await Promise.all([workers, partition, agentKill]);
    },
    /** True once the cut and the agent kill have both happened. */
    get complete() { return stats.cuts === 1 && stats.agentKills === 1; },
  };
}

/**
 * One round on a running chaos cluster. Resolves { failures, stats, log, ms }; `failures` is
 * empty when every check passed.
 */
export async function runRound(c, options = {}) {
  const o = { ...CI_ROUND, ...options };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-chaos-"));
  fs.chmodSync(dir, 0o777);
  const failures = [];
  const t0 = Date.now();
  const driver = startDriver(c, { tasks: o.tasks, actors: o.actors, calls: o.calls, dir, spreadMs: o.spreadMs,
    deadlineMs: o.deadlineMs ?? o.spreadMs + 60_000 });
  // A driver that hangs past its own deadline is stopped (it is ours) and reported.
  const watchdog = setTimeout(() => { try { process.kill(driver.proc.pid, "SIGKILL"); } catch {} }, (o.deadlineMs ?? o.spreadMs + 60_000) + 60_000);
  let killer;
  try {
    if (!(await driver.when("STARTED"))) throw new Error("the driver exited before its actors answered");
    killer = startKiller(c, { dir, ...o, home: await homeHost(c) });
    // The workload keeps going at least until the killer has cut the link and killed the agent.
    await driver.when("DONE");
    await killer.stop();
    if (!killer.complete) failures.push(`the workload ended before the killer was done (cuts ${killer.stats.cuts}, agent kills ${killer.stats.agentKills}): make spreadMs longer`);
    const { code, signal } = await driver.exited;
    const r = driver.result();
    if (!r) throw new Error(`the driver exited (${code ?? signal}) without a result`);
    checkResult(r, o, failures);
    for (const problem of checkLedgers(dir, o)) failures.push(problem);
    const after = await checkAfterJob(c, r.jobId, failures);
    return { failures, after, stats: { tasks: o.tasks, actorCalls: o.actors * o.calls, ...killer.stats }, log: killer.log, ms: Date.now() - t0, result: r,
      output: driver.output() };
  } catch (e) {
    failures.push(e.message);
    await killer?.stop().catch(() => {});
    return { failures, stats: { tasks: o.tasks, actorCalls: o.actors * o.calls, ...(killer?.stats ?? {}) }, log: killer?.log ?? [], ms: Date.now() - t0,
      output: driver.output() };
  } finally {
    clearTimeout(watchdog);
    await driver.exited;
    // A failed round keeps its ledgers (and the actors' start records) for a look.
    if (failures.length) failures.push(`ledgers kept in ${dir}`); else fs.rmSync(dir, { recursive: true, force: true });
  }
}

function checkResult(r, o, failures) {
  if (r.timedOut) failures.push(`the workload did not finish within ${o.deadlineMs ?? o.spreadMs + 60_000} ms`);
  const t = r.tasks;
  if (t.count !== o.tasks || t.sum !== t.expectedSum) {
    failures.push(`tasks: ${t.count} of ${o.tasks} correct (sum ${t.sum}, expected ${t.expectedSum}); missing ${t.missingCount} ${JSON.stringify(t.missing)}, ` +
      `wrong ${t.wrongCount} ${JSON.stringify(t.wrong)}, errors ${JSON.stringify(t.errors)}`);
  }
  const a = r.actors;
  if (a.answered !== a.calls || a.wrongCount) {
    failures.push(`actor calls: ${a.answered} of ${a.calls} answered with their number; unanswered ${a.unansweredCount} ${JSON.stringify(a.unanswered)}, ` +
      `wrong ${a.wrongCount} ${JSON.stringify(a.wrong)}, errors ${JSON.stringify(a.errors)}`);
  }
  if (!r.cpu.ok) failures.push(`free CPU did not return to its total within 30 s of the end: ${JSON.stringify(r.cpu.nodes)}`);
}

/** Every actor's ledger file: calls 1..calls, gap-free and in order (duplicates allowed). */
function checkLedgers(dir, o) {
  const problems = [];
  for (let k = 0; k < o.actors; k++) {
    const entries = readLedger(path.join(dir, `a${k}.log`));
    for (const p of checkLedger(entries, o.calls)) problems.push(`actor a${k} ledger: ${p}`);
  }
  return problems;
}

/**
 * After the driver's shutdown, as Helios leaves the cluster: no leased worker, no worker of the
 * ended job (its actors die with it, its task workers are stopped), free CPU equal to the total.
 */
async function checkAfterJob(c, jobId, failures) {
  let last, s;
  const end = Date.now() + 30_000;
  for (;;) {
    s = await probe(c);
    const workers = s.agents.flatMap((a) => (a.workers ?? []).map((w) => ({ ...w, nodeId: a.nodeId })));
    for (const w of workers) c.saw(w.pid);
    // Processes on an agent's host that are neither the agent nor a worker it knows (e.g. workers of a killed agent).
    const known = new Set([...workers.map((w) => w.pid), ...AGENTS.map((h) => c.nodes[h].pid)]);
    const strays = AGENTS.flatMap((h) => nsPids(c, h).filter((p) => !known.has(p)).map((p) => `pid ${p} on ${h}`));
    for (const h of AGENTS) nsPids(c, h).forEach(c.saw);
    last = {
      strays,
      unreachable: s.agents.filter((a) => a.error).map((a) => `${a.nodeId}: ${a.error}`),
      leased: workers.filter((w) => w.state === "leased").map((w) => `${w.workerId} (pid ${w.pid}, job ${w.jobId}) on ${w.nodeId}`),
      ofJob: workers.filter((w) => w.jobId === jobId).map((w) => `${w.workerId} (pid ${w.pid}, ${w.state}${w.actorId ? ` actor ${w.actorId}` : ""}) on ${w.nodeId}`),
      cpu: s.nodes.filter((n) => n.state === "ALIVE" && n.available.CPU !== n.resources.CPU).map((n) => `${n.nodeId} ${n.available.CPU}/${n.resources.CPU}`),
    };
    if (Object.values(last).every((x) => x.length === 0)) return undefined;
    if (Date.now() > end) break;
    await sleep(500);
  }
  if (last.unreachable.length) failures.push(`agents unreachable after the job: ${last.unreachable.join(", ")}`);
  if (last.leased.length) failures.push(`leased workers left 30 s after the job ended: ${last.leased.join(", ")}`);
  if (last.ofJob.length) failures.push(`workers of the ended job ${jobId} still running 30 s after it ended: ${last.ofJob.join(", ")}`);
  if (last.cpu.length) failures.push(`free CPU not back to its total after the job: ${last.cpu.join(", ")}`);
  if (last.strays.length) failures.push(`processes no agent knows of, 30 s after the job ended: ${last.strays.join(", ")}`);
  return s;
}

/** After teardown: every head, agent and worker process seen during the run is gone. */
export function leftBehind(c) {
  return [...c.seen].filter(([pid, t]) => startTime(pid) === t).map(([pid]) => pid);
}

/** A round's report, for a failure message. */
export function describe(round) {
  return [...round.failures.map((f) => `FAIL ${f}`), "killer:", ...round.log.map((l) => `  ${l}`),
    "driver output (last 4000 characters):", round.output?.slice(-4000) ?? "", ...(round.after ? ["cluster after the job:", JSON.stringify(round.after)] : [])].join("\n");
}

async function main() {
  const program = new Command("chaos")
    .description("Chaos soak: rounds of the chaos workload under the killer, with the checks of test/chaos.test.mjs")
    .option("--minutes <n>", "how long to keep starting rounds", (v) => Number(v), 10)
    .option("--tasks <n>", "nested tasks per round", (v) => Number(v), CI_ROUND.tasks)
    .option("--actors <n>", "actors per round", (v) => Number(v), CI_ROUND.actors)
    .option("--calls <n>", "sequence-numbered calls per actor per round", (v) => Number(v), CI_ROUND.calls)
    .option("--spread <ms>", "submissions spread over this long", (v) => Number(v), CI_ROUND.spreadMs)
    .option("--seed <n>", "seed the killer's choices (default: random)", (v) => Number(v));
  program.parse();
  const opts = program.opts();
  const rng = opts.seed === undefined ? Math.random : mulberry32(opts.seed);   // seeded: a failing soak can be replayed with --seed
  const c = await startChaosCluster();
  const totals = { rounds: 0, failed: 0, tasks: 0, actorCalls: 0, workerKills: 0, actorKills: 0, agentKills: 0, cuts: 0 };
  const end = Date.now() + opts.minutes * 60_000;
  try {
    do {
      const round = await runRound(c, { tasks: opts.tasks, actors: opts.actors, calls: opts.calls, spreadMs: opts.spread, killAgent: "random", rng });
      totals.rounds++;
      for (const k of ["tasks", "actorCalls", "workerKills", "actorKills", "agentKills", "cuts"]) totals[k] += round.stats[k] ?? 0;
      const status = round.failures.length ? "FAILED" : "ok";
      console.log(`round ${totals.rounds}: ${status} in ${(round.ms / 1000).toFixed(1)} s (${round.stats.workerKills} task workers, ` +
        `${round.stats.actorKills} actor workers, ${round.stats.agentKills} agent killed; ${round.stats.cuts} link cut)`);
      if (round.failures.length) { totals.failed++; console.log(describe(round)); }
    } while (Date.now() < end);
  } finally {
    await c.stop();
  }
  const left = leftBehind(c);
  console.log(`\n${totals.rounds} rounds, ${totals.failed} failed: ${totals.tasks} tasks, ${totals.actorCalls} actor calls; killed ` +
    `${totals.workerKills} task workers, ${totals.actorKills} actor workers, ${totals.agentKills} agents; ${totals.cuts} link cuts; ` +
    `${left.length ? `processes left behind: ${left.join(" ")}` : "no process left behind"}`);
  process.exitCode = totals.failed || left.length ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
